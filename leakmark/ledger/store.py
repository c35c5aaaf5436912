"""The distribution register in SQLite: the Ledger class (connection, transactions, appends, writes, queries).

`events` is the source of truth: append-only, hash-chained and authenticated (see chain.py).
`documents`, `runs` and `copies` are materialised views of the events for fast queries; `verify` replays
the events and checks that every view row matches, so editing a recipient in `copies` is caught too
(see verify.py). The tables and their version are in schema.py, the row types in models.py.

A run is reserved in one event before any work starts (its copies get status `reserved`), each finished
batch is one `issued` event, and `run_end` closes it (`finished`, or `abandoned`: its unissued copies
become `void`). So every copy number is accounted for whatever happens to the process.

The chain is anchored (checkpoint.py): opening checks the key's fingerprint before anything is written;
every transaction first checks the chain since the last checkpoint and then moves the checkpoint (and the
view digests) with its own changes; `check()` does the same check for commands that read, after which
every copies read is compared with its document's digest. A register that fails is refused with exit 7
(readers may pass `trust=True`: then `state` says it failed). Copy numbers come from the rows, the
checkpoint's highest numbers and the vault's reservation records (reservations.py), so deleting rows never
frees one.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leakmark._io import private_create
from leakmark.errors import (
    BadRequestError,
    LedgerIntegrityError,
    OutputError,
    WorkspaceLockedError,
    WorkspaceMissingError,
)
from leakmark.ledger import checkpoint, reservations, witness
from leakmark.ledger.accounts import AccountEvents
from leakmark.ledger.chain import GENESIS, event_hash, event_mac
from leakmark.ledger.checkpoint import Checkpoint, RegisterLock, RegisterState, RowHasher
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
    format_copy_no,
    now_iso,
)
from leakmark.ledger.reads import ViewReads
from leakmark.ledger.schema import migrate
from leakmark.ledger.traces import TraceEvents
from leakmark.ledger.verify import verify_anchors, verify_register
from leakmark.ledger.witness import Witness
from leakmark.workspace import Workspace

__all__ = ["Copy", "Document", "Ledger", "Planned", "Run", "VerifyReport", "format_copy_no", "now_iso"]


class Ledger(ViewReads, TraceEvents, AccountEvents):
    """Queries and transactions on the workspace's register. Open one per operation."""

    def __init__(self, workspace: Workspace, timeout: float = 30.0) -> None:
        self.ws = workspace
        self._key = workspace.key()
        self._fingerprint = workspace.key_fingerprint()
        self._hasher = RowHasher(self._key)
        self._lock = RegisterLock(workspace.home / "ledger.lock", timeout, self._locked)
        self._cp: Checkpoint | None = None  # the last checkpoint this connection checked or wrote
        self._cp_mac = ""
        self._checked = False  # check() was called: reads of copies are compared with their digests
        self._trust = False
        self._for_write = False  # check() was called by a command that writes: refusals say nothing was written
        self.state: RegisterState | None = None  # what check() found (None before it)
        self._verified_docs: set[str] = set()
        self._reset_pending()
        url = workspace.register_url
        self.where = str(workspace.ledger_path)  # the register, as messages name it
        self.multi_writer = False  # several workstations write the register (PostgreSQL): see check_head
        try:
            if url is not None:
                self._open_postgres(url, timeout)
                return
            private_create(workspace.ledger_path)  # 0600 before SQLite makes it; its -wal and -shm take its mode
            self.db = sqlite3.connect(workspace.ledger_path, timeout=timeout, isolation_level=None)
            try:
                self.db.row_factory = sqlite3.Row
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self._check_key()  # before the migration: with another key nothing is written
                self.schema_found = migrate(self.db, workspace.ledger_path)  # the version it had before opening
            except BaseException:
                self.db.close()
                raise
        except sqlite3.OperationalError as exc:
            raise self._map_error(exc) from exc
        except sqlite3.DatabaseError as exc:  # not an SQLite file at all: overwritten or corrupted
            raise LedgerIntegrityError(
                f"the ledger {self.where} is not a readable register ({exc}); restore it from backup"
            ) from exc

    def _open_postgres(self, url: str, timeout: float) -> None:
        """The register on a PostgreSQL server (postgres.py): same tables and checks, an advisory lock."""
        from leakmark.ledger import postgres
        from leakmark.ledger.schema import TABLES

        if not postgres.is_url(url):
            raise BadRequestError(f"the register {url!r} is not a postgresql:// address (leave it unset for the "
                                  "workspace's own SQLite register)")
        self.where = postgres.safe_url(url)
        try:
            db = postgres.PgConnection(url, timeout)
        except sqlite3.OperationalError as exc:
            raise WorkspaceMissingError(f"cannot reach the PostgreSQL register {self.where} ({exc}); check that the "
                                        "server runs, the address and the user (nothing was written)") from exc
        self.db = db  # type: ignore[assignment]
        self.multi_writer = True
        self._lock = postgres.PgLock(lambda: db, timeout, self._locked)  # type: ignore[assignment]
        try:
            self._check_key()
            self.schema_found = postgres.migrate(db, TABLES)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map_error(self, exc: sqlite3.OperationalError) -> Exception:
        if "locked" in str(exc) or "busy" in str(exc):
            return self._locked()
        if "readonly" in str(exc):  # SQLITE_READONLY: this user may not write the file or its folder
            return OutputError(f"cannot write the ledger {self.where} ({exc}); let this user write it and "
                               "its folder, then run the command again: the register is unchanged")
        if "full" in str(exc) or "disk I/O" in str(exc):  # SQLITE_FULL, SQLITE_IOERR: nothing was committed
            return OutputError(
                f"cannot write the ledger {self.where} ({exc}); free space on that disk and run the "
                "command again: the register is unchanged (an interrupted issue run: `leakmark issue --resume "
                "last`)"
            )
        return exc

    def _locked(self) -> WorkspaceLockedError:
        return WorkspaceLockedError(
            f"the ledger {self.where} is locked by another leakmark process; wait for it to "
            "finish and run the command again"
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing. The chain is checked first
        (LedgerIntegrityError: nothing is written); the checkpoint moves with the transaction's changes."""
        with self._transaction(refuse=True) as db:
            yield db

    @contextlib.contextmanager
    def _transaction(self, refuse: bool) -> Iterator[sqlite3.Connection]:
        self._lock.acquire(exclusive=True)  # until the head file is written: see checkpoint.RegisterLock
        try:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._map_error(exc) from exc
            try:
                try:
                    self._guard()
                except LedgerIntegrityError as exc:
                    raise (self._refusal(exc, write=True) if refuse else exc) from None
                yield self.db
                sealed = self._seal()
            except sqlite3.OperationalError as exc:  # e.g. a full disk: a typed error, nothing committed
                self._rollback()
                self._reset_pending()
                raise self._map_error(exc) from exc
            except BaseException:
                self._rollback()
                self._reset_pending()
                raise
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                self._reset_pending()
                raise self._map_error(exc) from exc
            self._cp, self._cp_mac = sealed, sealed.mac(self._key)
            self._write_head()
            for folder, res in self._pending_reservations:
                reservations.write(folder, self._key, res)
        finally:
            self._reset_pending()
            self._lock.release()

    # -- events ----------------------------------------------------------------------------------
    def _append(self, kind: str, payload: dict, ts: str | None = None) -> int:
        """Append one event; call inside `transaction()`. Returns its number."""
        row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row["seq"] + 1, row["hash"]) if row else (1, GENESIS)
        ts = ts or now_iso()
        digest = event_hash(prev, seq, ts, kind, payload)
        self.db.execute(
            "INSERT INTO events (seq, ts, kind, payload, prev_hash, hash, mac) VALUES (?,?,?,?,?,?,?)",
            (seq, ts, kind, json.dumps(payload, ensure_ascii=False, sort_keys=True), prev, digest,
             event_mac(self._key, digest)),
        )
        return int(seq)

    def _write_head(self) -> None:
        """The checkpoint just committed, outside the database too (under the write lock: never backwards)."""
        if self._cp is not None and self._cp.seq:
            checkpoint.write_head(self.ws.head_path, self._key, self._cp)

    # -- documents -------------------------------------------------------------------------------
    def _insert_document(self, doc: Document) -> None:
        values = {k: getattr(doc, k) for k in DOC_FIELDS}
        records = reservations.read_all(self.ws.doc_dir(doc.sha256), self._key)
        if records:  # the vault knows runs of a document the register never registered: it was rolled back
            try:
                reservations.check_against(records, {})
            except LedgerIntegrityError as exc:
                raise self._refusal(exc, write=True) from None
        self._append("document", values, ts=doc.created_at)
        self.db.execute(f"INSERT INTO documents ({','.join(DOC_FIELDS)}) VALUES ({','.join('?' * len(DOC_FIELDS))})",
                        tuple(values.values()))
        self._track("document", doc.id, [], [tuple(values.values())])

    def reclassify(self, doc_id: str, level: str, reason: str, operator: str = "") -> Document:
        """Change a registered document's 密级 (a `reclassify` event with the previous level, the reason and
        who did it; the events keep the history). BadRequestError without a reason or for the same level."""
        if not reason.strip():
            raise BadRequestError("give the reason for the reclassification (--reason TEXT); it is kept in the "
                                  "register")
        doc = self.document(doc_id)
        if not level.strip() or level == doc.level:
            raise BadRequestError(f"document {doc_id} is already registered as {doc.level or 'no level'}; "
                                  "--reclassify needs a different --level")
        with self.transaction():
            old = self._rows("document", "id=?", (doc_id,))
            self._append("reclassify", {"document_id": doc_id, "level": level, "previous": doc.level,
                                        "reason": reason, "operator": operator})
            self.db.execute("UPDATE documents SET level=? WHERE id=?", (level, doc_id))
            self._track("document", doc_id, old, self._rows("document", "id=?", (doc_id,)))
        return self.document(doc_id)

    # -- runs ----------------------------------------------------------------------------------------
    def plan_numbers(self, doc_id: str, wanted: list[int | None], sha256: str | None = None) -> list[int]:
        """Copy numbers a run would get now: explicit ones from `wanted`, the rest after the highest ever
        reserved. A number is taken if any record has it: the copies rows, the checkpoint's highest number of
        the document (kept from the events), the vault's reservation records (with `sha256`, the document's)."""
        self._require_document(doc_id)
        taken = {r[0] for r in self.db.execute("SELECT copy_no FROM copies WHERE document_id=?", (doc_id,))}
        records = reservations.read_all(self.ws.doc_dir(sha256), self._key) if sha256 else []
        high = max([0, *taken, *(r.high for r in records), (self._cp.numbers.get(doc_id, 0) if self._cp else 0)])
        explicit = [w for w in wanted if w is not None]
        clash = sorted(w for w in set(explicit) if w in taken or (w <= high and any(r.holds(w) for r in records)))
        if clash:
            raise BadRequestError(f"copy number {format_copy_no(clash[0])} of document {doc_id} is already "
                                  "issued or reserved; leave copy_no empty to number copies automatically")
        if len(set(explicit)) != len(explicit):
            raise BadRequestError("the recipient list gives the same copy_no twice")
        nxt = max([high, *explicit]) + 1
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
            numbers = self.plan_numbers(doc.id, [p.copy_no for p in planned], doc.sha256)
            copies = [Copy(document_id=doc.id, copy_no=n, recipient=p.recipient, unit=p.unit, note=p.note,
                           issued_at="", issued_by=run.created_by, status=CopyStatus.reserved, run_id=run.id,
                           settings=settings, version=version, path="")
                      for n, p in zip(numbers, planned, strict=True)]
            values = {k: getattr(run, k) for k in RUN_FIELDS}
            seq = self._append("run", {"run": values,
                                       "copies": [{k: getattr(c, k) for k in COPY_FIELDS} for c in copies]},
                               ts=run.created_at)
            self.db.execute(f"INSERT INTO runs ({','.join(RUN_FIELDS)}) VALUES ({','.join('?' * len(RUN_FIELDS))})",
                            tuple(values.values()))
            rows = [tuple(getattr(c, k) for k in COPY_FIELDS) for c in copies]
            self.db.executemany(f"INSERT INTO copies ({','.join(COPY_FIELDS)}) VALUES "
                                f"({','.join('?' * len(COPY_FIELDS))})", rows)
            self._track("runs", doc.id, [], [tuple(values.values())])
            self._track("copies", doc.id, [], rows)
            if numbers:
                self._numbers[doc.id] = max(numbers)
                self._pending_reservations.append((self.ws.doc_dir(doc.sha256), reservations.Reservation(
                    run_id=run.id, document_id=doc.id, numbers=reservations.ranges(numbers), seq=seq)))
        self._verified_docs.add(doc.id)
        return copies

    def mark_issued(self, run_id: str, items: list[tuple[int, str]], merge_bytes: int = 0) -> None:
        """Record finished copies of a run (number, where the file is) in one transaction."""
        run = self.run(run_id)
        self._require_document(run.document_id)
        stamp = now_iso()
        numbers = [n for n, _ in items]
        with self.transaction():
            old = self._rows_of("copies", run.document_id, numbers)
            old_run = self._rows("runs", "id=?", (run_id,))
            self._append("issued", {"run_id": run_id, "document_id": run.document_id, "issued_at": stamp,
                                    "copies": [[n, p] for n, p in items], "merge_bytes": merge_bytes}, ts=stamp)
            self.db.executemany("UPDATE copies SET status='issued', issued_at=?, path=? "
                                "WHERE document_id=? AND copy_no=? AND status='reserved'",
                                [(stamp, p, run.document_id, n) for n, p in items])
            self.db.execute("UPDATE runs SET done=done+?, merge_bytes=? WHERE id=?", (len(items), merge_bytes, run_id))
            self._track("copies", run.document_id, old, self._rows_of("copies", run.document_id, numbers))
            self._track("runs", run.document_id, old_run, self._rows("runs", "id=?", (run_id,)))

    def end_run(self, run_id: str, state: str, note: str = "", operator: str = "") -> Run:
        """Close a run: `finished`, or `abandoned` (its copies not yet issued become `void`); `operator`: who
        closed it (recorded when given)."""
        if state not in (RunState.finished, RunState.abandoned):
            raise ValueError(state)
        run = self.run(run_id)
        if run.state != RunState.open:
            raise BadRequestError(f"run {run_id} is already {run.state}")
        self._require_document(run.document_id)
        with self.transaction():
            old_run = self._rows("runs", "id=?", (run_id,))
            voided = [r[1] for r in self._rows("copies", "run_id=? AND status='reserved'", (run_id,))] \
                if state == RunState.abandoned else []
            old = self._rows_of("copies", run.document_id, voided)
            payload = {"run_id": run_id, "document_id": run.document_id, "state": str(state), "note": note}
            if operator:
                payload["operator"] = operator
            self._append("run_end", payload)
            self.db.execute("UPDATE runs SET state=? WHERE id=?", (str(state), run_id))
            if state == RunState.abandoned:
                self.db.execute("UPDATE copies SET status='void' WHERE run_id=? AND status='reserved'", (run_id,))
            self._track("copies", run.document_id, old, self._rows_of("copies", run.document_id, voided))
            self._track("runs", run.document_id, old_run, self._rows("runs", "id=?", (run_id,)))
        return self.run(run_id)

    def ensure_reservation(self, run: Run) -> None:
        """The vault's record of a run's numbers, written again if the process stopped before it was (resume)."""
        doc = self.document(run.document_id)
        folder = self.ws.doc_dir(doc.sha256)
        if (reservations.folder(folder) / f"{run.id}.json").exists():
            return
        for r in self.db.execute("SELECT seq, payload FROM events WHERE kind='run' AND instr(payload, ?) > 0",
                                 (run.id,)):
            if json.loads(r["payload"])["run"]["id"] == run.id:
                numbers = [c.copy_no for c in self.run_copies(run.id)]
                reservations.write(folder, self._key, reservations.Reservation(
                    run_id=run.id, document_id=doc.id, numbers=reservations.ranges(numbers), seq=int(r["seq"])))
                return

    # -- copies ----------------------------------------------------------------------------------
    def set_status(self, ref: str, status: str, note: str = "", operator: str = "") -> Copy:
        """A clerk's status for an issued copy (a `status` event; `operator`: who recorded it)."""
        if status not in CLERK_STATUSES:
            raise BadRequestError(f"unknown status {str(status)!r}")
        status = CopyStatus(status)
        copy = self.find_copy(ref)
        self._refuse_unchangeable(copy)
        payload = {"document_id": copy.document_id, "copy_no": copy.copy_no, "status": str(status), "note": note}
        if operator:
            payload["operator"] = operator
        return self._change_status(copy, "status", payload)

    def void_copy(self, ref: str, reason: str, operator: str = "") -> Copy:
        """Void a copy issued by mistake (a `void` event with the reason): its status becomes `void` for good;
        its number stays taken. Only an issued or returned copy; a reserved one is voided by abandoning its run."""
        if not reason.strip():
            raise BadRequestError("give the reason the copy is void (--reason TEXT); it is kept in the register")
        copy = self.find_copy(ref)
        self._refuse_unchangeable(copy)
        payload = {"document_id": copy.document_id, "copy_no": copy.copy_no, "status": str(CopyStatus.void),
                   "reason": reason, "operator": operator}
        return self._change_status(copy, "void", payload)

    def _refuse_unchangeable(self, copy: Copy) -> None:
        ref = f"{copy.document_id}/{copy.label}"
        if copy.status == CopyStatus.reserved:
            raise BadRequestError(f"copy {ref} was never issued (status reserved); `leakmark log runs` shows its run "
                                  "(`leakmark issue --abandon RUN` voids its unmade copies)")
        if copy.status == CopyStatus.void:
            raise BadRequestError(f"copy {ref} is void; the status of a void copy does not change")
        if copy.status == CopyStatus.destroyed:
            raise BadRequestError(f"copy {ref} is already recorded as destroyed")

    def _change_status(self, copy: Copy, kind: str, payload: dict[str, Any]) -> Copy:
        self._require_document(copy.document_id)
        with self.transaction():
            old = self._rows_of("copies", copy.document_id, [copy.copy_no])
            self._append(kind, payload)
            self.db.execute("UPDATE copies SET status=? WHERE document_id=? AND copy_no=?",
                            (payload["status"], copy.document_id, copy.copy_no))
            self._track("copies", copy.document_id, old, self._rows_of("copies", copy.document_id, [copy.copy_no]))
        return self.find_copy(f"{copy.document_id}/{copy.copy_no}")

    # -- verification ----------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Replay the chain and compare the views, then the checkpoint, the head file, every view digest and
        the vault's reservation records; raise LedgerIntegrityError at the first bad row."""
        with self._snapshot() as load_head:
            rep = verify_register(self.db, self._key, self.ws.head_path, load_head, self.multi_writer)
            verify_anchors(self.db, self._key, self._fingerprint, self.ws.head_path, load_head, self._hasher,
                           self.ws.doc_dir, self.multi_writer)
        return rep

    def verify_against(self, witness_path: Path) -> Witness:
        """The register must contain the state a witness file recorded (call after `verify`)."""
        w = witness.parse(witness_path, self._key, self._fingerprint)
        witness.check(self.db, witness_path, w)
        return w

    def make_witness(self, report: VerifyReport) -> Witness:
        """A witness of the register as `verify` (just called) found it."""
        state = self.check()
        return Witness(count=state.count, head=state.head, key_fingerprint=self._fingerprint, created_at=now_iso(),
                       documents=report.documents, copies=report.copies)
