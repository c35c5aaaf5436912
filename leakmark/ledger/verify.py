"""Verification: replay the event chain, check every hash and HMAC, the head file and every view row.

`events` is the source of truth; `documents`, `runs` and `copies` are what replaying the events gives,
so an edited recipient in `copies` is caught as surely as an edited event. The first bad row raises
LedgerIntegrityError with a message naming it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leakmark.errors import LedgerIntegrityError
from leakmark.ledger.chain import GENESIS, event_hash, event_mac, head_mac
from leakmark.ledger.models import COPY_FIELDS, DOC_FIELDS, RUN_FIELDS, VerifyReport, format_copy_no


def _bad(msg: str) -> LedgerIntegrityError:
    return LedgerIntegrityError(f"ledger verification FAILED: {msg}. The register has been altered "
                                "outside leakmark; restore it from backup and investigate")


def verify_register(db: sqlite3.Connection, key: bytes, head_path: Path) -> VerifyReport:
    """Replay the chain and compare the views; raise LedgerIntegrityError at the first bad row.

    `db` must return `sqlite3.Row`s (the Ledger's connection does)."""
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
    _verify_head(db, key, head_path, expect_seq - 1)
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
    elif kind == "issue":
        copies[(payload["document_id"], payload["copy_no"])] = dict(payload)
    elif kind == "status":
        key = (payload["document_id"], payload["copy_no"])
        if key not in copies:
            raise _bad(f"event {seq} changes the status of a copy that was never issued")
        copies[key]["status"] = payload["status"]
    elif kind == "run":
        runs[payload["run"]["id"]] = dict(payload["run"])
        for c in payload["copies"]:
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
    else:
        raise _bad(f"event {seq} has an unknown kind {kind!r}")


def _verify_head(db: sqlite3.Connection, key: bytes, head_path: Path, last_seq: int) -> None:
    """The head file (written after every transaction) must be authentic and name an event that exists
    with that hash: a register rolled back to fewer events is caught here."""
    if not head_path.exists():
        if last_seq:
            raise _bad(f"the head file {head_path} is missing")
        return
    try:
        head = json.loads(head_path.read_text())
        seq, digest, mac = int(head["seq"]), str(head["hash"]), str(head["mac"])
    except (OSError, ValueError, KeyError, TypeError):
        raise _bad(f"the head file {head_path} is unreadable") from None
    if head_mac(key, seq, digest) != mac:
        raise _bad(f"the head file {head_path} was edited")
    if seq > last_seq:
        raise _bad(f"the ledger ends at event {last_seq} but event {seq} was written: rows were deleted")
    row = db.execute("SELECT hash FROM events WHERE seq=?", (seq,)).fetchone()
    if row is None or row["hash"] != digest:
        raise _bad(f"event {seq} differs from the one recorded in the head file")


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
