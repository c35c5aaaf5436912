"""Marks that are neither text nor rules (seals, signatures, logos, small figures) as `shift` units.

Each moves as a whole by a keyed (±delta, ±delta): two code positions, x then y. A seal or a signature
moved by 1/12 mm is the same seal on the same paper; what makes the move invisible is the same condition
as for a word: the ring of pixels that slides into its box is plain paper, and its moved box touches no
other unit. A blob is the ink left once words, lines and rules are masked out, joined over small gaps (a
seal's ring, star and lettering are one blob), and only up to a few per cent of the page: a photograph or a
chart's plot area is not moved (the `tone` layer is for those).
"""

from __future__ import annotations

import cv2
import numpy as np

from leakmark.units import boxtools

PAPER_LEVEL = 235  # lighter than this is paper (a pale red seal still counts as ink)
JOIN = 15  # pixels: ink this close belongs to one blob
MIN_SIDE = 40  # pixels (3.4 mm at 300 dpi): smaller is a speck, a dot or stray antialiasing
MAX_SHARE = 0.05  # of the page area: larger is a picture, not a mark


def find(gray: np.ndarray, delta: int, taken: np.ndarray, tolerance: int) -> np.ndarray:
    """Movable blobs of a page as boxes (k, 4) int32, tight around their ink. `taken`: the moved boxes of
    the other units (words, lines, rules), which a blob must neither contain nor touch."""
    H, W = gray.shape
    ink = (gray < PAPER_LEVEL).astype(np.uint8)
    for x0, y0, x1, y1 in np.asarray(taken, dtype=np.int64).reshape(-1, 4).tolist():
        ink[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 0
    joined = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (JOIN, JOIN)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    ring = 2 * delta
    margin = ring + delta + 2
    boxes = []
    for i in range(1, n):
        x, y, w, h, _area = stats[i]
        if max(w, h) < MIN_SIDE or w * h > MAX_SHARE * H * W:
            continue
        own = (labels[y:y + h, x:x + w] == i) & (ink[y:y + h, x:x + w] > 0)
        ys, xs = np.nonzero(own.any(axis=1))[0], np.nonzero(own.any(axis=0))[0]
        if len(ys) == 0:
            continue
        box = (x + int(xs[0]) - 1, y + int(ys[0]) - 1, x + int(xs[-1]) + 2, y + int(ys[-1]) + 2)
        if box[0] < margin or box[1] < margin or box[2] > W - margin or box[3] > H - margin:
            continue
        if boxtools.ring_is_plain(gray, box, ring, tolerance):
            boxes.append(box)
    if not boxes:
        return np.zeros((0, 4), np.int32)
    b = np.asarray(boxes, dtype=np.int64)
    grown = b + np.array([-delta, -delta, delta, delta])
    t = np.asarray(taken, dtype=np.int64).reshape(-1, 4)
    keep = ~boxtools.touches(grown, t) & ~boxtools.touches_each_other(grown)
    return b[keep].astype(np.int32).reshape(-1, 4)
