"""Rules (table lines, borders, axes) as `shift` units: each moves across its own direction by ±delta.

A form or a chart has few words but many straight lines. A whole rule moves, never a piece of one: a
rule cut into independently moved pieces would show steps along its length, which the eye finds in a
straight line far more easily than in a word's position. Moving a rule across itself is invisible when
every column of pixels it slides through is uniform along the move on both sides (paper, a fill, or a
crossing rule); only such rules are kept. Where a horizontal and a vertical rule cross, the crossing
moves with both (see `shift.apply`).

Boxes are tight around the rule's ink, in rendering pixels, half-open like word boxes. Axis: 1 for a
horizontal rule (it moves along y), 0 for a vertical one (it moves along x).
"""

from __future__ import annotations

import cv2
import numpy as np

from leakmark.units import boxtools

INK_LEVEL = 170  # a rule's core is darker than this (a light-grey gridline is not used)
MIN_LENGTH = 100  # rendering pixels (8.5 mm at 300 dpi): shorter strokes belong to glyphs and ticks
MAX_THICKNESS = 12  # thicker is a bar or a filled box, not a rule


def find(gray: np.ndarray, delta: int, taken: np.ndarray, edge_level: int,
         tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Movable rules of a page: boxes (k, 4) int32 and axes (k,) int8. `taken`: the padded boxes other
    units write (words, lines); a rule whose moved box would touch one is left alone."""
    boxes, axes = [], []
    for axis, img in ((1, gray), (0, gray.T)):  # vertical rules are horizontal ones of the transpose
        for x0, y0, x1, y1 in _horizontal(img, delta, edge_level, tolerance):
            boxes.append((x0, y0, x1, y1) if axis == 1 else (y0, x0, y1, x1))
            axes.append(axis)
    if not boxes:
        return np.zeros((0, 4), np.int32), np.zeros(0, np.int8)
    b = np.asarray(boxes, dtype=np.int64)
    ax = np.asarray(axes, dtype=np.int8)
    grown = b + np.array([-delta, -delta, delta, delta])
    keep = ~boxtools.touches(grown, np.asarray(taken, dtype=np.int64).reshape(-1, 4))
    # parallel rules whose moved boxes touch would overwrite each other: neither moves
    for a in (0, 1):
        idx = np.nonzero(ax == a)[0]
        hit = boxtools.touches_each_other(grown[idx])
        keep[idx[hit]] = False
    return b[keep].astype(np.int32).reshape(-1, 4), ax[keep]


def _horizontal(gray: np.ndarray, delta: int, edge_level: int, tolerance: int) -> list[tuple[int, int, int, int]]:
    H, W = gray.shape
    ink = (gray < INK_LEVEL).astype(np.uint8)
    runs = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (MIN_LENGTH, 1)))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    ring = 2 * delta
    margin = ring + delta + 2
    out = []
    for x, y, w, h, _area in stats[1:n]:
        if h > MAX_THICKNESS or w < MIN_LENGTH:
            continue
        # tighten across the rule: rows whose median over its length is darker than the paper around it
        Y0, Y1 = max(0, y - 3), min(H, y + h + 3)
        rows = np.median(gray[Y0:Y1, x:x + w], axis=1)
        paper = max(float(rows[0]), float(rows[-1]))
        dark = np.nonzero(rows < paper - edge_level)[0]
        if len(dark) == 0:
            continue
        y0, y1 = Y0 + int(dark[0]), Y0 + int(dark[-1]) + 1
        # along the rule: columns where it is still darker than the paper (antialiased ends included)
        X0, X1 = max(0, x - 3), min(W, x + w + 3)
        cols = gray[y0:y1, X0:X1].min(axis=0).astype(np.int32)
        dark = np.nonzero(cols < paper - edge_level)[0]
        x0, x1 = X0 + int(dark[0]), X0 + int(dark[-1]) + 1
        if x0 < margin or y0 < margin or x1 > W - margin or y1 > H - margin or y1 - y0 > MAX_THICKNESS:
            continue
        if _slides_over_plain(gray, (x0, y0, x1, y1), delta, tolerance):
            out.append((x0, y0, x1, y1))
    return out


def _slides_over_plain(gray: np.ndarray, box: tuple[int, int, int, int], delta: int, tolerance: int) -> bool:
    """Moving the padded box by ±delta along y changes nothing but the rule's own position: on each side
    of the rule every column is uniform along y over the 2·delta pixels that slide in, and the columns
    just past its ends are uniform over the whole band."""
    x0, y0, x1, y1 = box
    ring = 2 * delta
    band = gray[y0 - ring:y1 + ring, x0 - delta:x1 + delta].astype(np.int16)
    above, below = band[:ring], band[-ring:]
    if (np.ptp(above, axis=0) > tolerance).any() or (np.ptp(below, axis=0) > tolerance).any():
        return False
    ends = np.concatenate([band[:, :delta], band[:, -delta:]], axis=1)
    return not (np.ptp(ends, axis=0) > tolerance).any()


def crossings(boxes: np.ndarray, axes: np.ndarray, delta: int) -> list[tuple[int, int, tuple[int, int, int, int]]]:
    """(horizontal rule, vertical rule, overlap of their padded boxes) for every crossing."""
    grown = boxes.astype(np.int64) + np.array([-delta, -delta, delta, delta])
    hs, vs = np.nonzero(axes == 1)[0], np.nonzero(axes == 0)[0]
    out = []
    for i in hs.tolist():
        for j in vs.tolist():
            x0, y0 = max(grown[i, 0], grown[j, 0]), max(grown[i, 1], grown[j, 1])
            x1, y1 = min(grown[i, 2], grown[j, 2]), min(grown[i, 3], grown[j, 3])
            if x1 > x0 and y1 > y0:
                out.append((i, j, (int(x0), int(y0), int(x1), int(y1))))
    return out
