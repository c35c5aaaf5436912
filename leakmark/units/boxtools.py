"""Box checks shared by the `shift` layer's unit finders. Boxes are half-open (x0, y0, x1, y1) pixels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np


def ring_is_plain(gray: np.ndarray, box: Sequence[float] | np.ndarray, pad: int, tolerance: int) -> bool:
    """The `pad`-wide ring around `box` is uniform to within `tolerance` grey levels (and on the page)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    H, W = gray.shape
    X0, Y0, X1, Y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    if X0 < 0 or Y0 < 0 or X1 > W or Y1 > H:
        return False
    region = gray[Y0:Y1, X0:X1]
    ring = np.concatenate([region[:pad].ravel(), region[-pad:].ravel(), region[:, :pad].ravel(),
                           region[:, -pad:].ravel()])
    return int(ring.max()) - int(ring.min()) <= tolerance


def touches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each box of `a`, whether it overlaps any box of `b`."""
    a, b = np.asarray(a).reshape(-1, 4), np.asarray(b).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a), dtype=bool)
    hit = ((a[:, None, 0] < b[None, :, 2]) & (a[:, None, 2] > b[None, :, 0]) &
           (a[:, None, 1] < b[None, :, 3]) & (a[:, None, 3] > b[None, :, 1]))
    return cast(np.ndarray, hit.any(axis=1))


def touches_each_other(a: np.ndarray) -> np.ndarray:
    """For each box of `a`, whether it overlaps another box of `a`."""
    a = np.asarray(a).reshape(-1, 4)
    hit = ((a[:, None, 0] < a[None, :, 2]) & (a[:, None, 2] > a[None, :, 0]) &
           (a[:, None, 1] < a[None, :, 3]) & (a[:, None, 3] > a[None, :, 1]))
    np.fill_diagonal(hit, False)
    return cast(np.ndarray, hit.any(axis=1))
