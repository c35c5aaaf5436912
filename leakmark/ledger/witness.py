"""Witness files (`leakmark log anchor`): the register's event count and head hash, kept away from it.

Everything in the workspace can be put back to an older state together (a backup restored, or an old
copy of the whole folder): its events, head file, checkpoint and vault records are all authentic, just
older, and nothing inside the workspace can tell. A witness kept elsewhere (another machine, a USB stick,
the security office's mail, a printout) can: `log verify --against WITNESS` requires the register to
contain the witnessed event with the witnessed hash, so a register rolled back to any state older than
the witness, or whose history was rewritten since, fails.

The witness carries an HMAC under the workspace key, so one made up without the key is refused, and the
key's fingerprint, so a witness of another workspace is named as such.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakmark.errors import BadRequestError, InputFileError, LedgerIntegrityError
from leakmark.ledger.chain import canonical

FORMAT = "leakmark-witness/1"


@dataclass(frozen=True)
class Witness:
    count: int  # events in the register when it was made
    head: str  # the hash of its last event
    key_fingerprint: str
    created_at: str
    documents: int
    copies: int

    def body(self) -> dict[str, Any]:
        return {"format": FORMAT, "count": self.count, "head": self.head, "key_fingerprint": self.key_fingerprint,
                "created_at": self.created_at, "documents": self.documents, "copies": self.copies}

    def mac(self, key: bytes) -> str:
        return hmac.new(key, b"leakmark witness\0" + canonical(self.body()), hashlib.sha256).hexdigest()

    def to_bytes(self, key: bytes) -> bytes:
        return (json.dumps({**self.body(), "mac": self.mac(key)}, ensure_ascii=False, indent=2) + "\n").encode()

    def to_json(self) -> dict[str, Any]:
        return self.body()


def parse(path: Path, key: bytes, fingerprint: str) -> Witness:
    """Read and authenticate a witness file (InputFileError: not one; BadRequestError: another workspace's)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"no witness file {path}") from None
    except OSError as exc:
        raise InputFileError(f"cannot read the witness file {path}: {exc.strerror}") from None
    try:
        d = json.loads(raw)
        if d.get("format") != FORMAT:
            raise ValueError
        w = Witness(count=int(d["count"]), head=str(d["head"]), key_fingerprint=str(d["key_fingerprint"]),
                    created_at=str(d["created_at"]), documents=int(d["documents"]), copies=int(d["copies"]))
        mac = str(d["mac"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputFileError(f"{path} is not a leakmark witness file (`leakmark log anchor FILE` writes one)") \
            from None
    if w.key_fingerprint != fingerprint:
        raise BadRequestError(f"the witness {path} was made for a register written with another key (fingerprint "
                              f"{w.key_fingerprint}; this workspace's key is {fingerprint}): it belongs to another "
                              "workspace")
    if not hmac.compare_digest(w.mac(key), mac):
        raise InputFileError(f"the witness {path} does not verify with this workspace's key: it was edited; use an "
                             "untouched copy")
    return w


def check(db: sqlite3.Connection, path: Path, w: Witness) -> None:
    """The register must contain the witnessed event with the witnessed hash (it may have grown since)."""
    row = db.execute("SELECT MAX(seq) FROM events").fetchone()
    last = int(row[0] or 0)
    if last < w.count:
        raise LedgerIntegrityError(
            f"ledger verification FAILED: the register ends at event {last} but the witness {path} (made "
            f"{w.created_at}) records event {w.count}: the register was rolled back to an older state (an older "
            "backup put back, or events deleted). Restore the newest backup and run `leakmark log verify --against "
            f"{path}` again; investigate who put the older register in place",
            problem=f"the register ends at event {last}, older than the witness {path} (event {w.count})")
    if w.count:
        got = db.execute("SELECT hash FROM events WHERE seq=?", (w.count,)).fetchone()
        if got is None or got[0] != w.head:
            raise LedgerIntegrityError(
                f"ledger verification FAILED: event {w.count} differs from the one the witness {path} (made "
                f"{w.created_at}) records: the register's history was rewritten since. Restore the newest backup "
                "that verifies against this witness, and investigate",
                problem=f"event {w.count} differs from the one the witness {path} records")
