"""Helpers shared by the tests (importable from test modules and from spawned worker processes).

Kept out of conftest.py so that `multiprocessing` (spawn) children can import the worker function
without importing pytest's conftest machinery.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

RECIPIENTS = (
    ("Alice Archer", "Registry"),
    ("Bob Baker", "Structures"),
    ("Chen Jing", "Test lab"),
    ("张伟", "办公室"),
    ("Eve Evans", ""),
)


def text_pdf(path: Path, lines: int = 30, pages: int = 1) -> Path:
    """A small born-digital PDF with enough words to carry the shift layer."""
    doc = pymupdf.open()
    for p in range(pages):
        page = doc.new_page()
        for i in range(lines):
            page.insert_text((72, 90 + i * 22), f"Line {i + 1} of page {p + 1}: restricted words for testing marks",
                             fontname="helv", fontsize=11)
    doc.save(path, no_new_id=True)
    doc.close()
    return path


def htmlbox_document() -> pymupdf.Document:
    """Two pages as PyMuPDF's insert_htmlbox makes them (mu-zh-form): the page's content only draws form
    XObjects, the text is inside them; a rule in the page's own content. Every line differs between the pages
    in one digit ('page 1' / 'page 2')."""
    doc = pymupdf.open()
    for i in range(2):
        page = doc.new_page()
        page.insert_htmlbox(pymupdf.Rect(72, 72, 523, 400), "".join(
            f"<p>Paragraph {k} of page {i + 1}: the quick brown fox jumps over it.</p>" for k in range(14)))
        page.draw_line((72, 420), (523, 420), width=1)
    return doc


def db_rows(ledger_path: Path, sql: str, args: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(ledger_path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def db_exec(ledger_path: Path, *statements: tuple[str, tuple] | str) -> None:
    """Run statements on the ledger outside leakmark (the tampering an attacker could do)."""
    con = sqlite3.connect(ledger_path, isolation_level=None)
    try:
        con.execute("BEGIN")
        for st in statements:
            sql, args = (st, ()) if isinstance(st, str) else st
            con.execute(sql, args)
        con.execute("COMMIT")
    finally:
        con.close()


def seeded_workspace(home: Path, seed: bytes):
    """A new workspace whose key is SHA-256 of `seed`: its marks, and so every score a test asserts a margin on,
    are the same on every run (with a random key an innocent copy's score is a new draw each run, and a margin
    such as "every innocent above FAP 1e-2" fails now and then: it did once in CI)."""
    import hashlib

    import leakmark

    home.mkdir(parents=True)
    key = home / "key"
    key.write_bytes(hashlib.sha256(seed).digest())
    key.chmod(0o600)
    return leakmark.Workspace.open(home)


def concurrent_issue_worker(home: str, source: str, out_dir: str, names: list[str], barrier, queue) -> None:
    """Child process of the concurrency test: wait for the sibling, then issue copies (jobs=1)."""
    import leakmark

    ws = leakmark.Workspace.open(Path(home))
    opts = leakmark.IssueOptions(source=Path(source), recipients=tuple(leakmark.Recipient(n, "U") for n in names),
                                 output_dir=Path(out_dir), jobs=1)
    barrier.wait(timeout=120)
    try:
        result = leakmark.issue(ws, opts)
        queue.put(("ok", [c.copy_no for c in result.copies]))
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_main(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """Run the `leakmark` entry point; return (exit code, stdout, stderr). Never a traceback."""
    from leakmark.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out and "Traceback" not in err
    code = info.value.code
    return (0 if code is None else int(code)), out, err


PG_BASE = os.environ.get("LEAKMARK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def pg_admin():  # -> psycopg.Connection
    """A connection to the test PostgreSQL server (CI starts it: .ci/run); the test fails saying what is missing."""
    import psycopg

    try:
        return psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL server at {PG_BASE} ({exc}); start one or set LEAKMARK_TEST_POSTGRES")


@contextlib.contextmanager
def pg_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A register URL on a new, empty PostgreSQL schema, set as the process's register; dropped afterwards."""
    schema = "lm_" + secrets.token_hex(6)
    with pg_admin() as db:
        db.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("LEAKMARK_REGISTER", url)
    try:
        yield url
    finally:
        with pg_admin() as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")
