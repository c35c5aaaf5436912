"""Align evidence to the archived original: feature homography, then a dense-flow refinement."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from leakmark.fingerprint import FP_DPI

log = logging.getLogger(__name__)
REFINE_DPI = (75, 150)  # the flow refinement runs at these resolutions, coarse to fine


def _scale(s: float) -> np.ndarray:
    return np.diag([s, s, 1.0])


REGION_MARGIN = 0.04  # of the page's longer side, around the matched features


def align(evidence: np.ndarray, H_ev_to_fp: np.ndarray, original: np.ndarray, dpi: int,
          matched: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The evidence resampled onto the original's pixel grid, and a mask of where it has data.

    `matched`: where on the page (FP_DPI pixels) the located features lie. The refinement trusts the
    evidence only around them: a photo of a screen or a torn page also shows a frame, a desk or a viewer's
    grey, which would otherwise be compared with parts of the page it does not show and pull it off. (The
    measurement copes with those parts itself; features are too sparse on a photograph to bound it.)
    Returns (aligned uint8, valid bool).
    """
    H = _scale(dpi / FP_DPI) @ H_ev_to_fp  # evidence -> original pixels
    M = np.linalg.inv(H)  # original pixels -> evidence, for WARP_INVERSE_MAP
    h, w = original.shape
    region = _region(matched, (h, w), dpi) if matched is not None and len(matched) >= 3 else None
    M = _refine(evidence, M, original, dpi, region)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    aligned = cv2.warpPerspective(evidence, M, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ones = np.full(evidence.shape, 255, np.uint8)
    valid = cv2.warpPerspective(ones, M, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0) > 0
    return aligned, valid


def _region(matched: np.ndarray, shape: tuple[int, int], dpi: int) -> np.ndarray:
    """The convex hull of the matched features on the page, widened by a margin: a mask at the coarsest
    refinement resolution (the steps resize it to theirs; at full resolution the dilation alone took
    seconds)."""
    s = min(REFINE_DPI) / dpi
    small = (max(1, round(shape[0] * s)), max(1, round(shape[1] * s)))
    pts = (matched.reshape(-1, 2) * (min(REFINE_DPI) / FP_DPI)).astype(np.float32)
    mask = np.zeros(small, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(pts).astype(np.int32), 255)
    r = max(1, int(REGION_MARGIN * max(small)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def _refine(evidence: np.ndarray, M: np.ndarray, original: np.ndarray, dpi: int,
            region: np.ndarray | None = None) -> np.ndarray:
    """Correct the feature homography with dense optical flow: at REFINE_DPI coarse then fine, the flow
    between the coarse-aligned evidence and the original over the region the evidence shows, and the
    homography that fits it (RANSAC, so flow on a stain or glare does not count). Each step is kept only
    when it raises the correlation. Measured on photos of a screen, where the features sit on a few
    corners: from errors of 2–300 px to 1–3 px (ECC, used before, walked off on them and was dropped)."""
    for d in REFINE_DPI:
        M = _flow_step(evidence, M, original, dpi, region, d)
    return M


def _flow_step(evidence: np.ndarray, M: np.ndarray, original: np.ndarray, dpi: int,
               region: np.ndarray | None, d: int) -> np.ndarray:
    s = d / dpi
    h, w = original.shape
    size = (max(1, int(w * s)), max(1, int(h * s)))
    Ms = M @ _scale(1 / s)  # original pixels at d dpi -> evidence
    ev = cv2.warpPerspective(evidence, Ms, size, flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderValue=0)
    valid = cv2.warpPerspective(np.full(evidence.shape, 255, np.uint8), Ms, size,
                                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
    if region is not None:
        valid = np.where(cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0, valid, 0)
    mask = cv2.erode(valid, np.ones((5, 5), np.uint8))
    orig = cv2.resize(original, size, interpolation=cv2.INTER_AREA)
    flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(orig, ev, None)  # type: ignore[call-overload]  # the stub wants an initial flow
    gy, gx = np.mgrid[4:size[1]:8, 4:size[0]:8]
    o = orig.astype(np.float32)
    edges = cv2.magnitude(cv2.Sobel(o, cv2.CV_32F, 1, 0), cv2.Sobel(o, cv2.CV_32F, 0, 1))
    keep = (mask[gy, gx] > 0) & (edges[gy, gx] > 20)  # flow is only defined where there is structure
    if keep.sum() < 12:
        return M
    src = np.stack([gx[keep], gy[keep]], axis=1).astype(np.float32)
    correction, _ = cv2.findHomography(src, src + flow[gy[keep], gx[keep]], cv2.RANSAC, 1.0)
    if correction is None or not np.all(np.isfinite(correction)):
        return M
    moved = cv2.warpPerspective(ev, correction, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    if _ncc(moved, orig, mask) <= _ncc(ev, orig, mask):
        log.debug("alignment refinement at %d dpi rejected: it lowered the correlation", d)
        return M
    return Ms @ correction @ _scale(s)


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    m = mask > 0
    if m.sum() < 16:
        return -1.0
    x, y = a[m].astype(np.float64), b[m].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (np.sqrt((x * x).sum() * (y * y).sum()) + 1e-9))
