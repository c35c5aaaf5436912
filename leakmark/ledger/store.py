"""The distribution register in SQLite.

`events` is the source of truth: append-only, hash-chained and authenticated (see chain.py).
`documents`, `runs` and `copies` are materialised views of the events for fast queries; `verify` replays
the events and checks that every view row matches, so editing a recipient in `copies` is caught too.

A run is reserved in one event before any work starts (its copies get status `reserved`), each finished
batch is one `issued` event, and `run_end` closes it (`finished`, or `abandoned`: its unissued copies
become `void`). So every copy number is accounted for whatever happens to the process.
"""

from __future__ import annotations

import contextlib
import functools
import json
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
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    state TEXT NOT NULL, options TEXT NOT NULL, copies INTEGER NOT NULL, done INTEGER NOT NULL,
    merge_bytes INTEGER NOT NULL);
"""

DOC_FIELDS = ("id", "sha256", "title", "level", "period", "pages", "source_name", "kind", "dpi", "created_at")
COPY_FIELDS = ("document_id", "copy_no", "recipient", "unit", "note", "issued_at", "issued_by", "status",
               "run_id", "settings", "version", "path")
RUN_FIELDS = ("id", "document_id", "created_at", "created_by", "state", "options", "copies", "done", "merge_bytes")
STATUSES = ("issued", "returned", "destroyed")  # what a clerk may set; `reserved` and `void` belong to runs


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
        """Read only: the parsed dict is shared by every copy with the same settings (a run's copies)."""
        return _parsed_settings(self.settings)


@functools.lru_cache(maxsize=1024)
def _parsed_settings(settings: str) -> dict:
    # trace asks every copy, per page and layer, which layers it carries: 100,000 copies of one run share
    # one settings string, so parse it once, not a million times
    return json.loads(settings)


@dataclass(frozen=True)
class Run:
    id: str
    document_id: str
    created_at: str
    created_by: str
    state: str  # open | finished | abandoned
    options: str  # JSON: output folder or merged file, marking settings, what a resume needs
    copies: int
    done: int
    merge_bytes: int  # bytes of the merged file's .part that belong to issued copies

    @property
    def options_dict(self) -> dict:
        return json.loads(self.options)


@dataclass(frozen=True)
class Planned:
    """A copy to reserve: who gets it and which number (None: next free)."""
    recipient: str
    unit: str = ""
    note: str = ""
    copy_no: int | None = None


@dataclass(frozen=True)
class VerifyReport:
    events: int
    documents: int
    copies: int
    runs: int = 0


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
                           issued_at="", issued_by=run.created_by, status="reserved", run_id=run.id,
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
        if state not in ("finished", "abandoned"):
            raise ValueError(state)
        run = self.run(run_id)
        if run.state != "open":
            raise BadRequestError(f"run {run_id} is already {run.state}")
        with self.transaction():
            self._append("run_end", {"run_id": run_id, "document_id": run.document_id, "state": state, "note": note})
            self.db.execute("UPDATE runs SET state=? WHERE id=?", (state, run_id))
            if state == "abandoned":
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
        return Run(**{k: row[k] for k in RUN_FIELDS})

    def runs(self) -> list[Run]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY created_at, rowid").fetchall()
        return [Run(**{k: r[k] for k in RUN_FIELDS}) for r in rows]

    def run_copies(self, run_id: str) -> list[Copy]:
        rows = self.db.execute("SELECT * FROM copies WHERE run_id=? ORDER BY copy_no", (run_id,)).fetchall()
        return [Copy(**{k: r[k] for k in COPY_FIELDS}) for r in rows]

    # -- copies ----------------------------------------------------------------------------------
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
        if copy.status in ("reserved", "void"):
            raise BadRequestError(f"copy {copy.document_id}/{copy.label} was never issued (status {copy.status}); "
                                  "`leakmark log runs` shows its run")
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
        def bad(msg: str) -> LedgerIntegrityError:
            return LedgerIntegrityError(f"ledger verification FAILED: {msg}. The register has been altered "
                                        "outside leakmark; restore it from backup and investigate")

        prev, expect_seq = GENESIS, 1
        docs: dict[str, dict] = {}
        runs: dict[str, dict] = {}
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
            elif kind == "run":
                runs[payload["run"]["id"]] = dict(payload["run"])
                for c in payload["copies"]:
                    copies[(c["document_id"], c["copy_no"])] = dict(c)
            elif kind == "issued":
                run = runs.get(payload["run_id"])
                if run is None:
                    raise bad(f"event {seq} issues copies of a run that was never reserved")
                for n, path in payload["copies"]:
                    c = copies.get((run["document_id"], n))
                    if c is None or c["run_id"] != run["id"] or c["status"] != "reserved":
                        raise bad(f"event {seq} issues copy {format_copy_no(n)}, which its run did not reserve")
                    c.update(status="issued", issued_at=payload["issued_at"], path=path)
                run["done"] += len(payload["copies"])
                run["merge_bytes"] = payload["merge_bytes"]
            elif kind == "run_end":
                run = runs.get(payload["run_id"])
                if run is None:
                    raise bad(f"event {seq} ends a run that was never reserved")
                run["state"] = payload["state"]
                if payload["state"] == "abandoned":
                    for c in copies.values():
                        if c["run_id"] == run["id"] and c["status"] == "reserved":
                            c["status"] = "void"
            else:
                raise bad(f"event {seq} has an unknown kind {kind!r}")
            prev, expect_seq = digest, seq + 1
        self._verify_head(expect_seq - 1, prev, bad)
        view = self.db.execute
        _compare(bad, "documents", "registration", {r["id"]: dict(r) for r in view("SELECT * FROM documents")},
                 docs, DOC_FIELDS, str)
        _compare(bad, "runs", "run", {r["id"]: dict(r) for r in view("SELECT * FROM runs")}, runs, RUN_FIELDS, str)
        crows = {(r["document_id"], r["copy_no"]): dict(r) for r in view("SELECT * FROM copies")}
        _compare(bad, "copies", "issue", crows, copies, COPY_FIELDS, lambda k: f"{k[0]}/{format_copy_no(k[1])}")
        return VerifyReport(events=expect_seq - 1, documents=len(docs), copies=len(copies), runs=len(runs))

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


def _compare(bad: Any, table: str, event: str, rows: dict, replayed: dict, fields: tuple[str, ...],
             name: Any) -> None:
    """Every row of a view must be what the replayed events say, and nothing more or less."""
    for key in sorted(set(rows) | set(replayed)):
        label = f"{table} row {name(key)}"
        if key not in replayed:
            raise bad(f"{label} has no {event} event: it was inserted")
        if key not in rows:
            raise bad(f"{label} was deleted")
        for k in fields:
            if rows[key][k] != replayed[key][k]:
                raise bad(f"{label}: {k} is {rows[key][k]!r} but the event log says {replayed[key][k]!r}")
