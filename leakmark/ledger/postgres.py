"""The register on PostgreSQL (psycopg 3), for offices whose several servers or workstations share one
register: the same tables, events, hash chain, checkpoints and verification as the SQLite register.

The ledger's code speaks SQLite's dialect through one connection object; `PgConnection` gives it the same
surface (execute / executemany / in_transaction / close; rows readable by index and by name) and translates
the few SQLite forms it uses: `?` parameters, `INSERT OR REPLACE` (an upsert on the table's key), `instr`,
`rowid` (runs are ordered by id instead), `BEGIN IMMEDIATE`. Errors come back as sqlite3's classes (a lock
timeout as "database is locked"), so `store.Ledger` maps them to the same typed errors.

Writers take turns with a PostgreSQL advisory lock (`PgLock`, held from BEGIN until the head file is written,
as the flock of `checkpoint.RegisterLock` is for SQLite) and every transaction reads one snapshot (REPEATABLE
READ). The schema's version is kept in `leakmark_schema`. Each workstation keeps its own head file
(``HOME/register-<id>.head``): with several writers it lags behind the register, so it is checked to be
*contained* in the register (the event it records is still there, unchanged), which still detects a register
rolled back to before what this workstation saw.

Set the register with ``--register postgresql://USER@HOST:PORT/DB`` (or `LEAKMARK_REGISTER`, or the
workspace config's "register"); every workstation needs the same workspace key.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from leakmark.errors import BadRequestError

SCHEMA_VERSION = 5  # the SQLite register's migrations this schema matches (schema.SCHEMA_VERSION)
_NUMBERS = ("copy_no", "seq", "pages", "copies", "done")  # JSON fields the ledger compares with numbers
_KEYS = {"digests": ("document_id", "part"), "checkpoint": ("id",), "meta": ("name",)}
_UPSERT = re.compile(r"INSERT OR REPLACE INTO (\w+) \(([^)]*)\) VALUES", re.IGNORECASE)
_LOCK_ID = 0x6C65616B6D61726B  # 'leakmark' as a 64-bit advisory lock key (PostgreSQL bigint: masked below)


def is_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """The address without its password, as messages show it."""
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1@", url)


def register_id(url: str) -> str:
    """A short name for the register (its head file's), from the address without the password."""
    return hashlib.sha256(safe_url(url).encode()).hexdigest()[:12]


class Row(tuple):
    """A row readable as `row[0]` and `row["name"]`, and `dict(row)`, as sqlite3.Row is."""

    _names: tuple[str, ...] = ()

    def __new__(cls, values: Sequence[Any], names: tuple[str, ...]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


class _Cursor:
    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return list(self._rows)

    def __iter__(self) -> Any:
        return iter(self._rows)


def translate(sql: str) -> str:
    """SQLite's forms used by the ledger in PostgreSQL's."""
    m = _UPSERT.search(sql)
    if m:
        table, cols = m.group(1), [c.strip() for c in m.group(2).split(",")]
        keys = _KEYS[table]
        sets = ", ".join(f"{c}=EXCLUDED.{c}" for c in cols if c not in keys)
        sql = _UPSERT.sub(f"INSERT INTO {table} ({', '.join(cols)}) VALUES", sql)
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    sql = sql.replace("SELECT name FROM sqlite_master WHERE type='table'",
                      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    sql = re.sub(r"\binstr\(", "strpos(", sql)
    sql = re.sub(r"json_extract\((\w+), '\$\.(\w+)'\)",  # numbers compare as numbers, as in SQLite
                 lambda mm: f"(({mm.group(1)}::jsonb)->>'{mm.group(2)}')" + ("::bigint" if mm.group(2) in _NUMBERS
                                                                             else ""), sql)
    sql = re.sub(r",\s*rowid( DESC)?\b", lambda mm: ", id" + (mm.group(1) or ""), sql)
    return sql.replace("?", "%s")


def _error(exc: Exception) -> sqlite3.Error:
    """A psycopg error as the sqlite3 error the ledger handles."""
    import psycopg

    text = str(exc).strip()
    if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.SerializationFailure
                  | psycopg.errors.DeadlockDetected):
        return sqlite3.OperationalError(f"database is locked ({text})")
    if isinstance(exc, psycopg.errors.DiskFull):
        return sqlite3.OperationalError(f"database or disk is full ({text})")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.ReadOnlySqlTransaction):
        return sqlite3.OperationalError(f"attempt to write a readonly database ({text})")
    if isinstance(exc, psycopg.errors.IntegrityError):
        return sqlite3.IntegrityError(text)
    if isinstance(exc, psycopg.OperationalError):
        return sqlite3.OperationalError(text)
    return sqlite3.DatabaseError(text)


class PgConnection:
    """What the ledger needs of a sqlite3 connection, on a psycopg connection in autocommit mode."""

    row_factory: Any = None  # set by the ledger for SQLite; rows here are always `Row`s

    def __init__(self, url: str, timeout: float) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise BadRequestError("a PostgreSQL register needs psycopg: pip install 'leakmark[postgres]'") from exc
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise _error(exc) from exc
        self.timeout = timeout

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        import psycopg

        head = sql.strip().upper()
        if head.startswith("PRAGMA"):
            return _Cursor([], 0)
        if head in ("BEGIN", "BEGIN IMMEDIATE"):
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ"  # one snapshot per transaction, as SQLite's
        try:
            with self.conn.cursor() as cur:
                cur.execute(translate(sql), tuple(params))
                names = tuple(d.name for d in cur.description) if cur.description else ()
                rows = [Row(r, names) for r in cur.fetchall()] if cur.description else []
                return _Cursor(rows, cur.rowcount)
        except psycopg.Error as exc:
            raise _error(exc) from exc

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> _Cursor:
        import psycopg

        try:
            with self.conn.cursor() as cur:
                cur.executemany(translate(sql), [tuple(p) for p in seq])
                return _Cursor([], cur.rowcount)
        except psycopg.Error as exc:
            raise _error(exc) from exc

    def close(self) -> None:
        self.conn.close()


class PgLock:
    """`checkpoint.RegisterLock` on PostgreSQL: a session advisory lock (exclusive for writers, shared for
    checks) on the ledger's connection: it spans the write transaction's COMMIT and the head file's write."""

    def __init__(self, connection: Callable[[], PgConnection], timeout: float,
                 locked: Callable[[], Exception]) -> None:
        self._connection, self.timeout, self._locked = connection, timeout, locked
        self._held: str | None = None

    def acquire(self, exclusive: bool) -> None:
        fn = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
        key = _LOCK_ID & 0x7FFFFFFFFFFFFFFF
        deadline = time.monotonic() + self.timeout
        db = self._connection()
        while not db.execute(f"SELECT {fn}(?)", (key,)).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() >= deadline:
                raise self._locked()
            time.sleep(0.02)
        self._held = "pg_advisory_unlock" if exclusive else "pg_advisory_unlock_shared"

    def release(self) -> None:
        if self._held is not None:
            self._connection().execute(f"SELECT {self._held}(?)", (_LOCK_ID & 0x7FFFFFFFFFFFFFFF,))
            self._held = None


# -- the schema ------------------------------------------------------------------------------------------
def _ddl(sqlite_ddl: str) -> str:
    return re.sub(r"\bINTEGER\b", "BIGINT", sqlite_ddl)


def migrate(db: PgConnection, tables: dict[str, str]) -> int:
    """Create the tables of a new register (the SQLite register's, with 64-bit integers) and record the
    schema version; an existing register must be of this version. Returns the version found."""
    from leakmark.errors import LedgerIntegrityError

    db.execute("SELECT pg_advisory_lock(?)", (_LOCK_ID & 0x7FFFFFFFFFFFFFFF ^ 1,))  # one migration at a time
    try:
        db.execute("CREATE TABLE IF NOT EXISTS leakmark_schema (version BIGINT NOT NULL)")
        row = db.execute("SELECT version FROM leakmark_schema").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise LedgerIntegrityError(f"the PostgreSQL register has schema version {found}, newer than this "
                                       f"leakmark understands ({SCHEMA_VERSION}); upgrade leakmark to use it")
        if found < SCHEMA_VERSION:
            db.execute("BEGIN")
            for name, ddl in tables.items():
                exists = db.execute("SELECT to_regclass(?)", (name,)).fetchone()
                if exists is None or exists[0] is None:
                    db.execute(_ddl(ddl))
            db.execute("DELETE FROM leakmark_schema")
            db.execute("INSERT INTO leakmark_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            db.execute("COMMIT")
        return found
    finally:
        db.execute("SELECT pg_advisory_unlock(?)", (_LOCK_ID & 0x7FFFFFFFFFFFFFFF ^ 1,))
