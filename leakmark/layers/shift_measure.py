"""Measure the `shift` layer: each unit's displacement, minus the smooth residual warp.

Output is one number per code position (words, lines, rules, then x and y per blob), zero where nothing
was measured, so a copy's score is a dot product with its ±1 codeword. Everything here is independent of any copy's
codeword, which is what keeps innocent copies' scores centred (see decide.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from leakmark.units import PageUnits

SEARCH = 8  # pixels searched either side of the aligned position (residual warp after alignment)
MARGIN = 3  # background kept around a word in its template
CLIP = 1.0  # residuals are clipped at one delta: a marked unit moves by delta, anything beyond is error and
# one wild unit must not dominate. On 205 phone photos, screen photos, blurs, JPEGs and copies of the sample
# pages, 2.5 → 1.0 raised the true copy's median score 9.6 → 10.0 (text pages), 8.7 → 8.9 (chart, form)
SEGMENT = 128  # pixels of a rule per displacement sample
RULE_PEAK = 0.8  # a piece of rule counts when its cross-profile correlates this well with the original's
RULE_SPREAD = 0.75  # pixels: the pieces of a rule that is really there agree to within this (median |dev|)


@dataclass
class ShiftMeasurement:
    values: np.ndarray  # (n_codes,) float64, weighted clipped residuals (0 = not measured)
    measured_words: int
    measured_lines: int
    measured_rules: int = 0
    measured_blobs: int = 0


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
    n = units.n_words
    disp = _match_boxes(ev, og, valid, units.words)
    blob_disp = _match_boxes(ev, og, valid, units.blobs)
    rule_d, rule_xy = _rule_displacements(ev, og, valid, units)
    ok = ~np.isnan(disp[:, 0])
    rok = ~np.isnan(rule_d)
    bok = ~np.isnan(blob_disp[:, 0])
    values = np.zeros(units.n_codes)
    if ok.sum() + rok.sum() + bok.sum() < 6:
        return ShiftMeasurement(values=values, measured_words=int(ok.sum()), measured_lines=0,
                                measured_rules=0)
    xy, bxy = _centres(units.words[ok]), _centres(units.blobs[bok])
    # the smooth warp is fitted per component over every unit that measured it: words and blobs give
    # both, a rule only the one across itself (a vertical rule: x)
    across_rule = {0: rok & (units.rule_axis == 0), 1: rok & (units.rule_axis == 1)}
    offset = n + units.n_lines
    blob_at = offset + units.n_rules + 2 * np.nonzero(bok)[0]
    resid = []
    for c in (0, 1):
        pts = np.concatenate([xy, bxy, rule_xy[across_rule[c]]])
        d = np.concatenate([disp[ok, c], blob_disp[bok, c], rule_d[across_rule[c]]])
        r = smooth_residual(pts, d, delta) if len(d) >= 6 else np.full(len(d), np.nan)
        resid.append(r[:len(xy)])
        values[blob_at + c] = np.nan_to_num(np.clip(r[len(xy):len(xy) + len(bxy)] / delta, -CLIP, CLIP))
        k = np.nonzero(across_rule[c])[0]
        values[offset + k] = np.nan_to_num(np.clip(r[len(xy) + len(bxy):] / delta, -CLIP, CLIP))
    rx, ry = resid
    idx = np.nonzero(ok)[0]
    axis = units.word_axis[idx]
    along = np.nan_to_num(np.where(axis == 0, rx, ry))
    across = np.nan_to_num(np.where(axis == 0, ry, rx))
    values[idx] = np.clip(along / delta, -CLIP, CLIP)
    # a line's code: the mean across-displacement of its measured words, weighted by their number
    lines_measured = 0
    owners = units.word_line[idx]
    movable = units.lines[:, 2] > units.lines[:, 0]
    for j in np.unique(owners):
        if not movable[j]:
            continue
        m = owners == j
        count = int(m.sum())
        values[n + j] = np.clip(across[m].mean() / delta, -CLIP, CLIP) * np.sqrt(min(count, 8))
        lines_measured += 1
    return ShiftMeasurement(values=values, measured_words=int(ok.sum()), measured_lines=lines_measured,
                            measured_rules=int(np.count_nonzero(values[offset:offset + units.n_rules])),
                            measured_blobs=int(bok.sum()))


def _centres(boxes: np.ndarray) -> np.ndarray:
    b = boxes.astype(np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def _match_boxes(ev: np.ndarray, og: np.ndarray, valid: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(dx, dy) of each box's content in the evidence against the original, nan where not measured."""
    H, W = og.shape
    disp = np.full((len(boxes), 2), np.nan)
    r = SEARCH + MARGIN
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        X0, Y0, X1, Y1 = x0 - r, y0 - r, x1 + r, y1 + r
        if X0 < 0 or Y0 < 0 or X1 > W or Y1 > H or not valid[Y0:Y1, X0:X1].all():
            continue
        tpl = og[y0 - MARGIN:y1 + MARGIN, x0 - MARGIN:x1 + MARGIN]
        if tpl.std() < 5:
            continue
        res = cv2.matchTemplate(ev[Y0:Y1, X0:X1], tpl, cv2.TM_CCOEFF_NORMED)
        px, py, peak = _subpixel(res)
        if peak < 0.4:
            continue  # not recognisably there (occluded, torn, overexposed)
        disp[i] = (px - SEARCH, py - SEARCH)
    return disp


