"""Reading the `shift` marks of words and lines from a PDF's own text, when the evidence is a PDF.

A forwarded copy, or one re-saved by qpdf, Ghostscript or a browser's print-to-PDF, still holds its glyphs
where the copy put them. Their positions are compared with the original's: characters are paired by the
text itself (a diff of the two character sequences), one affine map takes the evidence page onto the
original (a re-saved file may be scaled, moved or rotated), and what remains is each unit's move, read
to a fraction of a pixel without any rendering, blur or alignment error. Rules and seals are still
measured from the rendering.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from leakmark.layers.shift_measure import CLIP
from leakmark.units import PageUnits

if TYPE_CHECKING:
    import pymupdf

MIN_PAIRED = 0.6  # share of the original's characters that must pair with the evidence's
MAX_RESIDUAL = 0.35  # median error (rendering pixels) of the affine map, beyond the marks themselves


@dataclass(frozen=True)
class PageText:
    """A page's visible characters (no spaces) and their centres, in points of the page as displayed."""

    text: str
    centres: np.ndarray  # (n, 2) float64


def page_text(page: pymupdf.Page) -> PageText:
    """The glyphs the page shows: invisible text (render mode 3, e.g. the text layer of an image copy made by
    leakmark 0.1, or OCR over a scan) says nothing about where the visible marks are, and is left out."""
    from leakmark._mupdf import pymupdf

    m = page.rotation_matrix
    chars: list[str] = []
    pts: list[tuple[float, float]] = []
    for span in page.get_texttrace():
        if span.get("type") == 3 or span.get("opacity", 1.0) == 0:
            continue
        for ucs, _gid, _origin, (x0, y0, x1, y1) in span["chars"]:
            ch = chr(ucs) if 0 < ucs < 0x110000 else "\ufffd"
            if ch.isspace():
                continue
            p = pymupdf.Point((x0 + x1) / 2, (y0 + y1) / 2) * m
            chars.append(ch)
            pts.append((p.x, p.y))
    return PageText("".join(chars), np.asarray(pts, dtype=np.float64).reshape(-1, 2))


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    a, *_ = np.linalg.lstsq(np.c_[src, np.ones(len(src))], dst, rcond=None)
    return a


def exact_shift(original: PageText, evidence: PageText, units: PageUnits, dpi: int, delta: float) -> np.ndarray | None:
    """Word and line values of the `shift` codeword (the rest zero), or None when the evidence's text does
    not match the original's closely enough to be read this way."""
    if len(original.text) < 20 or len(evidence.text) < 20:
        return None
    sm = difflib.SequenceMatcher(None, original.text, evidence.text, autojunk=False)
    ia: list[int] = []
    ib: list[int] = []
    for a, b, n in sm.get_matching_blocks():
        ia += range(a, a + n)
        ib += range(b, b + n)
    if len(ia) < MIN_PAIRED * len(original.text):
        return None
    orig = original.centres[ia] * (dpi / 72.0)
    ev = evidence.centres[ib]
    keep = np.ones(len(ia), dtype=np.bool_)
    for _ in range(3):  # mispaired characters (a repeated word) are far off: fit without them
        fit = _affine(ev[keep], orig[keep])
        err = np.linalg.norm(np.c_[ev, np.ones(len(ev))] @ fit - orig, axis=1)
        keep = err < max(3 * delta + 1, 3 * float(np.median(err)))
    mapped = np.c_[ev, np.ones(len(ev))] @ _affine(ev[keep], orig[keep])
    disp = mapped - orig
    if float(np.median(np.linalg.norm(disp[keep], axis=1))) > 2 * delta + MAX_RESIDUAL:
        return None  # not the same layout (a reflowed or retyped text): leave it to the rendering
    values = np.zeros(units.n_codes)
    n = units.n_words
    grown = units.words + np.array([-delta, -delta, delta, delta])
    per_word: list[np.ndarray] = []
    for k in range(n):
        x0, y0, x1, y1 = grown[k]
        inside = keep & (orig[:, 0] >= x0) & (orig[:, 0] < x1) & (orig[:, 1] >= y0) & (orig[:, 1] < y1)
        d = disp[inside].mean(axis=0) if inside.any() else np.array([np.nan, np.nan])
        per_word.append(d)
        if inside.any():
            values[k] = np.clip(d[units.word_axis[k]] / delta, -CLIP, CLIP)
    movable = units.lines[:, 2] > units.lines[:, 0]
    for j in range(units.n_lines):
        if not movable[j]:
            continue
        across = [per_word[k][1 - units.word_axis[k]] for k in np.nonzero(units.word_line == j)[0]
                  if not np.isnan(per_word[k][0])]
        if across:
            values[n + j] = np.clip(float(np.mean(across)) / delta, -CLIP, CLIP) * np.sqrt(min(len(across), 8))
    return values
