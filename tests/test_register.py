"""The register API (`leakmark.register`) directly, the schema version and its migrations, and a register
written before versioning (tests/resources/ledger-v0, made by the pre-versioning code; see the README there)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from lmtest import RECIPIENTS, db_exec, db_rows

import leakmark
from leakmark import register
from leakmark.cli import cli
from leakmark.errors import BadRequestError, LedgerIntegrityError, NotFoundError
from leakmark.ledger import SCHEMA_VERSION, Copy, CopyStatus, Ledger, RunState
from leakmark.ledger import schema as ledger_schema

RESOURCES = Path(__file__).parent / "resources"


def _cli_json(ws: leakmark.Workspace, *args: str) -> object:
    r = CliRunner().invoke(cli, ["log", *args, "--json", "--home", str(ws.home)])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _user_version(path: Path) -> int:
    return db_rows(path, "PRAGMA user_version")[0][0]


@pytest.fixture
def ws_v0(tmp_path: Path) -> leakmark.Workspace:
    """A private copy of the stored register written by the code before schema versioning."""
    home = tmp_path / "ws-v0"
    shutil.copytree(RESOURCES / "ledger-v0", home)
    (home / "key").chmod(0o600)
    return leakmark.Workspace.open(home, create=False)


# -- typed results and their JSON ----------------------------------------------------------------------------
def test_list_documents_is_typed_and_its_json_is_what_the_cli_prints(issued):
    listing = register.list_documents(issued.ws)
    assert isinstance(listing, tuple) and len(listing) == 1
    entry = listing[0]
    assert isinstance(entry, register.DocumentCopies) and entry.document.id == issued.result.document.id
    assert all(isinstance(c, Copy) and c.status is CopyStatus.issued for c in entry.copies)
    assert [(c.recipient, c.unit) for c in entry.copies] == list(RECIPIENTS)
    assert [e.to_json() for e in listing] == _cli_json(issued.ws, "list")
    assert json.loads(json.dumps(entry.to_json())) == entry.to_json()  # plain JSON types only
    assert list(entry.to_json()) == ["id", "title", "level", "period", "pages", "sha256", "copies"]
    assert entry.to_json()["copies"][3] == {"copy_no": "000004", "recipient": "张伟", "unit": "办公室",
                                            "issued_at": entry.copies[3].issued_at, "status": "issued"}
    assert register.list_documents(issued.ws, issued.result.document.id) == listing
    with pytest.raises(NotFoundError, match="no document 'Dnope'"):
        register.list_documents(issued.ws, "Dnope")


def test_runs_are_typed_and_their_json_is_what_the_cli_prints(issued):
    (run,) = register.runs(issued.ws)
    assert isinstance(run, register.RunInfo) and run.state is RunState.finished
    assert (run.id, run.copies, run.done, run.output) == (issued.result.run, 5, 5, str(issued.out_dir.resolve()))
    assert [r.to_json() for r in register.runs(issued.ws)] == _cli_json(issued.ws, "runs")
    assert list(run.to_json()) == ["id", "document_id", "created_at", "by", "state", "copies", "done", "output"]


def test_show_gives_the_copy_its_document_and_history(issued):
    detail = register.show(issued.ws, "3")
    assert isinstance(detail, register.CopyDetail)
    assert (detail.copy.label, detail.copy.recipient, detail.document.id) == (
        "000003", "Chen Jing", issued.result.document.id)
    assert [(h.kind, h.status) for h in detail.history] == [("run", "reserved"), ("issued", "issued")]
    assert all(isinstance(h, register.HistoryEntry) for h in detail.history)
    js = detail.to_json()
    assert set(js) == {"document", "copy", "history"} and js["copy"]["copy_no"] == "000003"
    assert js["history"][0] == {"seq": 2, "ts": detail.history[0].ts, "kind": "run", "status": "reserved",
                                "note": f"run {issued.result.run}", "operator": detail.copy.issued_by}
    assert json.loads(json.dumps(js)) == js
    with pytest.raises(NotFoundError):
        register.show(issued.ws, "000042")


def test_set_status_return_and_destroy(issued, ws_copy):
    doc_id = issued.result.document.id
    changed = register.return_copy(ws_copy, "000002", "back from Bob")
    assert isinstance(changed, register.StatusChange) and changed.copy.status is CopyStatus.returned
    assert changed.to_json() == {"document_id": doc_id, "copy_no": "000002", "recipient": "Bob Baker",
                                 "unit": "Structures", "status": "returned"}
    assert register.destroy_copy(ws_copy, f"{doc_id}/000002").copy.status is CopyStatus.destroyed
    with pytest.raises(BadRequestError, match="already recorded as destroyed"):
        register.return_copy(ws_copy, "2")
    # `void` and `reserved` belong to runs, not to clerks: the same refusal as for any unknown status
    for status in (CopyStatus.void, CopyStatus.reserved, "lost"):
        with pytest.raises(BadRequestError, match=f"unknown status '{status}'"):
            register.set_status(ws_copy, "000003", status)
    assert [h.status for h in register.show(ws_copy, "2").history] == ["reserved", "issued", "returned", "destroyed"]
    assert register.verify(ws_copy).events == 6


def test_functions_take_an_open_ledger_too(ws_copy):
    with Ledger(ws_copy) as ledger:
        register.set_status(ledger, "000001", CopyStatus.returned)
        assert register.list_documents(ledger)[0].copies[0].status == "returned"
        assert register.verify(ledger).events == 5
        ledger.db.execute("SELECT 1")  # still open: the API never closes a ledger it was given


def test_statuses_are_stored_and_printed_as_the_same_plain_strings(ws_copy):
    register.return_copy(ws_copy, "000001")
    assert db_rows(ws_copy.ledger_path, "SELECT status, typeof(status) FROM copies WHERE copy_no=1") == [
        ("returned", "text")]
    (payload,) = db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE kind='status'")[0]
    assert json.loads(payload)["status"] == "returned"
    assert json.dumps([CopyStatus.void, RunState.open]) == '["void", "open"]'
    assert f"{RunState.open:<9}|{CopyStatus.issued}" == "open     |issued"


def test_a_status_string_outside_the_enum_is_shown_as_it_is(ws_copy):
    """A register altered outside leakmark lists only when trusted, as it is (verification names the row)."""
    db_exec(ws_copy.ledger_path, "UPDATE copies SET status='lost' WHERE copy_no=5")
    with pytest.raises(LedgerIntegrityError, match="failed verification"):
        register.list_documents(ws_copy)
    assert register.list_documents(ws_copy, trust_register=True)[0].copies[4].status == "lost"
    with pytest.raises(LedgerIntegrityError, match="status is 'lost'"):
        register.verify(ws_copy)


def test_search(issued):
    ws = issued.ws
    assert [e.copy.recipient for e in register.search(ws, "chen")] == ["Chen Jing"]
    assert [e.copy.recipient for e in register.search(ws, "办公")] == ["张伟"]
    assert [e.copy.label for e in register.search(ws, "000004")] == ["000004"]
    assert len(register.search(ws)) == 5
    assert len(register.search(ws, "", doc_id=issued.result.document.id, status="issued")) == 5
    assert register.search(ws, status=CopyStatus.returned) == ()
    hit = register.search(ws, "ARCHER")[0]
    assert isinstance(hit, register.CopyEntry) and hit.document.title == "Handling of restricted documents, Q4"
    assert list(hit.to_json()) == list(register.EXPORT_COLUMNS)
    with pytest.raises(BadRequestError, match="unknown status 'lost'"):
        register.search(ws, status="lost")
    with pytest.raises(NotFoundError):
        register.search(ws, "a", doc_id="Dnope")


def test_export_is_the_cli_bytes(issued):
    data = register.export_csv(issued.ws)
    r = CliRunner().invoke(cli, ["log", "export", "--csv", "--home", str(issued.ws.home)])
    assert r.exit_code == 0 and r.stdout_bytes == data
    rows = register.export_rows(issued.ws)
    assert [e.row()[3] for e in rows] == ["000001", "000002", "000003", "000004", "000005"]
    state = register.verify(issued.ws)
    footer = f'\r\n"register: 4 events, head {state.head}, verified"\r\n'.encode()
    assert register.csv_bytes(rows) + footer == data  # the rows, a blank row, the register's checkpoint
    assert register.csv_bytes([]) == b"\xef\xbb\xbf" + ",".join(register.EXPORT_COLUMNS).encode() + b"\r\n"


def test_verify_result_and_a_tampered_row(issued, ws_copy):
    v = register.verify(issued.ws)
    assert (v.events, v.documents, v.runs, v.copies) == (4, 1, 1, 5)
    assert v.key_fingerprint == issued.ws.key_fingerprint()
    head = db_rows(issued.ws.ledger_path, "SELECT hash FROM events WHERE seq=4")[0][0]
    assert v.to_json() == {"events": 4, "documents": 1, "runs": 1, "copies": 5,
                           "key_fingerprint": issued.ws.key_fingerprint(), "head": head}
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient='Mallory' WHERE copy_no=2")
    with pytest.raises(LedgerIntegrityError) as info:
        register.verify(ws_copy)
    assert f"copies row {issued.result.document.id}/000002: recipient is 'Mallory'" in info.value.message
    assert info.value.exit_code == 7


# -- schema version ------------------------------------------------------------------------------------------
def test_a_new_register_is_stamped_with_the_schema_version(tmp_path):
    ws = leakmark.Workspace.open(tmp_path / "ws")
    with Ledger(ws) as ledger:
        assert ledger.schema_found == 0  # an empty file, as every new SQLite database
    assert _user_version(ws.ledger_path) == SCHEMA_VERSION >= 1
    with Ledger(ws) as ledger:
        assert ledger.schema_found == SCHEMA_VERSION
    tables = {n for (n,) in db_rows(ws.ledger_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"events", "documents", "copies", "runs", "meta", "checkpoint", "digests"}


def test_a_current_register_opens_without_the_write_lock(ws_copy):
    holder = sqlite3.connect(ws_copy.ledger_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process is writing
        with Ledger(ws_copy, 0.2) as ledger:
            assert len(register.list_documents(ledger)[0].copies) == 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_register_written_before_versioning_opens_migrates_and_verifies(ws_v0):
    path = ws_v0.ledger_path
    assert _user_version(path) == 0
    events = db_rows(path, "SELECT * FROM events ORDER BY seq")
    with Ledger(ws_v0) as ledger:
        assert ledger.schema_found == 0
        rep = ledger.verify()
    assert (rep.events, rep.documents, rep.runs, rep.copies) == (8, 1, 3, 5)
    assert _user_version(path) == SCHEMA_VERSION
    assert db_rows(path, "SELECT * FROM events ORDER BY seq") == events  # adopted as it is: no row rewritten
    (doc,) = register.list_documents(ws_v0)
    assert doc.document.title == "Fixture memo 通知"
    assert [(c.label, str(c.status)) for c in doc.copies] == [
        ("000001", "issued"), ("000002", "returned"), ("000003", "issued"), ("000004", "void"), ("000009", "reserved")]
    assert [r.state for r in register.runs(ws_v0)] == [RunState.finished, RunState.abandoned, RunState.open]
    assert [(h.status, h.note) for h in register.show(ws_v0, "2").history] == [
        ("reserved", "run run-1"), ("issued", ""), ("returned", "back")]
    register.destroy_copy(ws_v0, "2", "after migration")  # and keeps working
    assert register.verify(ws_v0).events == 9
    with Ledger(ws_v0) as ledger:
        assert ledger.schema_found == SCHEMA_VERSION


def test_a_stamped_register_set_back_to_version_0_is_adopted_again(ws_copy):
    db_exec(ws_copy.ledger_path, "PRAGMA user_version = 0")
    assert _user_version(ws_copy.ledger_path) == 0
    assert register.verify(ws_copy).events == 4
    assert _user_version(ws_copy.ledger_path) == SCHEMA_VERSION


def test_version_0_with_other_columns_is_refused_and_left_untouched(tmp_path):
    ws = leakmark.Workspace.open(tmp_path / "ws")
    con = sqlite3.connect(ws.ledger_path)
    con.execute("CREATE TABLE copies (document_id TEXT, copy_no INTEGER, recipient TEXT)")
    con.commit()
    con.close()
    with pytest.raises(LedgerIntegrityError, match="table 'copies' with other columns") as info:
        Ledger(ws)
    assert info.value.exit_code == 7
    assert _user_version(ws.ledger_path) == 0
    assert db_rows(ws.ledger_path, "SELECT name FROM sqlite_master WHERE type='table'") == [("copies",)]


def test_version_0_with_some_tables_missing_gets_them(tmp_path):
    ws = leakmark.Workspace.open(tmp_path / "ws")
    con = sqlite3.connect(ws.ledger_path)
    con.execute(ledger_schema.TABLES["events"])
    con.commit()
    con.close()
    assert register.verify(ws).events == 0
    assert _user_version(ws.ledger_path) == SCHEMA_VERSION


def test_a_newer_register_is_refused(ws_copy):
    db_exec(ws_copy.ledger_path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LedgerIntegrityError, match="newer than this leakmark"):
        Ledger(ws_copy)


def _with_v2(monkeypatch: pytest.MonkeyPatch, apply: Callable[[sqlite3.Connection, Path], None]) -> None:
    monkeypatch.setattr(ledger_schema, "MIGRATIONS", (*ledger_schema.MIGRATIONS,
                                                      ledger_schema.Migration(SCHEMA_VERSION + 1, "test", apply)))
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)


def test_a_later_migration_is_applied_once(ws_copy, monkeypatch):
    calls = []

    def add_index(db: sqlite3.Connection, path: Path) -> None:
        calls.append(path)
        db.execute("CREATE INDEX copies_by_run ON copies (run_id)")

    _with_v2(monkeypatch, add_index)
    with Ledger(ws_copy) as ledger:
        assert ledger.schema_found == SCHEMA_VERSION
    with Ledger(ws_copy) as ledger:
        assert ledger.schema_found == SCHEMA_VERSION + 1
    assert calls == [ws_copy.ledger_path]
    assert _user_version(ws_copy.ledger_path) == SCHEMA_VERSION + 1
    assert db_rows(ws_copy.ledger_path, "SELECT name FROM sqlite_master WHERE name='copies_by_run'")


def test_migrations_are_all_or_nothing(tmp_path, monkeypatch):
    def broken(db: sqlite3.Connection, path: Path) -> None:
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    _with_v2(monkeypatch, broken)
    ws = leakmark.Workspace.open(tmp_path / "ws")
    with pytest.raises(leakmark.errors.OutputError, match="simulated"):  # a disk error is exit 9, no traceback
        Ledger(ws)
    assert _user_version(ws.ledger_path) == 0  # migration 1 ran before the failure, and was rolled back too
    assert db_rows(ws.ledger_path, "SELECT name FROM sqlite_master") == []


# -- the log commands stay light ---------------------------------------------------------------------------
def test_log_commands_import_no_imaging_library(issued, tmp_path):
    """With a lazy `leakmark/__init__` (stubbed here), `leakmark --help` and `leakmark log ...` never import
    numpy, OpenCV or PyMuPDF: the register needs none of them."""
    code = textwrap.dedent(f"""
        import importlib.util, sys, types
        spec = importlib.util.find_spec("leakmark")
        pkg = types.ModuleType("leakmark")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__version__ = "0"
        sys.modules["leakmark"] = pkg
        from leakmark.cli import main
        for args in (["--help"], ["log", "--help"], ["log", "list", "--json"], ["log", "runs"],
                     ["log", "show", "000003"], ["log", "export", "--csv"], ["log", "verify"]):
            try:
                main([*args, "--home", {str(issued.ws.home)!r}] if args[-1] != "--help" else args)
            except SystemExit as exc:
                assert exc.code in (0, None), (args, exc.code)
        heavy = sorted(m for m in ("numpy", "cv2", "pymupdf", "fitz", "PIL", "pywt") if m in sys.modules)
        print("HEAVY", heavy, file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(Path(leakmark.__file__).parents[1]), "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr, proc.stderr
