"""Shift-layer units on the sample pages, and what marking a page may and may not change."""

from __future__ import annotations

import functools
import itertools

import cv2
import numpy as np
import pymupdf
import pytest

from leakmark import units, vault
from leakmark.layers import shift
from leakmark.layers.codes import signs
from leakmark.pdf import read as pdf
from leakmark.rendering import page_array, render_page_array


@functools.lru_cache(maxsize=4)
def _rendered(path: str, index: int) -> pdf.RenderedPage:
    from pathlib import Path

    return pdf.render_page(Path(path), "pdf", index, 300, None)


def _page(samples_dir, name: str, index: int = 0) -> tuple[pdf.RenderedPage, np.ndarray]:
    page = _rendered(str(samples_dir / name), index)
    return page, cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)


def _text_units(samples_dir, name: str, delta: int = 1, index: int = 0) -> units.PageUnits:
    page, gray = _page(samples_dir, name, index)
    assert page.rawdict is not None  # born-digital: the text layer gives the units
    return units.from_text(page.rawdict, page.matrix, gray, delta)


def test_memo_page1_has_many_words(samples_dir):
    pu = _text_units(samples_dir, "memo-en.pdf")
    assert pu.n_words > 150
    assert pu.n_lines > 20 and (pu.lines[:, 2] > pu.lines[:, 0]).sum() > 20
    assert pu.n_codes == pu.n_words + pu.n_lines + pu.n_rules + 2 * pu.n_blobs
    assert set(np.unique(pu.word_axis).tolist()) == {0}  # horizontal text moves along x


def test_chinese_notice_page1_has_units(samples_dir):
    pu = _text_units(samples_dir, "notice-zh.pdf")
    assert pu.n_words > 60
    # CJK runs are cut into groups of 2–4 characters (a 14 pt character is ~58 px at 300 dpi; a body line is
    # ~1840 px): units are a few characters wide, never a whole line
    widths = pu.words[:, 2] - pu.words[:, 0]
    assert 100 < np.median(widths) < 300
    assert widths.max() < 600


def test_units_are_well_formed(samples_dir):
    _, gray = _page(samples_dir, "memo-en.pdf")
    pu = _text_units(samples_dir, "memo-en.pdf")
    h, w = gray.shape
    x0, y0, x1, y1 = pu.words.T
    assert (x1 > x0).all() and (y1 > y0).all()
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= w).all() and (y1 <= h).all()
    assert ((pu.word_line >= 0) & (pu.word_line < pu.n_lines)).all()
    for j in range(pu.n_lines):  # every movable line box is the union of its words
        members = pu.words[pu.word_line == j]
        if pu.lines[j, 2] > pu.lines[j, 0]:
            assert pu.lines[j].tolist() == [members[:, 0].min(), members[:, 1].min(), members[:, 2].max(),
                                            members[:, 3].max()]
    grown = pu.words + np.array([-1, -1, 1, 1])  # moved boxes never overlap each other
    for a, b in itertools.combinations(range(pu.n_words), 2):
        ga, gb = grown[a], grown[b]
        assert not (ga[0] < gb[2] and gb[0] < ga[2] and ga[1] < gb[3] and gb[1] < ga[3]), (a, b)


def test_units_json_roundtrip(samples_dir):
    pu = _text_units(samples_dir, "notice-zh.pdf")
    back = units.PageUnits.from_json(pu.to_json())
    assert pu.n_rules > 0  # the header rules
    for field in ("words", "word_axis", "word_line", "lines", "rules", "rule_axis", "blobs"):
        assert np.array_equal(getattr(back, field), getattr(pu, field))
        assert getattr(back, field).dtype == getattr(pu, field).dtype


def test_vault_keeps_the_units_the_copies_were_made_with(issued, samples_dir):
    stored = vault.load_units(issued.ws, issued.result.document.sha256, 0)
    fresh = _text_units(samples_dir, "memo-en.pdf")
    assert np.array_equal(stored.words, fresh.words) and np.array_equal(stored.lines, fresh.lines)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 31])
def test_cjk_groups(n):
    sizes = units.cjk_groups(n)
    assert sum(sizes) == n
    if n >= 2:
        assert all(2 <= s <= 4 for s in sizes)


