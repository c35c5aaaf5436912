"""The anchored chain's checks, as the Ledger runs them (a mixin of `store.Ledger`): the key check on
opening, the incremental check before every write and every read (`check`), the digests of the view rows,
the checkpoint a transaction seals, and the refusal of a register that fails (exit 7)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from leakmark.errors import (
    LedgerIntegrityError,
    WrongKeyError,
)
from leakmark.ledger import checkpoint, reservations
from leakmark.ledger.chain import GENESIS, event_hash, event_mac
from leakmark.ledger.checkpoint import Checkpoint, Head, RegisterLock, RegisterState, RowHasher
from leakmark.ledger.models import (
    Copy,
    now_iso,
)
from leakmark.ledger.verify import verify_anchors, verify_register
from leakmark.workspace import Workspace


class ChainGuard:
    """State and checks of the anchored chain; `store.Ledger` sets the attributes and provides the rest."""

    db: sqlite3.Connection
    ws: Workspace
    _key: bytes
    _fingerprint: str
    _hasher: RowHasher
    _lock: RegisterLock
    _cp: Checkpoint | None
    _cp_mac: str
    _checked: bool
    _trust: bool
    _for_write: bool
    state: RegisterState | None
    _verified_docs: set[str]
    multi_writer: bool

    def _transaction(self, refuse: bool) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def copies(self, doc_id: str | None = None) -> list[Copy]:
        raise NotImplementedError

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
        cp = checkpoint.check_chain(self.db, self._key, self._fingerprint, self.ws.head_path, load_head,
                                    self.multi_writer)
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
        verify_register(self.db, self._key, self.ws.head_path, load_head, self.multi_writer)
        verify_anchors(self.db, self._key, self._fingerprint, self.ws.head_path, load_head, self._hasher,
                       self.ws.doc_dir, self.multi_writer)
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
        kept = ("the PostgreSQL register and this workstation's head file" if self.multi_writer
                else "ledger.sqlite and ledger.head")
        advice = f"restore {kept} from your latest backup (`leakmark log verify` says exactly what is wrong)"
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

    def _events_of(self, kind: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(seq, ts, payload) of every event of one kind, oldest first; after `check()` each is checked against
        its hash and HMAC (a record read alone, as the history reads do)."""
        for r in self.db.execute("SELECT seq, ts, kind, payload, prev_hash, hash, mac FROM events WHERE kind=? "
                                 "ORDER BY seq", (kind,)).fetchall():
            p = json.loads(r["payload"])
            if self._verifying and (event_hash(r["prev_hash"], r["seq"], r["ts"], r["kind"], p) != r["hash"]
                                    or event_mac(self._key, r["hash"]) != r["mac"]):
                self._fail(checkpoint.problem(f"event {r['seq']} ({kind}) was edited"))
            yield int(r["seq"]), str(r["ts"]), p

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

