"""Measure the `shift` layer: each unit's displacement, minus the smooth residual warp.

Output is one number per code position (words, then lines), zero where nothing was measured, so a
copy's score is a dot product with its ±1 codeword. Everything here is independent of any copy's
codeword, which is what keeps innocent copies' scores centred (see decide.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from leakmark.watermark.units import PageUnits

SEARCH = 8  # pixels searched either side of the aligned position (residual warp after alignment)
MARGIN = 3  # background kept around a word in its template
CLIP = 2.5  # residuals are clipped at this many deltas: one wild unit must not dominate


@dataclass
class ShiftMeasurement:
    values: np.ndarray  # (n_codes,) float64, weighted clipped residuals (0 = not measured)
    measured_words: int
    measured_lines: int


def _poly_terms(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    return np.stack([x ** i * y ** j for i in range(degree + 1) for j in range(degree + 1 - i)], axis=1)


def smooth_residual(xy: np.ndarray, d: np.ndarray, delta: float) -> np.ndarray:
    """d minus a robust low-order polynomial fit over the page (lens distortion, curl, misalignment)."""
    n = len(d)
    degree = 4 if n >= 150 else 3 if n >= 60 else 2 if n >= 20 else 1 if n >= 6 else 0
    centre, span = xy.mean(axis=0), np.maximum(np.ptp(xy, axis=0), 1.0)
    u = (xy - centre) / span
    A = _poly_terms(u[:, 0], u[:, 1], degree)
    keep = np.ones(n, dtype=bool)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(A[keep], d[keep], rcond=None)
        r = d - A @ coef
        new_keep = np.abs(r) < max(3 * delta, 3 * 1.4826 * np.median(np.abs(r[keep])))
        if new_keep.sum() < A.shape[1] + 2 or (new_keep == keep).all():
            break
        keep = new_keep
    return r


def _subpixel(res: np.ndarray) -> tuple[float, float, float]:
    _, peak, _, (px, py) = cv2.minMaxLoc(res)
    ox = oy = 0.0
    if 0 < px < res.shape[1] - 1:
        a, b, c = res[py, px - 1], res[py, px], res[py, px + 1]
        den = a - 2 * b + c
        ox = 0.5 * (a - c) / den if den < 0 else 0.0
    if 0 < py < res.shape[0] - 1:
        a, b, c = res[py - 1, px], res[py, px], res[py + 1, px]
        den = a - 2 * b + c
        oy = 0.5 * (a - c) / den if den < 0 else 0.0
    return px + ox, py + oy, float(peak)


def measure_shift(aligned: np.ndarray, valid: np.ndarray, original: np.ndarray, units: PageUnits,
                  delta: float) -> ShiftMeasurement:
    ev = cv2.GaussianBlur(aligned.astype(np.float32), (0, 0), 1.0)
    og = cv2.GaussianBlur(original.astype(np.float32), (0, 0), 1.0)
    H, W = og.shape
    n = units.n_words
    disp = np.full((n, 2), np.nan)
    r = SEARCH + MARGIN
    for i, (x0, y0, x1, y1) in enumerate(units.words):
        X0, Y0, X1, Y1 = x0 - r, y0 - r, x1 + r, y1 + r
        if X0 < 0 or Y0 < 0 or X1 > W or Y1 > H or not valid[Y0:Y1, X0:X1].all():
            continue
        tpl = og[y0 - MARGIN:y1 + MARGIN, x0 - MARGIN:x1 + MARGIN]
        if tpl.std() < 5:
            continue
        res = cv2.matchTemplate(ev[Y0:Y1, X0:X1], tpl, cv2.TM_CCOEFF_NORMED)
        px, py, peak = _subpixel(res)
        if peak < 0.4:
            continue  # the word is not recognisably there (occluded, torn, overexposed)
        disp[i] = (px - SEARCH, py - SEARCH)
    ok = ~np.isnan(disp[:, 0])
    values = np.zeros(units.n_codes)
    if ok.sum() < 6:
        return ShiftMeasurement(values=values, measured_words=int(ok.sum()), measured_lines=0)
    boxes = units.words[ok].astype(np.float64)
    xy = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    rx = smooth_residual(xy, disp[ok, 0], delta)
    ry = smooth_residual(xy, disp[ok, 1], delta)
    idx = np.nonzero(ok)[0]
    axis = units.word_axis[idx]
    along = np.where(axis == 0, rx, ry)
    across = np.where(axis == 0, ry, rx)
    values[idx] = np.clip(along / delta, -CLIP, CLIP)
    # a line's code: the mean across-displacement of its measured words, weighted by their number
    lines_measured = 0
    owners = units.word_line[idx]
    movable = units.lines[:, 2] > units.lines[:, 0]
    for j in np.unique(owners):
        if not movable[j]:
            continue
        m = owners == j
        k = int(m.sum())
        values[n + j] = np.clip(across[m].mean() / delta, -CLIP, CLIP) * np.sqrt(min(k, 8))
        lines_measured += 1
    return ShiftMeasurement(values=values, measured_words=int(ok.sum()), measured_lines=lines_measured)
