"""Issue 15, part A: every trace is recorded in the register as a `trace` event (evidence hashes, verdict, named
copies, operator, time), `log traces` lists them, `log show COPY` includes the traces that named it, and
`log verify` covers them like every other event."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from lmtest import db_exec, db_rows, run_main

import leakmark
from leakmark import register
from leakmark.errors import BadRequestError, LedgerIntegrityError, NotFoundError
from leakmark.ledger import Ledger, RegisterState, ScoredCopy, TracedFile, TraceRecord
from leakmark.ledger import schema as ledger_schema


@pytest.fixture
def leak(copy3_page1, tmp_path: Path) -> Path:
    """A lossless capture of page 1 of copy 000003 (issued to Chen Jing)."""
    path = tmp_path / "leak.png"
    assert cv2.imwrite(str(path), copy3_page1)
    return path


def _events(path) -> list[tuple]:
    return db_rows(path, "SELECT seq, kind, prev_hash, hash FROM events ORDER BY seq")


def _record(doc_id: str, named: tuple[int, ...] = (3,), verdict: str = "identified") -> TraceRecord:
    """A trace record as the tracer's result would give it (fixed values: only the register is under test)."""
    return TraceRecord(
        verdict=verdict, document_id=doc_id, pages=(1,),
        named=tuple(ScoredCopy(doc_id, n, 12.5, 3.2e-30) for n in named),
        top=(*(ScoredCopy(doc_id, n, 12.5, 3.2e-30) for n in named), ScoredCopy(doc_id, 5, 0.4, 1.0)),
        candidates=5, threshold=1e-6, layers=("shift",),
        evidence=(TracedFile(name="leak.png", path="/evidence/leak.png", size=1234, sha256="ab" * 32),),
        register=RegisterState(count=4, head="cd" * 32, verified=True),
        operator="李明", host="clerk-pc", version="0.1.0", key_fingerprint="0123456789abcdef")


# -- the event in the chain ---------------------------------------------------------------------------------
def test_a_trace_event_is_chained_authenticated_and_verified(issued, ws_copy):
    doc_id = issued.result.document.id
    before = _events(ws_copy.ledger_path)
    views = db_rows(ws_copy.ledger_path, "SELECT * FROM copies ORDER BY copy_no")
    with Ledger(ws_copy) as ledger:
        rec = ledger.record_trace(_record(doc_id))
    after = _events(ws_copy.ledger_path)
    assert after[:-1] == before and len(after) == len(before) + 1
    seq, kind, prev_hash, digest = after[-1]
    assert (rec.seq, rec.head, kind, prev_hash) == (seq, digest, "trace", before[-1][3])
    assert db_rows(ws_copy.ledger_path, "SELECT * FROM copies ORDER BY copy_no") == views  # no view changes
    head = json.loads(ws_copy.head_path.read_text())
    assert (head["seq"], head["hash"]) == (seq, digest)  # the checkpoint moved with it, outside the database too
    (payload,) = db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE seq=?", (seq,))[0]
    assert TraceRecord.from_payload(json.loads(payload)) == _record(doc_id)  # kept exactly
    v = register.verify(ws_copy)
    assert (v.events, v.head) == (seq, digest)


@pytest.mark.parametrize("edit", ["operator", "named copy", "evidence hash"])
def test_an_edited_trace_event_fails_verification(issued, ws_copy, edit):
    with Ledger(ws_copy) as ledger:
        seq = ledger.record_trace(_record(issued.result.document.id)).seq
    (payload,) = db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE seq=?", (seq,))[0]
    p = json.loads(payload)
    if edit == "operator":
        p["operator"] = "王芳"
    elif edit == "named copy":
        p["named"][0]["copy_no"] = 2
    else:
        p["evidence"][0]["sha256"] = "00" * 32
    db_exec(ws_copy.ledger_path, ("UPDATE events SET payload=? WHERE seq=?",
                                  (json.dumps(p, ensure_ascii=False, sort_keys=True), seq)))
    with pytest.raises(LedgerIntegrityError, match=rf"event {seq} \(trace\) was edited"):
        register.verify(ws_copy)
    with pytest.raises(LedgerIntegrityError, match=rf"event {seq} \(trace\) was edited") as info:
        register.traces(ws_copy)  # a reader shows nothing from it either
    assert info.value.exit_code == 7


