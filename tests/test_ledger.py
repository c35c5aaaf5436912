"""The distribution register through the API: verification, tampering, copy numbers, status, atomic failure."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from lmtest import RECIPIENTS, concurrent_issue_worker, db_exec, db_rows, text_pdf

import leakmark
from leakmark.errors import BadRequestError, LedgerIntegrityError, NotFoundError, OutputError, WorkspaceLockedError
from leakmark.ledger import Ledger
from leakmark.ledger.chain import event_hash, event_mac
from leakmark.pdf import copy as lm_pdf
from leakmark.pdf.read import sha256_file


def _verify(ws: leakmark.Workspace):
    with Ledger(ws) as ledger:
        return ledger.verify()


def _verify_fails(ws: leakmark.Workspace) -> str:
    with pytest.raises(LedgerIntegrityError) as info:
        _verify(ws)
    assert info.value.exit_code == 7
    return info.value.message


def _events(ws: leakmark.Workspace) -> int:
    return db_rows(ws.ledger_path, "SELECT COUNT(*) FROM events")[0][0]


def _issue(ws, source, names, out, **kw) -> leakmark.IssueResult:
    return leakmark.issue(ws, leakmark.IssueOptions(
        source=source, recipients=tuple(leakmark.Recipient(n, "Unit") for n in names), output_dir=out, jobs=1, **kw))


# -- the fixture's run ------------------------------------------------------------------------------
def test_issue_then_verify_passes(issued):
    rep = _verify(issued.ws)
    # document, run (5 copies reserved), issued (one batch of 5), run_end
    assert (rep.events, rep.documents, rep.runs, rep.copies) == (4, 1, 1, 5)
    kinds = [k for (k,) in db_rows(issued.ws.ledger_path, "SELECT kind FROM events ORDER BY seq")]
    assert kinds == ["document", "run", "issued", "run_end"]


def test_issue_records_every_copy(issued):
    doc_id = issued.result.document.id
    assert doc_id == "D" + sha256_file(issued.source)[:10]
    with Ledger(issued.ws) as ledger:
        doc = ledger.document(doc_id)
        copies = ledger.copies(doc_id)
    assert doc.pages == 2 and doc.dpi == 300 and doc.title == "Handling of restricted documents, Q4"
    assert [(c.recipient, c.unit) for c in copies] == list(RECIPIENTS)
    assert {c.status for c in copies} == {"issued"}
    for c, ic in zip(copies, issued.result.copies, strict=True):
        assert Path(c.path) == Path(ic.path).resolve() and Path(c.path).is_file()
        assert json.loads(c.settings)["shift"] == {"delta_px": 1}
    assert not list(issued.out_dir.glob(".*"))  # no temp files left behind


def test_copy_numbers_are_sequential_from_one(issued):
    assert [c.copy_no for c in issued.result.copies] == ["000001", "000002", "000003", "000004", "000005"]
    assert [Path(c.path).name for c in issued.result.copies][:2] == [
        "memo-en-000001-Alice_Archer.pdf", "memo-en-000002-Bob_Baker.pdf"]


# -- tampering ----------------------------------------------------------------------------------------
def test_edited_recipient_in_copies_is_named(issued, ws_copy):
    doc_id = issued.result.document.id
    db_exec(ws_copy.ledger_path, ("UPDATE copies SET recipient='Mallory' WHERE copy_no=2", ()))
    msg = _verify_fails(ws_copy)
    assert f"copies row {doc_id}/000002" in msg
    assert "recipient" in msg and "Mallory" in msg and "Bob Baker" in msg


def test_deleted_event_in_the_middle(ws_copy):
    db_exec(ws_copy.ledger_path, "DELETE FROM events WHERE seq=3")
    assert "event 3 is missing" in _verify_fails(ws_copy)


def test_deleted_last_event_is_detected(ws_copy):
    assert ws_copy.head_path.exists()
    db_exec(ws_copy.ledger_path, "DELETE FROM events WHERE seq=(SELECT MAX(seq) FROM events)")
    _verify_fails(ws_copy)


def test_truncation_of_events_and_views_is_caught_by_the_head_file(ws_copy):
    # a consistent truncation (the run's end event gone, its row set back) is only visible to the head file
    db_exec(ws_copy.ledger_path, "DELETE FROM events WHERE seq=4", "UPDATE runs SET state='open'")
    msg = _verify_fails(ws_copy)
    assert "event 4 was written" in msg and "deleted" in msg


def test_truncation_with_the_head_file_removed(ws_copy):
    db_exec(ws_copy.ledger_path, "DELETE FROM events WHERE seq=4", "UPDATE runs SET state='open'")
    ws_copy.head_path.unlink()
    assert "head file" in _verify_fails(ws_copy)


def test_edited_head_file(ws_copy):
    head = json.loads(ws_copy.head_path.read_text())
    head["seq"] = 5
    ws_copy.head_path.write_text(json.dumps(head))
    assert "head file" in _verify_fails(ws_copy)


def test_swapped_event_payloads(ws_copy):
    (p2,), (p3,) = (db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE seq=?", (s,))[0] for s in (2, 3))
    db_exec(ws_copy.ledger_path, ("UPDATE events SET payload=? WHERE seq=2", (p3,)),
            ("UPDATE events SET payload=? WHERE seq=3", (p2,)))
    assert "event 2 (run) was edited" in _verify_fails(ws_copy)


def test_reordered_events(ws_copy):
    db_exec(ws_copy.ledger_path, "UPDATE events SET seq=-1 WHERE seq=2", "UPDATE events SET seq=2 WHERE seq=3",
            "UPDATE events SET seq=3 WHERE seq=-1")
    assert "inserted or reordered" in _verify_fails(ws_copy)


def test_edited_event_payload(ws_copy):
    (payload,) = db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE seq=2")[0]
    p = json.loads(payload)
    p["copies"][3]["recipient"] = "Mallory"
    db_exec(ws_copy.ledger_path, ("UPDATE events SET payload=? WHERE seq=2", (json.dumps(p),)))
    assert "event 2 (run) was edited" in _verify_fails(ws_copy)


def test_rebuilt_chain_without_the_key_is_detected(ws_copy):
    """An attacker who recomputes every hash after an edit still cannot produce the HMACs."""
    rows = db_rows(ws_copy.ledger_path, "SELECT seq, ts, kind, payload, prev_hash FROM events ORDER BY seq")
    statements = []
    prev = rows[1][4]  # prev_hash of event 2, the run that reserved the copies
    for seq, ts, kind, payload, _ in rows[1:]:
        p = json.loads(payload)
        if seq == 2:
            p["copies"][1]["recipient"] = "Mallory"
        digest = event_hash(prev, seq, ts, kind, p)
        statements.append(("UPDATE events SET payload=?, prev_hash=?, hash=?, mac=? WHERE seq=?",
                           (json.dumps(p), prev, digest, event_mac(b"\x01" * 32, digest), seq)))
        prev = digest
    statements.append(("UPDATE copies SET recipient='Mallory' WHERE copy_no=2", ()))
    db_exec(ws_copy.ledger_path, *statements)
    assert "event 2 (run) was edited" in _verify_fails(ws_copy)


def test_inserted_copies_row(issued, ws_copy):
    db_exec(ws_copy.ledger_path, "INSERT INTO copies SELECT document_id, 99, 'Mallory', unit, note, issued_at, "
                                 "issued_by, status, run_id, settings, version, path FROM copies WHERE copy_no=1")
    msg = _verify_fails(ws_copy)
    assert f"copies row {issued.result.document.id}/000099" in msg and "inserted" in msg


def test_deleted_copies_row(issued, ws_copy):
    db_exec(ws_copy.ledger_path, "DELETE FROM copies WHERE copy_no=4")
    assert f"copies row {issued.result.document.id}/000004 was deleted" in _verify_fails(ws_copy)


def test_edited_document_title(issued, ws_copy):
    db_exec(ws_copy.ledger_path, "UPDATE documents SET title='Lunch menu'")
    msg = _verify_fails(ws_copy)
    assert f"documents row {issued.result.document.id}" in msg and "title" in msg


def test_edited_status_in_copies(ws_copy):
    db_exec(ws_copy.ledger_path, "UPDATE copies SET status='destroyed' WHERE copy_no=1")
    assert "status" in _verify_fails(ws_copy)


def test_damaged_ledger_file_is_a_leakmark_error(ws_copy):
    ws_copy.ledger_path.write_bytes(b"this is not an SQLite database " * 64)
    for extra in ("-wal", "-shm"):
        Path(str(ws_copy.ledger_path) + extra).unlink(missing_ok=True)
    with pytest.raises(leakmark.LeakmarkError) as info:
        _verify(ws_copy)
    assert info.value.exit_code == leakmark.ExitCode.ledger_integrity


# -- copy numbers -----------------------------------------------------------------------------------
def test_second_run_continues_numbering(issued, ws_copy, tmp_path):
    r = _issue(ws_copy, issued.source, ["Frank", "Grace"], tmp_path / "out")
    assert r.document.id == issued.result.document.id
    assert [c.copy_no for c in r.copies] == ["000006", "000007"]
    assert _verify(ws_copy).copies == 7


def test_numbering_is_per_document(ws_copy, tmp_path):
    other = text_pdf(tmp_path / "other.pdf")
    r = _issue(ws_copy, other, ["Frank"], tmp_path / "out")
    assert [c.copy_no for c in r.copies] == ["000001"]
    rep = _verify(ws_copy)
    assert (rep.documents, rep.copies) == (2, 6)


def test_explicit_copy_numbers(issued, ws_copy, tmp_path):
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(
        source=issued.source, recipients=(leakmark.Recipient("Frank", copy_no=50), leakmark.Recipient("Grace")),
        output_dir=tmp_path / "out", jobs=1))
    assert [c.copy_no for c in r.copies] == ["000050", "000051"]
    before = _events(ws_copy)
    with pytest.raises(BadRequestError, match="000003"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(
            source=issued.source, recipients=(leakmark.Recipient("Heidi", copy_no=3),), output_dir=tmp_path / "o2",
            jobs=1))
    assert _events(ws_copy) == before
    assert not (tmp_path / "o2").exists() or not list((tmp_path / "o2").iterdir())


def test_concurrent_issues_get_distinct_numbers(issued, ws_copy, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=concurrent_issue_worker,
                         args=(str(ws_copy.home), str(issued.source), str(tmp_path / f"out{i}"),
                               [f"P{i}a", f"P{i}b", f"P{i}c"], barrier, queue))
             for i in range(2)]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert all(kind == "ok" for kind, _ in results), results
    numbers = [n for _, ns in results for n in ns]
    assert sorted(numbers) == [f"{n:06d}" for n in range(6, 12)]
    rep = _verify(ws_copy)
    assert rep.copies == 11 and rep.events == 4 + 2 * 3 and rep.runs == 3  # each run: run, issued, run_end


def test_dpi_must_match_the_registered_document(issued, ws_copy, tmp_path):
    with pytest.raises(BadRequestError, match="300 dpi"):
        _issue(ws_copy, issued.source, ["Frank"], tmp_path / "out", dpi=150)


# -- status ---------------------------------------------------------------------------------------------
def test_return_destroy_and_history(issued, ws_copy):
    doc_id = issued.result.document.id
    with Ledger(ws_copy) as ledger:
        c = ledger.set_status("000002", "returned", "back from Bob")
        assert (c.copy_no, c.status) == (2, "returned")
        c = ledger.set_status(f"{doc_id}/000002", "destroyed")
        assert c.status == "destroyed"
        with pytest.raises(BadRequestError, match="already recorded as destroyed"):
            ledger.set_status("2", "returned")
        with pytest.raises(BadRequestError):
            ledger.set_status("000003", "lost")
        with pytest.raises(NotFoundError):
            ledger.set_status("000042", "returned")
        with pytest.raises(NotFoundError):
            ledger.find_copy("not-a-copy")
        history = ledger.history(ledger.find_copy("000002"))
        others = ledger.history(ledger.find_copy("000003"))
    run_id = issued.result.run
    assert [(h["kind"], h["status"], h["note"]) for h in history] == [
        ("run", "reserved", f"run {run_id}"), ("issued", "issued", ""), ("status", "returned", "back from Bob"),
        ("status", "destroyed", "")]
    assert [h["seq"] for h in history] == sorted(h["seq"] for h in history)
    assert [h["status"] for h in others] == ["reserved", "issued"]
    rep = _verify(ws_copy)
    assert rep.events == 6 and rep.copies == 5


def test_status_change_then_truncation_is_detected(ws_copy):
    with Ledger(ws_copy) as ledger:
        ledger.set_status("000001", "returned")
    # undo the status change consistently in events and view: only the head file can tell
    db_exec(ws_copy.ledger_path, "DELETE FROM events WHERE seq=7", "UPDATE copies SET status='issued' WHERE copy_no=1")
    _verify_fails(ws_copy)


# -- failures: nothing before the run is reserved, a resumable run after ---------------------------------
def _snapshot(ws: leakmark.Workspace) -> tuple:
    return (db_rows(ws.ledger_path, "SELECT seq, hash FROM events ORDER BY seq"),
            db_rows(ws.ledger_path, "SELECT * FROM copies ORDER BY copy_no"),
            db_rows(ws.ledger_path, "SELECT * FROM runs"),
            sorted(p.relative_to(ws.vault) for p in ws.vault.rglob("*")),
            sorted(p.relative_to(ws.home) for p in (ws.home / "runs").rglob("*")) if (ws.home / "runs").exists()
            else [])


def _statuses(ws: leakmark.Workspace, run_id: str) -> list[tuple[int, str]]:
    return db_rows(ws.ledger_path, "SELECT copy_no, status FROM copies WHERE run_id=? ORDER BY copy_no", (run_id,))


def test_output_name_clash_writes_nothing(issued, ws_copy, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    clash = out / "memo-en-000007-Grace.pdf"
    clash.write_bytes(b"someone else's file")
    before = _snapshot(ws_copy)
    with pytest.raises(OutputError, match="already exists") as info:
        _issue(ws_copy, issued.source, ["Frank", "Grace"], out)
    assert info.value.exit_code == 9
    assert _snapshot(ws_copy) == before
    assert sorted(p.name for p in out.iterdir()) == [clash.name]  # no .tmp, no partial copy
    assert clash.read_bytes() == b"someone else's file"
    r = _issue(ws_copy, issued.source, ["Frank"], tmp_path / "out2")  # nothing was reserved
    assert [c.copy_no for c in r.copies] == ["000006"]


def test_clash_on_a_new_document_leaves_vault_and_ledger_untouched(ws_copy, samples_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notice-zh-000001-Frank.pdf").write_bytes(b"x")
    before = _snapshot(ws_copy)
    with pytest.raises(OutputError):
        _issue(ws_copy, samples_dir / "notice-zh.pdf", ["Frank"], out)
    assert _snapshot(ws_copy) == before
    assert [p.name for p in out.iterdir()] == ["notice-zh-000001-Frank.pdf"]


def test_failure_reserving_the_run_writes_nothing(issued, ws_copy, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(Ledger, "start_run", broken)
    out = tmp_path / "out"
    before = _snapshot(ws_copy)
    with pytest.raises(sqlite3.OperationalError):
        _issue(ws_copy, issued.source, ["Frank", "Grace"], out)
    assert _snapshot(ws_copy) == before  # ledger, vault and page cache as they were
    assert list(out.iterdir()) == []


def test_disk_full_while_writing_copies_leaves_a_resumable_run(issued, ws_copy, tmp_path, monkeypatch):
    real = lm_pdf.write_pdf_copy
    calls = []

    def flaky(text_layer, images, out, *token):
        calls.append(out)
        if len(calls) == 2:
            raise OutputError(f"cannot write {out}: No space left on device (simulated)")
        real(text_layer, images, out, *token)

    monkeypatch.setattr(lm_pdf, "write_pdf_copy", flaky)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="No space left") as info:
        _issue(ws_copy, issued.source, ["Frank", "Grace", "Heidi"], out)
    msg = info.value.message
    assert "0 of 3 copies issued" in msg and "--resume" in msg
    assert list(out.iterdir()) == []  # the first copy of the failed batch was written, then removed
    with Ledger(ws_copy) as ledger:
        run = ledger.run("last")
    assert _statuses(ws_copy, run.id) == [(6, "reserved"), (7, "reserved"), (8, "reserved")]
    _verify(ws_copy)

    monkeypatch.setattr(lm_pdf, "write_pdf_copy", real)
    r = leakmark.resume(ws_copy, "last")
    assert r.run == run.id and [c.copy_no for c in r.copies] == ["000006", "000007", "000008"]
    assert _statuses(ws_copy, run.id) == [(6, "issued"), (7, "issued"), (8, "issued")]
    assert sorted(p.name for p in out.iterdir()) == [
        "memo-en-000006-Frank.pdf", "memo-en-000007-Grace.pdf", "memo-en-000008-Heidi.pdf"]
    assert _verify(ws_copy).runs == 2
    assert not (ws_copy.home / "runs" / run.id).exists()  # page cache removed once the run is finished


def test_ledger_failure_after_writing_a_batch_removes_its_files(issued, ws_copy, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(Ledger, "mark_issued", broken)
    out = tmp_path / "out"
    with pytest.raises(sqlite3.OperationalError):
        _issue(ws_copy, issued.source, ["Frank", "Grace"], out)
    assert list(out.iterdir()) == []  # no file exists that the ledger does not record as issued
    monkeypatch.undo()
    r = leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    assert [c.copy_no for c in r.copies] == ["000006", "000007"] and len(list(out.iterdir())) == 2
    _verify(ws_copy)


def test_open_runs_keep_their_numbers_and_abandoned_ones_void_them(issued, ws_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(lm_pdf, "write_pdf_copy", lambda *a: (_ for _ in ()).throw(OutputError("disk full")))
    with pytest.raises(OutputError):
        _issue(ws_copy, issued.source, ["Frank", "Grace"], tmp_path / "out")
    monkeypatch.undo()
    r = _issue(ws_copy, issued.source, ["Heidi"], tmp_path / "out2")
    assert [c.copy_no for c in r.copies] == ["000008"]  # 6 and 7 stay reserved for the open run
    with Ledger(ws_copy) as ledger:
        open_run = next(x for x in ledger.runs() if x.state == "open")
        with pytest.raises(BadRequestError, match="never issued"):
            ledger.set_status("000006", "returned")
    gone = leakmark.abandon(ws_copy, open_run.id, "not needed")
    assert gone.state == "abandoned" and _statuses(ws_copy, open_run.id) == [(6, "void"), (7, "void")]
    with pytest.raises(BadRequestError, match="abandoned"):
        leakmark.resume(ws_copy, open_run.id)
    r = _issue(ws_copy, issued.source, ["Ivan"], tmp_path / "out3")
    assert [c.copy_no for c in r.copies] == ["000009"]  # void numbers are never given out again
    with Ledger(ws_copy) as ledger:
        assert [h["status"] for h in ledger.history(ledger.find_copy("000006"))] == ["reserved", "void"]
    _verify(ws_copy)


def test_locked_ledger_is_reported(issued, ws_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(Ledger.__init__, "__defaults__", (0.2,))  # don't wait 30 s for the lock
    holder = sqlite3.connect(ws_copy.ledger_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(WorkspaceLockedError, match="locked") as info:
            _issue(ws_copy, issued.source, ["Frank"], tmp_path / "out")
        assert info.value.exit_code == 6
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list((tmp_path / "out").glob("*"))
    _verify(ws_copy)
