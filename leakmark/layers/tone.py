"""The `tone` layer: a keyed ±1 per cell of a few millimetres, added at low amplitude where the page has
ink or texture, for pages with photos, charts or little text.

Each cell carries a smooth bump (zero at the cell's edges, so no block edges appear), scaled by a
visibility mask computed from the original rendering: zero on paper white (printing must not turn white
paper grey), small on flat tones, full in texture and ink. The peak change is ALPHA grey levels.

Detection fits the aligned evidence to the original locally (gain and offset over two cells), takes the
residual and correlates it, cell by cell, with the same template: one value per cell, clipped so that an
edge left by misregistration cannot outweigh the rest. Scoring is the
shift layer's: an innocent copy's signs are independent of those values, so its score is a Rademacher sum
with unit variance whatever they are.

The mask and template depend only on the original rendering and the parameters recorded with each copy
(`VERSION`, cell size, amplitude): trace recomputes them from the vault.
"""

from __future__ import annotations

import cv2
import numpy as np

from leakmark.layers.base import CodewordLayer, MeasureContext, Measurement
from leakmark.layers.settings import LayerName, ToneSettings

LAYER = LayerName.tone
VERSION = "v1"
CELL_MM = 4.0
ALPHA = 2.0  # peak change in grey levels
PAPER = 245.0  # at or above this a pixel is paper and is never changed
# The photometric fit runs over windows this many cells wide: small enough to follow a phone's shading and
# tone curve, large enough not to fit the mark away. Cell values are clipped at CLIP robust deviations.
# Measured on a photo page (phone photos, JPEG 30, screenshots, photos of a screen): 2 cells and clipping
# at 2 doubled the true copy's z against 4 cells and 4. No dense re-registration: optical flow reads the
# mark's own brightness steps as motion and cancels up to half of it (z 5.4 with it, 9.2 without).
FIT_CELLS = 2
CLIP = 2.0
# By default the layer goes on pages with at least this share of non-text ink (photographs, large fills).
# Measured (benchmarks/results/lowtext.md): it names the copy of a photo page (share 0.77) under every
# digital attack, phone photos and photos of a screen; on a chart (0.09) or a ruled form (0.05) it measured
# nothing, even away from the text, so shift carries those alone.
PICTURE_SHARE = 0.25


def _bayer(n: int) -> np.ndarray:
    m = np.zeros((1, 1))
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return ((m + 0.5) / m.size).astype(np.float32)


_BAYER = _bayer(8)


def cell_px(dpi: int) -> int:
    return max(8, round(CELL_MM / 25.4 * dpi))


def grid(shape: tuple[int, ...], dpi: int) -> tuple[int, int, int]:
    """(rows, columns, cell size in pixels) of the cell grid anchored at the page's top left corner."""
    c = cell_px(dpi)
    return shape[0] // c, shape[1] // c, c


def n_cells(shape: tuple[int, ...], dpi: int) -> int:
    ny, nx, _ = grid(shape, dpi)
    return ny * nx


