"""Alignment beyond the homography: a bent page (lens distortion, curl) is followed, a flat one is not bent."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from leakmark.fingerprint import FP_DPI
from leakmark.rendering import render_page_array
from leakmark.samples import SAMPLES
from leakmark.trace import align

DPI = 300


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return render_page_array(SAMPLES["memo-en.pdf"](), 0, DPI, mode="gray")


def _barrel(img: np.ndarray, k1: float) -> np.ndarray:
    """The image seen through a barrel-distorting lens about its centre (radius normalised by the half
    diagonal): each output pixel samples the input at r * (1 + k1 r^2)."""
    h, w = img.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, norm = (w - 1) / 2, (h - 1) / 2, np.hypot(w, h) / 2
    u, v = (gx - cx) / norm, (gy - cy) / norm
    f = 1 + k1 * (u * u + v * v)
    mx, my = (np.float32(c) + t * f * np.float32(norm) for c, t in ((cx, u), (cy, v)))
    return cv2.remap(img, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR, borderValue=255)


def _offsets(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where each 256-px patch of a that holds text lies from the same patch of b: (n, 2) pixels."""
    out = []
    for y in range(0, b.shape[0] - 256, 300):
        for x in range(0, b.shape[1] - 256, 400):
            if (b[y:y + 256, x:x + 256] < 128).mean() >= 0.03:
                shift, _ = cv2.phaseCorrelate(a[y:y + 256, x:x + 256].astype(np.float32),
                                              b[y:y + 256, x:x + 256].astype(np.float32))
                out.append(shift)
    return np.array(out)


def _aligned(evidence: np.ndarray, original: np.ndarray, monkeypatch: pytest.MonkeyPatch | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    H = np.diag([FP_DPI / DPI, FP_DPI / DPI, 1.0])  # evidence pixels -> fingerprint pixels: the page as it lies
    return align.align(evidence, H, original, DPI)


def _bends(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each alignment from now on takes the bend (appended as they run)."""
    taken: list[bool] = []
    real = align._bend

    def counted(*a: object) -> object:
        field = real(*a)  # type: ignore[arg-type]
        taken.append(field is not None)
        return field
    monkeypatch.setattr(align, "_bend", counted)
    return taken


def test_a_page_bent_by_a_strong_lens_is_followed(page: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """Barrel distortion (k1 0.04: the corners pulled in by about 40 px at 300 dpi) moves the text near the
    corners by several pixels from where the best homography puts it, and scales it: with the bend, the text
    lies within half a pixel of one place all over the page, and the correlation with the original rises well
    above the homography's."""
    evidence = _barrel(page, 0.04)
    bent, valid = _aligned(evidence, page)
    monkeypatch.setattr(align, "BEND_GAIN", float("inf"))  # the homography alone
    flat, flat_valid = _aligned(evidence, page)
    assert valid.mean() > 0.95 and flat_valid.mean() > 0.95
    before, after = _offsets(flat, page), _offsets(bent, page)
    assert len(after) >= 20
    # what the measurement cannot remove is how the misfit varies over the page (it subtracts a smooth
    # residual warp, not a word's scale): from 30 px across the page to under half a pixel
    assert np.ptp(before, axis=0).max() > 10, before
    assert np.ptp(after, axis=0).max() < 0.5, after
    mask = (valid & flat_valid).astype(np.uint8)
    assert align._ncc(bent, page, mask) > align._ncc(flat, page, mask) + 0.1


def test_a_flat_page_is_not_bent(page: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan (a slight rotation, JPEG): the page-wide homography explains it, the bend is not taken and the
    result is the homography's, pixel for pixel."""
    h, w = page.shape
    R = cv2.getRotationMatrix2D((w / 2, h / 2), 0.7, 1.0)
    scan = cv2.warpAffine(page, R, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    scan = cv2.imdecode(cv2.imencode(".jpg", scan, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], cv2.IMREAD_GRAYSCALE)
    H = np.diag([FP_DPI / DPI, FP_DPI / DPI, 1.0]) @ np.vstack([cv2.invertAffineTransform(R), [0, 0, 1]])
    taken = _bends(monkeypatch)
    got = align.align(scan, H, page, DPI)
    assert taken == [False]
    monkeypatch.setattr(align, "BEND_GAIN", float("inf"))
    want = align.align(scan, H, page, DPI)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_a_crop_is_not_bent_even_when_bent(page: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bend needs the whole page (BEND_PAGE): on a corner crop a cubic fitted to part of the page ran wild
    (57 px on a clean digital crop) and cost the marks. A crop of the barrel-distorted page keeps the
    homography."""
    h, w = page.shape
    crop = _barrel(page, 0.04)[: int(0.63 * h), : int(0.63 * w)]
    taken = _bends(monkeypatch)
    _aligned_crop, valid = _aligned(crop, page)
    assert taken == [False]
    assert 0.3 < valid.mean() < 0.45  # the crop's share of the page, nothing folded onto the rest
