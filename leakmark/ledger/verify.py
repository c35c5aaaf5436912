"""Verification: replay the event chain, check every hash and HMAC, the head file and every view row.

`events` is the source of truth; `documents`, `runs` and `copies` are what replaying the events gives,
so an edited recipient in `copies` is caught as surely as an edited event. A copy number is reserved once:
an event that reserves one again fails the replay. The first bad row raises LedgerIntegrityError with a
message naming it.

`verify_anchors` then checks what anchors the chain (checkpoint.py): the checkpoint against the events and
the head file, every view digest recomputed from the rows, the highest copy numbers, and the vault's
reservation records against the runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leakmark.errors import LedgerIntegrityError
from leakmark.ledger import checkpoint, reservations
from leakmark.ledger.chain import GENESIS, event_hash, event_mac
from leakmark.ledger.checkpoint import Head
from leakmark.ledger.models import COPY_FIELDS, DOC_FIELDS, RUN_FIELDS, VerifyReport, format_copy_no


def failed(msg: str) -> str:
    """How `log verify` words a problem."""
    return (f"ledger verification FAILED: {msg}. The register has been altered outside leakmark; restore it from "
            "backup and investigate")


def _bad(msg: str) -> LedgerIntegrityError:
    return LedgerIntegrityError(failed(msg), problem=msg)


def verify_register(db: sqlite3.Connection, key: bytes, head_path: Path,
                    load_head: Callable[[], Head | None] | None = None, multi_writer: bool = False) -> VerifyReport:
    """Replay the chain and compare the views; raise LedgerIntegrityError at the first bad row.

    `db` must return `sqlite3.Row`s (the Ledger's connection does). `load_head` gives the head file as read
    together with the database snapshot (the Ledger reads both under its lock); by default it is read now."""
    prev, expect_seq = GENESIS, 1
    docs: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    copies: dict[tuple[str, int], dict] = {}
    for r in db.execute("SELECT * FROM events ORDER BY seq"):
        seq = r["seq"]
        if seq != expect_seq:
            raise _bad(f"event {expect_seq} is missing (next row is event {seq}): a row was deleted")
        try:
            payload = json.loads(r["payload"])
        except ValueError:
            raise _bad(f"event {seq} has an unreadable payload") from None
        if r["prev_hash"] != prev:
            raise _bad(f"event {seq} does not follow event {seq - 1}: rows were inserted or reordered")
        digest = event_hash(prev, seq, r["ts"], r["kind"], payload)
        if digest != r["hash"] or event_mac(key, digest) != r["mac"]:
            raise _bad(f"event {seq} ({r['kind']}) was edited")
        _replay(seq, r["kind"], payload, docs, runs, copies)
        prev, expect_seq = digest, seq + 1
    try:
        head = load_head() if load_head is not None else checkpoint.read_head(head_path, key)
    except LedgerIntegrityError as exc:
        raise _bad(exc.problem) from None
    if not (multi_writer and head is None):  # a workstation of a shared register that has not written yet
        _verify_head(db, head_path, head, expect_seq - 1)
    view = db.execute
    _compare("documents", "registration", {r["id"]: dict(r) for r in view("SELECT * FROM documents")},
             docs, DOC_FIELDS, str)
    _compare("runs", "run", {r["id"]: dict(r) for r in view("SELECT * FROM runs")}, runs, RUN_FIELDS, str)
    crows = {(r["document_id"], r["copy_no"]): dict(r) for r in view("SELECT * FROM copies")}
    _compare("copies", "issue", crows, copies, COPY_FIELDS, lambda k: f"{k[0]}/{format_copy_no(k[1])}")
    return VerifyReport(events=expect_seq - 1, documents=len(docs), copies=len(copies), runs=len(runs))


def _replay(seq: int, kind: str, payload: Any, docs: dict[str, dict], runs: dict[str, dict],
            copies: dict[tuple[str, int], dict]) -> None:
    """Apply one authenticated event to the replayed views."""
    if kind == "document":
        docs[payload["id"]] = payload
    elif kind == "reclassify":  # a clerk changed the document's 密级; the event keeps the previous one
        doc = docs.get(payload["document_id"])
        if doc is None or doc["level"] != payload["previous"]:
            raise _bad(f"event {seq} reclassifies a document that was not registered with that level")
        docs[payload["document_id"]] = {**doc, "level": payload["level"]}
    elif kind == "issue":
        _reserve_once(seq, copies, payload)
        copies[(payload["document_id"], payload["copy_no"])] = dict(payload)
    elif kind == "status":
        key = (payload["document_id"], payload["copy_no"])
        if key not in copies:
            raise _bad(f"event {seq} changes the status of a copy that was never issued")
        if copies[key]["status"] == "void":
            raise _bad(f"event {seq} changes the status of copy {key[0]}/{format_copy_no(key[1])}, which is void")
        copies[key]["status"] = payload["status"]
    elif kind == "void":  # a clerk voids a copy issued by mistake: for good, its number stays taken
        key = (payload["document_id"], payload["copy_no"])
        if key not in copies or copies[key]["status"] not in ("issued", "returned"):
            raise _bad(f"event {seq} voids a copy that was not issued")
        copies[key]["status"] = "void"
    elif kind == "run":
        runs[payload["run"]["id"]] = dict(payload["run"])
        for c in payload["copies"]:
            _reserve_once(seq, copies, c)
            copies[(c["document_id"], c["copy_no"])] = dict(c)
    elif kind == "issued":
        run = runs.get(payload["run_id"])
        if run is None:
            raise _bad(f"event {seq} issues copies of a run that was never reserved")
        for n, path in payload["copies"]:
            c = copies.get((run["document_id"], n))
            if c is None or c["run_id"] != run["id"] or c["status"] != "reserved":
                raise _bad(f"event {seq} issues copy {format_copy_no(n)}, which its run did not reserve")
            c.update(status="issued", issued_at=payload["issued_at"], path=path)
        run["done"] += len(payload["copies"])
        run["merge_bytes"] = payload["merge_bytes"]
    elif kind == "run_end":
        run = runs.get(payload["run_id"])
        if run is None:
            raise _bad(f"event {seq} ends a run that was never reserved")
        run["state"] = payload["state"]
        if payload["state"] == "abandoned":
            for c in copies.values():
                if c["run_id"] == run["id"] and c["status"] == "reserved":
                    c["status"] = "void"
    elif kind in ("trace", "account"):  # records (who traced what; who may use the web page): no view changes
        pass
    else:
        raise _bad(f"event {seq} has an unknown kind {kind!r}")


def _reserve_once(seq: int, copies: dict[tuple[str, int], dict], c: Any) -> None:
    """A copy number is reserved by one event only: a second reservation would give one number to two people."""
    key = (c["document_id"], c["copy_no"])
    if key in copies:
        raise _bad(f"event {seq} reserves copy {key[0]}/{format_copy_no(key[1])} again (it was reserved before, for "
                   f"{copies[key].get('recipient', '?')!r}): a copy number was reused")


def _verify_head(db: sqlite3.Connection, head_path: Path, head: Head | None, last_seq: int) -> None:
    """The head file (written after every transaction) must be authentic and name an event that exists
    with that hash: a register rolled back to fewer events is caught here. (With a checkpoint, the
    stricter rules of checkpoint.check_head apply as well: `verify_anchors`.)"""
    if head is None:
        if last_seq:
            raise _bad(f"the head file {head_path} is missing")
        return
    seq, digest = head.seq, head.hash
    if seq > last_seq:
        raise _bad(f"the ledger ends at event {last_seq} but event {seq} was written: rows were deleted")
    if seq == 0:
        return
    row = db.execute("SELECT hash FROM events WHERE seq=?", (seq,)).fetchone()
    if row is None or row["hash"] != digest:
        raise _bad(f"event {seq} differs from the one recorded in the head file")


def verify_anchors(db: sqlite3.Connection, key: bytes, fingerprint: str, head_path: Path,
                   load_head: Callable[[], Head | None], hasher: checkpoint.RowHasher,
                   doc_dir: Callable[[str], Path], multi_writer: bool = False) -> None:
    """After verify_register: the checkpoint (if the register has one yet), every digest recomputed from the
    rows, the highest copy numbers, and the vault's reservation records (`doc_dir`: sha256 -> vault folder)."""
    try:
        cp = checkpoint.check_chain(db, key, fingerprint, head_path, load_head, multi_writer)
        if cp is not None:
            stored = checkpoint.load_digests(db)
            actual = checkpoint.compute_digests(db, hasher)
            for doc, part in sorted(set(stored) | set(actual)):
                checkpoint.compare_part(doc, part, actual.get((doc, part), (0, 0)), stored.get((doc, part)))
            high = checkpoint.highest_numbers(db)
            for doc in sorted(set(high) | set(cp.numbers)):
                if cp.numbers.get(doc, 0) != high.get(doc, 0):
                    raise checkpoint.problem(
                        f"the last checkpoint records copies of document {doc} up to "
                        f"{format_copy_no(cp.numbers.get(doc, 0))} but the register's highest is "
                        f"{format_copy_no(high.get(doc, 0))}: copies rows were deleted or inserted")
        runs = {r["id"]: r["document_id"] for r in db.execute("SELECT id, document_id FROM runs")}
        for r in db.execute("SELECT sha256 FROM documents ORDER BY id").fetchall():
            reservations.check_against(reservations.read_all(doc_dir(r["sha256"]), key), runs)
    except LedgerIntegrityError as exc:
        raise _bad(exc.problem) from None


def _compare(table: str, event: str, rows: dict, replayed: dict, fields: tuple[str, ...],
             name: Callable[[Any], str]) -> None:
    """Every row of a view must be what the replayed events say, and nothing more or less."""
    for key in sorted(set(rows) | set(replayed)):
        label = f"{table} row {name(key)}"
        if key not in replayed:
            raise _bad(f"{label} has no {event} event: it was inserted")
        if key not in rows:
            raise _bad(f"{label} was deleted")
        for k in fields:
            if rows[key][k] != replayed[key][k]:
                raise _bad(f"{label}: {k} is {rows[key][k]!r} but the event log says {replayed[key][k]!r}")
