"""The anchored chain: checkpoints, view digests and the head file.

A **checkpoint** is the register's state as of one event, authenticated with an HMAC under the workspace
key: the event count and the head hash, the key's fingerprint, the highest copy number ever reserved per
document, and `views`, a hash of the `digests` table. Every write transaction moves it (it is written in
the transaction itself), and it is kept twice: in the database (`checkpoint`, one row) and outside it in
the head file (`ledger.head`, rewritten after every commit).

**View digests** make the materialised views (`documents`, `runs`, `copies`) checkable without replaying
the events: per document and view ("part"), the sum modulo 2^256 of an HMAC of each of its rows (a keyed
multiset hash). Writers update the sums by the rows they change; a reader recomputes the sum of the rows
it reads (trace reads every copy of the document anyway) and compares. Nobody without the key can make an
edited, inserted or deleted row fit, and an edited row never becomes authentic by a later write (the
writer subtracts the hash of the row it finds, not of the row that was recorded).

The incremental check (`check_chain`, before every write, trace and read) therefore costs a few queries
and one pass over the `digests` table (one row per document and view), whatever the register's size:
the events after the checkpoint (there are none unless something outside leakmark appended them), the
checkpoint's own event, the head file, and the digests. `log verify` still replays everything
(verify.py) and also recomputes every digest (`verify_anchors`).

The head file may lag one transaction behind the database (the process stopped between COMMIT and
writing it; the writer's lock file makes that the only way); a head further behind was replaced by an
older copy, a head ahead of the database means the database lost events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakmark._io import atomic_write_bytes, write_error
from leakmark.errors import LedgerIntegrityError
from leakmark.ledger.chain import GENESIS, canonical, event_hash, event_mac, head_mac
from leakmark.ledger.models import COPY_FIELDS, DOC_FIELDS, RUN_FIELDS

MOD = 1 << 256
PARTS: dict[str, tuple[str, tuple[str, ...]]] = {  # part -> (table, columns in order)
    "document": ("documents", DOC_FIELDS),
    "runs": ("runs", RUN_FIELDS),
    "copies": ("copies", COPY_FIELDS),
}
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

Digests = dict[tuple[str, str], tuple[int, int]]  # (document id, part) -> (rows, sum of row hashes)


def problem(text: str) -> LedgerIntegrityError:
    """What is wrong with the register, not yet worded for a command (the Ledger adds what to do)."""
    return LedgerIntegrityError(text, problem=text)


def select(part: str, where: str = "") -> str:
    """SELECT of a part's columns in their fixed order (the order the row hashes use)."""
    table, cols = PARTS[part]
    return f"SELECT {','.join(cols)} FROM {table}" + (f" WHERE {where}" if where else "")


# -- row hashes and digests ---------------------------------------------------------------------------------
class RowHasher:
    """HMAC-SHA256 of one view row under the workspace key, as an integer (for the multiset sums)."""

    def __init__(self, key: bytes) -> None:
        self._base = {p: hmac.new(key, b"leakmark view row\0" + p.encode("ascii") + b"\0", hashlib.sha256)
                      for p in PARTS}

    def row(self, part: str, values: Sequence[Any]) -> int:
        h = self._base[part].copy()
        h.update(_ENCODE([str(v) if isinstance(v, str) else v for v in values]).encode("utf-8"))
        return int.from_bytes(h.digest(), "big")

    def total(self, part: str, rows: Iterable[Sequence[Any]]) -> tuple[int, int]:
        n, s = 0, 0
        for r in rows:
            n += 1
            s += self.row(part, r)
        return n, s % MOD


def load_digests(db: sqlite3.Connection) -> Digests:
    out: Digests = {}
    for doc, part, rows, digest in db.execute("SELECT document_id, part, rows, digest FROM digests"):
        try:
            out[(doc, part)] = (int(rows), int(digest, 16))
        except (TypeError, ValueError):
            raise problem(f"the digests row of document {doc} ({part}) is unreadable: it was edited") from None
    return out


def _sums(db: sqlite3.Connection, hasher: RowHasher, part: str) -> dict[str, list[int]]:
    """Per document: [rows, sum of the rows' keyed hashes] of one part, from the rows as they are."""
    _, cols = PARTS[part]
    doc_col = cols.index("id" if part == "document" else "document_id")
    acc: dict[str, list[int]] = {}
    for r in db.execute(select(part)):
        a = acc.setdefault(r[doc_col], [0, 0])
        a[0] += 1
        a[1] += hasher.row(part, tuple(r))
    return acc


