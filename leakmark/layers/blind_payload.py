"""The blind layer's payload: 96 bits that say which document and copy, with 32 check bits under the key.

Anyone can read the document and copy number (the embedding passwords are public); only the issuing
office's key gives the check bits, so nobody else can forge a payload that frames a colleague.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from leakmark.errors import BadRequestError

FORMAT_VERSION = 1  # the payload's first 4 bits
PAYLOAD_BITS = 96  # 4 version + 40 document id + 20 copy number + 32 check
CHECK_BYTES = 4
_DOC_HEX = 10  # document ids are "D" + 10 hex digits


def _check(key: bytes, doc_id: str, copy_no: int) -> bytes:
    msg = b"leakmark/v1\0blind\0" + doc_id.encode() + b"\0" + f"{copy_no:06d}".encode()
    return hmac.new(key, msg, hashlib.sha256).digest()[:CHECK_BYTES]


def _doc_number(doc_id: str) -> int:
    if len(doc_id) != 1 + _DOC_HEX or doc_id[0] != "D":
        raise BadRequestError(f"document id {doc_id!r} is not 'D' followed by {_DOC_HEX} hex digits")
    try:
        return int(doc_id[1:], 16)
    except ValueError:
        raise BadRequestError(f"document id {doc_id!r} is not 'D' followed by {_DOC_HEX} hex digits") from None


def payload_bits(key: bytes, doc_id: str, copy_no: int) -> np.ndarray:
    """The 96 payload bits (uint8 0/1, most significant first): version 1 (4 bits), document id (40),
    copy number (20), HMAC-SHA256 check (32)."""
    if not 0 <= int(copy_no) <= 999_999:
        raise BadRequestError(f"copy number {copy_no} is outside 0..999999")
    value = (FORMAT_VERSION << 92) | (_doc_number(doc_id) << 52) | (int(copy_no) << 32)
    value |= int.from_bytes(_check(key, doc_id, int(copy_no)), "big")
    return np.unpackbits(np.frombuffer(value.to_bytes(PAYLOAD_BITS // 8, "big"), dtype=np.uint8))


@dataclass(frozen=True)
class BlindRead:
    """What a keyless read found. v per payload bit is the extractor's (weighted) average over the blocks
    carrying it (1: every block says 1); `threshold` the two-means split of the 96 values; `soft` is
    2 (v - threshold) (positive: bit 1) and `confidence` its mean absolute value."""

    version: int
    doc_id: str
    copy_no: int
    check: bytes
    soft: np.ndarray
    threshold: float
    confidence: float
    ambiguous: int  # bits with |soft| < AMBIGUOUS
    blocks: int  # blocks read (blank paper skipped)


def verify(key: bytes, found: BlindRead) -> bool:
    """True when the check bits are the ones this key gives for that document and copy."""
    return hmac.compare_digest(_check(key, found.doc_id, found.copy_no), found.check)