def test_a_deleted_trace_event_is_detected(issued, ws_copy):
    with Ledger(ws_copy) as ledger:
        seq = ledger.record_trace(_record(issued.result.document.id)).seq
        ledger.record_trace(_record(issued.result.document.id))
    db_exec(ws_copy.ledger_path, ("DELETE FROM events WHERE seq=?", (seq,)))
    with pytest.raises(LedgerIntegrityError, match=f"event {seq} is missing"):
        register.verify(ws_copy)


# (an older register is stamped with the new version and verifies unchanged: tests/test_register_fields.py)


def test_a_leakmark_of_version_3_refuses_a_register_with_traces_as_newer(issued, ws_copy, monkeypatch):
    """What the release before this one does with a register that holds trace events: it says "upgrade
    leakmark" (rather than reporting an unknown event kind, i.e. a register altered outside leakmark)."""
    with Ledger(ws_copy) as ledger:
        ledger.record_trace(_record(issued.result.document.id))
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(ledger_schema, "MIGRATIONS", ledger_schema.MIGRATIONS[:3])
    with pytest.raises(LedgerIntegrityError, match="newer than this leakmark understands") as info:
        Ledger(ws_copy)
    assert "upgrade leakmark" in info.value.message and "edited" not in info.value.message


# -- the API: record_trace, traces, show ----------------------------------------------------------------------
def test_record_trace_keeps_what_the_trace_found(issued, ws_copy, leak):
    doc_id = issued.result.document.id
    r = leakmark.trace(ws_copy, leakmark.TraceOptions(evidence=(leak,)))
    assert r.recorded is None and r.to_json()["recorded"] is None  # the tracer itself writes nothing
    assert len(_events(ws_copy.ledger_path)) == 4
    rec = register.record_trace(ws_copy, r, operator="李明")
    assert r.recorded == rec and r.to_json()["recorded"] == {"seq": 5, "head": rec.head, "ts": rec.ts}
    assert _events(ws_copy.ledger_path)[-1][::3] == (5, rec.head)
    [event] = register.traces(ws_copy)
    t = event.record
    assert (event.seq, event.ts) == (rec.seq, rec.ts)
    assert t.evidence == (TracedFile(name="leak.png", path=str(leak), size=leak.stat().st_size,
                                     sha256=hashlib.sha256(leak.read_bytes()).hexdigest()),)
    assert (t.verdict, t.document_id, t.pages, t.candidates) == ("identified", doc_id, (1,), 5)
    assert [(c.document_id, c.label) for c in t.named] == [(doc_id, "000003")]
    # the numbers are the result's, as its JSON gives them
    shown = r.to_json()["suspects"]
    assert [c.label for c in t.top] == [s["copy_no"] for s in shown]  # five copies: all of them
    assert [c.score for c in t.top] == [s["score"] for s in shown]
    assert [c.fap for c in t.top] == [s["false_accusation_probability"] for s in shown]
    assert t.named[0] == t.top[0] and t.named[0].fap is not None and t.named[0].fap < 1e-6
    assert (t.threshold, t.layers) == (1e-6, ("shift",))
    assert t.register == r.register and t.register.count == 4 and t.register.verified
    assert (t.operator, t.host, t.version, t.key_fingerprint) == ("李明", socket.gethostname(), leakmark.__version__,
                                                                  ws_copy.key_fingerprint())
    register.verify(ws_copy)


def test_the_operator_defaults_to_the_config_then_the_os_user(issued, ws_copy, leak):
    r = leakmark.trace(ws_copy, leakmark.TraceOptions(evidence=(leak,)))
    os_user = ws_copy.operator(None)  # no config entry: the OS user
    register.record_trace(ws_copy, r)
    ws_copy.config_path.write_text(json.dumps({"operator": "王芳"}), encoding="utf-8")
    register.record_trace(ws_copy, r)
    first, second = register.traces(ws_copy)
    assert (first.record.operator, second.record.operator) == (os_user, "王芳") and os_user != "王芳"


