"""Per-copy codewords: pinned derivation, distinct per copy, balanced signs."""

from __future__ import annotations

import hashlib
import hmac
import itertools

import numpy as np

from leakmark.layers.codes import SCHEME, page_seed, sign_matrix, signs

ZERO_KEY = b"\x00" * 32

# Computed once from leakmark 0.1.0 and hard-coded: a change here means every copy issued before the
# change would no longer trace. Do not update these values to make the test pass.
PINNED_SIGNS = [1, 1, -1, 1, -1, -1, 1, -1, -1, -1, 1, 1, -1, 1, 1, 1]


def test_signs_are_pinned():
    got = signs(page_seed(ZERO_KEY, "Dabc", 1, "shift", 0), 16)
    assert got.dtype == np.int8
    assert got.tolist() == PINNED_SIGNS


def test_page_seed_is_hmac_of_documented_message():
    msg = "\x00".join([SCHEME, "Dabc", "000001", "shift", "0"]).encode()
    assert SCHEME == "leakmark/v1"
    assert page_seed(ZERO_KEY, "Dabc", 1, "shift", 0) == hmac.new(ZERO_KEY, msg, hashlib.sha256).digest()


def test_signs_are_a_prefix_of_longer_codewords():
    seed = page_seed(ZERO_KEY, "Dabc", 1, "shift", 0)
    long = signs(seed, 1000)
    for n in (1, 7, 8, 9, 16, 333):
        assert signs(seed, n).tolist() == long[:n].tolist()
    assert signs(seed, 0).shape == (0,)
    assert set(np.unique(long).tolist()) == {-1, 1}


def test_codes_are_deterministic():
    a = signs(page_seed(b"k" * 32, "D0123456789", 42, "shift", 3), 500)
    b = signs(page_seed(b"k" * 32, "D0123456789", 42, "shift", 3), 500)
    assert np.array_equal(a, b)


def test_different_copies_give_different_codes():
    key = bytes(range(32))
    n = 512
    codes = [signs(page_seed(key, "D53c5eedcd8", c, "shift", 0), n) for c in range(1, 41)]
    assert len({c.tobytes() for c in codes}) == len(codes)
    for a, b in itertools.combinations(codes, 2):
        agree = float(np.mean(a == b))
        assert 0.35 < agree < 0.65, agree  # independent codewords agree on about half the units


def test_every_input_of_the_seed_matters():
    key = bytes(range(32))
    base = page_seed(key, "Dabc", 1, "shift", 0)
    variants = [
        page_seed(bytes(reversed(key)), "Dabc", 1, "shift", 0),
        page_seed(key, "Dabd", 1, "shift", 0),
        page_seed(key, "Dabc", 2, "shift", 0),
        page_seed(key, "Dabc", 1, "tone", 0),
        page_seed(key, "Dabc", 1, "shift", 1),
    ]
    assert len({base, *variants}) == 6


def test_about_half_the_signs_are_plus_one():
    one = signs(page_seed(ZERO_KEY, "Dabc", 1, "shift", 0), 100_000)
    assert abs(float(np.mean(one == 1)) - 0.5) < 0.01
    fractions = [float(np.mean(signs(page_seed(ZERO_KEY, "Dabc", c, "shift", 0), 400) == 1)) for c in range(1, 101)]
    assert abs(np.mean(fractions) - 0.5) < 0.01
    assert min(fractions) > 0.4 and max(fractions) < 0.6


def test_sign_matrix_rows_are_the_copies_codewords():
    key = bytes(range(32))
    m = sign_matrix(key, "Dabc", [3, 1, 7], "shift", 2, 50)
    assert m.shape == (3, 50) and m.dtype == np.float32
    for row, c in zip(m, [3, 1, 7], strict=True):
        assert row.tolist() == signs(page_seed(key, "Dabc", c, "shift", 2), 50).astype(np.float32).tolist()
