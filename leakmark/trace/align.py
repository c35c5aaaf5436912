"""Align evidence to the archived original: feature homography, then a dense-flow refinement."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

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
    ones = np.full(evidence.shape, 255, np.uint8)
    valid = cv2.warpPerspective(ones, M, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0) > 0
    field = _bend(evidence, M, original, dpi, region)
    if field is None:
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        aligned = cv2.warpPerspective(evidence, M, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return aligned, valid
    mx, my = _maps(M, field, (h, w), dpi)
    aligned = cv2.remap(evidence, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # valid only where the homography, too, finds the evidence: beyond, the cubic extrapolates freely and
    # could fold another part of the evidence onto the page; within, it may reach past the matched features
    # (the margins hold words too: a lens-0.15 photo of the memo scored 16.6 with them, 13.7 without)
    return aligned, valid & (cv2.remap(ones, mx, my, cv2.INTER_NEAREST, borderValue=0) > 0)


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
    found = _flow(evidence, M, original, dpi, region, d)
    if found is None:
        return M
    src, flow, ev, orig, mask = found
    s = d / dpi
    correction, _ = cv2.findHomography(src, src + flow, cv2.RANSAC, 1.0)
    if correction is None or not np.all(np.isfinite(correction)):
        return M
    size = (orig.shape[1], orig.shape[0])
    moved = cv2.warpPerspective(ev, correction, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    if _ncc(moved, orig, mask) <= _ncc(ev, orig, mask):
        log.debug("alignment refinement at %d dpi rejected: it lowered the correlation", d)
        return M
    return M @ _scale(1 / s) @ correction @ _scale(s)


def _flow(evidence: np.ndarray, M: np.ndarray, original: np.ndarray, dpi: int, region: np.ndarray | None,
          d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """At d dpi: where the page has structure within the region the evidence shows (grid points), the dense
    flow there from the original to the evidence aligned by M, the aligned evidence, the original and the
    mask; None when fewer than 12 points have structure."""
    found = _frame(evidence, M, original, dpi, region, d)
    if found is None:
        return None
    src, orig, mask, _shown = found
    s = d / dpi
    Ms = M @ _scale(1 / s)  # original pixels at d dpi -> evidence
    size = (orig.shape[1], orig.shape[0])
    ev = cv2.warpPerspective(evidence, Ms, size, flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderValue=0)
    flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(orig, ev, None)  # type: ignore[call-overload]  # the stub wants an initial flow
    gx, gy = src[:, 0].astype(np.intp), src[:, 1].astype(np.intp)
    return src, flow[gy, gx], ev, orig, mask


def _frame(evidence: np.ndarray, M: np.ndarray, original: np.ndarray, dpi: int, region: np.ndarray | None,
           d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """At d dpi: the grid points (every 8 px) where the page has structure within the region the evidence
    shows, the original (area-averaged), that mask, and the share of the page the evidence shows; None when
    fewer than 12 points have structure."""
    s = d / dpi
    h, w = original.shape
    size = (max(1, int(w * s)), max(1, int(h * s)))
    Ms = M @ _scale(1 / s)  # original pixels at d dpi -> evidence
    valid = cv2.warpPerspective(np.full(evidence.shape, 255, np.uint8), Ms, size,
                                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
    shown = float((valid > 0).mean())
    if region is not None:
        valid = np.where(cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0, valid, 0)
    mask = cv2.erode(valid, np.ones((5, 5), np.uint8))
    orig = cv2.resize(original, size, interpolation=cv2.INTER_AREA)
    gy, gx = np.mgrid[4:size[1]:8, 4:size[0]:8]
    o = orig.astype(np.float32)
    edges = cv2.magnitude(cv2.Sobel(o, cv2.CV_32F, 1, 0), cv2.Sobel(o, cv2.CV_32F, 0, 1))
    keep = (mask[gy, gx] > 0) & (edges[gy, gx] > 20)  # flow is only defined where there is structure
    if keep.sum() < 12:
        return None
    return np.stack([gx[keep], gy[keep]], axis=1).astype(np.float32), orig, mask, shown


@dataclass(frozen=True)
class _Field:
    """A smooth displacement of the page beyond the homography: at BEND_DPI, the evidence's point for the
    original's point x is x + poly(u), u = (x - centre) / span, a polynomial of BEND_DEGREE per axis."""

    coef: np.ndarray  # (terms, 2)
    centre: np.ndarray
    span: np.ndarray

    def at(self, xy: np.ndarray) -> np.ndarray:
        u = (xy - self.centre) / self.span
        return _terms(u[:, 0], u[:, 1]) @ self.coef


