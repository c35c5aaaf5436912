"""Issue 13, findings 1, 2 and 4: the register is checked before every write, trace and read; copy numbers
are never reused; nothing is named from a register that fails verification; a different key is named as such.

Each test below reproduces an attack of the issue as an insider with write access to the workspace (but
without the key, unless said) would make it, and failed on the code before this change.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import cv2
import pytest
from lmtest import db_exec, db_rows, run_main

import leakmark
from leakmark import register
from leakmark.errors import LedgerIntegrityError, WorkspaceMissingError
from leakmark.ledger import Ledger
from leakmark.ledger.chain import event_hash, event_mac, head_mac

# (only names that existed before this change are imported at the top, so that this file also runs against
# the code before it, where each test fails for its own reason)

RESOURCES = Path(__file__).parent / "resources"



def _issue(ws: leakmark.Workspace, source: Path, names: list[str], out: Path) -> leakmark.IssueResult:
    return leakmark.issue(ws, leakmark.IssueOptions(
        source=source, recipients=tuple(leakmark.Recipient(n, "Unit") for n in names), output_dir=out, jobs=1))


def _events(ws: leakmark.Workspace) -> list[tuple]:
    return db_rows(ws.ledger_path, "SELECT seq, hash FROM events ORDER BY seq")


def _refused(excinfo: pytest.ExceptionInfo) -> str:
    assert excinfo.value.exit_code == 7
    msg = excinfo.value.message
    assert "failed verification" in msg and "backup" in msg and "leakmark log verify" in msg
    return msg


def _backup(ws: leakmark.Workspace, to: Path) -> None:
    """What a backup holds of the register: a consistent copy of ledger.sqlite, and ledger.head."""
    to.mkdir()
    src, dst = sqlite3.connect(ws.ledger_path), sqlite3.connect(to / "ledger.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    shutil.copy2(ws.head_path, to / "ledger.head")


def _restore(ws: leakmark.Workspace, frm: Path) -> None:
    for extra in ("-wal", "-shm"):
        Path(str(ws.ledger_path) + extra).unlink(missing_ok=True)
    shutil.copy2(frm / "ledger.sqlite", ws.ledger_path)
    shutil.copy2(frm / "ledger.head", ws.head_path)


@pytest.fixture
def evidence(copy3_page1, tmp_path: Path) -> Path:
    """A lossless capture of page 1 of copy 000003 (issued to Chen Jing)."""
    path = tmp_path / "leak.png"
    assert cv2.imwrite(str(path), copy3_page1)
    return path


# -- finding 1: copy numbers are never reused; the chain is checked before every write ------------------------
def test_deleted_copy_row_then_issue_is_refused_and_the_number_not_reused(issued, ws_copy, tmp_path, capsys):
    """`delete from copies where copy_no=5` (the highest), then an ordinary issue: before, the new copy got
    000005, `log verify` said OK again and a leak of the old copy 5 named the new recipient."""
    db_exec(ws_copy.ledger_path, "DELETE FROM copies WHERE copy_no=5")
    before = _events(ws_copy)
    with pytest.raises(LedgerIntegrityError) as info:
        _issue(ws_copy, issued.source, ["Frank"], tmp_path / "out")
    assert "copies rows of document" in _refused(info) and "deleted" in info.value.message
    assert _events(ws_copy) == before and not list((tmp_path / "out").glob("*.pdf"))
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "Frank", "-o", tmp_path / "out2", "--home",
                            ws_copy.home)
    assert code == 7 and "failed verification" in err
    code, _, err = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 7 and "000005 was deleted" in err
    # every record of number 5 outside the copies table still holds it: the checkpoint, the vault's records
    with Ledger(ws_copy) as ledger:  # the planner refuses too (it checks the document first)
        with pytest.raises(LedgerIntegrityError):
            ledger.plan_numbers(issued.result.document.id, [None])


def test_next_number_comes_from_every_record_not_only_the_copies_rows(issued, ws_copy, tmp_path):
    """Even with the copies row and its digest gone and the check bypassed, number 5 is not given out again:
    the checkpoint's highest number and the vault's reservation record still hold it."""
    doc = issued.result.document
    with Ledger(ws_copy) as ledger:
        ledger.check()
        db_exec(ws_copy.ledger_path, "DELETE FROM copies WHERE copy_no=5")
        ledger._verified_docs.add(doc.id)  # the per-document check is what this test leaves out
        assert ledger.plan_numbers(doc.id, [None], doc.sha256) == [6]
        with pytest.raises(leakmark.LeakmarkError, match=r"000005 of document \w+ is already issued or reserved"):
            ledger.plan_numbers(doc.id, [5], doc.sha256)
    res = json.loads(next((ws_copy.doc_dir(doc.sha256) / "reservations").glob("*.json")).read_text())
    assert res["numbers"] == [[1, 5]] and res["run"] == issued.result.run


def test_resume_writes_a_lost_reservation_record(issued, ws_copy, tmp_path, monkeypatch):
    from leakmark.errors import OutputError
    from leakmark.ledger import reservations
    from leakmark.pdf import copy as lm_pdf

    monkeypatch.setattr(reservations, "write", lambda *a: None)  # stopped right after the run's commit
    monkeypatch.setattr(lm_pdf, "write_pdf_copy", lambda *a: (_ for _ in ()).throw(OutputError("disk full")))
    with pytest.raises(OutputError):
        _issue(ws_copy, issued.source, ["Frank", "Grace"], tmp_path / "out")
    monkeypatch.undo()
    folder = ws_copy.doc_dir(issued.result.document.sha256) / "reservations"
    assert len(list(folder.glob("*.json"))) == 1  # the first run's only
    r = leakmark.resume(ws_copy, "last")
    rec = json.loads((folder / f"{r.run}.json").read_text())
    assert rec["numbers"] == [[6, 7]] and rec["seq"] == 5
    assert register.verify(ws_copy).copies == 7


def test_deleted_last_run_events_rows_and_head_are_detected(issued, ws_copy, tmp_path, capsys):
    """The last run's events, runs and copies rows and `ledger.head` deleted: before, the next issue reused
    the numbers and rewrote the head, and `log verify` passed."""
    second = _issue(ws_copy, issued.source, ["Frank", "Grace"], tmp_path / "out")
    assert [c.copy_no for c in second.copies] == ["000006", "000007"]
    db_exec(ws_copy.ledger_path, "DELETE FROM events WHERE seq > 4", ("DELETE FROM runs WHERE id=?", (second.run,)),
            ("DELETE FROM copies WHERE run_id=?", (second.run,)))
    ws_copy.head_path.unlink()
    before = _events(ws_copy)
    with pytest.raises(LedgerIntegrityError) as info:
        _issue(ws_copy, issued.source, ["Heidi"], tmp_path / "out2")
    assert "event 4 but its last checkpoint records event 7" in _refused(info)
    assert _events(ws_copy) == before and not ws_copy.head_path.exists()  # the head is not silently rewritten
    code, _, err = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 7 and "head file" in err
    # the same with the checkpoint and the digests wiped too: the missing head file and the vault's record of
    # the deleted run still tell
    db_exec(ws_copy.ledger_path, "DELETE FROM checkpoint", "DELETE FROM digests")
    with pytest.raises(LedgerIntegrityError, match=r"head file \S+ is missing"):
        _issue(ws_copy, issued.source, ["Heidi"], tmp_path / "out3")
    assert _events(ws_copy) == before


def test_restored_older_backup_is_detected_against_a_witness(issued, ws_copy, tmp_path, capsys):
    """An older backup put back (which an error message used to advise): an authentic, older register.
    Before, the next issue reused the numbers issued since. Now, with only ledger.sqlite and ledger.head put
    back, the vault's reservation records tell; with the whole workspace put back, `log verify --against`
    a witness kept elsewhere does."""
    _backup(ws_copy, tmp_path / "backup")
    whole = tmp_path / "whole-backup"
    shutil.copytree(ws_copy.home, whole)
    second = _issue(ws_copy, issued.source, ["Frank", "Grace"], tmp_path / "out")
    register.return_copy(ws_copy, "000002")
    witness = tmp_path / "elsewhere" / "witness.json"
    witness.parent.mkdir()
    code, out, err = run_main(capsys, "log", "anchor", witness, "--home", ws_copy.home)
    assert code == 0, err
    assert "witness written to" in out and "register at event 8" in out
    code, out, _ = run_main(capsys, "log", "verify", "--against", witness, "--home", ws_copy.home)
    assert code == 0 and "witness OK" in out

    # the register files put back: the vault still records the run they lack
    _restore(ws_copy, tmp_path / "backup")
    with pytest.raises(LedgerIntegrityError) as info:  # the numbers 6 and 7 are not given out again
        _issue(ws_copy, issued.source, ["Heidi"], tmp_path / "out2")
    assert f"the vault records run {second.run}" in _refused(info)
    assert "rolled back" in info.value.message
    code, out, err = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 7 and "rolled back" in err

    # the whole workspace put back: authentic and consistent, only the witness tells
    shutil.rmtree(ws_copy.home)
    shutil.copytree(whole, ws_copy.home)
    code, out, _ = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 0
    code, out, err = run_main(capsys, "log", "verify", "--against", witness, "--home", ws_copy.home)
    assert code == 7 and "ledger OK" not in out
    assert "ends at event 4" in err and "records event 8" in err and "rolled back" in err
    # and an anchor never overwrites a witness of a newer state with an older one
    before = witness.read_bytes()
    code, _, err = run_main(capsys, "log", "anchor", witness, "--home", ws_copy.home)
    assert code == 7 and "rolled back" in err and witness.read_bytes() == before


def test_witness_of_a_rewritten_history_or_another_workspace(issued, ws_copy, tmp_path, capsys):
    w = tmp_path / "w.json"
    a = register.anchor(ws_copy, w)
    assert (a.witness.count, a.witness.documents, a.witness.copies) == (4, 1, 5)
    assert json.loads(w.read_text())["head"] == _events(ws_copy)[-1][1]
    # printed when no file is given
    code, out, _ = run_main(capsys, "log", "anchor", "--home", ws_copy.home)
    assert code == 0 and json.loads(out)["count"] == 4
    # edited witness: refused as input
    d = json.loads(w.read_text())
    d["count"] = 3
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(d))
    code, _, err = run_main(capsys, "log", "verify", "--against", edited, "--home", ws_copy.home)
    assert code == 3 and "was edited" in err
    # another workspace's witness
    other = leakmark.Workspace.open(tmp_path / "other")
    ow = tmp_path / "other-witness.json"
    register.anchor(other, ow)
    code, _, err = run_main(capsys, "log", "verify", "--against", ow, "--home", ws_copy.home)
    assert code == 10 and "another workspace" in err
    # not a witness: anchor will not overwrite it
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    code, _, err = run_main(capsys, "log", "anchor", notes, "--home", ws_copy.home)
    assert code == 9 and notes.read_text() == "my notes"
    # a register whose last event was rewritten with the key (an insider holding it) no longer matches
    seq, ts, kind, payload, prev = db_rows(ws_copy.ledger_path, "SELECT seq, ts, kind, payload, prev_hash FROM "
                                                                "events WHERE seq=4")[0]
    p = json.loads(payload)
    p["note"] = "rewritten"
    digest = event_hash(prev, seq, ts, kind, p)
    key = ws_copy.key()
    db_exec(ws_copy.ledger_path, ("UPDATE events SET payload=?, hash=?, mac=? WHERE seq=4",
                                  (json.dumps(p), digest, event_mac(key, digest))), "DELETE FROM checkpoint")
    ws_copy.head_path.write_text(json.dumps({"seq": 4, "hash": digest,
                                             "mac": head_mac(key, 4, digest)}))
    code, _, err = run_main(capsys, "log", "verify", "--against", w, "--home", ws_copy.home)
    assert code == 7 and "event 4 differs from the one the witness" in err


def test_replay_rejects_a_second_reservation_of_a_copy_number(issued, ws_copy):
    """Even a run event authenticated with the key (an insider holding it, or a bug) may not reserve a number
    again: before, the replay took the second reservation and verification passed."""
    key = ws_copy.key()
    doc_id = issued.result.document.id
    (seq, prev), = db_rows(ws_copy.ledger_path, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
    (copy,) = db_rows(ws_copy.ledger_path, "SELECT * FROM copies WHERE copy_no=3")
    (run,) = db_rows(ws_copy.ledger_path, "SELECT * FROM runs")
    cols = [c[1] for c in sqlite3.connect(ws_copy.ledger_path).execute("PRAGMA table_info(copies)")]
    rcols = [c[1] for c in sqlite3.connect(ws_copy.ledger_path).execute("PRAGMA table_info(runs)")]
    new_copy = dict(zip(cols, copy, strict=True)) | {"recipient": "Mallory", "status": "reserved", "run_id": "r2",
                                                     "issued_at": "", "path": ""}
    new_run = dict(zip(rcols, run, strict=True)) | {"id": "r2", "state": "open", "copies": 1, "done": 0}
    payload = {"run": new_run, "copies": [new_copy]}
    ts = "2026-12-01T00:00:00+00:00"
    digest = event_hash(prev, seq + 1, ts, "run", payload)
    db_exec(ws_copy.ledger_path,
            ("INSERT INTO events VALUES (?,?,?,?,?,?,?)",
             (seq + 1, ts, "run", json.dumps(payload), prev, digest, event_mac(key, digest))),
            ("INSERT INTO runs VALUES (" + ",".join("?" * len(rcols)) + ")", tuple(new_run.values())),
            ("DELETE FROM copies WHERE copy_no=3", ()),
            ("INSERT INTO copies VALUES (" + ",".join("?" * len(cols)) + ")", tuple(new_copy.values())))
    with pytest.raises(LedgerIntegrityError) as info:
        register.verify(ws_copy)
    assert f"event {seq + 1} reserves copy {doc_id}/000003 again" in info.value.message
    assert "'Chen Jing'" in info.value.message


@pytest.mark.parametrize("how", ["deleted", "garbage", "older"])
def test_head_file_replaced_or_deleted_is_detected_not_rewritten(issued, ws_copy, tmp_path, how):
    """`ledger.head` deleted, replaced by junk, or by an older authentic copy: before, the next issue
    rewrote it and verification passed."""
    old_head = ws_copy.head_path.read_bytes()
    register.return_copy(ws_copy, "000001")
    register.destroy_copy(ws_copy, "000001")
    if how == "deleted":
        ws_copy.head_path.unlink()
    elif how == "garbage":
        ws_copy.head_path.write_text('{"seq": 6, "hash": "00", "mac": "00"}')
    else:
        ws_copy.head_path.write_bytes(old_head)  # event 4, two transactions behind
    after = ws_copy.head_path.read_bytes() if ws_copy.head_path.exists() else None
    before = _events(ws_copy)
    with pytest.raises(LedgerIntegrityError) as info:
        _issue(ws_copy, issued.source, ["Frank"], tmp_path / "out")
    msg = _refused(info)
    assert {"deleted": "is missing", "garbage": "was edited", "older": "replaced by an older copy"}[how] in msg
    assert _events(ws_copy) == before
    assert (ws_copy.head_path.read_bytes() if ws_copy.head_path.exists() else None) == after
    with pytest.raises(LedgerIntegrityError):
        register.list_documents(ws_copy)
    with pytest.raises(LedgerIntegrityError):
        register.verify(ws_copy)


def test_head_file_one_transaction_behind_is_a_crash_not_an_attack(issued, ws_copy, monkeypatch):
    """The process may stop between COMMIT and writing the head file: one transaction behind is accepted
    (reads go on, the next write brings it level), twice in a row too."""
    monkeypatch.setattr(Ledger, "_write_head", lambda self: None)  # the step after COMMIT
    register.return_copy(ws_copy, "000001")
    assert json.loads(ws_copy.head_path.read_text())["seq"] == 4  # the stop: event 5 committed, head at 4
    assert register.list_documents(ws_copy)
    register.destroy_copy(ws_copy, "000001")  # its check brings the head to 5, then it stops again at 6
    assert json.loads(ws_copy.head_path.read_text())["seq"] == 5
    monkeypatch.undo()
    assert register.verify(ws_copy).events == 6
    register.return_copy(ws_copy, "000002")
    assert json.loads(ws_copy.head_path.read_text())["seq"] == 7


def test_checkpoint_is_kept_outside_the_database_too(issued, ws_copy):
    head = json.loads(ws_copy.head_path.read_text())
    cp = head["checkpoint"]
    assert (cp["seq"], cp["hash"], cp["key"]) == (4, _events(ws_copy)[-1][1], ws_copy.key_fingerprint())
    assert cp["numbers"] == {issued.result.document.id: 5}
    db_exec(ws_copy.ledger_path, "DELETE FROM checkpoint")
    with pytest.raises(LedgerIntegrityError, match="checkpoint was deleted"):
        register.list_documents(ws_copy)
    assert db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM checkpoint") == [(0,)]


def test_edited_digest_or_checkpoint_is_detected(issued, ws_copy):
    db_exec(ws_copy.ledger_path, "UPDATE digests SET rows=rows+1 WHERE part='copies'")
    with pytest.raises(LedgerIntegrityError, match="digests table"):
        register.runs(ws_copy)
    (body,) = db_rows(ws_copy.ledger_path, "SELECT body FROM checkpoint")[0]
    db_exec(ws_copy.ledger_path, "UPDATE digests SET rows=rows-1 WHERE part='copies'",
            ("UPDATE checkpoint SET body=?", (json.dumps(json.loads(body) | {"numbers": {}}),)))
    with pytest.raises(LedgerIntegrityError, match="checkpoint was edited"):
        register.runs(ws_copy)


# -- finding 2: nothing is named from a register that fails verification ---------------------------------
def test_trace_refuses_a_tampered_register(issued, ws_copy, evidence, capsys):
    """`update copies set recipient='Mallory'`: before, trace named Mallory with exit 0 and no warning."""
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient='Mallory' WHERE copy_no=3")
    code, out, err = run_main(capsys, "trace", evidence, "--home", ws_copy.home)
    assert code == 7 and "Mallory" not in out and out == ""
    assert "failed verification" in err and "restore" in err and "leakmark log verify" in err
    assert "--trust-register" in err
    code, out, err = run_main(capsys, "trace", evidence, "--json", "--home", ws_copy.home)
    assert code == 7 and out == ""


def test_trace_with_trust_register_names_but_says_the_register_failed(issued, ws_copy, evidence, capsys):
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient='Mallory' WHERE copy_no=3")
    code, out, err = run_main(capsys, "trace", evidence, "--trust-register", "--home", ws_copy.home)
    assert code == 0, err
    assert out.startswith("WARNING: the register FAILED verification")
    assert "=> copy 000003 issued to Mallory" in out
    assert "register: 4 events" in out and "FAILED verification (the copies rows of document" in out
    code, out, err = run_main(capsys, "trace", evidence, "--json", "--trust-register", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    assert res["suspects"][0]["recipient"] == "Mallory" and res["verdict"] == "identified"
    assert res["register"]["verified"] is False and "edited" in res["register"]["problem"]
    assert res["register"]["count"] == 5  # the first trace was recorded (event 5): its chain is intact
    assert "WARNING: the register FAILED verification" in err
    r = leakmark.trace(ws_copy, leakmark.TraceOptions(evidence=(evidence,), trust_register=True))
    assert r.register is not None and not r.register.verified


def test_trace_of_a_good_register_shows_its_checkpoint(issued, ws_copy, evidence, capsys):
    head = _events(ws_copy)[-1][1]
    code, out, _ = run_main(capsys, "trace", evidence, "--home", ws_copy.home)
    assert code == 0
    assert f"register: 4 events, head {head}, verified" in out
    assert "WARNING" not in out


def test_swapped_recipients_name_nobody(issued, ws_copy, evidence, capsys):
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient=CASE copy_no WHEN 3 THEN 'Bob Baker' "
                                 "ELSE 'Chen Jing' END WHERE copy_no IN (2, 3)")
    code, out, _ = run_main(capsys, "trace", evidence, "--home", ws_copy.home)
    assert code == 7 and "Bob Baker" not in out


@pytest.mark.parametrize("args", [("log", "list"), ("log", "list", "--json"), ("log", "runs"),
                                  ("log", "show", "000004"), ("log", "export", "--csv")])
def test_read_commands_refuse_a_tampered_register(issued, ws_copy, capsys, args):
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient='Mallory' WHERE copy_no=4")
    code, out, err = run_main(capsys, *args, "--home", ws_copy.home)
    assert code == 7 and "Mallory" not in out and "failed verification" in err
    code, out, err = run_main(capsys, *args, "--trust-register", "--home", ws_copy.home)
    assert code == 0, err
    shown = err if "--json" in args or "export" in args else out
    assert "WARNING: the register FAILED verification" in shown
    if args[1] in ("list", "show", "export"):
        assert "Mallory" in out
    if "export" in args:
        assert "FAILED verification" in out.splitlines()[-1]


def test_writes_refuse_a_tampered_register(issued, ws_copy, capsys):
    db_exec(ws_copy.ledger_path, "UPDATE copies SET unit='Elsewhere' WHERE copy_no=2")
    before = _events(ws_copy)
    code, _, err = run_main(capsys, "log", "return", "000002", "--home", ws_copy.home)
    assert code == 7 and "Nothing was written" in err
    code, _, err = run_main(capsys, "log", "destroy", "000001", "--home", ws_copy.home)
    assert code == 7
    assert _events(ws_copy) == before


def test_an_edited_event_in_a_copys_history_is_not_shown(issued, ws_copy, capsys):
    register.return_copy(ws_copy, "000002", "back")
    (payload,) = db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE seq=5")[0]
    db_exec(ws_copy.ledger_path, ("UPDATE events SET payload=? WHERE seq=5", (payload.replace("back", "lost"),)))
    code, out, err = run_main(capsys, "log", "show", "000002", "--home", ws_copy.home)
    assert code == 7 and "event 5 (status) was edited" in err and "lost" not in out


# -- finding 4: the key's identity ----------------------------------------------------------------------------
def test_another_key_is_named_as_such_and_nothing_is_written(issued, ws_copy, evidence, tmp_path, capsys):
    """The key file replaced by other 32 bytes: before, issue went ahead, trace gave a silent no-match and
    verify blamed "event 1 (document) was edited"."""
    right = ws_copy.key_fingerprint()
    ws_copy.key_path.write_bytes(b"\x07" * 32)
    wrong = ws_copy.key_fingerprint()
    files = {p.name: p.read_bytes() for p in ws_copy.home.iterdir() if p.is_file() and p.name != "key"}
    for args in (("issue", issued.source, "-r", "Frank", "-o", tmp_path / "out"), ("trace", evidence),
                 ("log", "verify"), ("log", "list"), ("log", "return", "000001")):
        code, out, err = run_main(capsys, *args, "--home", ws_copy.home)
        assert code == 5, (args, err)
        assert (f"the key at {ws_copy.key_path} is not the key this register was written with (fingerprint {wrong}, "
                f"register expects {right}): restore the right key from backup") in err
        assert "edited" not in err and out == ""
    after = {p.name: p.read_bytes() for p in ws_copy.home.iterdir() if p.is_file() and p.name in files}
    assert after == files  # nothing written (WAL files of a read-only open aside)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    with pytest.raises(WorkspaceMissingError) as info:
        Ledger(ws_copy)
    assert type(info.value).__name__ == "WrongKeyError" and info.value.exit_code == 5


@pytest.fixture
def ws_v0(tmp_path: Path) -> leakmark.Workspace:
    home = tmp_path / "ws-v0"
    shutil.copytree(RESOURCES / "ledger-v0", home)
    (home / "key").chmod(0o600)
    return leakmark.Workspace.open(home, create=False)


def _fingerprint_recorded(ws: leakmark.Workspace) -> list[tuple]:
    tables = {n for (n,) in db_rows(ws.ledger_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    return db_rows(ws.ledger_path, "SELECT value FROM meta WHERE name='key_fingerprint'") if "meta" in tables else []


def test_a_register_from_before_fingerprints_adopts_the_key_only_if_the_chain_verifies(ws_v0, tmp_path):
    fingerprint = ws_v0.key_fingerprint()
    # the wrong key: refused before the migration writes anything
    other = tmp_path / "other"
    shutil.copytree(ws_v0.home, other)
    (other / "key").write_bytes(b"\x07" * 32)
    with pytest.raises(WorkspaceMissingError, match="none of the register's events verifies with it"):
        Ledger(leakmark.Workspace.open(other, create=False))
    assert db_rows(other / "ledger.sqlite", "PRAGMA user_version") == [(0,)]
    # tampered with the right key: it opens (log verify names the row) but adopts nothing
    tampered = tmp_path / "tampered"
    shutil.copytree(ws_v0.home, tampered)
    db_exec(tampered / "ledger.sqlite", "UPDATE copies SET recipient='Mallory' WHERE copy_no=1")
    tws = leakmark.Workspace.open(tampered, create=False)
    with pytest.raises(LedgerIntegrityError, match="recipient is 'Mallory'"):
        register.list_documents(tws)
    assert _fingerprint_recorded(tws) == []
    # the Ledger's own writes (no check() first) verify it once too
    direct = tmp_path / "direct"
    shutil.copytree(ws_v0.home, direct)
    with Ledger(leakmark.Workspace.open(direct, create=False)) as ledger:
        assert ledger.set_status("000001", "returned").status == "returned"
    assert register.verify(leakmark.Workspace.open(direct, create=False)).events == 9
    # untouched with the right key: verified in full once, then it records the fingerprint
    assert _fingerprint_recorded(ws_v0) == []
    assert register.list_documents(ws_v0)[0].document.title == "Fixture memo 通知"
    assert _fingerprint_recorded(ws_v0) == [(fingerprint,)]
    head = json.loads(ws_v0.head_path.read_text())
    assert head["checkpoint"]["seq"] == 8 and head["checkpoint"]["key"] == fingerprint
