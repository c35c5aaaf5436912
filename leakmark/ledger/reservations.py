"""The vault's record of reserved copy numbers: one small authenticated file per run, outside the database.

``vault/<sha256>/reservations/<run id>.json`` is written once, after the transaction that reserved the run,
and never changes: the run, its document, the copy numbers (as ranges) and the event that reserved them,
with an HMAC under the workspace key. A register rolled back to before that run (rows and events deleted,
an older backup of `ledger.sqlite` and `ledger.head` put back) still meets these files: the run they name
is missing, which the check before `issue` and `log verify` report, and the numbers they hold are never
given out again. A lost file (the process stopped between the commit and writing it) only weakens that
check; `issue --resume` writes it again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from leakmark._io import atomic_write_bytes, private_dir
from leakmark.ledger.chain import canonical
from leakmark.ledger.checkpoint import problem
from leakmark.ledger.models import format_copy_no


def ranges(numbers: Iterable[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for n in sorted(set(numbers)):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return tuple((a, b) for a, b in out)


@dataclass(frozen=True)
class Reservation:
    run_id: str
    document_id: str
    numbers: tuple[tuple[int, int], ...]  # inclusive ranges
    seq: int  # the event that reserved them

    @property
    def high(self) -> int:
        return max((b for _, b in self.numbers), default=0)

    def holds(self, n: int) -> bool:
        return any(a <= n <= b for a, b in self.numbers)

    def label(self) -> str:
        return ", ".join(format_copy_no(a) if a == b else f"{format_copy_no(a)}–{format_copy_no(b)}"
                         for a, b in self.numbers)

    def body(self) -> dict:
        return {"run": self.run_id, "document_id": self.document_id, "numbers": [list(r) for r in self.numbers],
                "seq": self.seq}

    def mac(self, key: bytes) -> str:
        return hmac.new(key, b"leakmark reservation\0" + canonical(self.body()), hashlib.sha256).hexdigest()


def folder(doc_dir: Path) -> Path:
    return doc_dir / "reservations"


def write(doc_dir: Path, key: bytes, res: Reservation) -> None:
    """Write the run's record once (a record already there is kept as it is)."""
    path = folder(doc_dir) / f"{res.run_id}.json"
    if path.exists():
        return
    private_dir(path.parent)
    atomic_write_bytes(path, json.dumps({**res.body(), "mac": res.mac(key)}).encode("utf-8"), mode=0o600)


def read_all(doc_dir: Path, key: bytes) -> list[Reservation]:
    """Every record of the document; an unreadable or edited one is a problem of the register."""
    out: list[Reservation] = []
    where = folder(doc_dir)
    if not where.is_dir():
        return out
    for path in sorted(where.glob("*.json")):
        try:
            d = json.loads(path.read_bytes())
            res = Reservation(run_id=str(d["run"]), document_id=str(d["document_id"]),
                              numbers=tuple((int(a), int(b)) for a, b in d["numbers"]), seq=int(d["seq"]))
            mac = str(d["mac"])
        except (OSError, ValueError, KeyError, TypeError):
            raise problem(f"the vault's reservation record {path} is unreadable") from None
        if not hmac.compare_digest(res.mac(key), mac) or path.stem != res.run_id:
            raise problem(f"the vault's reservation record {path} was edited")
        out.append(res)
    return out


def check_against(records: list[Reservation], runs: dict[str, str]) -> None:
    """Every recorded run must be in the register (`runs`: run id -> document id)."""
    for r in records:
        if runs.get(r.run_id) != r.document_id:
            raise problem(f"the vault records run {r.run_id} (copies {r.label()} of document {r.document_id}, "
                          f"reserved at event {r.seq}) but the register has no such run: the register was rolled "
                          "back to an older state (an older backup put back?) or rows and events were deleted")
