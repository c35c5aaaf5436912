"""The same register operations on both backends (SQLite, PostgreSQL): the same events in the same order, the
same views and the same verification; the rows test_ledger.py tampers with in SQLite are tampered with in
PostgreSQL too, and caught. PostgreSQL: a real server (see
test_postgres.py), a schema of its own per test."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lmtest import PG_BASE, db_exec, pg_admin, pg_schema, seeded_workspace

import leakmark
from leakmark import register
from leakmark.errors import LedgerIntegrityError, RunInterruptedError
from leakmark.issuing import run as run_module
from leakmark.ledger import Ledger

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """None for the workspace's SQLite file, else the URL of a new PostgreSQL schema (the process's register)."""
    if request.param == "sqlite":
        monkeypatch.delenv("LEAKMARK_REGISTER", raising=False)
        yield None
        return
    with pg_schema(monkeypatch) as url:
        yield url


@pytest.fixture
def pg(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with pg_schema(monkeypatch) as url:
        yield url


def tamper(ws: leakmark.Workspace, url: str | None, statement: str) -> None:
    """Change the register outside leakmark, as an attacker with database access could."""
    if url is None:
        db_exec(ws.ledger_path, statement)
    else:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(statement)


def _issue(ws: leakmark.Workspace, source: Path, out: Path, *people: leakmark.Recipient,
           **options: object) -> leakmark.IssueResult:
    return leakmark.issue(ws, leakmark.IssueOptions(source=source, recipients=people, output_dir=out, jobs=1,
                                                    issued_by="clerk", **options))  # type: ignore[arg-type]


def scenario(ws: leakmark.Workspace, samples: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Every kind of event: registration, runs, explicit numbers, return, destroy, void, reclassification, an
    abandoned run, a trace, an account; then a witness. What the register holds afterwards, without times and
    random run ids."""
    memo, R = samples / "memo-en.pdf", leakmark.Recipient
    first = _issue(ws, memo, tmp / "a", R("Alice", "Ops"), R("Bob"), R("Chen Jing", "Legal"))
    doc = first.document.id
    _issue(ws, memo, tmp / "b", R("Dan", copy_no=10), R("Eve"))
    register.return_copy(ws, f"{doc}/000001", "back after the meeting", operator="clerk")
    register.destroy_copy(ws, f"{doc}/000002", "shredded", operator="clerk")
    register.void_copy(ws, f"{doc}/000003", "issued by mistake", operator="clerk")
    _issue(ws, memo, tmp / "c", R("Fay"), level="机密", reclassify="upgraded by the office")

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(run_module, "mark_copies", boom)
        with pytest.raises(RunInterruptedError):
            _issue(ws, memo, tmp / "d", R("Gus"), R("Hal"))
    leakmark.abandon(ws, "last", "not needed", operator="clerk")
    traced = leakmark.trace(ws, leakmark.TraceOptions(evidence=(Path(first.copies[0].path),)))
    register.record_trace(ws, traced, operator="investigator")
    with Ledger(ws) as ledger:
        ledger.check()
        ledger.record_account("ivan", "add", "investigator", "admin")
    register.verify(ws, against=register.anchor(ws, tmp / "witness.json").path)
    with Ledger(ws) as ledger:
        ledger.check()
        events = [(r["kind"], json.loads(r["payload"])) for r in
                  ledger.db.execute("SELECT kind, payload FROM events ORDER BY seq").fetchall()]
        copies = [(c.copy_no, c.recipient, c.unit, str(c.status), c.note, c.issued_by) for c in ledger.copies()]
        level = ledger.document(doc).level
    return {"kinds": [k for k, _p in events], "copies": copies, "level": level,
            "statuses": [(p["copy_no"], p["status"], p.get("note")) for k, p in events if k == "status"],
            "voids": [(p["copy_no"], p.get("reason")) for k, p in events if k == "void"],
            "trace": [(p["verdict"], [c["copy_no"] for c in p["named"]], p["operator"]) for k, p in events
                      if k == "trace"],
            "verify": register.verify(ws).to_json()["events"]}


EXPECTED_KINDS = ["document", "run", "issued", "run_end", "run", "issued", "run_end", "status", "status", "void",
                  "reclassify", "run", "issued", "run_end", "run", "run_end", "trace", "account"]


