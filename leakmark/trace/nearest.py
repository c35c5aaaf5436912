"""Each evidence descriptor's two nearest page descriptors (L2), for Lowe's ratio test.

One matrix product per block of evidence descriptors (BLAS) and two arg-minima a row, instead of OpenCV's
brute-force `knnMatch`, which compares descriptor by descriptor: the same neighbours (distances within float32
rounding) in less time, and the neighbours among a page's fingerprint are kept so that matching again with its
outline's keypoints added needs only the outline's (`merged`).
"""

from __future__ import annotations

import numpy as np

BLOCK = 2048  # evidence descriptors a matrix product: 2,048 × 6,000 page descriptors is 49 MB of float32

Nearest = tuple[np.ndarray, np.ndarray]  # (n, 2) indices into the page's descriptors, (n, 2) distances, nearest first


def two_nearest(queries: np.ndarray, train: np.ndarray) -> Nearest:
    """For each row of `queries`, its nearest and second-nearest rows of `train` and their distances. With one
    train row, the second's distance is inf (there is none); with none, both are."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    t = np.ascontiguousarray(train, dtype=np.float32)
    idx = np.zeros((len(q), 2), dtype=np.intp)
    dist = np.full((len(q), 2), np.inf, dtype=np.float32)
    if len(t) == 0 or len(q) == 0:
        return idx, dist
    t_sq = np.einsum("ij,ij->i", t, t)
    for s in range(0, len(q), BLOCK):
        block = q[s:s + BLOCK]
        rows = np.arange(len(block))
        # |q - t|² = |q|² + |t|² - 2 q·t; within a row |q|² is the same for every t, so it is added after the minima
        d = block @ t.T
        d *= -2
        d += t_sq
        first = d.argmin(axis=1)
        idx[s:s + len(block), 0] = first
        dist[s:s + len(block), 0] = d[rows, first]
        if len(t) > 1:
            d[rows, first] = np.inf
            second = d.argmin(axis=1)
            idx[s:s + len(block), 1] = second
            dist[s:s + len(block), 1] = d[rows, second]
        q_sq = np.einsum("ij,ij->i", block, block)
        dist[s:s + len(block)] += q_sq[:, None]
    # rounding can leave a tiny negative square for a descriptor met exactly
    np.sqrt(np.maximum(dist, 0, out=dist), out=dist)
    return idx, dist


def merged(a: Nearest, b: Nearest, offset: int) -> Nearest:
    """The two nearest among two sets of train rows, given each set's: `b`'s indices are shifted by `offset`
    (the first set's length), as if the sets had been one (`np.concatenate([A, B])`)."""
    idx = np.concatenate([a[0], b[0] + offset], axis=1)
    dist = np.concatenate([a[1], b[1]], axis=1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :2]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


def ratio_matches(near: Nearest, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(query, train) indices of the matches that pass the ratio test, at most one evidence feature per page
    feature: the closest (on a tie the first). A screen's moiré makes thousands of near-identical features that
    all pass the ratio test onto one page feature; RANSAC then fits a degenerate homography to them (every
    inlier landing on one point) and the real matches are lost. Ordered by each page feature's first query, as
    the matches were when they were DMatch lists (RANSAC's sample order follows the points')."""
    idx, dist = near
    q = np.flatnonzero(np.isfinite(dist[:, 1]) & (dist[:, 0] < ratio * dist[:, 1]))
    if len(q) == 0:
        return q, q.copy()
    t, d = idx[q, 0], dist[q, 0]
    order = np.lexsort((q, d, t))  # by page feature, then distance, then query
    t_sorted = t[order]
    starts = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]])
    kept = order[starts]
    first_query = np.minimum.reduceat(q[order], starts)
    by_first = np.argsort(first_query, kind="stable")
    return q[kept[by_first]], t[kept[by_first]]
