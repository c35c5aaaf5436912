"""Hash chain and HMAC over ledger events.

Each event's hash covers the previous event's hash and the event's own canonical JSON, so editing,
deleting, inserting or reordering any row breaks the chain from that row on; the HMAC under the
workspace key means nobody without the key can rebuild a consistent chain after tampering.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(prev_hash: str, seq: int, ts: str, kind: str, payload: dict) -> str:
    body = canonical({"seq": seq, "ts": ts, "kind": kind, "payload": payload})
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def event_mac(key: bytes, digest: str) -> str:
    return hmac.new(key, b"leakmark ledger event\0" + digest.encode("ascii"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, digest: str) -> str:
    msg = f"leakmark ledger head\0{seq}\0{digest}".encode("ascii")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()
