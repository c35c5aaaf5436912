"""Score every issued copy in one matrix product and turn scores into a verdict.

A copy's score is z = <codeword, m> / ||m|| where m is the measurement vector. For a copy that is not
the source its codeword is independent of m (HMAC-derived from another copy number), so z is a
Rademacher sum with unit variance: sub-Gaussian, P(z >= t) <= exp(-t²/2) whatever the weights in m
(Hoeffding). We use that bound as the p-value, so the false-accusation probability is an upper bound,
not an approximation: FAP = min(1, candidates × exp(-z²/2)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INCONCLUSIVE_FAP = 1e-2
SEPARATION = 2.0  # the named copies must stand this far (in z) above the best copy not named


def fap(z: np.ndarray, candidates: int) -> np.ndarray:
    """False-accusation probability bound for each score."""
    tail = np.exp(-0.5 * np.square(np.maximum(z, 0.0)))
    return np.minimum(1.0, candidates * tail)


def scores(codewords: np.ndarray, measurement: np.ndarray) -> np.ndarray:
    """codewords (copies × n) ±1, measurement (n,) → z per copy."""
    norm = float(np.linalg.norm(measurement))
    if norm == 0.0:
        return np.zeros(codewords.shape[0])
    return (codewords @ measurement.astype(np.float32)).astype(np.float64) / norm


@dataclass
class Decision:
    verdict: str  # identified | inconclusive | no-match
    named: list[int]  # row indices of the identified copies, best first
    order: list[int]  # all rows, best first
    fap: np.ndarray


def decide(z: np.ndarray, threshold: float) -> Decision:
    n = len(z)
    if n == 0:
        return Decision("no-match", [], [], np.zeros(0))
    p = fap(z, n)
    order = [int(i) for i in np.argsort(-z, kind="stable")]
    named = [i for i in order if p[i] < threshold]
    if named:
        rest = [i for i in order if i not in named]
        if not rest or z[named[-1]] - z[rest[0]] >= SEPARATION:
            return Decision("identified", named, order, p)
        return Decision("inconclusive", [], order, p)
    if p[order[0]] < INCONCLUSIVE_FAP:
        return Decision("inconclusive", [], order, p)
    return Decision("no-match", [], order, p)
