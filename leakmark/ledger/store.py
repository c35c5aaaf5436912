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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from leakmark._io import private_create
from leakmark.errors import (
    BadRequestError,
    LedgerIntegrityError,
    NotFoundError,
    OutputError,
    WorkspaceLockedError,
    WrongKeyError,
)
from leakmark.ledger import checkpoint, reservations, witness
from leakmark.ledger.chain import GENESIS, event_hash, event_mac
from leakmark.ledger.checkpoint import Checkpoint, Head, RegisterLock, RegisterState, RowHasher
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
from leakmark.ledger.verify import verify_anchors, verify_register
from leakmark.ledger.witness import Witness
from leakmark.workspace import Workspace

__all__ = ["Copy", "Document", "Ledger", "Planned", "Run", "VerifyReport", "format_copy_no", "now_iso"]


class Ledger:
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
        private_create(workspace.ledger_path)  # 0600 before SQLite makes it; its -wal and -shm take its mode
        try:
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
            return self._locked()
        if "full" in str(exc) or "disk I/O" in str(exc):  # SQLITE_FULL, SQLITE_IOERR: nothing was committed
            return OutputError(
                f"cannot write the ledger {self.ws.ledger_path} ({exc}); free space on that disk and run the "
                "command again: the register is unchanged (an interrupted issue run: `leakmark issue --resume "
                "last`)"
            )
        return exc

    def _locked(self) -> WorkspaceLockedError:
        return WorkspaceLockedError(
            f"the ledger {self.ws.ledger_path} is locked by another leakmark process; wait for it to "
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

    # -- the anchored chain (checkpoint.py) ------------------------------------------------------
    def _check_key(self) -> None:
        """The key must be the one the register was written with (exit 5), checked before anything is written.
        A register that records no fingerprint yet (written before this check) must have events that verify
        with it; it adopts the fingerprint once it has verified in full (`_bootstrap`)."""
        expected = checkpoint.recorded_fingerprint(self.db)
        if expected is not None:
            if expected != self._fingerprint:
                raise WrongKeyError(
                    f"the key at {self.ws.key_path} is not the key this register was written with (fingerprint "
                    f"{self._fingerprint}, register expects {expected}): restore the right key from backup")
        elif checkpoint.any_event_verifies(self.db, self._key) is False:
            raise WrongKeyError(
                f"the key at {self.ws.key_path} is not the key this register was written with (fingerprint "
                f"{self._fingerprint}: none of the register's events verifies with it): restore the right key "
                "from backup")

    def _reset_pending(self) -> None:
        self._changes: dict[tuple[str, str], list[int]] = {}  # (document, part) -> [rows added, hash sum added]
        self._numbers: dict[str, int] = {}  # highest copy number reserved in this transaction, per document
        self._pending_reservations: list[tuple[Path, reservations.Reservation]] = []
        self._boot: tuple[dict[str, int], int] | None = None  # a bootstrap in this transaction: (numbers, prev)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Callable[[], Head | None]]:
        """A consistent read of the database and the head file. Under the shared lock (no writer is between
        its COMMIT and its head file) the read transaction's snapshot is fixed and the head file read; the lock
        is released at once, the snapshot lasts until the block ends. Inside a write transaction the
        connection holds the write lock already. Yields what `check_chain` takes to load the head file."""
        if self.db.in_transaction:
            yield lambda: checkpoint.read_head(self.ws.head_path, self._key)
            return
        head: Head | None = None
        error: LedgerIntegrityError | None = None
        self._lock.acquire(exclusive=False)
        try:
            self.db.execute("BEGIN")
            self.db.execute("SELECT seq FROM events LIMIT 1").fetchall()  # WAL: this first read fixes the snapshot
            try:
                head = checkpoint.read_head(self.ws.head_path, self._key)
            except LedgerIntegrityError as exc:
                error = exc
        finally:
            self._lock.release()

        def load() -> Head | None:
            if error is not None:
                raise error
            return head

        try:
            yield load
        finally:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")  # it only read

    def _chain(self, load_head: Callable[[], Head | None]) -> Checkpoint | None:
        """The incremental check (inside a snapshot or a write transaction); skipped when the checkpoint is the
        one this connection checked or wrote last."""
        row = self.db.execute("SELECT mac FROM checkpoint WHERE id=1").fetchone()
        if self._cp is not None and row is not None and row[0] == self._cp_mac:
            return self._cp
        cp = checkpoint.check_chain(self.db, self._key, self._fingerprint, self.ws.head_path, load_head)
        self._cp, self._cp_mac = cp, (cp.mac(self._key) if cp else "")
        return cp

    def _guard(self) -> None:
        """Before a write (inside the transaction): the chain since the last checkpoint; a register without
        a checkpoint yet is verified in full once and gets one."""
        load_head = lambda: checkpoint.read_head(self.ws.head_path, self._key)  # noqa: E731
        self._cp = None  # always re-check under the write lock
        cp = self._chain(load_head)
        if cp is None:
            self._bootstrap(load_head)
            return
        head = load_head()
        if cp.seq and (head is None or head.seq != cp.seq):  # one transaction behind (checked): bring it level
            checkpoint.write_head(self.ws.head_path, self._key, cp)

    def _bootstrap(self, load_head: Callable[[], Head | None]) -> None:
        """A register written before checkpoints (or a new one): verify it in full, adopt the key's fingerprint,
        compute every view digest; `_seal` writes the first checkpoint."""
        verify_register(self.db, self._key, self.ws.head_path, load_head)
        verify_anchors(self.db, self._key, self._fingerprint, self.ws.head_path, load_head, self._hasher,
                       self.ws.doc_dir)
        checkpoint.store_digests(self.db, checkpoint.compute_digests(self.db, self._hasher), replace_all=True)
        self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('key_fingerprint', ?)",
                        (self._fingerprint,))
        head = load_head()
        row = self.db.execute("SELECT MAX(seq) FROM events").fetchone()
        self._boot = (checkpoint.highest_numbers(self.db), head.seq if head is not None else int(row[0] or 0))

    def _seal(self) -> Checkpoint:
        """Apply the transaction's row changes to the digests and write the new checkpoint (before COMMIT)."""
        if self._changes:
            stored = checkpoint.load_digests(self.db)
            changed: checkpoint.Digests = {}
            for k, (dn, ds) in self._changes.items():
                n, s = stored.get(k, (0, 0))
                changed[k] = (n + dn, (s + ds) % checkpoint.MOD)
            checkpoint.store_digests(self.db, changed)
        base, prev_seq = (self._boot if self._boot is not None
                          else ((self._cp.numbers if self._cp else {}), self._cp.prev if self._cp else 0))
        numbers = dict(base)
        for doc, n in self._numbers.items():
            numbers[doc] = max(numbers.get(doc, 0), n)
        return checkpoint.new_checkpoint(self.db, self._key, self._fingerprint,
                                         None if self._boot is not None else self._cp, prev_seq, numbers, now_iso())

    def _rows(self, part: str, where: str, args: tuple = ()) -> list[tuple]:
        return [tuple(r) for r in self.db.execute(checkpoint.select(part, where), args)]

    def _rows_of(self, part: str, doc_id: str, numbers: list[int]) -> list[tuple]:
        out: list[tuple] = []
        for i in range(0, len(numbers), 500):
            chunk = numbers[i:i + 500]
            out += self._rows(part, f"document_id=? AND copy_no IN ({','.join('?' * len(chunk))})", (doc_id, *chunk))
        return out

    def _track(self, part: str, doc_id: str, old: list[tuple], new: list[tuple]) -> None:
        """Record a change of view rows (inside a transaction) for the digests `_seal` writes."""
        d = self._changes.setdefault((doc_id, part), [0, 0])
        d[0] += len(new) - len(old)
        d[1] += sum(self._hasher.row(part, r) for r in new) - sum(self._hasher.row(part, r) for r in old)

    def _refusal(self, exc: LedgerIntegrityError, write: bool) -> LedgerIntegrityError:
        what = "Nothing was written" if write else "Nothing is named, listed or exported from it"
        advice = ("restore ledger.sqlite and ledger.head from your latest backup (`leakmark log verify` says "
                  "exactly what is wrong)")
        return LedgerIntegrityError(
            f"the register failed verification: {exc.problem}. {what}: {advice}"
            + ("" if write else ", or pass --trust-register to see what it says anyway"), problem=exc.problem)

    def _fail(self, exc: LedgerIntegrityError) -> None:
        """A check of a read failed: refuse (exit 7), or with trust note it in `state` and go on unchecked."""
        if not self._trust:
            raise self._refusal(exc, write=self._for_write) from None
        if self.state is None or self.state.verified:
            row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            self.state = RegisterState(count=int(row[0]) if row else 0, head=str(row[1]) if row else GENESIS,
                                       verified=False, problem=exc.problem)

    @property
    def _verifying(self) -> bool:
        return self._checked and self.state is not None and self.state.verified

    def check(self, trust: bool = False, *, for_write: bool = False) -> RegisterState:
        """Before a command reads: the incremental check (chain since the last checkpoint, checkpoint, head
        file, digests table, every documents and runs row); afterwards every read of copies is compared with
        its document's digest and the vault's reservations. LedgerIntegrityError (exit 7) when it fails,
        unless `trust`: then `state.verified` is False and reads go on unchecked. `for_write`: the command
        goes on to write (its refusal says that nothing was written; it cannot be trusted)."""
        self._trust, self._checked, self._for_write = trust and not for_write, True, for_write
        try:
            with self._snapshot() as load_head:
                cp = self._chain(load_head)
            if cp is None:  # written before checkpoints: verified in full once, then it has one
                with self._transaction(refuse=False):
                    pass
            with self._snapshot() as load_head:
                cp = self._chain(load_head)
                if cp is None:
                    raise checkpoint.problem("the register has no checkpoint")
                digests = checkpoint.load_digests(self.db)
                checkpoint.check_rows(self.db, self._hasher, digests, "document")
                checkpoint.check_rows(self.db, self._hasher, digests, "runs")
            self.state = RegisterState(count=cp.seq, head=cp.hash, verified=True)
        except LedgerIntegrityError as exc:
            self._fail(exc)
        assert self.state is not None
        return self.state

    def check_copies(self) -> None:
        """After `check()`: every document's copies against its digest (what `copies()` checks per document)."""
        if self._verifying:
            self.copies()

    def _document_problem(self, doc_id: str, rows: list[tuple]) -> None:
        """The copies rows of one document (as read in this snapshot) against its digest, and the vault's
        reservation records of the document against its runs."""
        rec = self.db.execute("SELECT rows, digest FROM digests WHERE document_id=? AND part='copies'",
                              (doc_id,)).fetchone()
        try:
            recorded = (int(rec[0]), int(rec[1], 16)) if rec else None
        except (TypeError, ValueError):
            raise checkpoint.problem(f"the digests row of document {doc_id} (copies) is unreadable") from None
        checkpoint.compare_part(doc_id, "copies", self._hasher.total("copies", rows), recorded)
        doc = self.db.execute("SELECT sha256 FROM documents WHERE id=?", (doc_id,)).fetchone()
        if doc is not None:
            runs = {r[0]: r[1] for r in self.db.execute("SELECT id, document_id FROM runs WHERE document_id=?",
                                                           (doc_id,))}
            reservations.check_against(reservations.read_all(self.ws.doc_dir(doc[0]), self._key), runs)

    def _checked_copies(self, where: str, args: tuple, docs: list[str] | None) -> list[sqlite3.Row]:
        """Copies rows read in one snapshot with the chain check, each document's compared with its digest
        (`docs`: the documents the query covers; None: every document)."""
        with self._snapshot() as load_head:
            rows = self.db.execute(f"SELECT * FROM copies {where}", args).fetchall()
            try:
                if self._chain(load_head) is None:
                    raise checkpoint.problem("the register has no checkpoint")
                by_doc: dict[str, list[tuple]] = {d: [] for d in docs or ()}
                for r in rows:
                    by_doc.setdefault(r["document_id"], []).append(tuple(r))
                if docs is None:
                    by_doc.update({d: [] for (d, p) in checkpoint.load_digests(self.db)
                                   if p == "copies" and d not in by_doc})
                for doc_id, doc_rows in sorted(by_doc.items()):
                    if doc_id not in self._verified_docs:
                        self._document_problem(doc_id, doc_rows)
                        self._verified_docs.add(doc_id)
            except LedgerIntegrityError as exc:
                self._fail(exc)
        return rows

    def _require_document(self, doc_id: str) -> None:
        """Before a write that touches a document's copies: its rows against its digest (nothing is written
        from rows that fail, whatever `trust` says)."""
        if doc_id in self._verified_docs:
            return
        try:
            for attempt in range(2):
                with self._snapshot() as load_head:
                    if self._chain(load_head) is not None:
                        self._document_problem(doc_id, self._rows("copies", "document_id=?", (doc_id,)))
                        break
                if attempt or self.db.in_transaction:
                    raise checkpoint.problem("the register has no checkpoint")
                with self._transaction(refuse=False):  # written before checkpoints: verified in full once
                    pass
        except LedgerIntegrityError as exc:
            raise self._refusal(exc, write=True) from None
        self._verified_docs.add(doc_id)

    def _rollback(self) -> None:
        """ROLLBACK if a transaction is still open (SQLite ends one itself after some errors, e.g. a full disk)."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

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
        if self._verifying:
            for d in sorted({r["document_id"] for r in rows}):
                self.copies(d)
        return [copy_from_row(r) for r in rows]

    # -- copies ----------------------------------------------------------------------------------
    def copies(self, doc_id: str | None = None) -> list[Copy]:
        """A document's copies (every copy: None), in copy order; after `check()` compared with the digests."""
        args: tuple = ()
        if doc_id is None:
            where = "ORDER BY document_id, copy_no"
        else:
            where, args = "WHERE document_id=? ORDER BY copy_no", (doc_id,)
        if self._verifying:
            rows = self._checked_copies(where, args, None if doc_id is None else [doc_id])
        else:
            rows = self.db.execute(f"SELECT * FROM copies {where}", args).fetchall()
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
        if self._verifying and rows[0]["document_id"] not in self._verified_docs:
            return next(c for c in self.copies(rows[0]["document_id"]) if c.copy_no == copy_no)
        return copy_from_row(rows[0])

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

    def history(self, copy: Copy) -> list[dict[str, Any]]:
        out = []
        for r in self.db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events WHERE kind IN "
                                 "('issue','status','void','run','issued','run_end') ORDER BY seq").fetchall():
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

    # -- verification ----------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Replay the chain and compare the views, then the checkpoint, the head file, every view digest and
        the vault's reservation records; raise LedgerIntegrityError at the first bad row."""
        with self._snapshot() as load_head:
            rep = verify_register(self.db, self._key, self.ws.head_path, load_head)
            verify_anchors(self.db, self._key, self._fingerprint, self.ws.head_path, load_head, self._hasher,
                           self.ws.doc_dir)
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
