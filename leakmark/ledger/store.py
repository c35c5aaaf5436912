"""The distribution register in SQLite.

`events` is the source of truth: append-only, hash-chained and authenticated (see chain.py).
`documents` and `copies` are materialised views of the events for fast queries; `verify` replays the
events and checks that every view row matches, so editing a recipient in `copies` is caught too.
`reservations` is scratch space outside the chain: copy numbers held by runs in progress, so two
concurrent `issue` runs never mark two copies with the same 份号.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leakmark._io import atomic_write_bytes
from leakmark.errors import BadRequestError, LedgerIntegrityError, NotFoundError, WorkspaceLockedError
from leakmark.ledger.chain import GENESIS, event_hash, event_mac, head_mac
from leakmark.workspace import Workspace

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, title TEXT NOT NULL, level TEXT NOT NULL,
    period TEXT NOT NULL, pages INTEGER NOT NULL, source_name TEXT NOT NULL, kind TEXT NOT NULL,
    dpi INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS copies (
    document_id TEXT NOT NULL, copy_no INTEGER NOT NULL, recipient TEXT NOT NULL, unit TEXT NOT NULL,
    note TEXT NOT NULL, issued_at TEXT NOT NULL, issued_by TEXT NOT NULL, status TEXT NOT NULL,
    run_id TEXT NOT NULL, settings TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (document_id, copy_no));
CREATE TABLE IF NOT EXISTS reservations (
    document_id TEXT NOT NULL, copy_no INTEGER NOT NULL, run_id TEXT NOT NULL, pid INTEGER NOT NULL,
    host TEXT NOT NULL, PRIMARY KEY (document_id, copy_no));
"""

DOC_FIELDS = ("id", "sha256", "title", "level", "period", "pages", "source_name", "kind", "dpi", "created_at")
COPY_FIELDS = ("document_id", "copy_no", "recipient", "unit", "note", "issued_at", "issued_by", "status",
               "run_id", "settings", "version", "path")
STATUSES = ("issued", "returned", "destroyed")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def format_copy_no(n: int) -> str:
    return f"{n:06d}"


@dataclass(frozen=True)
class Document:
    id: str
    sha256: str
    title: str
    level: str
    period: str
    pages: int
    source_name: str
    kind: str  # "pdf" or "images"
    dpi: int
    created_at: str


@dataclass(frozen=True)
class Copy:
    document_id: str
    copy_no: int
    recipient: str
    unit: str
    note: str
    issued_at: str
    issued_by: str
    status: str
    run_id: str
    settings: str
    version: str
    path: str

    @property
    def label(self) -> str:
        return format_copy_no(self.copy_no)

    @property
    def settings_dict(self) -> dict:
        return json.loads(self.settings)


@dataclass(frozen=True)
class VerifyReport:
    events: int
    documents: int
    copies: int


