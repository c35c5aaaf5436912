"""The collusion search (`leakmark.trace.colluders`) on synthetic measurements: every colluder named, no innocent.

A page here is a grid of code positions; a copy's codeword is ±1 per position; the measurement is what the
tracer measures on evidence made of copies' pages (pages mixed, a page cut from two, copies averaged) plus
noise, clipped to ±1 as the shift layer clips. The noise is set so that what each case needs (a page, half a
page) scores well above its part's threshold (a single page at noise 1.5 scores z ≈ 13; real pages score 9–10,
as noise 2.0 does): these test the search, the robustness benchmark measures its power. Seeded; the
end-to-end cases on issued copies are in test_robustness_quick.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from leakmark.trace import colluders

COPIES = 1000
SIDE = 24  # code positions per page: SIDE × SIDE, spread evenly over the page
THRESHOLD = 1e-6


def _grid() -> np.ndarray:
    k = np.arange(SIDE * SIDE)
    return np.stack([(k // SIDE + 0.5) / SIDE, (k % SIDE + 0.5) / SIDE], axis=1)


def _codes(rng: np.random.Generator, pages: int) -> list[np.ndarray]:
    return [rng.choice(np.array([-1.0, 1.0], np.float32), size=(COPIES, SIDE * SIDE)) for _ in range(pages)]


def _coded(codes: list[np.ndarray], values: list[np.ndarray]) -> list[colluders.Coded]:
    return [colluders.Coded(page=p, layer="shift", values=v, codes=c, carried=np.ones(COPIES, bool), yx=_grid())
            for p, (c, v) in enumerate(zip(codes, values, strict=True))]


def _measure(signal: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    return np.clip(signal + rng.normal(0.0, noise, signal.shape), -1.0, 1.0)


def _search(coded: list[colluders.Coded], threshold: float = THRESHOLD) -> colluders.Finding:
    return colluders.search(coded, {}, COPIES, len({c.page for c in coded}), threshold)


@pytest.mark.parametrize("seed", range(3))
def test_page_mix_of_three_names_each_page_s_copy(seed):
    rng = np.random.default_rng(seed)
    codes = _codes(rng, 3)
    sources = [11, 22, 33]  # page p leaked from copy sources[p]
    values = [_measure(codes[p][sources[p]], rng, 1.5) for p in range(3)]
    found = _search(_coded(codes, values))
    assert sorted(found.named) == sources
    assert all(found.fap[i] < THRESHOLD for i in sources)
    assert {(found.where[i].family, found.where[i].page) for i in sources} == {("page", 0), ("page", 1), ("page", 2)}


@pytest.mark.parametrize("seed", range(3))
def test_page_cut_from_two_copies_names_both(seed):
    rng = np.random.default_rng(seed)
    (codes,) = _codes(rng, 1)
    top = _grid()[:, 0] < 0.5
    signal = np.where(top, codes[5], codes[6])
    found = _search(_coded([codes], [_measure(signal, rng, 1.5)]))
    assert sorted(found.named) == [5, 6]
    # each was found where its part of the page is, or after the other's mark was removed
    assert all(found.where[i].family in ("region", "rest") for i in (5, 6))


@pytest.mark.parametrize("seed", range(3))
def test_two_averaged_copies_named_the_weaker_after_the_stronger_is_removed(seed):
    rng = np.random.default_rng(seed)
    codes = _codes(rng, 2)
    # two pages averaged from copies 7 and 8, copy 8 at 15 %
    values = [_measure(0.85 * c[7] + 0.15 * c[8], rng, 0.35) for c in codes]
    found = _search(_coded(codes, values))
    assert sorted(found.named) == [7, 8]
    assert found.removed[8] == [7] and found.removed[7] == []  # the weaker one only once the other is out


@pytest.mark.parametrize("seed", range(3))
def test_three_averaged_copies_are_all_named_a_weaker_one_does_not_hold_the_others_back(seed):
    """Equal thirds: whichever colluders pass first are named although another colluder scores close to them
    (it passes once their marks are removed: a copy that passes anywhere does not count against the
    separation rule)."""
    rng = np.random.default_rng(seed)
    codes = _codes(rng, 2)
    values = [_measure((c[1] + c[2] + c[3]) / 3, rng, 1.2) for c in codes]
    found = _search(_coded(codes, values))
    assert sorted(found.named) == [1, 2, 3]


def test_a_single_leak_is_found_on_the_whole_evidence_with_a_bound_under_1_7_times_the_plain_one():
    rng = np.random.default_rng(1)
    codes = _codes(rng, 2)
    values = [_measure(c[3], rng, 2.5) for c in codes]
    found = _search(_coded(codes, values))
    assert found.named == [3] and found.where[3] == colluders.WHOLE
    plain = COPIES * found.info.tests * colluders.tailbound.tail(found.score[3])
    assert plain <= found.fap[3] <= plain / 0.6
    assert found.info.whole_weight == pytest.approx(0.6)


def test_innocents_on_pure_noise_are_named_no_more_often_than_the_bound_allows():
    """300 evidence pages no copy is the source of, at a threshold of 1e-2: the bound allows 3 traces that
    name someone; the search (whole, 40 regions, and no second round without a first name) names none."""
    rng = np.random.default_rng(7)
    (codes,) = _codes(rng, 1)
    named = 0
    for _ in range(300):
        found = _search(_coded([codes], [_measure(np.zeros(SIDE * SIDE), rng, 0.6)]), threshold=1e-2)
        named += bool(found.named)
    assert named <= 3


def test_innocents_scored_after_a_removal_stay_within_the_null_scale():
    """After one source's mark is removed (subtracted, or cut out where it lies), the innocent copies' scores on
    what is left are still the null's (mean 0, spread ≤ 1): the removal used only the evidence and the source's
    codeword."""
    rng = np.random.default_rng(3)
    (codes,) = _codes(rng, 1)
    top = _grid()[:, 0] < 0.5
    coded = _coded([codes], [_measure(np.where(top, codes[9], codes[10]), rng, 1.0)])  # copy 9 above, 10 below
    subtracted, cut = colluders._remove(coded[0], coded[0].values.astype(np.float64), [9])
    assert np.count_nonzero(cut[top]) < 0.2 * top.sum() and np.count_nonzero(cut[~top]) > 0.7 * (~top).sum()
    for residual in (subtracted, cut):
        z = colluders._layers(coded, [colluders._products(coded[0], residual)], colluders.WHOLE)["shift"][0]
        innocent = np.delete(z, [9, 10])
        assert abs(innocent.mean()) < 0.1 and innocent.std() < 1.1 and innocent.max() < 5.0
        assert z[10] > 8.0  # what is left shows the other copy


def test_a_region_with_no_measured_positions_scores_nothing():
    rng = np.random.default_rng(4)
    (codes,) = _codes(rng, 1)
    signal = np.where(_grid()[:, 0] < 0.5, codes[2], 0.0)  # the bottom half blank (nothing measured there)
    found = _search(_coded([codes], [signal]))
    assert found.named == [2]
    assert found.passed == [2]


def test_positions_of_shift_and_tone_code_positions():
    from leakmark.layers import tone
    from leakmark.units import PageUnits

    units = PageUnits(words=np.array([[0, 0, 100, 50], [100, 950, 300, 1000]], np.int32),
                      word_axis=np.zeros(2, np.int8), word_line=np.array([0, 1], np.int32),
                      lines=np.array([[0, 0, 100, 50], [100, 950, 300, 1000]], np.int32),
                      blobs=np.array([[400, 400, 600, 600]], np.int32))
    yx = colluders.positions("shift", units, (1000, 800), 100, units.n_codes)
    assert yx.shape == (6, 2)
    assert yx[0] == pytest.approx([0.025, 0.0625])
    assert yx[4] == pytest.approx([0.5, 0.625]) and yx[5] == pytest.approx([0.5, 0.625])
    ny, nx, c = tone.grid((1000, 800), 100)
    cells = colluders.positions("tone", units, (1000, 800), 100, ny * nx)
    assert cells[nx] == pytest.approx([1.5 * c / 1000, 0.5 * c / 800])
    # units that are not this page's: nowhere (scored on the whole evidence only)
    assert (colluders.positions("shift", units, (1000, 800), 100, 3) < 0).all()


def _captures(codes: np.ndarray, values: list[np.ndarray]) -> list[colluders.Coded]:
    """Several captures of one registered page (page 0): each its own measured page, all showing page 0."""
    return [colluders.Coded(page=k, layer="shift", values=v, codes=codes, carried=np.ones(COPIES, bool), yx=_grid(),
                            shows=0) for k, v in enumerate(values)]


def test_one_capture_given_twice_scores_as_given_once():
    """The same image given twice is one page of evidence: every copy's whole-evidence score is what the image
    alone gives (joined as two pages, every score was √2 times larger, the innocents' too)."""
    rng = np.random.default_rng(5)
    (codes,) = _codes(rng, 1)
    values = _measure(0.4 * codes[3], rng, 1.5)  # a weak leak: inconclusive alone
    once = _search(_captures(codes, [values]))
    twice = _search(_captures(codes, [values, values.copy()]))
    np.testing.assert_allclose(twice.whole["shift"][0], once.whole["shift"][0], rtol=1e-9)
    assert twice.fap[3] >= once.fap[3] and twice.named == once.named


def test_captures_of_one_page_are_combined_and_innocents_stay_on_the_null_scale():
    """Two captures of one page (independent noise) name the source more surely than either alone; the
    innocents' scores keep the null's spread (mean 0, sd 1), also when the captures' noise is shared."""
    rng = np.random.default_rng(6)
    (codes,) = _codes(rng, 1)
    a, b = _measure(0.3 * codes[4], rng, 1.5), _measure(0.3 * codes[4], rng, 1.5)
    both = _search(_captures(codes, [a, b]))
    assert both.whole["shift"][0][4] > max(_search(_captures(codes, [v])).whole["shift"][0][4] for v in (a, b))
    noise = _measure(np.zeros(SIDE * SIDE), rng, 0.6)
    for second in (noise + rng.normal(0.0, 0.05, noise.shape), _measure(np.zeros(SIDE * SIDE), rng, 0.6)):
        z = _search(_captures(codes, [noise, second])).whole["shift"][0]
        assert abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1


def test_a_page_cut_in_two_names_the_weaker_half_outside_where_the_stronger_was_found():
    """The second half's copy is too weak to pass as a region among 28 in round 1; once the first copy is
    found in its half, the evidence outside that half is exactly the second's, scored as one part of round 2
    (the block mask there also cut into the second half, beside the first's blocks)."""
    rng = np.random.default_rng(4)
    (codes,) = _codes(rng, 1)
    signal = np.where(_grid()[:, 0] < 0.5, codes[5], codes[6])
    found = _search(_coded([codes], [_measure(signal, rng, 2.2)]))
    assert sorted(found.named) == [5, 6]
    assert found.where[5].family == "region" and found.where[6].family == "outside" and found.removed[6] == [5]


def test_outside_keeps_what_lies_beyond_the_parts_where_removed_copies_were_found():
    rng = np.random.default_rng(8)
    (codes,) = _codes(rng, 1)
    (c,) = _coded([codes], [np.ones(SIDE * SIDE)])
    c.yx[0] = -1.0  # a position placed nowhere: it may lie inside, so it is not kept
    top_half = colluders.Part("region", 0, 0, 0, 3)
    kept = colluders._outside(c, c.values, [top_half]) != 0
    assert np.array_equal(kept[1:], c.yx[1:, 0] >= 0.5) and not kept[0]
    left_third = colluders.Part("region", 0, 1, 0, 2)
    kept = colluders._outside(c, c.values, [top_half, left_third]) != 0
    assert np.array_equal(kept[1:], (c.yx[1:, 0] >= 0.5) & (c.yx[1:, 1] >= 2 / 6))
    for anywhere in (colluders.WHOLE, colluders.Part("page", 0)):  # found on all of it: nothing is left
        assert not np.any(colluders._outside(c, c.values, [anywhere]))
    assert np.array_equal(colluders._outside(c, c.values, [colluders.Part("page", 1)]), c.values)  # another page