BEND_DPI = max(REFINE_DPI)
BEND_DEGREE = 3  # lens distortion and curl: smooth over the page (the measurement's own residual fit goes to 4)
BEND_PAGE = 0.9  # of the page the evidence must show: lens distortion and curl bend whole-page photos, and on
# crops the fitted field ran wild (up to 57 px on a clean digital corner crop; 3 of 3 corner crops of the memo
# named without it, 2 with it: `geometry-other.md` at 0dec42a)
BEND_PASSES = 2  # fits of the flow: the second to what the first left
BEND_STRAIN = 0.005  # the field's largest change per pixel where the page shows (a 1 % scale error misfits a
# word 200 px long by 1 px at its ends; 0.5 % by half a pixel, under what the per-word search resolves), and
BEND_GAIN = 0.05  # the correlation it must add (lens 0.15 and curl 2 %: 0.17-0.26), or the homography is kept:
# a phone photo with the simulator's default lens and curl gained 0.014, which is not worth a new resampling


def _terms(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([x ** i * y ** j for i in range(BEND_DEGREE + 1) for j in range(BEND_DEGREE + 1 - i)], axis=1)


def _bend(evidence: np.ndarray, M: np.ndarray, original: np.ndarray, dpi: int,
          region: np.ndarray | None) -> _Field | None:
    """What a page-wide homography cannot follow: strong lens distortion and curled paper bend the page, so
    its words lie off and at another scale by a few pixels in parts of it, which the measurement's per-word
    search absorbs as displacement (a word 200 px long at 1 % off in scale misfits by 1 px at its ends, as
    large as a mark). The dense flow after the homography, fitted with a smooth polynomial (robustly: a stain
    or glare does not count; a mark's word shifts, random from word to word, average out over the page), is
    kept when it is large enough to matter and raises the correlation; the evidence is then resampled along
    it. None: the homography alone."""
    d = BEND_DPI
    found = _frame(evidence, M, original, dpi, region, d)
    if found is None:
        return None
    src, area, mask, shown = found
    if shown < BEND_PAGE:
        return None  # part of the page: a cubic fitted there is loosely held and its edges meet the cut
    # both images sampled alike, at the same points, each blurred to its sampling step first: the refinement's
    # images (the original area-averaged, the evidence point-sampled) differ by a flow of their own, which
    # varies with each text line's phase on the pixel grid (up to 0.8 px at 300 dpi down an undistorted page)
    s = d / dpi
    size = (area.shape[1], area.shape[0])
    orig = _sampled(original, _scale(1 / s), size, 1 / s)
    Ms = M @ _scale(1 / s)
    ev = _sampled(evidence, Ms, size, _step(Ms, size))
    gx, gy = src[:, 0].astype(np.intp), src[:, 1].astype(np.intp)
    flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(orig, ev, None)  # type: ignore[call-overload]
    flow = flow[gy, gx].astype(np.float64)
    at = src.astype(np.float64)
    centre, span = at.mean(axis=0), np.maximum(np.ptp(at, axis=0), 1.0)
    A = _terms(*((at - centre) / span).T)
    if len(src) < 4 * A.shape[1]:
        return None
    coef, keep = _robust_fit(A, flow)
    field = _Field(coef, centre, span)
    pts = at[keep]
    strain = max(float(np.abs(field.at(pts + step) - field.at(pts)).max()) for step in ((1.0, 0.0), (0.0, 1.0)))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("bend: up to %.2f px at %d dpi, strain %.4f", np.abs(field.at(pts)).max(), d, strain)
    if strain < BEND_STRAIN:
        return None

    def bent(f: _Field) -> np.ndarray:
        mx, my = _grid_map(lambda xy: xy + f.at(xy), orig.shape)
        return cv2.remap(ev, mx, my, cv2.INTER_LINEAR, borderValue=0)
    for _ in range(BEND_PASSES - 1):  # the flow left between the original and the evidence so bent, added
        # (what is left is small: the fast preset, a third of the medium's time, measures it as well)
        rest = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(orig, bent(field), None)  # type: ignore[call-overload]
        more, _kept = _robust_fit(A, rest[gy, gx].astype(np.float64))
        field = _Field(field.coef + more, centre, span)
    gain = _ncc(bent(field), orig, mask) - _ncc(ev, orig, mask)
    log.debug("bend: correlation %+.4f", gain)
    return field if gain >= BEND_GAIN else None


def _sampled(img: np.ndarray, M: np.ndarray, size: tuple[int, int], step: float) -> np.ndarray:
    """The image at the points M maps `size`'s pixels to (bilinear), blurred first to its sampling step (pixels
    of `img` between samples) so that fine strokes alias alike in both images compared."""
    if step > 1.2:
        img = cv2.GaussianBlur(img, (0, 0), 0.5 * step)
    return cv2.warpPerspective(img, M, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)


def _step(M: np.ndarray, size: tuple[int, int]) -> float:
    """Pixels of the evidence between neighbouring samples at the middle of the page (M: samples -> evidence)."""
    c = np.array([size[0] / 2, size[1] / 2, 1.0])
    p = [M @ (c + dv) for dv in (np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))]
    (ax, ay), (bx, by) = (v[:2] / v[2] - p[0][:2] / p[0][2] for v in p[1:])
    return float(np.sqrt(abs(ax * by - ay * bx)))


