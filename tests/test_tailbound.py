"""The FAP's tail bound: valid (never below the exact tail of a Rademacher sum) and the smaller of two."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from leakmark import tailbound
from leakmark.trace import decide


def _exact_tail(a: np.ndarray, t: float) -> float:
    """P(sum a_i e_i >= t) over all 2^n sign vectors."""
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=len(a))))
    return float(((signs @ a) >= t - 1e-12).mean())


@pytest.mark.parametrize("weights", [np.ones(16), np.ones(2), np.arange(1.0, 13.0),
                                     np.array([3.0, 1, 1, 1, 0.5, 0.5])])
def test_bound_holds_for_exact_rademacher_tails(weights):
    a = weights / np.linalg.norm(weights)
    for t in np.linspace(0.1, 4.0, 40):
        assert _exact_tail(a, t) <= float(tailbound.tail(t)) + 1e-12, t


def test_bound_is_the_smaller_of_hoeffding_and_bentkus_dzindzalieta():
    assert tailbound.C_BD == pytest.approx(3.1787, abs=1e-4)
    for t in (0.5, 1.0, 2.0, 4.0, 6.0, 8.0):
        hoeffding = math.exp(-t * t / 2)
        gauss = tailbound.C_BD * 0.5 * math.erfc(t / math.sqrt(2))
        assert float(tailbound.tail(t)) == pytest.approx(min(1.0, hoeffding, gauss))
    assert float(tailbound.tail(6.0)) < math.exp(-18) / 4  # about 5x tighter where copies are named
    assert float(tailbound.tail(-1.0)) == 1.0


def test_score_for_inverts_the_bound_and_decide_uses_it():
    z = tailbound.score_for(1e-8)
    assert float(tailbound.tail(z)) == pytest.approx(1e-8, rel=1e-6)
    scores = np.array([z + 0.01, 0.0, -1.0])
    p = decide.fap(scores, 100)
    assert p[0] < 1e-6 and p[1] == 1.0
    assert decide.decide(scores, 1e-6).verdict == "identified"