def template(gray: np.ndarray, dpi: int) -> np.ndarray:
    """Per-pixel amplitude (peak 1, float32): visibility mask × cell bump."""
    ny, nx, c = grid(gray.shape, dpi)
    g = gray.astype(np.float32)
    k = max(3, (c // 6) | 1)
    mean = cv2.blur(g, (k, k))
    std = np.sqrt(np.maximum(cv2.blur(g * g, (k, k)) - mean * mean, 0.0))
    mask = np.clip((PAPER - g) / 30.0, 0.0, 1.0) * (0.15 + 0.85 * np.clip(std / 12.0, 0.0, 1.0))
    bump = np.sin(np.pi * (np.arange(c, dtype=np.float32) + 0.5) / c)
    shape = np.zeros_like(g)
    shape[:ny * c, :nx * c] = np.tile(np.outer(bump, bump), (ny, nx))
    return mask * shape


def planes(base: np.ndarray, gray: np.ndarray, dpi: int, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """The page with every cell pushed up, and with every cell pushed down (uint8, like `base`).
    A copy takes each cell from one or the other: no arithmetic per copy."""
    # ordered dithering, not rounding: most of the template is below half a grey level, and rounding would
    # erase it; a fixed Bayer threshold keeps its mean in every small area (and adds no visible texture)
    amp = alpha * template(gray, dpi)
    h, w = amp.shape
    step = np.floor(amp + np.tile(_BAYER, (h // 8 + 1, w // 8 + 1))[:h, :w]).astype(np.int16)
    if base.ndim == 3:
        step = step[:, :, None]
    b = base.astype(np.int16)
    return np.clip(b + step, 0, 255).astype(np.uint8), np.clip(b - step, 0, 255).astype(np.uint8)


def _blocks(image: np.ndarray, dpi: int) -> np.ndarray:
    """A (rows, c, columns, c[, 3]) view of the page's whole cells (writes go through to `image`)."""
    ny, nx, c = grid(image.shape, dpi)
    return image[:ny * c, :nx * c].reshape(ny, c, nx, c, *image.shape[2:])


class Painter:
    """Paints copies' cell signs into page buffers, touching only what changes from one copy to the next.

    Most of a page's cells are paper (the template is zero there: both planes equal the page); the others
    are gathered once per page, cell-major, from both planes. A copy then rewrites only the cells whose
    sign differs from the previous copy's: about half the marked area, instead of whole pages.
    """

    def __init__(self, plus: np.ndarray, minus: np.ndarray, dpi: int) -> None:
        ny, nx, _ = grid(plus.shape, dpi)
        self.dpi = dpi
        p, m = _blocks(plus, dpi), _blocks(minus, dpi)
        differs = (p != m).reshape(ny, p.shape[1], nx, -1).any(axis=(1, 3))
        self.iy, self.ix = np.nonzero(differs)
        self.index = self.iy * nx + self.ix  # into a copy's codes (row-major cells)
        self.cells = np.stack([m[self.iy, :, self.ix], p[self.iy, :, self.ix]], axis=1)  # (k, minus|plus, c, c[, 3])
        self.shown: np.ndarray | None = None  # the signs the buffers show now (None: not yet painted)

    def paint(self, codes: np.ndarray, *outs: np.ndarray) -> None:
        """Make every buffer in `outs` (equal to each other on the cells, e.g. a page and its shifted copy
        after `shift.restore`) show the copy with these cell signs. The first call needs buffers equal to
        the minus plane."""
        up = codes[self.index] > 0
        shown = np.zeros_like(up) if self.shown is None else self.shown
        change = np.nonzero(up != shown)[0]
        if len(change):
            cells = self.cells[change, up[change].astype(np.intp)]  # one gather of just what is needed
            for out in outs:
                _blocks(out, self.dpi)[self.iy[change], :, self.ix[change]] = cells
        self.shown = up


def apply(plus: np.ndarray, minus: np.ndarray, codes: np.ndarray, dpi: int, out: np.ndarray) -> None:
    """Write the copy with these cell signs into `out` (same shape as the planes). This is the definition;
    `Painter` reaches the same pixels faster when one page is marked for many copies."""
    ny, nx, c = grid(plus.shape, dpi)
    out[:] = minus
    up = (codes.reshape(ny, 1, nx, 1) > 0)
    if plus.ndim == 3:
        up = up[..., None]
    view = (ny, c, nx, c, *plus.shape[2:])
    np.copyto(out[:ny * c, :nx * c].reshape(view), plus[:ny * c, :nx * c].reshape(view),
              where=np.broadcast_to(up, view))


def measure(aligned: np.ndarray, valid: np.ndarray, original: np.ndarray, dpi: int) -> np.ndarray:
    """One value per cell: the evidence's residual after a local gain/offset fit, matched to the template.
    Cells the evidence does not show give 0."""
    ny, nx, c = grid(original.shape, dpi)
    t = template(original, dpi) * (valid > 0)
    e = aligned.astype(np.float32)
    o = original.astype(np.float32)
    k = FIT_CELLS * c
    w = (valid > 0).astype(np.float32)
    n = cv2.blur(w, (k, k)) + 1e-6
    me, mo = cv2.blur(e * w, (k, k)) / n, cv2.blur(o * w, (k, k)) / n
    cov = cv2.blur(e * o * w, (k, k)) / n - me * mo
    var = cv2.blur(o * o * w, (k, k)) / n - mo * mo
    gain = cov / (var + 25.0)
    resid = (e - (gain * (o - mo) + me)) * w
    view = (ny, c, nx, c)
    num = (resid * t)[:ny * c, :nx * c].reshape(view).sum(axis=(1, 3))
    den = np.sqrt((t * t)[:ny * c, :nx * c].reshape(view).sum(axis=(1, 3)))
    m = np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0).ravel()
    spread = 1.4826 * float(np.median(np.abs(m[m != 0]))) if np.any(m != 0) else 0.0
    if spread > 0:  # an edge left by misregistration, glare or a stain: no cell may outweigh the rest
        m = np.clip(m, -CLIP * spread, CLIP * spread)
    return m.astype(np.float32)


def settings(pages: list[int] | None) -> ToneSettings:
    """The record for copies made now; `pages` 0-based (None: every page)."""
    return ToneSettings(version=VERSION, cell_mm=CELL_MM, alpha=ALPHA,
                        pages=None if pages is None else tuple(p + 1 for p in pages))


class ToneLayer(CodewordLayer):
    name = LAYER

    def prepare(self, base: np.ndarray, gray: np.ndarray, dpi: int) -> tuple[np.ndarray, ...]:
        return planes(base, gray, dpi)

    def measure(self, ctx: MeasureContext) -> Measurement:
        values = measure(ctx.aligned, ctx.valid, ctx.original, ctx.dpi)
        return Measurement(values, {"tone cells": int(np.count_nonzero(values))})


LAYER_IMPL = ToneLayer()
