"""Find the page in a photo: the largest bright convex quadrilateral (paper before desk), and unwarp it."""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 800  # the quadrilateral is searched on a copy this long
MIN_AREA, MAX_AREA = 0.1, 0.97  # share of the image a sheet covers (beyond MAX_AREA: the image is the page)
MIN_SHEET = 0.15  # ... and at least this, unless the paper test chose it (see page_quad)
PAPER, DARK = 0.95, 0.5  # bright shares: a quadrilateral of paper; one not the sheet where there is paper


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    pts = pts.reshape(4, 2).astype(np.float32)
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32)


def find_page_quad(gray: np.ndarray) -> np.ndarray | None:
    """Corners of the sheet of paper in a photo, or None when the image is the page (scan, screenshot)."""
    found = page_quad(gray)
    return None if found is None else found[0]


def page_quad(gray: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """`find_page_quad`'s corners, and whether the paper test passed over a larger, mostly dark quadrilateral
    (the sheet may then be only part of the page: see tracer._locate_view)."""
    h, w = gray.shape
    scale = WORK_SIDE / max(h, w)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    scale = min(scale, 1.0)
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    # paper is the bright region: close the text so the sheet becomes one blob
    _, bright = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25)))
    candidates = []
    for mask in (bright, cv2.dilate(cv2.Canny(blur, 40, 120), np.ones((3, 3), np.uint8))):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            hull = cv2.convexHull(c)
            peri = cv2.arcLength(hull, True)
            for eps in (0.02, 0.04, 0.06):
                approx = cv2.approxPolyDP(hull, eps * peri, True)
                if len(approx) == 4:
                    candidates.append(approx)
                    break
    area = small.shape[0] * small.shape[1]
    kept: list[tuple[np.ndarray, float, float]] = []  # (quadrilateral, area, share of it that is bright)
    for q in candidates:
        a = float(cv2.contourArea(q))
        if MIN_AREA * area <= a <= MAX_AREA * area and cv2.isContourConvex(q):
            inside = np.zeros_like(bright)
            cv2.fillConvexPoly(inside, q.reshape(-1, 2), 255)
            kept.append((q, a, int(np.count_nonzero(bright[inside > 0])) / max(int(np.count_nonzero(inside)), 1)))
    # The paper test: where a quadrilateral is paper (all bright once its text is closed), those that are
    # mostly dark are not the sheet. An edge contour of a textured desk around a small page makes a
    # quadrilateral of half the frame or more, 0.23-0.43 bright on phone photos whose page filled a seventh
    # and a third of the frame, and as the largest it was taken for the sheet (the page, 1.0 bright, was
    # not proposed among 10,000 index pages). Only then may the sheet be smaller than MIN_SHEET (a page
    # filling a seventh of the frame covers 0.146 of it); otherwise a box on a scanned page (a table covers
    # 0.13 of the memo) would be taken for the sheet. A photograph page is never all bright: unchanged.
    paper = any(k[2] >= PAPER for k in kept) and any(k[2] < DARK for k in kept)
    largest = max(kept, key=lambda k: k[1]) if kept else None
    kept = [k for k in kept if (k[2] >= DARK if paper else k[1] >= MIN_SHEET * area)]
    if not kept:
        return None
    best = max(kept, key=lambda k: k[1])
    return order_corners(best[0]) / scale, best is not largest


def unwarp(gray: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sheet as a flat image at its own resolution, and the homography raw → flat."""
    tl, tr, br, bl = quad
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
    H = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    flat = cv2.warpPerspective(gray, H, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)
    return flat, H
