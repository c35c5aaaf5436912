"""The `tone` layer on a page with a photograph and no text: invisible where it must be, traced where the
shift layer has nothing to move."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from lmtest import seeded_workspace

import leakmark
from leakmark import TraceOptions, simulate, trace
from leakmark.layers import tone
from leakmark.rendering import render_page_array
from leakmark.samples import synthetic_photo

_photo = synthetic_photo  # test_blind_layer imports it from here


@pytest.fixture(scope="module")
def photo_issue(tmp_path_factory):
    """A one-page PDF, a photograph on white paper with margins, issued with shift + tone to 4 copies."""
    root = tmp_path_factory.mktemp("tone")
    photo = _photo(1400, 1000, seed=4)
    png = root / "photo.png"
    cv2.imwrite(str(png), photo)
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(pymupdf.Rect(60, 80, 535, 745), filename=str(png))
    src = root / "photo-page.pdf"
    doc.save(src, no_new_id=True)
    ws = seeded_workspace(root / "ws", b"leakmark test workspace: tone")
    people = tuple(leakmark.Recipient(f"R{i}") for i in range(4))
    result = leakmark.issue(ws, leakmark.IssueOptions(source=src, recipients=people, output_dir=root / "out",
                                                      layers=("shift", "tone", "file"), jobs=1))
    return ws, src, result


def test_tone_is_small_smooth_and_absent_on_paper(photo_issue):
    _, src, result = photo_issue
    original = render_page_array(src, 0, 300).astype(np.int16)
    copy = render_page_array(Path(result.copies[1].path), 0, 300).astype(np.int16)
    diff = copy - original
    paper = original >= tone.PAPER
    # JPEG q92 of the copy adds its own error; the mark itself is at most ALPHA levels and zero on paper
    assert np.abs(diff[paper]).mean() < 0.3
    inner = diff[400:3000, 400:2000]
    assert abs(float(inner.mean())) < 0.5 and np.percentile(np.abs(inner), 99) <= tone.ALPHA + 3


# rescale50 (150 dpi) is a milder screenshot (77 dpi): -m slow
@pytest.mark.parametrize("attack", ["jpeg30", pytest.param("rescale50", marks=pytest.mark.slow), "screenshot", "phone"])
def test_photo_page_traces_through_tone(photo_issue, tmp_path, attack):
    ws, _, result = photo_issue
    page = render_page_array(Path(result.copies[2].path), 0, 300)
    leak = {"jpeg30": lambda: simulate.jpeg(page, 30), "rescale50": lambda: simulate.rescale(page, 0.5),
            "screenshot": lambda: simulate.screenshot(page),
            "phone": lambda: simulate.phone_photo(page, seed=2)}[attack]()
    ev = tmp_path / f"{attack}.png"
    cv2.imwrite(str(ev), leak)
    r = trace(ws, TraceOptions(evidence=(ev,)))
    best = r.suspects[0]
    assert r.verdict == "identified" and r.named == 1 and best.copy.copy_no == 3, [
        (s.copy.copy_no, s.layers) for s in r.suspects]
    assert best.layers["tone"] > 6 and best.fap < 1e-6
    # this failed in 2 of ~7 full fresh-clone runs on 2026-12-02 (fixed key, passing alone): the values say why
    assert all(s.fap > 1e-2 for s in r.suspects[1:]), [(s.copy.copy_no, s.score, s.fap, s.layers) for s in r.suspects]


def test_unmarked_photo_page_names_nobody(photo_issue, tmp_path):
    ws, src, _ = photo_issue
    ev = tmp_path / "original.png"
    cv2.imwrite(str(ev), simulate.jpeg(render_page_array(src, 0, 300), 50))
    r = trace(ws, TraceOptions(evidence=(ev,)))
    assert r.named == 0 and all(s.fap > 1e-6 for s in r.suspects)


def test_painter_paints_what_apply_defines():
    """The incremental painter (only changed cells, per copy) gives exactly the planes' per-cell choice."""
    gray = _photo(700, 500, seed=1)
    gray[:, :120] = 255  # a paper margin: cells there are never touched
    plus, minus = tone.planes(gray, gray, 150)
    painter = tone.Painter(plus, minus, 150)
    a, b = minus.copy(), minus.copy()
    rng = np.random.default_rng(0)
    for _ in range(4):
        codes = rng.choice([-1, 1], tone.n_cells(gray.shape, 150)).astype(np.int8)
        painter.paint(codes, a, b)
        want = np.empty_like(gray)
        tone.apply(plus, minus, codes, 150, out=want)
        assert np.array_equal(a, want) and np.array_equal(b, want)
