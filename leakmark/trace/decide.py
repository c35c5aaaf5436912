"""Score every issued copy in one matrix product and turn scores into a verdict.

A copy's score is z = <codeword, m> / ||m|| where m is the measurement vector. For a copy that is not
the source its codeword is independent of m (HMAC-derived from another copy number), so z is a
Rademacher sum with unit variance, whose tail has a bound that holds whatever the weights in m
(`leakmark.tailbound`: Hoeffding's exp(-t²/2), or 3.178 × the normal tail, whichever is smaller). We use
that bound as the p-value, so the false-accusation probability is an upper bound, not an approximation:
FAP = min(1, candidates × tail(z)).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from leakmark import tailbound


class Verdict(StrEnum):
    identified = "identified"  # the named copies' false-accusation probability is below the threshold
    inconclusive = "inconclusive"  # suggestive (below INCONCLUSIVE_FAP), not enough to name anyone
    no_match = "no-match"


INCONCLUSIVE_FAP = 1e-2
SEPARATION = 2.0  # the named copies must stand this far (in z) above the best copy not named


def fuse(layers: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, int]:
    """One score per copy from the layers' scores (each N(0,1)-or-narrower for an innocent copy) and the
    copies that carry each layer, and how many combinations were tried.

    Per copy, the best Stouffer sum over every non-empty subset of the layers it carries: a layer that
    measured nothing useful (tone on a page of text, shift on a photograph) cannot dilute the one that
    did. Each subset's sum is itself sub-Gaussian with variance <= 1 for an innocent copy, so the union
    bound over the 2^L - 1 subsets keeps the FAP a bound when it is multiplied by their number."""
    names = list(layers)
    best = np.full(len(next(iter(layers.values()))[0]), -np.inf) if names else np.zeros(0)
    tried = 0
    for mask in range(1, 2 ** len(names)):
        chosen = [layers[n] for i, n in enumerate(names) if mask >> i & 1]
        count = sum(has.astype(np.float64) for _, has in chosen)
        z = sum(v * has for v, has in chosen) / np.sqrt(np.maximum(count, 1.0))
        best = np.maximum(best, np.where(count > 0, z, -np.inf))
        tried += 1
    return np.where(np.isfinite(best), best, 0.0), max(tried, 1)


def exact_score(bits: int) -> float:
    """The score of an exact match of a `bits`-bit keyed check (the file token, the blind check bits) on
    the scale of the other layers: the z whose tail bound is 2^-bits, the chance that an innocent copy's
    value matches by accident."""
    return tailbound.score_for(2.0 ** -bits)


def fap(z: np.ndarray, candidates: int) -> np.ndarray:
    """False-accusation probability bound for each score."""
    return np.minimum(1.0, candidates * tailbound.tail(z))


def scores(codewords: np.ndarray, measurement: np.ndarray) -> np.ndarray:
    """codewords (copies × n) ±1, measurement (n,) → z per copy."""
    norm = float(np.linalg.norm(measurement))
    if norm == 0.0:
        return np.zeros(codewords.shape[0])
    return (codewords @ measurement.astype(np.float32)).astype(np.float64) / norm


@dataclass
class Decision:
    verdict: Verdict
    named: list[int]  # row indices of the identified copies, best first
    order: list[int]  # all rows, best first
    fap: np.ndarray


def decide(z: np.ndarray, threshold: float, tests: int = 1, weight: float = 1.0) -> Decision:
    """The verdict on one score per copy. `tests`: how many scores were tried per copy (see `fuse`); the FAP
    bound counts each. `weight`: the share of the threshold these scores get when other tests are made too
    (the tracer's whole evidence: `SearchInfo.whole_weight`; `colluders` decides over every part)."""
    n = len(z)
    if n == 0:
        return Decision(Verdict.no_match, [], [], np.zeros(0))
    p = np.minimum(1.0, fap(z, n * tests) / weight)
    order = [int(i) for i in np.argsort(-z, kind="stable")]
    named = [i for i in order if p[i] < threshold]
    if named:
        rest = [i for i in order if i not in named]
        if not rest or z[named[-1]] - z[rest[0]] >= SEPARATION:
            return Decision(Verdict.identified, named, order, p)
        return Decision(Verdict.inconclusive, [], order, p)
    if p[order[0]] < INCONCLUSIVE_FAP:
        return Decision(Verdict.inconclusive, [], order, p)
    return Decision(Verdict.no_match, [], order, p)