class Ledger:
    """Queries and transactions on the workspace's register. Open one per operation."""

    def __init__(self, workspace: Workspace, timeout: float = 30.0) -> None:
        self.ws = workspace
        self._key = workspace.key()
        try:
            self.db = sqlite3.connect(workspace.ledger_path, timeout=timeout, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
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
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.db.execute("ROLLBACK")
            raise self._map_error(exc) from exc
        self._write_head()

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
        return Document(**{k: row[k] for k in DOC_FIELDS}) if row else None

    def document(self, doc_id: str) -> Document:
        row = self.db.execute("SELECT * FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id!r} in the ledger; `leakmark log list` shows them")
        return Document(**{k: row[k] for k in DOC_FIELDS})

    def documents(self) -> list[Document]:
        rows = self.db.execute("SELECT * FROM documents ORDER BY created_at, id").fetchall()
        return [Document(**{k: r[k] for k in DOC_FIELDS}) for r in rows]

    def register_document(self, doc: Document) -> None:
        with self.transaction():
            self._insert_document(doc)

    def _insert_document(self, doc: Document) -> None:
        values = {k: getattr(doc, k) for k in DOC_FIELDS}
        self._append("document", values, ts=doc.created_at)
        self.db.execute(f"INSERT INTO documents ({','.join(DOC_FIELDS)}) VALUES ({','.join('?' * len(DOC_FIELDS))})",
                        tuple(values.values()))

    # -- reservations ----------------------------------------------------------------------------
    def reserve(self, doc_id: str, run_id: str, count: int, wanted: list[int | None]) -> list[int]:
        """Hold copy numbers for a run: explicit ones from `wanted`, the rest sequential after the max."""
        host, pid = socket.gethostname(), os.getpid()
        with self.transaction():
            for r in self.db.execute("SELECT DISTINCT pid, host FROM reservations").fetchall():
                if r["host"] == host and not _pid_alive(r["pid"]):  # a crashed run's numbers are free again
                    self.db.execute("DELETE FROM reservations WHERE pid=? AND host=?", (r["pid"], host))
            taken = {r[0] for r in self.db.execute(
                "SELECT copy_no FROM copies WHERE document_id=? UNION SELECT copy_no FROM reservations "
                "WHERE document_id=?", (doc_id, doc_id))}
            explicit = [w for w in wanted if w is not None]
            clash = sorted(set(explicit) & taken)
            if clash:
                raise BadRequestError(f"copy number {format_copy_no(clash[0])} of document {doc_id} is already "
                                      "issued or being issued; leave copy_no empty to number copies automatically")
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
            self.db.executemany(
                "INSERT INTO reservations (document_id, copy_no, run_id, pid, host) VALUES (?,?,?,?,?)",
                [(doc_id, n, run_id, pid, host) for n in numbers])
        return numbers

    def release(self, run_id: str) -> None:
        try:
            self.db.execute("DELETE FROM reservations WHERE run_id=?", (run_id,))
        except sqlite3.OperationalError:
            pass  # a stale reservation is cleaned by the next run (its pid is gone)

    # -- copies ----------------------------------------------------------------------------------
    def record_run(self, doc: Document, new_document: bool, copies: list[Copy]) -> None:
        """Write a finished run in one transaction: the document (if new), every copy, release numbers."""
        with self.transaction():
            if new_document:
                if self.document_by_sha(doc.sha256) is None:
                    self._insert_document(doc)
            for c in copies:
                values = {k: getattr(c, k) for k in COPY_FIELDS}
                self._append("issue", values, ts=c.issued_at)
                self.db.execute(f"INSERT INTO copies ({','.join(COPY_FIELDS)}) VALUES "
                                f"({','.join('?' * len(COPY_FIELDS))})", tuple(values.values()))
            if copies:
                self.db.execute("DELETE FROM reservations WHERE run_id=?", (copies[0].run_id,))

    def copies(self, doc_id: str | None = None) -> list[Copy]:
        if doc_id is None:
            rows = self.db.execute("SELECT * FROM copies ORDER BY document_id, copy_no").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM copies WHERE document_id=? ORDER BY copy_no", (doc_id,)).fetchall()
        return [Copy(**{k: r[k] for k in COPY_FIELDS}) for r in rows]

    def find_copy(self, ref: str) -> Copy:
        """`DOCID/000123` or a bare `000123` / `123` when only one document has that number."""
        doc_id, _, num = ref.rpartition("/")
        try:
            copy_no = int(num)
        except ValueError:
            raise NotFoundError(f"{ref!r} is not a copy reference; write DOCUMENT/COPY, e.g. D1a2b3c4d5/000012") \
                from None
        sql, args = "SELECT * FROM copies WHERE copy_no=?", [copy_no]
        if doc_id:
            sql, args = sql + " AND document_id=?", [copy_no, doc_id]
        rows = self.db.execute(sql, args).fetchall()
        if not rows:
            raise NotFoundError(f"no issued copy {ref!r} in the ledger; `leakmark log list` shows the copies")
        if len(rows) > 1:
            docs = ", ".join(r["document_id"] for r in rows)
            raise NotFoundError(f"copy {format_copy_no(copy_no)} exists in several documents ({docs}); "
                                f"write DOCUMENT/{format_copy_no(copy_no)}")
        return Copy(**{k: rows[0][k] for k in COPY_FIELDS})

    def set_status(self, ref: str, status: str, note: str = "") -> Copy:
        if status not in STATUSES:
            raise BadRequestError(f"unknown status {status!r}")
        copy = self.find_copy(ref)
        if copy.status == "destroyed":
            raise BadRequestError(f"copy {copy.document_id}/{copy.label} is already recorded as destroyed")
        with self.transaction():
            payload = {"document_id": copy.document_id, "copy_no": copy.copy_no, "status": status, "note": note}
            self._append("status", payload)
            self.db.execute("UPDATE copies SET status=? WHERE document_id=? AND copy_no=?",
                            (status, copy.document_id, copy.copy_no))
        return self.find_copy(f"{copy.document_id}/{copy.copy_no}")

    def history(self, copy: Copy) -> list[dict[str, Any]]:
        out = []
        for r in self.db.execute("SELECT seq, ts, kind, payload FROM events WHERE kind IN ('issue','status') "
                                 "ORDER BY seq").fetchall():
            p = json.loads(r["payload"])
            if p.get("document_id") == copy.document_id and p.get("copy_no") == copy.copy_no:
                out.append({"seq": r["seq"], "ts": r["ts"], "kind": r["kind"],
                            "status": p.get("status", "issued"), "note": p.get("note", "")})
        return out

    # -- verification ----------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Replay the chain and compare the views; raise LedgerIntegrityError at the first bad row."""
        def bad(msg: str) -> LedgerIntegrityError:
            return LedgerIntegrityError(f"ledger verification FAILED: {msg}. The register has been altered "
                                        "outside leakmark; restore it from backup and investigate")

        prev, expect_seq = GENESIS, 1
        docs: dict[str, dict] = {}
        copies: dict[tuple[str, int], dict] = {}
        for r in self.db.execute("SELECT * FROM events ORDER BY seq"):
            seq = r["seq"]
            if seq != expect_seq:
                raise bad(f"event {expect_seq} is missing (next row is event {seq}): a row was deleted")
            try:
                payload = json.loads(r["payload"])
            except ValueError:
                raise bad(f"event {seq} has an unreadable payload") from None
            if r["prev_hash"] != prev:
                raise bad(f"event {seq} does not follow event {seq - 1}: rows were inserted or reordered")
            digest = event_hash(prev, seq, r["ts"], r["kind"], payload)
            if digest != r["hash"] or event_mac(self._key, digest) != r["mac"]:
                raise bad(f"event {seq} ({r['kind']}) was edited")
            kind = r["kind"]
            if kind == "document":
                docs[payload["id"]] = payload
            elif kind == "issue":
                copies[(payload["document_id"], payload["copy_no"])] = dict(payload)
            elif kind == "status":
                key = (payload["document_id"], payload["copy_no"])
                if key not in copies:
                    raise bad(f"event {seq} changes the status of a copy that was never issued")
                copies[key]["status"] = payload["status"]
            else:
                raise bad(f"event {seq} has an unknown kind {kind!r}")
            prev, expect_seq = digest, seq + 1
        self._verify_head(expect_seq - 1, prev, bad)
        rows = {r["id"]: dict(r) for r in self.db.execute("SELECT * FROM documents")}
        for doc_id in sorted(set(rows) | set(docs)):
            if doc_id not in docs:
                raise bad(f"documents row {doc_id} has no registration event: it was inserted")
            if doc_id not in rows:
                raise bad(f"documents row {doc_id} was deleted")
            for k in DOC_FIELDS:
                if rows[doc_id][k] != docs[doc_id][k]:
                    raise bad(f"documents row {doc_id}: {k} is {rows[doc_id][k]!r} but the event log says "
                              f"{docs[doc_id][k]!r}")
        crows = {(r["document_id"], r["copy_no"]): dict(r) for r in self.db.execute("SELECT * FROM copies")}
        for key in sorted(set(crows) | set(copies)):
            name = f"copies row {key[0]}/{format_copy_no(key[1])}"
            if key not in copies:
                raise bad(f"{name} has no issue event: it was inserted")
            if key not in crows:
                raise bad(f"{name} was deleted")
            for k in COPY_FIELDS:
                if crows[key][k] != copies[key][k]:
                    raise bad(f"{name}: {k} is {crows[key][k]!r} but the event log says {copies[key][k]!r}")
        return VerifyReport(events=expect_seq - 1, documents=len(docs), copies=len(copies))

    def _verify_head(self, last_seq: int, last_hash: str, bad: Any) -> None:
        if not self.ws.head_path.exists():
            if last_seq:
                raise bad(f"the head file {self.ws.head_path} is missing")
            return
        try:
            head = json.loads(self.ws.head_path.read_text())
            seq, digest, mac = int(head["seq"]), str(head["hash"]), str(head["mac"])
        except (OSError, ValueError, KeyError, TypeError):
            raise bad(f"the head file {self.ws.head_path} is unreadable") from None
        if head_mac(self._key, seq, digest) != mac:
            raise bad(f"the head file {self.ws.head_path} was edited")
        if seq > last_seq:
            raise bad(f"the ledger ends at event {last_seq} but event {seq} was written: rows were deleted")
        row = self.db.execute("SELECT hash FROM events WHERE seq=?", (seq,)).fetchone()
        if row is None or row["hash"] != digest:
            raise bad(f"event {seq} differs from the one recorded in the head file")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