def _rule_displacements(ev: np.ndarray, og: np.ndarray, valid: np.ndarray,
                        units: PageUnits) -> tuple[np.ndarray, np.ndarray]:
    """Each rule's displacement across itself (nan where not seen) and the centre of what was seen.

    The rule is cut into SEGMENT-long pieces; each piece's cross-profile (the mean along the rule, which
    averages away noise and moiré) is matched against the original's; `_along_rule` combines them."""
    H, W = og.shape
    k = units.n_rules
    d = np.full(k, np.nan)
    xy = np.zeros((k, 2))
    r = SEARCH + MARGIN
    for i, ((x0, y0, x1, y1), axis) in enumerate(zip(units.rules.tolist(), units.rule_axis.tolist(), strict=True)):
        # in the rule's own frame: u along it, v across it
        u0, u1, v0, v1 = (x0, x1, y0, y1) if axis == 1 else (y0, y1, x0, x1)
        V = H if axis == 1 else W
        if v0 - r < 0 or v1 + r > V:
            continue
        found, centres = [], []
        for a in range(u0 + 2, max(u0 + 3, u1 - 2 - SEGMENT // 2), SEGMENT):
            b = min(a + SEGMENT, u1 - 2)
            if b - a < SEGMENT // 2:
                continue
            if axis == 1:
                win = (slice(v0 - r, v1 + r), slice(a, b))
                if not valid[win].all():
                    continue
                e, o = ev[win].mean(axis=1), og[v0 - MARGIN:v1 + MARGIN, a:b].mean(axis=1)
            else:
                win = (slice(a, b), slice(v0 - r, v1 + r))
                if not valid[win].all():
                    continue
                e, o = ev[win].mean(axis=0), og[a:b, v0 - MARGIN:v1 + MARGIN].mean(axis=0)
            if o.std() < 5:
                continue
            res = cv2.matchTemplate(e.astype(np.float32)[:, None], o.astype(np.float32)[:, None],
                                    cv2.TM_CCOEFF_NORMED)
            _px, pv, peak = _subpixel(res)
            if peak < RULE_PEAK or abs(pv - SEARCH) > SEARCH - 1:
                continue  # not a clean profile of the rule here (the screen's edge, glare, a fold)
            found.append(pv - SEARCH)
            centres.append((a + b) / 2)
        value = _along_rule(np.asarray(centres), np.asarray(found))
        if value is not None:
            d[i], u = value
            xy[i] = (u, (v0 + v1) / 2) if axis == 1 else ((v0 + v1) / 2, u)
    return d, xy


def _along_rule(u: np.ndarray, d: np.ndarray) -> tuple[float, float] | None:
    """A rule's displacement from its pieces' (position along it, displacement): the pieces of a straight
    rule lie on a straight line (the residual warp of a photo tilts it; a rule half off the evidence,
    matched on a frame or a bezel edge, scatters and is left out). Returns (displacement at the centre of
    the pieces that agree, that centre) or None."""
    if len(d) < 3:
        return (float(np.mean(d)), float(np.mean(u))) if len(d) and np.ptp(d) <= 2 * RULE_SPREAD else None
    keep = np.ones(len(d), dtype=bool)
    for _ in range(2):
        slope, icpt = np.polyfit(u[keep], d[keep], 1)
        r = d - (slope * u + icpt)
        keep = np.abs(r) <= 2 * RULE_SPREAD
        if keep.sum() < 3:
            return None
    slope, icpt = np.polyfit(u[keep], d[keep], 1)
    r = d[keep] - (slope * u[keep] + icpt)
    if keep.mean() < 0.6 or np.median(np.abs(r)) > RULE_SPREAD / 2:
        return None
    centre = float(u[keep].mean())
    return float(slope * centre + icpt), centre
