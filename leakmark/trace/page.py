"""Find the page in a photo: the largest bright convex quadrilateral, and unwarp it."""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 800  # the quadrilateral is searched on a copy this long


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    pts = pts.reshape(4, 2).astype(np.float32)
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32)


def find_page_quad(gray: np.ndarray) -> np.ndarray | None:
    """Corners of the sheet of paper in a photo, or None when the image is the page (scan, screenshot)."""
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
    best = None
    for q in candidates:
        a = cv2.contourArea(q)
        if not 0.15 * area <= a <= 0.97 * area or not cv2.isContourConvex(q):
            continue
        if best is None or a > cv2.contourArea(best):
            best = q
    if best is None:
        return None
    return order_corners(best) / scale


def unwarp(gray: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sheet as a flat image at its own resolution, and the homography raw → flat."""
    tl, tr, br, bl = quad
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
    H = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    flat = cv2.warpPerspective(gray, H, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)
    return flat, H