def compute_digests(db: sqlite3.Connection, hasher: RowHasher) -> Digests:
    """Every view row's digest, from the rows as they are (bootstrap and `log verify`)."""
    out: Digests = {}
    for part in PARTS:
        for doc, (n, s) in _sums(db, hasher, part).items():
            out[(doc, part)] = (n, s % MOD)
    return out


def views_hash(digests: Digests) -> str:
    """What a checkpoint records of the digests table: a hash of all of it, in a fixed order."""
    items = [[doc, part, n, f"{s:064x}"] for (doc, part), (n, s) in sorted(digests.items())]
    return hashlib.sha256(b"leakmark views\0" + canonical(items)).hexdigest()


def store_digests(db: sqlite3.Connection, changed: Digests, replace_all: bool = False) -> None:
    if replace_all:
        db.execute("DELETE FROM digests")
    for (doc, part), (n, s) in changed.items():
        if n == 0:
            db.execute("DELETE FROM digests WHERE document_id=? AND part=?", (doc, part))
        else:
            db.execute("INSERT OR REPLACE INTO digests (document_id, part, rows, digest) VALUES (?,?,?,?)",
                       (doc, part, n, f"{s:064x}"))


def compare_part(doc: str, part: str, found: tuple[int, int], recorded: tuple[int, int] | None) -> None:
    """The rows read of one document and view against the recorded digest."""
    want_n, want_s = recorded or (0, 0)
    n, s = found
    if (n, s) == (want_n, want_s):
        return
    what = {"document": f"the documents row of {doc}", "runs": f"the runs rows of document {doc}",
            "copies": f"the copies rows of document {doc}"}[part]
    if n < want_n:
        raise problem(f"{what}: {n} found, {want_n} recorded at the last checkpoint: rows were deleted")
    if n > want_n:
        raise problem(f"{what}: {n} found, {want_n} recorded at the last checkpoint: rows were inserted")
    raise problem(f"{what} differ from what the register recorded at its last checkpoint: a row was edited")


# -- checkpoints --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    seq: int  # events counted (the last event's number); 0: none yet
    hash: str  # that event's hash (GENESIS when none)
    prev: int  # the checkpoint's seq before the transaction that wrote this one (the head file may lag to it)
    ts: str
    key: str  # the workspace key's fingerprint
    views: str  # views_hash of the digests table
    numbers: dict[str, int] = field(default_factory=dict)  # document id -> highest copy number ever reserved

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "prev": self.prev, "ts": self.ts, "key": self.key,
                "views": self.views, "numbers": dict(sorted(self.numbers.items()))}

    def mac(self, key: bytes) -> str:
        return hmac.new(key, b"leakmark checkpoint\0" + canonical(self.body()), hashlib.sha256).hexdigest()

    @staticmethod
    def from_body(body: Any) -> Checkpoint:
        return Checkpoint(seq=int(body["seq"]), hash=str(body["hash"]), prev=int(body["prev"]), ts=str(body["ts"]),
                          key=str(body["key"]), views=str(body["views"]),
                          numbers={str(k): int(v) for k, v in dict(body["numbers"]).items()})


def read_checkpoint(db: sqlite3.Connection, key: bytes) -> Checkpoint | None:
    row = db.execute("SELECT body, mac FROM checkpoint WHERE id=1").fetchone()
    if row is None:
        return None
    try:
        cp = Checkpoint.from_body(json.loads(row[0]))
    except (ValueError, KeyError, TypeError):
        raise problem("the register's checkpoint is unreadable: it was edited") from None
    if not hmac.compare_digest(cp.mac(key), str(row[1])):
        raise problem("the register's checkpoint was edited (its MAC does not verify)")
    return cp


def recorded_fingerprint(db: sqlite3.Connection) -> str | None:
    """The key fingerprint the register records (meta, else its checkpoint), or None (an older register).
    Read without the key: comparing it comes before anything else."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE name='key_fingerprint'").fetchone()
        if row is not None:
            return str(row[0])
    if "checkpoint" in tables:
        row = db.execute("SELECT body FROM checkpoint WHERE id=1").fetchone()
        if row is not None:
            try:
                return str(json.loads(row[0])["key"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def any_event_verifies(db: sqlite3.Connection, key: bytes) -> bool | None:
    """For a register that records no fingerprint: whether any event's MAC verifies with `key` (None: no
    events). Without the key nobody can make one verify, so one is enough to know the key is right."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "events" not in tables:
        return None
    seen = False
    for digest, mac in db.execute("SELECT hash, mac FROM events ORDER BY seq"):
        seen = True
        if isinstance(digest, str) and hmac.compare_digest(event_mac(key, digest), str(mac)):
            return True
    return False if seen else None


