"""Feature fingerprints of registered pages, built at issue time, used by `trace` to locate evidence.

SIFT (in every OpenCV wheel since 4.4) is scale- and rotation-invariant, so a partial page, a
screenshot at a fraction of the size or a photo turned by 90 degrees still finds its page.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FP_DPI = 150  # fingerprints are computed on the page scaled to this resolution
MAX_FEATURES = 6000
COARSE_DPI = 50  # a page's outline (lines and blocks of text): what a strong blur leaves of it


@dataclass
class Fingerprint:
    points: np.ndarray  # (n, 2) float32, in FP_DPI pixels
    descriptors: np.ndarray  # (n, 128) uint8 (SIFT values fit a byte)
    sizes: np.ndarray | None = None  # (n,) float32 keypoint diameters, FP_DPI pixels (None: vaults before them)

    def to_npz(self) -> dict[str, np.ndarray]:
        return {"points": self.points, "descriptors": self.descriptors}


def detect(gray: np.ndarray, max_features: int = MAX_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """SIFT keypoint positions and descriptors (uint8) of a greyscale image."""
    pts, desc, _sizes = detect_sized(gray, max_features)
    return pts, desc


def detect_sized(gray: np.ndarray, max_features: int = MAX_FEATURES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SIFT keypoint positions, descriptors (uint8) and diameters (pixels) of a greyscale image."""
    sift = cv2.SIFT.create(nfeatures=max_features)
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), np.zeros(0, np.float32)
    pts = np.asarray([k.pt for k in kps], dtype=np.float32)
    sizes = np.asarray([k.size for k in kps], dtype=np.float32)
    return pts, np.clip(desc, 0, 255).astype(np.uint8), sizes


def of_page(gray: np.ndarray, dpi: int) -> Fingerprint:
    scale = FP_DPI / dpi
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    pts, desc, sizes = detect_sized(small)
    if scale >= 1:
        pts, sizes = pts * scale, sizes * scale
    return Fingerprint(points=pts, descriptors=desc, sizes=sizes)


def outline_of_page(gray: np.ndarray, dpi: int, max_features: int = 2000) -> Fingerprint:
    """Keypoints of the page scaled to COARSE_DPI, placed and sized in FP_DPI pixels: lines and blocks of text,
    which the page index keeps apart for evidence whose small keypoints a blur erased (`leakmark.index`)."""
    scale = COARSE_DPI / dpi
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    pts, desc, sizes = detect_sized(small, max_features)
    f = FP_DPI / COARSE_DPI if scale < 1 else FP_DPI / dpi
    return Fingerprint(points=pts * f, descriptors=desc, sizes=sizes * f)
