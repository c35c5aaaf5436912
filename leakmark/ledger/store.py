"""The distribution register in SQLite: the Ledger class (connection, transactions, appends, writes, queries).

`events` is the source of truth: append-only, hash-chained and authenticated (see chain.py).
`documents`, `runs` and `copies` are materialised views of the events for fast queries; `verify` replays
the events and checks that every view row matches, so editing a recipient in `copies` is caught too
(see verify.py). The tables and their version are in schema.py, the row types in models.py.

A run is reserved in one event before any work starts (its copies get status `reserved`), each finished
batch is one `issued` event, and `run_end` closes it (`finished`, or `abandoned`: its unissued copies
become `void`). So every copy number is accounted for whatever happens to the process.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from leakmark._io import atomic_write_bytes, private_create
from leakmark.errors import BadRequestError, LedgerIntegrityError, NotFoundError, OutputError, WorkspaceLockedError
from leakmark.ledger.chain import GENESIS, event_hash, event_mac, head_mac
from leakmark.ledger.models import (
    CLERK_STATUSES,
    COPY_FIELDS,
    DOC_FIELDS,
    RUN_FIELDS,
    Copy,
    CopyStatus,
    Document,
    Planned,
    Run,
    RunState,
    VerifyReport,
    copy_from_row,
    document_from_row,
    format_copy_no,
    now_iso,
    run_from_row,
)
from leakmark.ledger.schema import migrate
from leakmark.ledger.verify import verify_register
from leakmark.workspace import Workspace

__all__ = ["Copy", "Document", "Ledger", "Planned", "Run", "VerifyReport", "format_copy_no", "now_iso"]


class Ledger:
    """Queries and transactions on the workspace's register. Open one per operation."""

    def __init__(self, workspace: Workspace, timeout: float = 30.0) -> None:
        self.ws = workspace
        self._key = workspace.key()
        private_create(workspace.ledger_path)  # 0600 before SQLite makes it; its -wal and -shm take its mode
        try:
            self.db = sqlite3.connect(workspace.ledger_path, timeout=timeout, isolation_level=None)
            try:
                self.db.row_factory = sqlite3.Row
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.schema_found = migrate(self.db, workspace.ledger_path)  # the version it had before opening
            except BaseException:
                self.db.close()
                raise
        except sqlite3.OperationalError as exc:
            raise self._map_error(exc) from exc
        except sqlite3.DatabaseError as exc:  # not an SQLite file at all: overwritten or corrupted
            raise LedgerIntegrityError(
                f"the ledger {workspace.ledger_path} is not a readable register ({exc}); restore it from backup"
            ) from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map_error(self, exc: sqlite3.OperationalError) -> Exception:
        if "locked" in str(exc) or "busy" in str(exc):
            return WorkspaceLockedError(
                f"the ledger {self.ws.ledger_path} is locked by another leakmark process; wait for it to "
                "finish and run the command again"
            )
        if "full" in str(exc) or "disk I/O" in str(exc):  # SQLITE_FULL, SQLITE_IOERR: nothing was committed
            return OutputError(
                f"cannot write the ledger {self.ws.ledger_path} ({exc}); free space on that disk and run the "
                "command again: the register is unchanged (an interrupted issue run: `leakmark issue --resume "
                "last`)"
            )
        return exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._map_error(exc) from exc
        try:
            yield self.db
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise self._map_error(exc) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise self._map_error(exc) from exc
        self._write_head()

    def _rollback(self) -> None:
        """ROLLBACK if a transaction is still open (SQLite ends one itself after some errors, e.g. a full disk)."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # -- events ----------------------------------------------------------------------------------
    def _append(self, kind: str, payload: dict, ts: str | None = None) -> None:
        """Append one event; call inside `transaction()`."""
        row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row["seq"] + 1, row["hash"]) if row else (1, GENESIS)
        ts = ts or now_iso()
        digest = event_hash(prev, seq, ts, kind, payload)
        self.db.execute(
            "INSERT INTO events (seq, ts, kind, payload, prev_hash, hash, mac) VALUES (?,?,?,?,?,?,?)",
            (seq, ts, kind, json.dumps(payload, ensure_ascii=False, sort_keys=True), prev, digest,
             event_mac(self._key, digest)),
        )

    def _write_head(self) -> None:
        row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return
        try:  # a slower concurrent writer must not move the head backwards
            if int(json.loads(self.ws.head_path.read_text())["seq"]) >= row["seq"]:
                return
        except (OSError, ValueError, KeyError, TypeError):
            pass
        head = {"seq": row["seq"], "hash": row["hash"], "mac": head_mac(self._key, row["seq"], row["hash"])}
        atomic_write_bytes(self.ws.head_path, json.dumps(head).encode())

    # -- documents -------------------------------------------------------------------------------
    def document_by_sha(self, sha256: str) -> Document | None:
        row = self.db.execute("SELECT * FROM documents WHERE sha256=?", (sha256,)).fetchone()
        return document_from_row(row) if row else None

    def document(self, doc_id: str) -> Document:
        row = self.db.execute("SELECT * FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id!r} in the ledger; `leakmark log list` shows them")
        return document_from_row(row)

    def documents(self) -> list[Document]:
        rows = self.db.execute("SELECT * FROM documents ORDER BY created_at, id").fetchall()
        return [document_from_row(r) for r in rows]

    def _insert_document(self, doc: Document) -> None:
        values = {k: getattr(doc, k) for k in DOC_FIELDS}
        self._append("document", values, ts=doc.created_at)
        self.db.execute(f"INSERT INTO documents ({','.join(DOC_FIELDS)}) VALUES ({','.join('?' * len(DOC_FIELDS))})",
                        tuple(values.values()))

    # -- runs ----------------------------------------------------------------------------------------
    def plan_numbers(self, doc_id: str, wanted: list[int | None]) -> list[int]:
        """Copy numbers a run would get now: explicit ones from `wanted`, the rest after the highest taken."""
        taken = {r[0] for r in self.db.execute("SELECT copy_no FROM copies WHERE document_id=?", (doc_id,))}
        explicit = [w for w in wanted if w is not None]
        clash = sorted(set(explicit) & taken)
        if clash:
            raise BadRequestError(f"copy number {format_copy_no(clash[0])} of document {doc_id} is already "
                                  "issued or reserved; leave copy_no empty to number copies automatically")
        if len(set(explicit)) != len(explicit):
            raise BadRequestError("the recipient list gives the same copy_no twice")
        nxt = max(taken | set(explicit) | {0}) + 1
        numbers = []
        for w in wanted:
            if w is None:
                w, nxt = nxt, nxt + 1
            if not 1 <= w <= 999_999:
                raise BadRequestError(f"copy number {w} is outside 000001..999999")
            numbers.append(w)
        return numbers

    def start_run(self, doc: Document, new_document: bool, run: Run, planned: list[Planned], settings: str,
                  version: str) -> list[Copy]:
        """Reserve a run and its copy numbers in one transaction (with the document, if new). Numbers are
        allocated here, inside the write lock, so concurrent runs never share one."""
        with self.transaction():
            if new_document and self.document_by_sha(doc.sha256) is None:
                self._insert_document(doc)
            numbers = self.plan_numbers(doc.id, [p.copy_no for p in planned])
            copies = [Copy(document_id=doc.id, copy_no=n, recipient=p.recipient, unit=p.unit, note=p.note,
                           issued_at="", issued_by=run.created_by, status=CopyStatus.reserved, run_id=run.id,
                           settings=settings, version=version, path="")
                      for n, p in zip(numbers, planned, strict=True)]
            values = {k: getattr(run, k) for k in RUN_FIELDS}
            self._append("run", {"run": values, "copies": [{k: getattr(c, k) for k in COPY_FIELDS} for c in copies]},
                         ts=run.created_at)
            self.db.execute(f"INSERT INTO runs ({','.join(RUN_FIELDS)}) VALUES ({','.join('?' * len(RUN_FIELDS))})",
                            tuple(values.values()))
            self.db.executemany(f"INSERT INTO copies ({','.join(COPY_FIELDS)}) VALUES "
                                f"({','.join('?' * len(COPY_FIELDS))})",
                                [tuple(getattr(c, k) for k in COPY_FIELDS) for c in copies])
        return copies

    def mark_issued(self, run_id: str, items: list[tuple[int, str]], merge_bytes: int = 0) -> None:
        """Record finished copies of a run (number, where the file is) in one transaction."""
        run = self.run(run_id)
        stamp = now_iso()
        with self.transaction():
            self._append("issued", {"run_id": run_id, "document_id": run.document_id, "issued_at": stamp,
                                    "copies": [[n, p] for n, p in items], "merge_bytes": merge_bytes}, ts=stamp)
            self.db.executemany("UPDATE copies SET status='issued', issued_at=?, path=? "
                                "WHERE document_id=? AND copy_no=? AND status='reserved'",
                                [(stamp, p, run.document_id, n) for n, p in items])
            self.db.execute("UPDATE runs SET done=done+?, merge_bytes=? WHERE id=?", (len(items), merge_bytes, run_id))

    def end_run(self, run_id: str, state: str, note: str = "") -> Run:
        """Close a run: `finished`, or `abandoned` (its copies not yet issued become `void`)."""
        if state not in (RunState.finished, RunState.abandoned):
            raise ValueError(state)
        run = self.run(run_id)
        if run.state != RunState.open:
            raise BadRequestError(f"run {run_id} is already {run.state}")
        with self.transaction():
            self._append("run_end", {"run_id": run_id, "document_id": run.document_id, "state": str(state),
                                     "note": note})
            self.db.execute("UPDATE runs SET state=? WHERE id=?", (str(state), run_id))
            if state == RunState.abandoned:
                self.db.execute("UPDATE copies SET status='void' WHERE run_id=? AND status='reserved'", (run_id,))
        return self.run(run_id)

    def run(self, run_id: str) -> Run:
        if run_id == "last":
            row = self.db.execute("SELECT * FROM runs WHERE state='open' ORDER BY created_at DESC, rowid DESC "
                                  "LIMIT 1").fetchone()
            if row is None:
                raise NotFoundError("there is no unfinished run; `leakmark log runs` lists the runs")
        else:
            row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run {run_id!r} in the ledger; `leakmark log runs` lists the runs")
        return run_from_row(row)

    def runs(self) -> list[Run]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY created_at, rowid").fetchall()
        return [run_from_row(r) for r in rows]

    def run_copies(self, run_id: str) -> list[Copy]:
        rows = self.db.execute("SELECT * FROM copies WHERE run_id=? ORDER BY copy_no", (run_id,)).fetchall()
        return [copy_from_row(r) for r in rows]

    # -- copies ----------------------------------------------------------------------------------
    def copies(self, doc_id: str | None = None) -> list[Copy]:
        if doc_id is None:
            rows = self.db.execute("SELECT * FROM copies ORDER BY document_id, copy_no").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM copies WHERE document_id=? ORDER BY copy_no", (doc_id,)).fetchall()
        return [copy_from_row(r) for r in rows]

    def find_copy(self, ref: str) -> Copy:
        """`DOCID/000123` or a bare `000123` / `123` when only one document has that number."""
        doc_id, _, num = ref.rpartition("/")
        try:
            copy_no = int(num)
        except ValueError:
            raise NotFoundError(f"{ref!r} is not a copy reference; write DOCUMENT/COPY, e.g. D1a2b3c4d5/000012") \
                from None
        if doc_id:
            rows = self.db.execute("SELECT * FROM copies WHERE copy_no=? AND document_id=?",
                                   (copy_no, doc_id)).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM copies WHERE copy_no=?", (copy_no,)).fetchall()
        if not rows:
            raise NotFoundError(f"no issued copy {ref!r} in the ledger; `leakmark log list` shows the copies")
        if len(rows) > 1:
            docs = ", ".join(r["document_id"] for r in rows)
            raise NotFoundError(f"copy {format_copy_no(copy_no)} exists in several documents ({docs}); "
                                f"write DOCUMENT/{format_copy_no(copy_no)}")
        return copy_from_row(rows[0])

    def set_status(self, ref: str, status: str, note: str = "") -> Copy:
        if status not in CLERK_STATUSES:
            raise BadRequestError(f"unknown status {str(status)!r}")
        status = CopyStatus(status)
        copy = self.find_copy(ref)
        if copy.status in (CopyStatus.reserved, CopyStatus.void):
            raise BadRequestError(f"copy {copy.document_id}/{copy.label} was never issued (status {copy.status}); "
                                  "`leakmark log runs` shows its run")
        if copy.status == CopyStatus.destroyed:
            raise BadRequestError(f"copy {copy.document_id}/{copy.label} is already recorded as destroyed")
        with self.transaction():
            payload = {"document_id": copy.document_id, "copy_no": copy.copy_no, "status": str(status), "note": note}
            self._append("status", payload)
            self.db.execute("UPDATE copies SET status=? WHERE document_id=? AND copy_no=?",
                            (str(status), copy.document_id, copy.copy_no))
        return self.find_copy(f"{copy.document_id}/{copy.copy_no}")

    def history(self, copy: Copy) -> list[dict[str, Any]]:
        out = []
        for r in self.db.execute("SELECT seq, ts, kind, payload FROM events WHERE kind IN "
                                 "('issue','status','run','issued','run_end') ORDER BY seq").fetchall():
            p, kind = json.loads(r["payload"]), r["kind"]
            if kind == "run":
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
                status, note = p.get("status", "issued"), p.get("note", "")
            if mine:
                out.append({"seq": r["seq"], "ts": r["ts"], "kind": kind, "status": status, "note": note})
        return out

    # -- verification ----------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Replay the chain and compare the views; raise LedgerIntegrityError at the first bad row."""
        return verify_register(self.db, self._key, self.ws.head_path)