def test_traces_filters_and_the_copys_history(issued, ws_copy):
    doc_id = issued.result.document.id
    with Ledger(ws_copy) as ledger:
        ledger.record_trace(_record(doc_id, named=(3,)))
        ledger.record_trace(_record(doc_id, named=(), verdict="no-match"))
        ledger.record_trace(_record(doc_id, named=(2, 3)))
    assert [e.seq for e in register.traces(ws_copy)] == [5, 6, 7]
    assert [e.seq for e in register.traces(ws_copy, copy="3")] == [5, 7]
    assert [e.seq for e in register.traces(ws_copy, copy=f"{doc_id}/000002")] == [7]
    assert [e.seq for e in register.traces(ws_copy, doc_id=doc_id, copy="2")] == [7]
    assert [e.seq for e in register.traces(ws_copy, copy="1")] == []
    assert [e.seq for e in register.traces(ws_copy, verdict="no-match")] == [6]
    assert [e.seq for e in register.traces(ws_copy, doc_id=doc_id, verdict="identified")] == [5, 7]
    first = datetime.fromisoformat(register.traces(ws_copy)[0].ts)
    assert len(register.traces(ws_copy, since=first)) == 3
    assert register.traces(ws_copy, since=first + timedelta(days=1)) == ()
    with pytest.raises(NotFoundError):
        register.traces(ws_copy, doc_id="Dnothere")
    with pytest.raises(NotFoundError):
        register.traces(ws_copy, copy="000099")
    with pytest.raises(BadRequestError, match="unknown verdict"):
        register.traces(ws_copy, verdict="guilty")
    # the history of a copy: the traces that named it, in their place; its status stays what it was
    register.return_copy(ws_copy, "3", "back", operator="张三")
    with Ledger(ws_copy) as ledger:
        ledger.record_trace(_record(doc_id, named=(3,)))
    hist = register.show(ws_copy, "3").history
    assert [(h.seq, h.kind, h.status) for h in hist] == [(2, "run", "reserved"), (3, "issued", "issued"),
                                                         (5, "trace", "issued"), (7, "trace", "issued"),
                                                         (8, "status", "returned"), (9, "trace", "returned")]
    assert hist[2].operator == "李明"
    assert hist[2].note == "identified, false-accusation probability 3.2e-30; evidence leak.png"
    assert [h.kind for h in register.show(ws_copy, "1").history] == ["run", "issued"]


def test_verdicts_are_the_tracers():
    from leakmark.ledger.traces import VERDICTS
    from leakmark.trace.decide import Verdict

    assert VERDICTS == tuple(v.value for v in Verdict)


# -- the command: `trace` records, `log traces` lists, `log show` includes --------------------------------------
def test_trace_command_records_and_log_traces_and_show_list_it(capsys, issued, ws_copy, leak, shanghai):
    home, doc_id = ws_copy.home, issued.result.document.id
    code, out, err = run_main(capsys, "trace", leak, "--json", "--operator", "李明", "--home", home)
    assert code == 0, err
    res = json.loads(out)
    seq, head = res["recorded"]["seq"], res["recorded"]["head"]
    assert (seq, head) == _events(ws_copy.ledger_path)[-1][::3] and seq == 5
    code, out, err = run_main(capsys, "log", "traces", "--json", "--home", home)
    assert code == 0, err
    [ev] = json.loads(out)
    assert ev["seq"] == seq and ev["ts"] == res["recorded"]["ts"] and ev["ts"].endswith("+00:00")  # JSON: UTC
    assert (ev["verdict"], ev["document_id"], ev["pages"], ev["operator"]) == ("identified", doc_id, [1], "李明")
    assert ev["evidence"] == [{"name": "leak.png", "path": str(leak), "size": leak.stat().st_size,
                               "sha256": hashlib.sha256(leak.read_bytes()).hexdigest()}]
    assert ev["evidence"][0]["sha256"] == res["evidence"][0]["sha256"]
    # the numbers are the trace's own
    assert [(c["label"], c["score"], c["false_accusation_probability"]) for c in ev["top"]] == [
        (s["copy_no"], s["score"], s["false_accusation_probability"]) for s in res["suspects"][:5]]
    assert [c["label"] for c in ev["named"]] == ["000003"] and ev["named"][0] == ev["top"][0]
    assert ev["register"] == res["register"] and ev["key_fingerprint"] == ws_copy.key_fingerprint()
    # text: local time
    local = datetime.fromisoformat(ev["ts"]).astimezone(timezone(timedelta(hours=8))).isoformat(sep=" ")
    code, out, _ = run_main(capsys, "log", "traces", "--home", home)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["event", "time", "operator", "verdict", "document", "named", "evidence"]
    assert row.split() == [str(seq), *local.split(), "李明", "identified", doc_id, "p1", "000003", "leak.png"]
    for args, listed in ((("--copy", "3"), True), (("--copy", f"{doc_id}/000001"), False),
                         (("--doc", doc_id, "--copy", "000003"), True), (("--verdict", "no-match"), False),
                         (("--since", "2000-01-01"), True), (("--since", "2999-01-01 08:00"), False)):
        code, out, err = run_main(capsys, "log", "traces", *args, "--home", home)
        assert code == 0, err
        assert (f"{seq:>6}  {local}" in out) is listed, args
        assert listed or out == "no trace recorded that matches\n"
    code, _, err = run_main(capsys, "log", "traces", "--doc", "Dnothere", "--home", home)
    assert code == 8
    # the named copy's history has it, with the other events; another copy's has not
    code, out, _ = run_main(capsys, "log", "show", "3", "--home", home)
    assert code == 0
    fap = f"{res['suspects'][0]['false_accusation_probability']:.2g}"
    assert out.splitlines()[-1] == (f"  event {seq}: {local}  traced  identified, false-accusation probability {fap}; "
                                    "evidence leak.png  (by 李明)")
    code, out, _ = run_main(capsys, "log", "show", "1", "--home", home)
    assert code == 0 and "traced" not in out
    code, out, _ = run_main(capsys, "log", "verify", "--home", home)
    assert code == 0 and f"ledger OK: {seq} events" in out and head in out


