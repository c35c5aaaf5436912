"""Does the evidence show the page it located? Its print laid on the page's, compared at the scale of strokes.

A weak location (few inliers) of a whole photo is either a registered page badly blurred, or another page of
the same template (a form, a table, prose in the same type and margins): their features agree at rule corners
and line ends, a few dozen matches through one homography. Geometry cannot tell them apart, and neither can
ink at the scale of words or lines (the paragraphs of two pages of one template coincide). Strokes can: laid on
its own page, a blurred photo's characters fall on the page's characters, a stranger's on others. Each tile of
the page is compared with the evidence around where the homography puts it, within a small reach, since a
homography does not follow a lens's bend or curled paper (measured in `docs/archive-scale.md`)."""

from __future__ import annotations

import cv2
import numpy as np

TILE = 96  # page pixels (FP_DPI) per tile side: 16 mm, a few lines of text
REACH = 8  # pixels (1.4 mm at FP_DPI) each tile is searched around where the homography puts it
STROKE = 2.0  # sigma (pixels) of the high-pass: what is finer than a word's blob, a character's strokes
SMOOTH = 0.7  # sigma of the low-pass taken first: a photo's noise and JPEG blocks
INKED = 0.02  # a tile whose print varies less than this (a blank margin) says nothing
RULE = 31  # pixels (5 mm): print this long in a straight line is a rule or a field's line, not a stroke


def ink(gray: np.ndarray) -> np.ndarray:
    """Print at stroke scale, without what pages of one template share: darkness relative to the paper around
    it (shading and exposure divided out), rules taken away (a table's grid), band-passed between SMOOTH and
    STROKE, and each row's and column's mean over a tile's width taken away (text lines at one pitch, CJK
    characters in one grid). Measured with two pages of one template laid exactly on each other: tables agreed
    0.45-0.54 with their rules, 0.10-0.21 without them and the lines' means."""
    x = gray.astype(np.float32)
    paper = cv2.GaussianBlur(cv2.dilate(x, np.ones((9, 9), np.uint8)), (0, 0), 6)
    dark = 1.0 - x / np.maximum(paper, 1.0)
    rules = np.maximum(cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, RULE), np.uint8)),
                       cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((RULE, 1), np.uint8)))
    smooth = cv2.GaussianBlur(dark - rules, (0, 0), SMOOTH)
    band = smooth - cv2.GaussianBlur(smooth, (0, 0), STROKE)
    return band - cv2.blur(band, (TILE + 1, 1)) - cv2.blur(band, (1, TILE + 1))


def agreement(evidence: np.ndarray, H: np.ndarray, page: np.ndarray) -> tuple[float, int]:
    """The evidence (grey, its own pixels) laid on the page (grey, FP_DPI pixels) by H (evidence -> page):
    the median over the page's inked tiles that the evidence covers of the best correlation of its print with
    the evidence's within REACH, and how many tiles that is (0: none, and the median nan)."""
    h, w = page.shape
    # bilinear (OpenCV's warps have no area filter: INTER_AREA gives the same pixels); SMOOTH then low-passes
    warped = cv2.warpPerspective(evidence, H, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    covered = cv2.warpPerspective(np.full(evidence.shape, 255, np.uint8), H, (w, h), flags=cv2.INTER_NEAREST,
                                  borderValue=0)
    seen, own = ink(warped), ink(page)
    best = []
    for y in range(REACH, h - TILE - REACH + 1, TILE):
        for x in range(REACH, w - TILE - REACH + 1, TILE):
            around = (slice(y - REACH, y + TILE + REACH), slice(x - REACH, x + TILE + REACH))
            if covered[around].min() == 0:
                continue
            tile = own[y:y + TILE, x:x + TILE]
            if tile.std() < INKED:
                continue
            best.append(float(cv2.matchTemplate(seen[around], tile, cv2.TM_CCOEFF_NORMED).max()))
    return (float(np.median(best)) if best else float("nan")), len(best)
