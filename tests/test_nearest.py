"""The evidence's two nearest page descriptors: the same as OpenCV's brute-force matcher, merged parts the same
as one search, and the ratio test's matches one-to-one as they were with DMatch lists."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from leakmark.trace import locate
from leakmark.trace.nearest import BLOCK, merged, ratio_matches, two_nearest


def _descriptors(seed: int, n: int) -> np.ndarray:
    # SIFT-like: non-negative, bounded, some near-duplicates of each other
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 140, (n, 128)).astype(np.float32)
    d[: n // 4] = d[n // 4: n // 2] + rng.normal(0, 4, (n // 4, 128)).astype(np.float32)
    return np.clip(d, 0, 255)


@pytest.mark.parametrize("n_query, n_train", [(BLOCK + 300, 900), (40, 2), (5, 1)])
def test_two_nearest_are_opencvs(n_query: int, n_train: int) -> None:
    q, t = _descriptors(1, n_query), _descriptors(2, n_train)
    t[: min(n_train, 30)] = q[: min(n_train, 30)] + 1.5  # some evidence features met closely
    idx, dist = two_nearest(q, t)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(q, t, k=2)
    assert np.array_equal(idx[:, 0], [p[0].trainIdx for p in pairs])
    np.testing.assert_allclose(dist[:, 0], [p[0].distance for p in pairs], rtol=1e-4, atol=0.05)
    if n_train > 1:
        assert np.array_equal(idx[:, 1], [p[1].trainIdx for p in pairs])
        np.testing.assert_allclose(dist[:, 1], [p[1].distance for p in pairs], rtol=1e-4, atol=0.05)
    else:
        assert np.isinf(dist[:, 1]).all()  # there is no second: no ratio test passes
        assert len(ratio_matches((idx, dist), locate.RATIO)[0]) == 0


def test_two_nearest_of_parts_merged_are_those_of_the_whole() -> None:
    q, a, b = _descriptors(3, 500), _descriptors(4, 700), _descriptors(5, 200)
    whole = two_nearest(q, np.concatenate([a, b]))
    parts = merged(two_nearest(q, a), two_nearest(q, b), len(a))
    assert np.array_equal(parts[0], whole[0])
    np.testing.assert_allclose(parts[1], whole[1], rtol=1e-5)


def test_ratio_matches_are_the_dmatch_pipelines() -> None:
    q, t = _descriptors(6, 1500), _descriptors(7, 1200)
    t[:400] = q[:400] + np.random.default_rng(8).normal(0, 2, (400, 128)).astype(np.float32)
    t[400:420] = q[0]  # many page features alike: the ratio test drops them
    q[1000:1040] = q[5]  # many evidence features alike: one page feature takes the closest
    query, train = ratio_matches(two_nearest(q, t), locate.RATIO)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(q, t, k=2)
    kept: dict[int, cv2.DMatch] = {}
    for m, n in pairs:
        closer = m.trainIdx not in kept or m.distance < kept[m.trainIdx].distance
        if m.distance < locate.RATIO * n.distance and closer:
            kept[m.trainIdx] = m
    assert len(query) > 300
    assert list(zip(query.tolist(), train.tolist(), strict=True)) == [(m.queryIdx, m.trainIdx) for m in kept.values()]
