"""Reading a copy's story from the events (a mixin of `store.Ledger`): its history (with the traces that
named it), when it entered its present status, reclassifications of its document, the voids of abandoned
runs. Each event read is checked against its hash and HMAC."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from leakmark.ledger import checkpoint
from leakmark.ledger.chain import event_hash, event_mac
from leakmark.ledger.guard import ChainGuard
from leakmark.ledger.models import (
    Copy,
    CopyStatus,
    RunState,
)
from leakmark.ledger.traces import TraceRecord


class HistoryReads(ChainGuard):
    """Event reads, checked like every read once `check()` ran; `store.Ledger` provides the connection."""

    def history(self, copy: Copy) -> list[dict[str, Any]]:
        """The copy's events, oldest first: {"seq", "ts", "kind", "status" (after the event), "note", "operator"};
        a trace that named the copy is one too (kind `trace`: the status stays what it was)."""
        out: list[dict[str, Any]] = []
        for r in self.db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events WHERE kind IN "
                                 "('issue','status','void','run','issued','run_end','trace') ORDER BY seq").fetchall():
            p, kind = json.loads(r["payload"]), r["kind"]
            if kind == "trace":
                record = TraceRecord.from_payload(p)
                mine = record.names(copy.document_id, copy.copy_no)
                status = out[-1]["status"] if out else str(copy.status)
                note = record.note_for(copy.document_id, copy.copy_no)
            elif kind == "run":
                mine = p["run"]["id"] == copy.run_id
                status, note = "reserved", f"run {copy.run_id}"
            elif kind == "issued":
                mine = p["run_id"] == copy.run_id and any(n == copy.copy_no for n, _ in p["copies"])
                status, note = "issued", ""
            elif kind == "run_end":  # only the end that voided this copy belongs to its history
                mine = p["run_id"] == copy.run_id and p["state"] == "abandoned" and copy.status == "void"
                status, note = "void", p.get("note", "")
            else:
                mine = p.get("document_id") == copy.document_id and p.get("copy_no") == copy.copy_no
                status, note = p.get("status", "issued"), p.get("note", p.get("reason", ""))
            if mine:
                if self._verifying and (event_hash(r["prev_hash"], r["seq"], r["ts"], kind, p) != r["hash"]
                                        or event_mac(self._key, r["hash"]) != r["mac"]):
                    self._fail(checkpoint.problem(f"event {r['seq']} ({kind}) was edited"))
                by = copy.issued_by if kind in ("run", "issued", "issue") else ""  # status events before operators: ""
                out.append({"seq": r["seq"], "ts": r["ts"], "kind": kind, "status": status, "note": note,
                            "operator": p.get("operator", by)})
        return out

    def reclassifications(self, doc_id: str) -> list[dict[str, Any]]:
        """A document's changes of 密级, oldest first: {"seq", "ts", "previous", "level", "reason", "operator"};
        after `check()` each event read is checked against its hash and HMAC."""
        out = []
        for r in self.db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events WHERE "
                                 "kind='reclassify' AND instr(payload, ?) > 0 ORDER BY seq", (doc_id,)).fetchall():
            p = json.loads(r["payload"])
            if p.get("document_id") != doc_id:
                continue
            if self._verifying and (event_hash(r["prev_hash"], r["seq"], r["ts"], r["kind"], p) != r["hash"]
                                    or event_mac(self._key, r["hash"]) != r["mac"]):
                self._fail(checkpoint.problem(f"event {r['seq']} (reclassify) was edited"))
            out.append({"seq": r["seq"], "ts": r["ts"], "previous": p.get("previous", ""), "level": p.get("level", ""),
                        "reason": p.get("reason", ""), "operator": p.get("operator", "")})
        return out

    def abandoned_runs(self) -> dict[str, dict[str, str]]:
        """Every abandoned run (whose unmade copies became `void`): {"at", "by", "note"} of its `run_end` event;
        after `check()` each event read is checked against its hash and HMAC."""
        out: dict[str, dict[str, str]] = {}
        for r in self.db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events WHERE "
                                 "kind='run_end' ORDER BY seq").fetchall():
            p = json.loads(r["payload"])
            if self._verifying and (event_hash(r["prev_hash"], r["seq"], r["ts"], r["kind"], p) != r["hash"]
                                    or event_mac(self._key, r["hash"]) != r["mac"]):
                self._fail(checkpoint.problem(f"event {r['seq']} (run_end) was edited"))
            if p.get("state") == RunState.abandoned:
                out[str(p.get("run_id"))] = {"at": r["ts"], "by": str(p.get("operator", "")),
                                             "note": str(p.get("note", "")) or f"run {p.get('run_id')} abandoned"}
        return out

    def status_records(self) -> dict[tuple[str, int], dict[str, dict[str, str]]]:
        """For every copy a clerk changed: per status set (returned, destroyed, void, issued), the last event
        that set it as {"at", "by", "note"} (`by` empty for events written before operators were recorded).
        After `check()` each event read is checked against its hash and HMAC."""
        out: dict[tuple[str, int], dict[str, dict[str, str]]] = {}
        for r in self.db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events WHERE kind IN "
                                 "('status','void') ORDER BY seq").fetchall():
            p, kind = json.loads(r["payload"]), r["kind"]
            if self._verifying and (event_hash(r["prev_hash"], r["seq"], r["ts"], kind, p) != r["hash"]
                                    or event_mac(self._key, r["hash"]) != r["mac"]):
                self._fail(checkpoint.problem(f"event {r['seq']} ({kind}) was edited"))
            out.setdefault((p.get("document_id"), p.get("copy_no")), {})[str(p.get("status", ""))] = {
                "at": r["ts"], "by": str(p.get("operator", "")), "note": str(p.get("note", p.get("reason", "")))}
        return out

    def status_dates(self, copies: Iterable[Copy]) -> dict[tuple[str, int], str | None]:
        """When each of `copies` entered its present status: the time of the event that set it, as in
        `history`. Reads only what those copies need (their documents' status events, their runs' ends),
        so tracing against 100,000 copies asks for the ten shown, not all of them.

        The last `status` or `void` event that set the copy's present status (returned, destroyed, void by a
        clerk; issued again after a return), else: issued, its `issued` time; void, the abandoning of its run;
        reserved, its run's start. None when no event records it (a register altered outside leakmark)."""
        wanted = {(c.document_id, c.copy_no): c for c in copies}
        out: dict[tuple[str, int], str | None] = {k: None for k in wanted}
        last: dict[tuple[str, int, str], str] = {}  # (document, copy, status) -> time of its last status event
        for doc_id in sorted({d for d, _ in wanted}):
            numbers = sorted(n for d, n in wanted if d == doc_id)
            rows = []
            for i in range(0, len(numbers), 500):  # within SQLite's limit of bound parameters
                rows += self._status_events(doc_id, numbers[i:i + 500])
            for r in sorted(rows, key=lambda r: r["seq"]):
                p = json.loads(r["payload"])
                k = (p.get("document_id"), p.get("copy_no"))
                if k in wanted:
                    last[(*k, p.get("status", ""))] = r["ts"]
        runs = {c.run_id for c in wanted.values() if c.status in (CopyStatus.void, CopyStatus.reserved)}
        ended: dict[str, str] = {}
        started: dict[str, str] = {}
        for run_id in sorted(runs):
            for r in self.db.execute("SELECT ts, payload FROM events WHERE kind='run_end' AND instr(payload, ?) > 0 "
                                     "ORDER BY seq", (run_id,)):
                p = json.loads(r["payload"])
                if p.get("run_id") == run_id and p.get("state") == RunState.abandoned:
                    ended[run_id] = r["ts"]
            row = self.db.execute("SELECT created_at FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is not None:
                started[run_id] = row["created_at"]
        for k, c in wanted.items():
            if (*k, str(c.status)) in last:  # a status event set it (whichever status a clerk may set)
                out[k] = last[(*k, str(c.status))]
            elif c.status == CopyStatus.void:
                out[k] = ended.get(c.run_id)
            elif c.status == CopyStatus.reserved:
                out[k] = started.get(c.run_id)
            elif c.status == CopyStatus.issued:
                out[k] = c.issued_at or None
        return out

    def _status_events(self, doc_id: str, numbers: list[int]) -> list[sqlite3.Row]:
        """The `status` and `void` events of some copies of a document (a superset without SQLite's JSON functions)."""
        try:
            return self.db.execute(
                "SELECT seq, ts, payload FROM events WHERE kind IN ('status','void') AND "
                "json_extract(payload, '$.document_id') = ? AND json_extract(payload, '$.copy_no') "
                f"IN ({','.join('?' * len(numbers))})",
                (doc_id, *numbers)).fetchall()
        except sqlite3.OperationalError:  # an SQLite built without JSON functions: the caller filters
            return self.db.execute("SELECT seq, ts, payload FROM events WHERE kind IN ('status','void') AND "
                                   "instr(payload, ?) > 0", (doc_id,)).fetchall()

