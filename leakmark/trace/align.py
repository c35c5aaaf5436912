"""Align evidence to the archived original: feature homography, then ECC refinement."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from leakmark.fingerprint import FP_DPI

log = logging.getLogger(__name__)
ECC_DPI = 75  # ECC runs on both images scaled to this resolution


def _scale(s: float) -> np.ndarray:
    return np.diag([s, s, 1.0])


def align(evidence: np.ndarray, H_ev_to_fp: np.ndarray, original: np.ndarray,
          dpi: int) -> tuple[np.ndarray, np.ndarray]:
    """The evidence resampled onto the original's pixel grid, and a mask of where it has data.

    Returns (aligned uint8, valid bool).
    """
    H = _scale(dpi / FP_DPI) @ H_ev_to_fp  # evidence -> original pixels
    M = np.linalg.inv(H)  # original pixels -> evidence, for WARP_INVERSE_MAP
    M = _refine(evidence, M, original, dpi)
    h, w = original.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    aligned = cv2.warpPerspective(evidence, M, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ones = np.full(evidence.shape, 255, np.uint8)
    valid = cv2.warpPerspective(ones, M, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0) > 0
    return aligned, valid


def _refine(evidence: np.ndarray, M: np.ndarray, original: np.ndarray, dpi: int) -> np.ndarray:
    """ECC homography between the coarse-aligned evidence and the original, both at ECC_DPI."""
    s = ECC_DPI / dpi
    h, w = original.shape
    size = (max(1, int(w * s)), max(1, int(h * s)))
    # original pixels at ECC_DPI -> evidence
    Ms = M @ _scale(1 / s)
    ev_small = cv2.warpPerspective(evidence, Ms, size, flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderValue=0)
    valid = cv2.warpPerspective(np.full(evidence.shape, 255, np.uint8), Ms, size,
                                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
    orig_small = cv2.resize(original, size, interpolation=cv2.INTER_AREA)
    warp = np.eye(3, dtype=np.float32)
    try:
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
        _, warp = cv2.findTransformECC(orig_small.astype(np.float32), ev_small.astype(np.float32), warp,
                                       cv2.MOTION_HOMOGRAPHY, criteria, cv2.erode(valid, np.ones((5, 5), np.uint8)), 3)
    except cv2.error as exc:  # no convergence: the feature homography stands, measurement copes
        log.debug("ECC refinement skipped: %s", exc)
        return M
    # warp maps original(ECC px) -> coarse-aligned(ECC px); compose back to full resolution
    return Ms @ warp.astype(np.float64) @ _scale(s)
