"""The tail bound behind every false-accusation probability: how likely an innocent copy scores z or more.

An innocent copy's score is a weighted sum of independent random signs, z = sum(a_i e_i) with
sum(a_i^2) = 1 (its codeword bits are HMAC outputs independent of the evidence). For such sums

    P(z >= t) <= exp(-t^2/2)                 (Hoeffding)
    P(z >= t) <= C * P(N(0,1) >= t),  C = 1 / (4 P(N(0,1) >= sqrt 2)) ~ 3.178

the second with the optimal constant (Bentkus & Dzindzalieta, "A tight Gaussian bound for weighted sums of
Rademacher random variables", Bernoulli 21(2), 2015, 1231-1237). Both hold for every t and every weights;
the smaller is used. Beyond t ~ 1.7 the second is the smaller: about 5x at t = 6.
"""

from __future__ import annotations

import math

import numpy as np

C_BD = 1.0 / (4.0 * 0.5 * math.erfc(1.0))  # 1 / (4 P(N >= sqrt 2)); P(N >= x) = erfc(x / sqrt 2) / 2


def _tail(t: float) -> float:
    t = max(t, 0.0)
    return min(1.0, math.exp(-0.5 * t * t), C_BD * 0.5 * math.erfc(t / math.sqrt(2.0)))


def tail(z: np.ndarray | float) -> np.ndarray:
    """Upper bound on P(innocent score >= z), elementwise (1 for z <= 0)."""
    return np.vectorize(_tail, otypes=[np.float64])(np.asarray(z, dtype=np.float64))


def score_for(p: float) -> float:
    """The z whose tail bound is `p` (0 < p < 1): how an exact match of probability p is scored on the scale
    of the measured layers."""
    lo, hi = 0.0, 60.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _tail(mid) > p else (lo, mid)
    return hi
