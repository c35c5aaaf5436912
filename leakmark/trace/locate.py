"""Which registered page does the evidence show? SIFT matches against every page's fingerprint."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from leakmark import fingerprint

RATIO = 0.8  # Lowe's ratio test
MIN_INLIERS = 25  # fewer consistent matches than this is not a located page
EVIDENCE_SIDE = 2400  # evidence is searched at most this long


@dataclass
class PageRef:
    doc_id: str
    page: int  # 0-based
    points: np.ndarray  # fingerprint points, FP_DPI pixels
    descriptors: np.ndarray


@dataclass
class Location:
    ref: PageRef
    H: np.ndarray  # evidence pixels -> fingerprint (FP_DPI) pixels
    inliers: int
    matched: np.ndarray | None = None  # the inliers' positions on the page (FP_DPI pixels): what it shows


def evidence_features(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    scale = min(1.0, EVIDENCE_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    pts, desc = fingerprint.detect(small, max_features=12000)
    return pts / scale, desc, scale


def locate(gray: np.ndarray, refs: list[PageRef]) -> Location | None:
    pts, desc, _ = evidence_features(gray)
    if len(desc) < MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    qd = desc.astype(np.float32)
    best: Location | None = None
    for ref in refs:
        if len(ref.descriptors) < 2:
            continue
        pairs = matcher.knnMatch(qd, ref.descriptors.astype(np.float32), k=2)
        good = _one_to_one([m for m, n in (p for p in pairs if len(p) == 2) if m.distance < RATIO * n.distance])
        if len(good) < MIN_INLIERS:
            continue
        src = pts[[m.queryIdx for m in good]]
        dst = ref.points[[m.trainIdx for m in good]]
        H, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 3.0, maxIters=5000, confidence=0.999)
        if H is None or not _keeps_orientation(H, src[mask.ravel() > 0]):
            continue  # a mirror image matched as is: the mirrored attempt (tracer._locate) finds it
        n = int(mask.sum())
        if n >= MIN_INLIERS and (best is None or n > best.inliers):
            best = Location(ref=ref, H=H, inliers=n, matched=dst[mask.ravel() > 0])
    return best


def _one_to_one(matches: list[cv2.DMatch]) -> list[cv2.DMatch]:
    """At most one evidence feature per page feature, the closest. A screen's moiré makes thousands of
    near-identical features that all pass the ratio test onto one page feature; RANSAC then fits a
    degenerate homography to them (every inlier landing on one point) and the real matches are lost."""
    best: dict[int, cv2.DMatch] = {}
    for m in matches:
        b = best.get(m.trainIdx)
        if b is None or m.distance < b.distance:
            best[m.trainIdx] = m
    return list(best.values())


def _keeps_orientation(H: np.ndarray, points: np.ndarray) -> bool:
    """A photo, scan or screenshot maps the page without turning it over: the Jacobian of H, whose
    determinant is det(H) / w³, must be positive where the matches are (w taken at their centre)."""
    if len(points) == 0:
        return False
    if not np.all(np.isfinite(H)) or np.linalg.cond(H) > 1e10:
        return False  # degenerate: a page cannot be photographed into a line
    x, y = points.reshape(-1, 2).mean(axis=0)
    w = H[2, 0] * x + H[2, 1] * y + H[2, 2]
    return float(np.linalg.det(H)) * float(w) > 0