# -- the head file ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    checkpoint: Checkpoint | None  # None in a head file written before checkpoints


def read_head(path: Path, key: bytes) -> Head | None:
    """The authenticated head file, or None when there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise problem(f"the head file {path} cannot be read ({exc.strerror})") from None
    try:
        d = json.loads(raw)
        seq, digest, mac = int(d["seq"]), str(d["hash"]), str(d["mac"])
        cp = Checkpoint.from_body(d["checkpoint"]) if "checkpoint" in d else None
        cp_mac = str(d.get("checkpoint_mac", ""))
    except (ValueError, KeyError, TypeError):
        raise problem(f"the head file {path} is unreadable") from None
    if not hmac.compare_digest(head_mac(key, seq, digest), mac):
        raise problem(f"the head file {path} was edited")
    if cp is not None and (not hmac.compare_digest(cp.mac(key), cp_mac) or (cp.seq, cp.hash) != (seq, digest)):
        raise problem(f"the head file {path} was edited (its checkpoint does not verify)")
    return Head(seq, digest, cp)


def write_head(path: Path, key: bytes, cp: Checkpoint) -> None:
    """The head file: the fields every leakmark version reads (seq, hash, mac) and the checkpoint."""
    body = {"seq": cp.seq, "hash": cp.hash, "mac": head_mac(key, cp.seq, cp.hash), "checkpoint": cp.body(),
            "checkpoint_mac": cp.mac(key)}
    atomic_write_bytes(path, json.dumps(body, ensure_ascii=False).encode("utf-8"), mode=0o600)


def check_head(db: sqlite3.Connection, path: Path, head: Head | None, cp: Checkpoint,
               multi_writer: bool = False) -> None:
    """The head file against the register's checkpoint. With one writer (SQLite) it is at the checkpoint or one
    transaction behind. With several workstations writing (PostgreSQL) each keeps its own head file, which
    lags by the others' writes: it must then be *contained* in the register (its event still there, unchanged),
    and a workstation that never wrote has none yet."""
    if multi_writer:
        if head is None or head.seq == 0:
            return
        if head.seq > cp.seq:
            raise problem(f"the head file {path} records event {head.seq} but the register ends at event {cp.seq}: "
                          "events were deleted, or an older register was put in its place")
        row = db.execute("SELECT hash FROM events WHERE seq=?", (head.seq,)).fetchone()
        if row is None or row[0] != head.hash:
            raise problem(f"event {head.seq} differs from the one recorded in the head file {path}")
        return
    if head is None:
        if cp.seq:
            raise problem(f"the head file {path} is missing (the register is at event {cp.seq}): it was deleted, "
                          "or the register was copied without it")
        return
    if head.seq > cp.seq:
        raise problem(f"the head file {path} records event {head.seq} but the register ends at event {cp.seq}: "
                      "events were deleted, or an older register was put in its place")
    if head.seq == cp.seq:
        if head.hash != cp.hash:
            raise problem(f"event {cp.seq} differs from the one recorded in the head file {path}")
        return
    if head.seq != cp.prev:
        raise problem(f"the head file {path} records event {head.seq}, older than the register's previous "
                      f"checkpoint (event {cp.prev}): it was replaced by an older copy")
    # one transaction behind: the process stopped between COMMIT and writing the head file
    row = db.execute("SELECT hash FROM events WHERE seq=?", (head.seq,)).fetchone()
    if (row[0] if row else GENESIS if head.seq == 0 else None) != head.hash:
        raise problem(f"event {head.seq} differs from the one recorded in the head file {path}")


# -- the incremental check ---------------------------------------------------------------------------------
def check_chain(db: sqlite3.Connection, key: bytes, fingerprint: str, head_path: Path,
                load_head: Callable[[], Head | None], multi_writer: bool = False) -> Checkpoint | None:
    """The chain since the last checkpoint, the checkpoint, the head file and the digests table. None when
    the register has no checkpoint yet (written before checkpoints): the caller verifies it in full once.

    `load_head` gives the head file as read with this database snapshot (`read_head`, under the lock)."""
    head = load_head()
    cp = read_checkpoint(db, key)
    if cp is None:
        if head is not None and head.checkpoint is not None:
            raise problem(f"the register's checkpoint was deleted (the head file {head_path} records one at event "
                          f"{head.seq})")
        return None
    if cp.key != fingerprint:
        raise problem(f"the checkpoint was written with another key (fingerprint {cp.key})")
    last = db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events ORDER BY seq DESC "
                      "LIMIT 1").fetchone()
    last_seq = int(last[0]) if last else 0
    if last_seq > cp.seq:  # leakmark moves the checkpoint in the transaction that appends
        raise problem(f"events {cp.seq + 1} to {last_seq} come after the last checkpoint (event {cp.seq}): "
                      "they were not written by leakmark")
    if last_seq < cp.seq:
        raise problem(f"the register ends at event {last_seq} but its last checkpoint records event {cp.seq}: "
                      "events were deleted")
    if last is not None:
        seq, ts, kind, payload, prev, digest, mac = last
        try:
            body = json.loads(payload)
        except (TypeError, ValueError):
            raise problem(f"event {seq} has an unreadable payload") from None
        if event_hash(prev, seq, ts, kind, body) != digest or not hmac.compare_digest(event_mac(key, digest), mac):
            raise problem(f"event {seq} ({kind}) was edited")
        if digest != cp.hash:
            raise problem(f"event {seq} differs from the one the last checkpoint records")
        if seq > 1:
            row = db.execute("SELECT hash FROM events WHERE seq=?", (seq - 1,)).fetchone()
            if row is None or row[0] != prev:
                raise problem(f"event {seq} does not follow event {seq - 1}: rows were deleted, inserted or "
                              "reordered")
    elif cp.hash != GENESIS:
        raise problem("the register has no events but its last checkpoint records some: events were deleted")
    check_head(db, head_path, head, cp, multi_writer)
    if views_hash(load_digests(db)) != cp.views:
        raise problem("the digests table differs from the one the last checkpoint records: it was edited")
    return cp


def check_rows(db: sqlite3.Connection, hasher: RowHasher, digests: Digests, part: str,
               docs: set[str] | None = None) -> None:
    """Every row of a part (documents or runs) against the digests, grouped by document."""
    acc = _sums(db, hasher, part)
    wanted = {d for d, p in digests if p == part} | set(acc)
    for doc in sorted(wanted if docs is None else wanted & docs):
        n, s = acc.get(doc, [0, 0])
        compare_part(doc, part, (n, s % MOD), digests.get((doc, part)))


def new_checkpoint(db: sqlite3.Connection, key: bytes, fingerprint: str, prev: Checkpoint | None, prev_seq: int,
                   numbers: dict[str, int], ts: str) -> Checkpoint:
    """The checkpoint of the register as it is now in this transaction (the digests table already updated)."""
    row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, digest = (int(row[0]), str(row[1])) if row else (0, GENESIS)
    if prev is not None:
        prev_seq = prev.prev if seq == prev.seq else prev.seq
    cp = Checkpoint(seq=seq, hash=digest, prev=prev_seq, ts=ts, key=fingerprint, views=views_hash(load_digests(db)),
                    numbers=numbers)
    db.execute("INSERT OR REPLACE INTO checkpoint (id, body, mac) VALUES (1, ?, ?)",
               (json.dumps(cp.body(), ensure_ascii=False, sort_keys=True), cp.mac(key)))
    return cp


def highest_numbers(db: sqlite3.Connection) -> dict[str, int]:
    return {str(d): int(n) for d, n in db.execute("SELECT document_id, MAX(copy_no) FROM copies GROUP BY document_id")}


# -- what the register says about itself ------------------------------------------------------------------
@dataclass(frozen=True)
class RegisterState:
    """The register's checkpoint as a command shows it: event count, head hash, and whether it verified."""

    count: int
    head: str
    verified: bool
    problem: str = ""  # why it did not verify (only with --trust-register does anything get shown then)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "head": self.head, "verified": self.verified}
        if not self.verified:
            out["problem"] = self.problem
        return out

    def summary(self) -> str:
        return (f"register: {self.count} events, head {self.head}, "
                + ("verified" if self.verified else f"FAILED verification ({self.problem})"))


# -- the lock that makes commit + head file one step for other leakmark processes --------------------------
class RegisterLock:
    """An advisory lock on `ledger.lock` (POSIX flock; nothing on platforms without it): writers hold it
    exclusively from BEGIN until the head file is written, checks hold it shared, so a check never sees a
    commit whose head file is still being written (it could not tell that from a replaced head file)."""

    def __init__(self, path: Path, timeout: float, locked: Callable[[], Exception]) -> None:
        self.path, self.timeout, self._locked = path, timeout, locked
        self._fd: int | None = None

    def acquire(self, exclusive: bool) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: SQLite's own lock alone
            return
        import time

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if exclusive:
                raise write_error(self.path, exc) from exc
            return  # a read-only workspace: nobody can be writing through leakmark
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._locked() from None
                time.sleep(0.02)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