def test_an_edited_trace_event_is_refused_by_verify_and_the_readers(capsys, ws_copy, leak):
    home = ws_copy.home
    assert run_main(capsys, "trace", leak, "--home", home)[0] == 0
    (payload,) = db_rows(ws_copy.ledger_path, "SELECT payload FROM events WHERE seq=5")[0]
    p = json.loads(payload)
    p["named"][0].update(copy_no=2, label="000002")  # the trace "named" another copy
    db_exec(ws_copy.ledger_path, ("UPDATE events SET payload=? WHERE seq=5",
                                  (json.dumps(p, ensure_ascii=False, sort_keys=True),)))
    for args in (("log", "verify"), ("log", "traces"), ("log", "show", "000003")):
        code, out, err = run_main(capsys, *args, "--home", home)
        assert code == 7 and "event 5 (trace) was edited" in err and "000002" not in out, args


def test_a_no_match_trace_is_recorded_too(capsys, ws_copy, tmp_path):
    ev = tmp_path / "noise.png"
    cv2.imwrite(str(ev), np.random.default_rng(1234).integers(0, 256, (1200, 900), dtype=np.uint8))
    code, out, err = run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    assert res["verdict"] == "no-match" and res["recorded"]["seq"] == 5
    [t] = register.traces(ws_copy, verdict="no-match")
    assert (t.seq, t.record.document_id, t.record.named, t.record.top, t.record.pages) == (5, None, (), (), ())
    assert [f.name for f in t.record.evidence] == ["noise.png"]
    code, out, _ = run_main(capsys, "log", "traces", "--home", ws_copy.home)
    assert code == 0 and out.splitlines()[1].split()[-4:] == ["no-match", "-", "-", "noise.png"]


