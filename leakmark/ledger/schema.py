"""The register's tables and their version (`PRAGMA user_version`), with the migrations between versions.

Version 0 is what SQLite reports for a database that never set `user_version`: a new, empty file, or a
register written before the schema was versioned. Migration 1 creates the tables that are missing and
checks that the ones already there have exactly the expected columns, then the version is stamped: a
version-0 register is adopted as it is (no row is rewritten, so its event chain stays valid).

Migration 2 adds what anchors the chain (see checkpoint.py): `meta` (the key's fingerprint), `checkpoint` (one
row: the last authenticated checkpoint) and `digests` (per document and view, a keyed digest of its rows).
It creates them empty (a table already there must have exactly these columns): the first check after it
verifies the whole register once and fills them. No event or view row is touched.

Migration 3 changes no table: it marks that the register may hold the event kinds `void` (a clerk voids a
copy issued by mistake) and `reclassify` (a document's 密级 changed), which an older leakmark's replay does
not know. Such a leakmark then refuses the register as newer than it understands ("upgrade leakmark")
instead of reporting it as altered outside leakmark (and a clerk restoring a backup over real records).

Migration 4 changes no table either: it marks that the register may hold `trace` events (every trace is
recorded), which a leakmark of version 3 would report as an unknown kind, as altered.

Migration 5 changes no table: it marks that the register may hold `account` events (web accounts added,
their roles changed, disabled: `leakmark user`), for the same reason.

A later change of the tables appends a `Migration` to MIGRATIONS; `migrate` applies every pending one
and stamps the new version in one transaction, so a register is never left half migrated. The fast path
(already current) only reads the version and takes no write lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from leakmark.errors import LedgerIntegrityError

TABLES_V1: dict[str, str] = {
    "events": """CREATE TABLE events (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL)""",
    "documents": """CREATE TABLE documents (
    id TEXT PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, title TEXT NOT NULL, level TEXT NOT NULL,
    period TEXT NOT NULL, pages INTEGER NOT NULL, source_name TEXT NOT NULL, kind TEXT NOT NULL,
    dpi INTEGER NOT NULL, created_at TEXT NOT NULL)""",
    "copies": """CREATE TABLE copies (
    document_id TEXT NOT NULL, copy_no INTEGER NOT NULL, recipient TEXT NOT NULL, unit TEXT NOT NULL,
    note TEXT NOT NULL, issued_at TEXT NOT NULL, issued_by TEXT NOT NULL, status TEXT NOT NULL,
    run_id TEXT NOT NULL, settings TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (document_id, copy_no))""",
    "runs": """CREATE TABLE runs (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    state TEXT NOT NULL, options TEXT NOT NULL, copies INTEGER NOT NULL, done INTEGER NOT NULL,
    merge_bytes INTEGER NOT NULL)""",
}
TABLES_V2: dict[str, str] = {
    "meta": """CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    "checkpoint": """CREATE TABLE checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, mac TEXT NOT NULL)""",
    "digests": """CREATE TABLE digests (
    document_id TEXT NOT NULL, part TEXT NOT NULL, rows INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (document_id, part))""",
}
TABLES: dict[str, str] = {**TABLES_V1, **TABLES_V2}  # every table of the current version


@dataclass(frozen=True)
class Migration:
    version: int  # the schema version this migration brings the register to
    summary: str
    apply: Callable[[sqlite3.Connection, Path], None]


def _tables_v1(db: sqlite3.Connection, path: Path) -> None:
    """Create the missing tables; a table that exists must have exactly the expected columns."""
    _ensure_tables(db, path, TABLES_V1)


def _tables_v2(db: sqlite3.Connection, path: Path) -> None:
    """The anchoring tables, empty: the first check fills them after verifying the whole register."""
    _ensure_tables(db, path, TABLES_V2)


def _ensure_tables(db: sqlite3.Connection, path: Path, tables: dict[str, str]) -> None:
    for name, ddl in tables.items():
        have = _columns(db, name)
        if not have:
            db.execute(ddl)
        elif have != _expected_columns(name) or _indexes(db, name) != _expected_indexes(name):
            raise LedgerIntegrityError(
                f"the ledger {path} has a table {name!r} with other columns than a leakmark register "
                f"({', '.join(c[0] for c in have)}); it was not written by this version of leakmark or was "
                "altered: restore it from backup"
            )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables of a new register, or adopt one written before versioning as it is", _tables_v1),
    Migration(2, "key fingerprint, checkpoint and view digests (filled by the first check)", _tables_v2),
    Migration(3, "event kinds void and reclassify (no table changes)", lambda db, path: None),
    Migration(4, "event kind trace (no table changes)", lambda db, path: None),
    Migration(5, "event kind account (no table changes)", lambda db, path: None),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the register to SCHEMA_VERSION in one transaction; returns the version it had before.

    `db` is in autocommit mode (isolation_level=None). SQLite errors (a lock held by another writer)
    propagate for the caller to map; a register newer than this code is refused.
    """
    found = user_version(db)
    if found == SCHEMA_VERSION:
        return found
    _refuse_newer(found, path)
    db.execute("BEGIN IMMEDIATE")
    try:
        found = user_version(db)  # another process may have migrated it while we waited for the lock
        _refuse_newer(found, path)
        for m in MIGRATIONS:
            if m.version > found:
                m.apply(db, path)
        if found != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found


def _refuse_newer(found: int, path: Path) -> None:
    if found > SCHEMA_VERSION:
        raise LedgerIntegrityError(
            f"the ledger {path} has schema version {found}, newer than this leakmark understands "
            f"({SCHEMA_VERSION}); upgrade leakmark to use it"
        )


ColumnInfo = tuple[str, str, int, object, int]  # name, declared type, not null, default, primary-key position


def _columns(db: sqlite3.Connection, table: str) -> list[ColumnInfo]:
    return [(r[1], r[2].upper(), r[3], r[4], r[5]) for r in db.execute(f"PRAGMA table_info({table})")]


def _indexes(db: sqlite3.Connection, table: str) -> list[tuple[str, int, tuple[str, ...]]]:
    """The table's indexes as (origin: pk | u | c, unique, columns), whatever their names."""
    out = []
    for r in db.execute(f"PRAGMA index_list({table})").fetchall():
        cols = tuple(c[2] for c in db.execute(f"PRAGMA index_info({r[1]!r})"))
        out.append((r[3], r[2], cols))
    return sorted(out)


def _expected_columns(table: str) -> list[ColumnInfo]:
    with _scratch(table) as scratch:
        return _columns(scratch, table)


def _expected_indexes(table: str) -> list[tuple[str, int, tuple[str, ...]]]:
    with _scratch(table) as scratch:
        return _indexes(scratch, table)


@contextlib.contextmanager
def _scratch(table: str) -> Iterator[sqlite3.Connection]:
    """An in-memory database with just `table`, as this version creates it."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(TABLES[table])
        yield scratch
    finally:
        scratch.close()