def _padded_mask(shape, boxes: np.ndarray, pad: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        if x1 > x0:
            mask[y0 - pad:y1 + pad, x0 - pad:x1 + pad] = True
    return mask


def _shifts_reproducing(out, src, box, mask, delta) -> list[tuple[int, int]]:
    """Every (dx, dy) within ±delta such that out == src moved by (dx, dy) on `mask` inside `box`."""
    X0, Y0, X1, Y1 = box
    o = out[Y0:Y1, X0:X1]
    found = []
    for dy, dx in itertools.product(range(-delta, delta + 1), repeat=2):
        s = src[Y0 - dy:Y1 - dy, X0 - dx:X1 - dx]
        if np.array_equal(o[mask], s[mask]):
            found.append((dx, dy))
    return found


@pytest.mark.parametrize(("name", "delta", "colour"), [
    ("memo-en.pdf", 1, False),
    ("memo-en.pdf", 2, False),
    ("notice-zh.pdf", 1, True),  # red header: marked in colour
])
def test_marking_changes_only_unit_boxes_by_at_most_delta(samples_dir, name, delta, colour):
    page, gray = _page(samples_dir, name)
    src = page.rgb if colour else gray
    pu = units.from_text(page.rawdict, page.matrix, gray, delta)
    codes = signs(b"test seed " + name.encode(), pu.n_codes)
    out = shift.apply(src, pu, codes, delta)
    assert out.shape == src.shape and out.dtype == src.dtype
    assert not np.array_equal(out, src)  # the mark is there
    changed = (out != src) if out.ndim == 2 else (out != src).any(axis=2)
    inside = (_padded_mask(gray.shape, pu.words, delta) | _padded_mask(gray.shape, pu.lines, delta)
              | _padded_mask(gray.shape, pu.rules, delta) | _padded_mask(gray.shape, pu.blobs, delta))
    assert not (changed & ~inside).any(), "pixels outside the padded unit boxes changed"
    _check_rules(out, src, pu, codes, delta)

    word_masks = _padded_mask(gray.shape, pu.words, delta)
    nw = pu.n_words
    line_move = np.zeros((pu.n_lines, 2), dtype=int)
    for j, (x0, _y0, x1, _y1) in enumerate(pu.lines):
        if x1 > x0:
            line_move[j, 1] = int(codes[nw + j]) * delta  # horizontal text: lines move across (y)
    # every word box is the source moved by exactly its keyed shift, and by no more than delta per axis
    for i, (x0, y0, x1, y1) in enumerate(pu.words):
        box = (x0 - delta, y0 - delta, x1 + delta, y1 + delta)
        full = np.ones((box[3] - box[1], box[2] - box[0]), dtype=bool)
        found = _shifts_reproducing(out, src, box, full, delta)
        expected = (int(codes[i]) * delta + line_move[pu.word_line[i], 0], line_move[pu.word_line[i], 1])
        assert expected in found, (i, expected, found)
    # between its words, a line's box is the source moved by the line's shift
    for j, (x0, y0, x1, y1) in enumerate(pu.lines):
        if x1 <= x0:
            continue
        box = (x0 - delta, y0 - delta, x1 + delta, y1 + delta)
        region = ~word_masks[box[1]:box[3], box[0]:box[2]]
        other_lines = _padded_mask(gray.shape, np.delete(pu.lines, j, axis=0), delta)[box[1]:box[3], box[0]:box[2]]
        region &= ~other_lines
        if not region.any():
            continue
        found = _shifts_reproducing(out, src, box, region, delta)
        assert tuple(line_move[j]) in found, (j, found)


def test_marks_differ_between_codes(samples_dir):
    page, gray = _page(samples_dir, "memo-en.pdf")
    pu = units.from_text(page.rawdict, page.matrix, gray, 1)
    a = shift.apply(gray, pu, signs(b"copy a", pu.n_codes), 1)
    b = shift.apply(gray, pu, signs(b"copy b", pu.n_codes), 1)
    a2 = shift.apply(gray, pu, signs(b"copy a", pu.n_codes), 1)
    assert np.array_equal(a, a2)
    assert not np.array_equal(a, b)


def test_units_from_image_without_text_layer(issued):
    gray = render_page_array(issued.source, 0, 300)  # pixels only, as for a scanned page
    pu = units.from_image(gray, 1)
    assert pu.n_words > 100
    assert pu.n_lines > 10
    out = shift.apply(gray, pu, signs(b"scan", pu.n_codes), 1)
    changed = out != gray
    inside = (_padded_mask(gray.shape, pu.words, 1) | _padded_mask(gray.shape, pu.lines, 1)
              | _padded_mask(gray.shape, pu.rules, 1) | _padded_mask(gray.shape, pu.blobs, 1))
    assert changed.any() and not (changed & ~inside).any()


def test_blank_page_has_no_units():
    blank = np.full((3508, 2480), 255, np.uint8)
    assert units.from_image(blank, 1).n_words == 0
    assert units.from_text({"blocks": []}, (1, 0, 0, 1, 0, 0), blank, 1).n_codes == 0


def _check_rules(out, src, pu: units.PageUnits, codes, delta) -> None:
    """Every rule's moved box is the source moved across the rule by its code; where two rules cross, by
    both. Every blob's, by its x and y codes."""
    offset = pu.n_words + pu.n_lines
    moves = [(int(codes[offset + k]) * delta, 0) if a == 0 else (0, int(codes[offset + k]) * delta)
             for k, a in enumerate(pu.rule_axis.tolist())]
    crossing = np.zeros(src.shape[:2], dtype=bool)
    for i, j, (x0, y0, x1, y1) in pu.crossings(delta):
        crossing[y0:y1, x0:x1] = True
        assert (moves[j][0], moves[i][1]) in _shifts_reproducing(out, src, (x0, y0, x1, y1),
                                                                 np.ones((y1 - y0, x1 - x0), bool), delta)
    for k, (x0, y0, x1, y1) in enumerate(pu.rules.tolist()):
        box = (x0 - delta, y0 - delta, x1 + delta, y1 + delta)
        region = ~crossing[box[1]:box[3], box[0]:box[2]]
        assert moves[k] in _shifts_reproducing(out, src, box, region, delta), k
    offset += pu.n_rules
    for k, (x0, y0, x1, y1) in enumerate(pu.blobs.tolist()):  # a blob moves by its x and its y code
        box = (x0 - delta, y0 - delta, x1 + delta, y1 + delta)
        move = (int(codes[offset + 2 * k]) * delta, int(codes[offset + 2 * k + 1]) * delta)
        assert move in _shifts_reproducing(out, src, box, np.ones((box[3] - box[1], box[2] - box[0]), bool),
                                           delta), k


@pytest.mark.parametrize("delta", [1, 2])
def test_a_ruled_form_moves_its_rules(delta):
    from leakmark.samples import form_page

    with pymupdf.open(stream=form_page(), filetype="pdf") as doc:
        page = doc[0]
        gray = page_array(page, 300)
        raw = page.get_text("rawdict")
        m = pymupdf.Matrix(300 / 72, 300 / 72)
    pu = units.from_text(raw, (m.a, m.b, m.c, m.d, m.e, m.f), gray, delta)
    # 17 horizontal rules (header, 15 rows, bottom) and 6 vertical ones, each a single unit
    assert (pu.rule_axis == 1).sum() == 17 and (pu.rule_axis == 0).sum() == 6
    assert len(pu.crossings(delta)) == 17 * 6
    assert pu.n_blobs >= 1  # the handwritten signature (the seal overlaps the date and its own lettering)
    assert pu.n_codes == pu.n_words + pu.n_lines + pu.n_rules + 2 * pu.n_blobs
    codes = signs(b"form", pu.n_codes)
    out = shift.apply(gray, pu, codes, delta)
    changed = out != gray
    inside = (_padded_mask(gray.shape, pu.words, delta) | _padded_mask(gray.shape, pu.lines, delta)
              | _padded_mask(gray.shape, pu.rules, delta) | _padded_mask(gray.shape, pu.blobs, delta))
    assert changed.any() and not (changed & ~inside).any()
    _check_rules(out, gray, pu, codes, delta)
    shift.restore(out, gray, pu, delta)
    assert np.array_equal(out, gray)


def test_units_recorded_before_rules_keep_their_codes(samples_dir):
    """A page registered by an earlier release has no rules in its recorded units: same code positions."""
    pu = _text_units(samples_dir, "memo-en.pdf")
    old = {k: v for k, v in pu.to_json().items() if k not in ("rules", "rule_axis", "blobs")}
    back = units.PageUnits.from_json(old)
    assert back.n_rules == 0 and back.n_blobs == 0 and back.n_codes == pu.n_words + pu.n_lines
    assert np.array_equal(signs(b"seed", pu.n_codes)[:back.n_codes], signs(b"seed", back.n_codes))


def _gap_page() -> bytes:
    """One line of words in two fonts: glyph runs 0.1 em apart (a font change inside a word, kerned), a gap
    just above the extractor's space threshold (0.15 em: TeX's thin space in "4, 5"), plain word spaces, and
    runs 0.02 em apart (far enough from the threshold to stay separate units)."""
    size = 12.0
    with pymupdf.open() as doc:
        page = doc.new_page(width=300, height=120)
        x = 20.0
        for text, font, gap in (("field", "helv", 0.1), ("ID", "cour", 0.6), ("4,", "helv", 0.17),
                                ("5", "helv", 0.6), ("alpha", "helv", 0.4), ("beta", "cour", 0.02),
                                ("gamma", "helv", 0.0)):
            page.insert_text((x, 60), text, fontname=font, fontsize=size)
            x += pymupdf.get_text_length(text, fontname=font, fontsize=size) + gap * size
        return doc.tobytes()


def _assert_copies_read_as(data: bytes, pu: units.PageUnits, original: str) -> None:
    """Vector copies of page 1 under eight codes: MuPDF extracts the original's text from each."""
    from leakmark.pdf import vector
    from leakmark.pdf.copy import _set_contents

    plan = vector.plan(data, 0, pu, 300, 1)
    for seed in range(8):
        with pymupdf.open("pdf", data) as doc:
            _set_contents(doc, doc[0], plan.content(signs(bytes([seed]), pu.n_codes)))
            with pymupdf.open("pdf", doc.tobytes()) as copy:
                assert copy[0].get_text() == original, seed


def test_words_whose_gap_a_move_could_change_in_the_extracted_text_move_together():
    data = _gap_page()
    with pymupdf.open("pdf", data) as doc:
        page = doc[0]
        gray = page_array(page, 300)
        raw = page.get_text("rawdict")
        original = page.get_text()
        m = pymupdf.Matrix(300 / 72, 300 / 72)
    pu = units.from_text(raw, (m.a, m.b, m.c, m.d, m.e, m.f), gray, 1)
    # "fieldID" and "4, 5" are one unit each; word spaces and the safe 0.02 em gap still split
    assert pu.n_words == 5
    _assert_copies_read_as(data, pu, original)


@pytest.mark.parametrize("gap", [0.78, 0.82])
def test_a_gap_near_the_extractors_new_line_distance_survives_the_moves(gap):
    """A word and its dot leader, 0.8 em apart, are two extracted lines or one: a copy must read the same."""
    with pymupdf.open() as doc:
        page = doc.new_page(width=300, height=120)
        page.insert_text((20, 60), "altname", fontname="helv", fontsize=12)
        x = 20 + pymupdf.get_text_length("altname", fontname="helv", fontsize=12) + gap * 12
        page.insert_text((x, 60), ". . . . . . 4", fontname="helv", fontsize=12)
        data = doc.tobytes()
    with pymupdf.open("pdf", data) as doc:
        gray = page_array(doc[0], 300)
        raw = doc[0].get_text("rawdict")
        original = doc[0].get_text()
    m = 300 / 72
    pu = units.from_text(raw, (m, 0, 0, m, 0, 0), gray, 1)
    _assert_copies_read_as(data, pu, original)


@pytest.mark.parametrize("name,index", [("notice-zh.pdf", 2), ("memo-en.pdf", 0)])
def test_text_is_never_a_blob(samples_dir, name, index):
    """A word that cannot move as a word (the seal's ring crosses the date on the notice's last page) stays
    still: as a blob it moved in x and y apart from its neighbours, and extracted text could change."""
    page, gray = _page(samples_dir, name, index)
    pu = units.from_text(page.rawdict, page.matrix, gray, 1)
    a, _b, _c, d, e, f = page.matrix  # the samples' pages are upright
    for block in page.rawdict["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                for ch in span["chars"]:
                    if ch["c"].isspace():
                        continue
                    x0, y0, x1, y1 = ch["bbox"]
                    px0, py0, px1, py1 = a * x0 + e, d * y0 + f, a * x1 + e, d * y1 + f
                    hit = ((pu.blobs[:, 0] < px1) & (px0 < pu.blobs[:, 2]) & (pu.blobs[:, 1] < py1)
                           & (py0 < pu.blobs[:, 3]))
                    assert not hit.any(), ch["c"]