def test_one_entry_per_evidence_file_whatever_its_pages(capsys, issued, ws_copy, leak):
    pdf = issued.copy_path(3)  # two pages
    code, out, err = run_main(capsys, "trace", pdf, leak, "--json", "--home", ws_copy.home)
    assert code == 0, err
    assert len(json.loads(out)["evidence"]) == 3  # per page
    [t] = register.traces(ws_copy)
    assert [(f.name, f.size, f.sha256) for f in t.record.evidence] == [
        (p.name, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in (pdf, leak)]
    assert t.record.pages == (1, 2) and [c.label for c in t.record.named] == ["000003"]


# -- when the register cannot record it -----------------------------------------------------------------------
def test_a_locked_register_shows_the_result_and_says_it_was_not_recorded(capsys, ws_copy, leak, monkeypatch):
    monkeypatch.setattr(Ledger.__init__, "__defaults__", (0.2,))  # don't wait 30 s for the lock
    before = _events(ws_copy.ledger_path)
    holder = sqlite3.connect(ws_copy.ledger_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process is writing
        code, out, err = run_main(capsys, "trace", leak, "--home", ws_copy.home)
        assert code == 6
        assert "=> copy 000003 issued to Chen Jing (Test lab) is the source of this capture" in out
        assert "trace recorded" not in out
        assert err.startswith("leakmark: error: the trace was NOT recorded in the register (its result stands): ")
        assert "locked by another leakmark process" in err
        code, out, err = run_main(capsys, "trace", leak, "--json", "--home", ws_copy.home)
        assert code == 6 and "NOT recorded" in err
        res = json.loads(out)
        assert res["verdict"] == "identified" and res["recorded"] is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _events(ws_copy.ledger_path) == before
    register.verify(ws_copy)


def test_a_read_only_register_shows_the_result_and_says_it_was_not_recorded(capsys, ws_copy, leak, monkeypatch):
    """SQLite refusing the write (SQLITE_READONLY: the file or its folder not writable by this user; made here
    with `PRAGMA query_only`, as the tests run as root, whom file modes do not stop)."""
    real = sqlite3.connect

    def read_only(*args, **kwargs):
        con = real(*args, **kwargs)
        con.execute("PRAGMA query_only = 1")
        return con

    before = _events(ws_copy.ledger_path)
    monkeypatch.setattr(sqlite3, "connect", read_only)
    code, out, err = run_main(capsys, "trace", leak, "--home", ws_copy.home)
    monkeypatch.undo()
    assert code == 9, err
    assert "=> copy 000003 issued to Chen Jing" in out and "trace recorded" not in out
    assert "the trace was NOT recorded in the register (its result stands): cannot write the ledger" in err
    assert "readonly" in err and "Traceback" not in err
    assert _events(ws_copy.ledger_path) == before


def test_trust_register_records_and_the_record_says_the_register_failed(capsys, issued, ws_copy, leak):
    """A copies row edited: with --trust-register the trace names from it (with the warning) and is recorded,
    its event saying the register failed; the record makes the edited row no more authentic."""
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient='Mallory' WHERE copy_no=3")
    code, out, err = run_main(capsys, "trace", leak, "--trust-register", "--operator", "李明", "--home", ws_copy.home)
    assert code == 0, err
    assert "=> copy 000003 issued to Mallory" in out and "trace recorded: register event 5" in out
    with Ledger(ws_copy) as ledger:
        [t] = ledger.trace_events()
    assert not t.record.register.verified and "copies rows of document" in t.record.register.problem
    with pytest.raises(LedgerIntegrityError, match="recipient is 'Mallory'"):
        register.verify(ws_copy)
    db_exec(ws_copy.ledger_path, "UPDATE copies SET recipient='Chen Jing' WHERE copy_no=3")
    assert register.verify(ws_copy).events == 5  # the trace event is authentic in the chain


def test_a_broken_chain_with_trust_register_shows_the_result_but_records_nothing(capsys, ws_copy, leak):
    ws_copy.head_path.write_text("junk")
    before = _events(ws_copy.ledger_path)
    code, out, err = run_main(capsys, "trace", leak, "--trust-register", "--home", ws_copy.home)
    assert code == 7
    assert out.startswith("WARNING: the register FAILED verification") and "=> copy 000003" in out
    assert "the trace was NOT recorded in the register (its result stands): the register failed verification" in err
    assert "Nothing was written" in err
    assert _events(ws_copy.ledger_path) == before


def test_log_traces_shows_names_safely(capsys, ws_copy, leak, tmp_path):
    odd = tmp_path / "a\x1b[2Jb\u202e.png"
    odd.write_bytes(leak.read_bytes())
    assert run_main(capsys, "trace", odd, "--operator", "Eve\x1b]0;x\x07", "--home", ws_copy.home)[0] == 0
    code, out, _ = run_main(capsys, "log", "traces", "--home", ws_copy.home)
    assert code == 0 and "\x1b" not in out and "\u202e" not in out
    assert "Eve\\x1b]0;x\\x07" in out and "a\\x1b[2Jb\\u202e.png" in out
