"""Per-copy codewords, derived from the workspace key with HMAC-SHA256 and SHAKE-256.

Stable across numpy, Python and platform versions: a copy issued today traces after upgrades. The key
never leaves the parent process; workers receive only per-(copy, layer, page) seeds.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

SCHEME = "leakmark/v1"


def page_seed(key: bytes, doc_id: str, copy_no: int, layer: str, page: int) -> bytes:
    """HMAC-SHA256(key, scheme ‖ document ‖ copy ‖ layer ‖ page): the seed of one copy's page pattern."""
    msg = f"{SCHEME}\0{doc_id}\0{copy_no:06d}\0{layer}\0{page}".encode()
    return hmac.new(key, msg, hashlib.sha256).digest()


def signs(seed: bytes, n: int) -> np.ndarray:
    """n values in {-1, +1} (int8) from SHAKE-256(seed): bit i gives unit i's sign."""
    if n <= 0:
        return np.zeros(0, dtype=np.int8)
    bits = np.unpackbits(np.frombuffer(hashlib.shake_256(seed).digest((n + 7) // 8), dtype=np.uint8))[:n]
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


def sign_matrix(key: bytes, doc_id: str, copy_nos: list[int], layer: str, page: int, n: int) -> np.ndarray:
    """Codewords of many copies as a (copies × n) float32 matrix, for scoring in one product."""
    out = np.empty((len(copy_nos), n), dtype=np.float32)
    for i, c in enumerate(copy_nos):
        out[i] = signs(page_seed(key, doc_id, c, layer, page), n)
    return out