def test_the_same_operations_make_the_same_register(backend: str | None, tmp_path: Path, samples_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ws = seeded_workspace(tmp_path / "ws", b"backends")
    got = scenario(ws, samples_dir, tmp_path, monkeypatch)
    assert got["kinds"] == EXPECTED_KINDS
    assert got["copies"] == [(1, "Alice", "Ops", "returned", "", "clerk"), (2, "Bob", "", "destroyed", "", "clerk"),
                             (3, "Chen Jing", "Legal", "void", "", "clerk"), (10, "Dan", "", "issued", "", "clerk"),
                             (11, "Eve", "", "issued", "", "clerk"), (12, "Fay", "", "issued", "", "clerk"),
                             (13, "Gus", "", "void", "", "clerk"), (14, "Hal", "", "void", "", "clerk")]
    assert got["level"] == "机密"
    assert got["statuses"] == [(1, "returned", "back after the meeting"), (2, "destroyed", "shredded")]
    assert got["voids"] == [(3, "issued by mistake")]
    assert got["trace"] == [("identified", [1], "investigator")]
    assert got["verify"] == len(EXPECTED_KINDS)


# what is changed, and whether the incremental check before every read catches it too (an event in the middle of
# the chain is checked by the full verification only: the incremental check reads what came since the checkpoint)
TAMPERING = {
    "edited recipient": ("UPDATE copies SET recipient='Mallory' WHERE copy_no=2", True),
    "edited status": ("UPDATE copies SET status='returned' WHERE copy_no=3", True),
    "deleted copy": ("DELETE FROM copies WHERE copy_no=1", True),
    "inserted copy": ("INSERT INTO copies SELECT document_id, 99, recipient, unit, note, issued_at, issued_by, "
                      "status, run_id, settings, version, path FROM copies WHERE copy_no=1", True),
    "edited title": ("UPDATE documents SET title='Another title'", True),
    "deleted event in the middle": ("DELETE FROM events WHERE seq=2", False),
    "deleted last event": ("DELETE FROM events WHERE seq=(SELECT max(seq) FROM events)", True),
    "edited event payload": ("UPDATE events SET payload=replace(payload, 'Alice', 'Alicia')", False),
    "edited checkpoint": ("UPDATE checkpoint SET mac=CASE WHEN substr(mac, 1, 1)='0' THEN '1' ELSE '0' END || "
                          "substr(mac, 2)", True),
}


TABLES = ("events", "documents", "copies", "runs", "meta", "checkpoint", "digests", "leakmark_schema")


@pytest.fixture(scope="module")
def pg_template(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Iterator[tuple[Path, str]]:
    """A PostgreSQL register with three copies issued, once: each tampering test works on a clone of it."""
    schema = "lm_tpl_" + secrets.token_hex(5)
    with pg_admin() as db:
        db.execute(f"CREATE SCHEMA {schema}")
    home = tmp_path_factory.mktemp("pg-template") / "ws"
    with pytest.MonkeyPatch.context() as m:
        m.setenv("LEAKMARK_REGISTER", f"{PG_BASE}?options=-csearch_path%3D{schema}")
        ws = seeded_workspace(home, b"tamper both")
        R = leakmark.Recipient
        _issue(ws, samples_dir / "memo-en.pdf", home.parent / "out", R("Alice"), R("Bob"), R("Carol"))
    try:
        yield home, schema
    finally:
        with pg_admin() as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize("what", list(TAMPERING))
def test_tampering_is_caught_on_postgres(pg_template: tuple[Path, str], pg: str, what: str, tmp_path: Path) -> None:
    """The rows test_ledger.py tampers with in SQLite (and more), changed in PostgreSQL."""
    from leakmark.ledger.postgres import register_id

    backend = pg
    template, tpl = pg_template
    schema = backend.rsplit("%3D", 1)[1]  # the test's own, empty: the template's tables copied into it
    with pg_admin() as db:
        for t in TABLES:
            db.execute(f"CREATE TABLE {schema}.{t} (LIKE {tpl}.{t} INCLUDING ALL)")
            db.execute(f"INSERT INTO {schema}.{t} SELECT * FROM {tpl}.{t}")
    shutil.copytree(template, tmp_path / "ws")
    tpl_url = f"{PG_BASE}?options=-csearch_path%3D{tpl}"
    (tmp_path / "ws" / f"register-{register_id(tpl_url)}.head").rename(
        tmp_path / "ws" / f"register-{register_id(backend)}.head")
    ws = leakmark.Workspace.open(tmp_path / "ws", create=False)
    assert register.verify(ws).copies == 3  # the clone is sound
    statement, before_reads = TAMPERING[what]
    tamper(ws, backend, statement)
    with pytest.raises(LedgerIntegrityError):
        register.verify(ws)
    if before_reads:
        with pytest.raises(LedgerIntegrityError):
            register.list_documents(ws)  # the incremental check before every read refuses it too
