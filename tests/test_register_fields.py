"""What a 保密 register keeps (issue 13, finding 9): `log void`, the operator of every clerk's change, the dates,
operators and notes of returns, destructions and voids in `log show` and the export, 保密期限 shown and exported,
`log search`, `log export --headers zh`, a conflicting `--level` and `--reclassify`, local time in text.

Only names that exist on main are imported at the top, so that this file runs against main too (where each
test fails for its own reason)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lmtest import db_rows, run_main, text_pdf

import leakmark
from leakmark import register
from leakmark.errors import BadRequestError, LedgerIntegrityError
from leakmark.ledger import SCHEMA_VERSION, CopyStatus, Ledger, Planned, Run, RunState, now_iso

OLD_COLUMNS = ["document_id", "title", "level", "copy_no", "recipient", "unit", "issued_at", "issued_by", "status",
               "note"]



def _export(capsys: pytest.CaptureFixture, home: Path) -> list[dict[str, str]]:
    code, out, _ = run_main(capsys, "log", "export", "--csv", "--home", home)
    assert code == 0
    body = out.lstrip("\ufeff").split("\r\n\r\n")[0]
    return list(csv.DictReader(io.StringIO(body)))


def _header(capsys: pytest.CaptureFixture, home: Path) -> list[str]:
    code, out, _ = run_main(capsys, "log", "export", "--csv", "--home", home)
    assert code == 0
    return next(csv.reader(io.StringIO(out.lstrip("\ufeff"))))


# -- log void ---------------------------------------------------------------------------------------------
def test_log_void_records_the_reason_and_the_copy_stays_void(capsys, issued, ws_copy):
    home, doc_id = ws_copy.home, issued.result.document.id
    code, out, _ = run_main(capsys, "log", "void", "000003", "--reason", "issued to the wrong unit",
                            "--operator", "王芳", "--home", home)
    assert code == 0 and f"copy {doc_id}/000003 (Chen Jing) recorded as void" in out
    detail = register.show(ws_copy, "3")
    assert detail.copy.status is CopyStatus.void
    last = detail.history[-1]
    assert (last.kind, last.status, last.note, last.operator) == ("void", "void", "issued to the wrong unit", "王芳")
    code, out, _ = run_main(capsys, "log", "show", "3", "--home", home)
    assert "status:    void" in out and "void  issued to the wrong unit  (by 王芳)" in out
    # a void copy stays void: no return, destroy or second void
    for args in (("return", "3"), ("destroy", "3"), ("void", "3", "--reason", "again")):
        code, _, err = run_main(capsys, "log", *args, "--home", home)
        assert code == 10 and "is void" in err
    # the register verifies (the replay knows the event), also in full and from the CLI
    assert register.verify(ws_copy).events == 5
    code, out, _ = run_main(capsys, "log", "verify", "--home", home)
    assert code == 0 and "ledger OK" in out


def test_a_void_copy_number_is_never_reused(issued, ws_copy, tmp_path):
    register.void_copy(ws_copy, "000005", "printed twice")
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(
        source=issued.source, recipients=(leakmark.Recipient("Frank", "Unit"),), output_dir=tmp_path / "o",
        jobs=1))
    assert [c.copy_no for c in result.copies] == ["000006"]
    assert register.show(ws_copy, "5").copy.status is CopyStatus.void
    register.verify(ws_copy)


def test_void_needs_a_reason_and_an_issued_copy(capsys, ws_copy):
    with pytest.raises(BadRequestError, match="reason"):
        register.void_copy(ws_copy, "2", "  ")
    code, _, err = run_main(capsys, "log", "void", "2", "--home", ws_copy.home)
    assert code == 2 and "--reason" in err  # click: the option is required
    register.destroy_copy(ws_copy, "2")
    with pytest.raises(BadRequestError, match="already recorded as destroyed"):
        register.void_copy(ws_copy, "2", "mistake")
    # a returned copy may still be voided (it was issued by mistake and came back)
    register.return_copy(ws_copy, "4")
    assert register.void_copy(ws_copy, "4", "wrong recipient").copy.status is CopyStatus.void


def test_void_is_refused_on_a_tampered_register(capsys, ws_copy):
    with sqlite3.connect(ws_copy.ledger_path) as db:
        db.execute("UPDATE copies SET recipient='Mallory' WHERE copy_no=4")
    code, _, err = run_main(capsys, "log", "void", "1", "--reason", "x", "--home", ws_copy.home)
    assert code == 7 and "Nothing was written" in err
    assert db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM events WHERE kind='void'") == [(0,)]


def test_verify_refuses_a_void_event_for_a_copy_never_issued(ws_copy):
    """A void event (authentic, as if written by a buggy or forged client with the key) for a reserved-only
    or unknown copy fails the replay."""
    with Ledger(ws_copy) as ledger:
        doc_id = ledger.documents()[0].id
        with ledger.transaction():
            ledger._append("void", {"document_id": doc_id, "copy_no": 77, "status": "void", "reason": "x",
                                    "operator": "y"})
    with pytest.raises(LedgerIntegrityError, match="voids a copy that was not issued"):
        register.verify(ws_copy)


def test_trace_status_date_of_a_void_copy(ws_copy):
    register.void_copy(ws_copy, "1", "mistake")
    with Ledger(ws_copy) as ledger:
        c = ledger.find_copy("1")
        dates = ledger.status_dates([c])
    assert dates[(c.document_id, 1)] is not None


# -- operator, dates and notes ----------------------------------------------------------------------------
def test_operator_dates_and_notes_are_shown_and_exported(capsys, ws_copy):
    home = ws_copy.home
    assert run_main(capsys, "log", "return", "1", "--note", "back in the safe", "--operator", "李明",
                    "--home", home)[0] == 0
    assert run_main(capsys, "log", "return", "2", "--home", home)[0] == 0
    assert run_main(capsys, "log", "destroy", "2", "--note", "shredded", "--operator", "王芳", "--home", home)[0] == 0
    assert run_main(capsys, "log", "void", "3", "--reason", "wrong unit", "--operator", "赵六", "--home", home)[0] == 0
    _, out, _ = run_main(capsys, "log", "show", "1", "--home", home)
    assert "returned  back in the safe  (by 李明)" in out
    header = _header(capsys, home)
    assert header[:len(OLD_COLUMNS)] == OLD_COLUMNS  # existing positions stay
    assert header[len(OLD_COLUMNS):] == ["period", "returned_at", "returned_by", "returned_note", "destroyed_at",
                                         "destroyed_by", "destroyed_note", "voided_at", "voided_by", "void_reason"]
    rows = {r["copy_no"]: r for r in _export(capsys, home)}
    r1, r2, r3 = rows["000001"], rows["000002"], rows["000003"]
    assert (r1["status"], r1["returned_by"], r1["returned_note"]) == ("returned", "李明", "back in the safe")
    assert r1["returned_at"].startswith("20") and r1["destroyed_at"] == ""
    history = register.show(ws_copy, "2").history
    assert r2["returned_by"] == history[-2].operator != ""  # default: the config, else the OS user
    assert (r2["destroyed_by"], r2["destroyed_note"], r2["destroyed_at"]) == ("王芳", "shredded", history[-1].ts)
    assert (r3["status"], r3["voided_by"], r3["void_reason"]) == ("void", "赵六", "wrong unit")
    assert rows["000004"]["returned_at"] == rows["000004"]["voided_at"] == ""
    # the JSON of search carries the same columns
    hit = register.search(ws_copy, "Alice")[0].to_json()
    assert hit["returned_by"] == "李明"


def test_operator_default_is_the_workspace_config(capsys, ws_copy):
    cfg = json.loads(ws_copy.config_path.read_text(encoding="utf-8")) if ws_copy.config_path.exists() else {}
    cfg["operator"] = "保密员 周"
    ws_copy.config_path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    assert run_main(capsys, "log", "return", "5", "--home", ws_copy.home)[0] == 0
    assert register.show(ws_copy, "5").history[-1].operator == "保密员 周"
    assert ws_copy.operator("  given ") == "given"


def test_issue_operator_and_period_are_recorded_shown_and_exported(capsys, tmp_path):
    home = tmp_path / "ws"
    source = text_pdf(tmp_path / "notice.pdf")
    code, out, err = run_main(capsys, "issue", source, "-r", "甲/一处", "-r", "乙/二处", "--level", "机密",
                              "--period", "10年", "--operator", "李明", "-o", tmp_path / "out", "--jobs", "1",
                              "-q", "--home", home)
    assert code == 0, err
    ws = leakmark.Workspace.open(home, create=False)
    detail = register.show(ws, "1")
    assert detail.copy.issued_by == "李明" and detail.history[0].operator == "李明"
    assert detail.document.period == "10年" and detail.to_json()["document"]["period"] == "10年"
    code, out, _ = run_main(capsys, "log", "list", "--home", home)
    assert "机密  保密期限 10年" in out
    code, out, _ = run_main(capsys, "log", "show", "1", "--home", home)
    assert "保密期限 10年" in out
    assert register.list_documents(ws)[0].to_json()["period"] == "10年"
    rows = _export(capsys, home)
    assert [(r["recipient"], r["issued_by"], r["period"]) for r in rows] == [("甲", "李明", "10年"),
                                                                            ("乙", "李明", "10年")]


def test_an_edited_status_event_is_caught_when_exported(capsys, ws_copy):
    """The export reads return notes from the events: an edited one (valid chain end, old event edited) is
    refused, not exported."""
    register.return_copy(ws_copy, "1", "ok", operator="A")
    register.return_copy(ws_copy, "2", "ok", operator="B")
    with sqlite3.connect(ws_copy.ledger_path) as db:
        seq, payload = db.execute("SELECT seq, payload FROM events WHERE kind='status' ORDER BY seq").fetchone()
        db.execute("UPDATE events SET payload=? WHERE seq=?", (payload.replace('"A"', '"Mallory"'), seq))
    code, _, err = run_main(capsys, "log", "export", "--csv", "--home", ws_copy.home)
    assert code == 7 and "was edited" in err


# -- log search -------------------------------------------------------------------------------------------
def test_log_search_by_name_unit_title_and_copy_number(capsys, issued):
    home, doc_id = issued.ws.home, issued.result.document.id
    code, out, _ = run_main(capsys, "log", "search", "chen", "--home", home)
    assert code == 0 and out.splitlines() == [line for line in out.splitlines() if "Chen Jing" in line]
    assert f"{doc_id}/000003  Chen Jing" in out
    _, out, _ = run_main(capsys, "log", "search", "办公", "--home", home)
    assert "张伟" in out and len(out.splitlines()) == 1
    _, out, _ = run_main(capsys, "log", "search", "restricted documents", "--home", home)  # the title
    assert len(out.splitlines()) == 5
    _, out, _ = run_main(capsys, "log", "search", "2", "--home", home)  # a copy number
    assert "Bob Baker" in out
    assert [e.copy.label for e in register.search(issued.ws, "2")] == ["000002"]
    assert [e.copy.label for e in register.search(issued.ws, f"{doc_id}/000005")] == ["000005"]
    code, out, _ = run_main(capsys, "log", "search", "nobody", "--home", home)
    assert code == 0 and "no copy matches 'nobody'" in out
    code, out, _ = run_main(capsys, "log", "search", "alice", "--json", "--home", home)
    hits = json.loads(out)
    assert code == 0 and [h["recipient"] for h in hits] == ["Alice Archer"]
    assert hits == [e.to_json() for e in register.search(issued.ws, "alice")]
    code, out, _ = run_main(capsys, "log", "search", "a", "--status", "returned", "--json", "--home", home)
    assert json.loads(out) == []


def test_log_search_checks_the_register_first(capsys, ws_copy):
    with sqlite3.connect(ws_copy.ledger_path) as db:
        db.execute("UPDATE copies SET recipient='Mallory' WHERE copy_no=4")
    code, out, err = run_main(capsys, "log", "search", "Mallory", "--home", ws_copy.home)
    assert code == 7 and "Mallory" not in out and "failed verification" in err
    code, out, _ = run_main(capsys, "log", "search", "Mallory", "--trust-register", "--home", ws_copy.home)
    assert code == 0 and "FAILED verification" in out and "Mallory" in out


# -- log export --headers zh ------------------------------------------------------------------------------
def test_export_with_chinese_headers(capsys, issued):
    home = issued.ws.home
    code, out, _ = run_main(capsys, "log", "export", "--csv", "--headers", "zh", "--home", home)
    assert code == 0
    lines = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert lines[0][:10] == ["文件编号", "标题", "密级", "份号", "收件人", "单位", "分发时间", "分发人", "状态", "备注"]
    assert lines[0][10:] == ["保密期限", "退回时间", "退回经办人", "退回备注", "销毁时间", "销毁经办人", "销毁备注",
                             "作废时间", "作废经办人", "作废原因"]
    assert len(lines[0]) == len(register.EXPORT_COLUMNS)
    _, en, _ = run_main(capsys, "log", "export", "--csv", "--home", home)
    assert out.split("\n", 1)[1] == en.split("\n", 1)[1]  # the same rows and footer
    assert register.export_csv(issued.ws, headers="zh") == out.encode("utf-8")
    with pytest.raises(BadRequestError, match="unknown header language 'fr'"):
        register.export_csv(issued.ws, headers="fr")
    code, _, err = run_main(capsys, "log", "export", "--csv", "--headers", "fr", "--home", home)
    assert code == 2 and "fr" in err


# -- a conflicting --level ----------------------------------------------------------------------------------
def _event_count(ws: leakmark.Workspace) -> int:
    return db_rows(ws.ledger_path, "SELECT COUNT(*) FROM events")[0][0]


def test_a_conflicting_level_is_an_error(capsys, issued, ws_copy, tmp_path):
    before = _event_count(ws_copy)
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "Frank", "--level", "秘密", "-o", tmp_path / "o",
                            "--jobs", "1", "-q", "--home", ws_copy.home)
    assert code == 10 and "is registered as no level, not 秘密" in err and "--reclassify --reason" in err
    assert _event_count(ws_copy) == before
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    # the same level (or none) is fine
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "Frank", "-o", tmp_path / "o2", "--jobs", "1",
                            "-q", "--home", ws_copy.home)
    assert code == 0, err


def test_reclassify_appends_an_event_and_changes_the_level(capsys, issued, ws_copy, tmp_path):
    doc_id = issued.result.document.id
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "Frank", "--level", "机密", "--reclassify",
                            "--reason", "上级通知 2026-12", "--operator", "李明", "-o", tmp_path / "o", "--jobs", "1",
                            "-q", "--home", ws_copy.home)
    assert code == 0, err
    assert register.list_documents(ws_copy)[0].document.level == "机密"
    (payload,) = [json.loads(p) for (p,) in db_rows(ws_copy.ledger_path,
                                                     "SELECT payload FROM events WHERE kind='reclassify'")]
    assert payload == {"document_id": doc_id, "level": "机密", "previous": "", "reason": "上级通知 2026-12",
                       "operator": "李明"}
    register.verify(ws_copy)
    # now 机密 is its level: issuing with it again needs nothing more; 秘密 is a conflict again
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "Gina", "--level", "秘密", "-o", tmp_path / "o2",
                            "--jobs", "1", "-q", "--home", ws_copy.home)
    assert code == 10 and "registered as 机密, not 秘密" in err
    with Ledger(ws_copy) as ledger:
        ledger.check(for_write=True)
        ledger.reclassify(doc_id, "秘密", "downgraded", "王芳")
    register.verify(ws_copy)
    assert [json.loads(p)["level"] for (p,) in db_rows(
        ws_copy.ledger_path, "SELECT payload FROM events WHERE kind='reclassify' ORDER BY seq")] == ["机密", "秘密"]
    # the history stays visible: `log show` and its JSON list the document's changes of 密级
    detail = register.show(ws_copy, "1")
    assert detail.document.level == "秘密"
    assert [(r.previous, r.level, r.reason, r.operator) for r in detail.reclassified] == [
        ("", "机密", "上级通知 2026-12", "李明"), ("机密", "秘密", "downgraded", "王芳")]
    assert [r["level"] for r in detail.to_json()["document"]["reclassified"]] == ["机密", "秘密"]
    code, out, _ = run_main(capsys, "log", "show", "1", "--home", ws_copy.home)
    assert code == 0 and "reclassified (no level) -> 机密 on " in out and "by 李明: 上级通知 2026-12" in out
    assert "reclassified 机密 -> 秘密 on " in out and "by 王芳: downgraded" in out


def test_reclassify_needs_a_reason_and_a_different_level(capsys, issued, ws_copy, tmp_path):
    base = ("issue", issued.source, "-r", "Frank", "-o", tmp_path / "o", "--jobs", "1", "-q", "--home", ws_copy.home)
    code, _, err = run_main(capsys, *base, "--level", "机密", "--reclassify")
    assert code == 10 and "--reason" in err
    code, _, err = run_main(capsys, *base, "--level", "机密", "--reason", "x")
    assert code == 2 and "--reason goes with --reclassify" in err
    code, _, err = run_main(capsys, *base, "--reclassify", "--reason", "x")
    assert code == 10
    with Ledger(ws_copy) as ledger, pytest.raises(BadRequestError, match="needs a different --level"):
        ledger.reclassify(issued.result.document.id, "", "x")
    assert db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM events WHERE kind='reclassify'") == [(0,)]


def test_a_level_edited_in_the_table_or_a_forged_reclassification_fails(capsys, issued, ws_copy):
    doc_id = issued.result.document.id
    with sqlite3.connect(ws_copy.ledger_path) as db:
        db.execute("UPDATE documents SET level='内部' WHERE id=?", (doc_id,))
    code, _, _ = run_main(capsys, "log", "list", "--home", ws_copy.home)
    assert code == 7
    with sqlite3.connect(ws_copy.ledger_path) as db:
        db.execute("UPDATE documents SET level='' WHERE id=?", (doc_id,))
    with Ledger(ws_copy) as ledger, ledger.transaction():  # authentic, but its previous level is wrong
        ledger._append("reclassify", {"document_id": doc_id, "level": "绝密", "previous": "秘密", "reason": "x",
                                      "operator": "y"})
    with pytest.raises(LedgerIntegrityError, match="reclassifies a document"):
        register.verify(ws_copy)


# -- local time in text, UTC in JSON and CSV ----------------------------------------------------------------
def test_text_shows_local_time_json_and_csv_keep_utc(capsys, issued, shanghai):
    home = issued.ws.home
    stored = register.show(issued.ws, "1").copy.issued_at
    assert stored.endswith("+00:00")
    local = datetime.fromisoformat(stored).astimezone(timezone(timedelta(hours=8)))
    shown = local.isoformat(sep=" ", timespec="seconds")
    assert shown.endswith("+08:00")
    _, out, _ = run_main(capsys, "log", "show", "1", "--home", home)
    assert f"issued:    {shown} by" in out and stored not in out
    _, out, _ = run_main(capsys, "log", "list", "--home", home)
    assert shown in out and stored not in out
    _, out, _ = run_main(capsys, "log", "search", "Alice", "--home", home)
    assert shown in out
    _, out, _ = run_main(capsys, "log", "list", "--json", "--home", home)
    assert json.loads(out)[0]["copies"][0]["issued_at"] == stored
    assert _export(capsys, home)[0]["issued_at"] == stored


def test_local_time_keeps_what_it_cannot_read():
    from leakmark.cli_common import local_time  # (new: imported here so that this file runs against main too)

    assert local_time("") == ""
    assert local_time("not a time") == "not a time"
    assert local_time("2026-01-01T00:00:00") == "2026-01-01T00:00:00"  # no zone: shown as stored


# -- the schema version marks the new event kinds ---------------------------------------------------------
@pytest.mark.parametrize("old", [2, 3])
def test_an_older_register_is_stamped_current_and_verifies_unchanged(ws_copy, old):
    """Versions 3 and 4 change no table (an older leakmark refuses a register that may hold void, reclassify or
    trace events as newer than it understands, rather than failing its verification); the events stay as
    they were."""
    assert SCHEMA_VERSION >= 4
    before = db_rows(ws_copy.ledger_path, "SELECT * FROM events ORDER BY seq")
    with sqlite3.connect(ws_copy.ledger_path) as db:
        db.execute(f"PRAGMA user_version = {old}")
    with Ledger(ws_copy) as ledger:
        assert ledger.schema_found == old
    assert db_rows(ws_copy.ledger_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert db_rows(ws_copy.ledger_path, "SELECT * FROM events ORDER BY seq") == before
    register.verify(ws_copy)


def test_abandoning_a_run_records_its_operator_and_the_export_dates_its_void_copies(capsys, ws_copy):
    with Ledger(ws_copy) as ledger:
        ledger.check(for_write=True)
        doc = ledger.documents()[0]
        template, first = ledger.copies(doc.id)[0], ledger.runs()[0]
        run = Run(id="R-test-abandon", document_id=doc.id, created_at=now_iso(), created_by="李明", state=RunState.open,
                  options=first.options, copies=1, done=0, merge_bytes=0)
        ledger.start_run(doc, False, run, [Planned("Mallory")], template.settings, template.version)
    code, out, err = run_main(capsys, "issue", "--abandon", "R-test-abandon", "--operator", "王芳",
                              "--home", ws_copy.home)
    assert code == 0 and "abandoned" in out, err
    row = next(r for r in _export(capsys, ws_copy.home) if r["copy_no"] == "000006")
    assert (row["status"], row["voided_by"], row["void_reason"]) == ("void", "王芳", "run R-test-abandon abandoned")
    assert row["voided_at"].startswith("20")
    assert register.show(ws_copy, "6").history[-1].operator == "王芳"
    register.verify(ws_copy)