def _robust_fit(A: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of values (n, 2) on the terms A (n, k), refitted without points over 1 px (or 3 robust
    sigmas) off: the coefficients (k, 2) and the points kept."""
    keep = np.ones(len(A), bool)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(A[keep], values[keep], rcond=None)
        err = np.linalg.norm(values - A @ coef, axis=1)
        new = err < max(1.0, 3 * 1.4826 * float(np.median(err[keep])))
        if new.sum() < 2 * A.shape[1] or (new == keep).all():
            break
        keep = new
    return coef, keep


def _maps(M: np.ndarray, field: _Field, shape: tuple[int, int], dpi: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap's maps: for each pixel of the original (at `dpi`), its place on the evidence, through the
    field (at BEND_DPI) then the homography M (original pixels -> evidence)."""
    s = BEND_DPI / dpi

    def place(p: np.ndarray) -> np.ndarray:
        e = np.c_[p + field.at(p * s) / s, np.ones(len(p))] @ M.T
        return e[:, :2] / e[:, 2:]
    return _grid_map(place, shape)


def _grid_map(place: Callable[[np.ndarray], np.ndarray], shape: tuple[int, int], step: int = 4
              ) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap's maps (float32) of a smooth mapping `place` ((n, 2) points -> (n, 2) points) over an image
    of `shape`: computed every `step` pixels and interpolated (linearly: a cubic over the page and a homography
    change by far less than a pixel's thousandth between grid points)."""
    h, w = shape
    xs, ys = np.arange(0, w + step, step, dtype=np.float64), np.arange(0, h + step, step, dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    q = place(np.stack([gx.ravel(), gy.ravel()], axis=1)).astype(np.float32)
    up = np.array([[step, 0, 0], [0, step, 0]], np.float32)  # grid point k at pixel k * step (not cv2.resize)
    maps = [cv2.warpAffine(q[:, k].reshape(len(ys), len(xs)), up, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE) for k in (0, 1)]
    return maps[0], maps[1]


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    m = mask > 0
    if m.sum() < 16:
        return -1.0
    x, y = a[m].astype(np.float64), b[m].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (np.sqrt((x * x).sum() * (y * y).sum()) + 1e-9))
