"""Issue 13, findings 3 and 5: what a trace result says besides the scores.

Finding 5, status in every trace result: each suspect shows its copy's status and when it got it.
"""

from __future__ import annotations

import json

import cv2
import pytest

from leakmark import TraceOptions, register, trace
from leakmark.cli import main
from leakmark.ledger import Ledger, Planned, Run, RunState, now_iso


def _run_main(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(info.value.code or 0), out, err


# -- finding 5: the copy's status in the trace result ------------------------------------------------------
def _history_ts(ws, ref: str, status: str) -> str:
    return [h.ts for h in register.show(ws, ref).history if h.status == status][-1]


def test_a_destroyed_copy_is_named_with_its_status(capsys, issued, ws_copy, copy3_page1, tmp_path):
    doc_id = issued.result.document.id
    register.destroy_copy(ws_copy, f"{doc_id}/000003", "shredded")
    register.return_copy(ws_copy, f"{doc_id}/000002")
    destroyed = _history_ts(ws_copy, f"{doc_id}/000003", "destroyed")
    returned = _history_ts(ws_copy, f"{doc_id}/000002", "returned")
    ev = tmp_path / "leak.png"
    cv2.imwrite(str(ev), copy3_page1)

    r = trace(ws_copy, TraceOptions(evidence=(ev,)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == 3
    assert (r.suspects[0].copy.status, r.suspects[0].status_date) == ("destroyed", destroyed)
    by_no = {s.copy.copy_no: s for s in r.suspects}
    assert (by_no[2].copy.status, by_no[2].status_date) == ("returned", returned)
    assert (by_no[1].copy.status, by_no[1].status_date) == ("issued", by_no[1].copy.issued_at)

    code, out, err = _run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    got = {s["copy_no"]: (s["status"], s["status_date"]) for s in res["suspects"]}
    assert got["000002"] == ("returned", returned) and got["000001"] == ("issued", by_no[1].copy.issued_at)
    assert res["suspects"][0]["status"] == "destroyed" and res["suspects"][0]["status_date"] == destroyed
    assert all(s["status"] and s["status_date"] for s in res["suspects"])

    code, out, _ = _run_main(capsys, "trace", ev, "--home", ws_copy.home)
    assert "=> copy 000003 issued to Chen Jing (Test lab) is the source of this capture" in out
    assert f"status: destroyed on {destroyed}" in out
    assert f"note: copy 000003 is recorded as destroyed on {destroyed}" in out
    assert f"returned on {returned}" in out


def test_status_dates_of_every_status(issued, ws_copy):
    """Issued, returned, re-issued, destroyed, reserved and void copies: the time of the event that gave
    each its status, read for the copies asked only."""
    doc_id = issued.result.document.id
    register.return_copy(ws_copy, f"{doc_id}/000001")
    register.set_status(ws_copy, f"{doc_id}/000001", "issued", "back in use")
    register.destroy_copy(ws_copy, f"{doc_id}/000005")
    with Ledger(ws_copy) as ledger:
        doc = ledger.document(doc_id)
        template = ledger.copies(doc_id)[0]
        runs = []
        for _ in range(2):  # two runs reserve one number each; the first is abandoned
            run = Run(id=f"R-test-{len(runs)}", document_id=doc_id, created_at=now_iso(), created_by="test",
                      state=RunState.open, options="{}", copies=1, done=0, merge_bytes=0)
            ledger.start_run(doc, False, run, [Planned("Mallory")], template.settings, template.version)
            runs.append(run)
        ledger.end_run(runs[0].id, RunState.abandoned, "mistake")
        copies = {c.copy_no: c for c in ledger.copies(doc_id)}
        dates = ledger.status_dates(copies.values())
        history = {n: ledger.history(c) for n, c in copies.items()}
    assert {n: str(c.status) for n, c in copies.items()} == {1: "issued", 2: "issued", 3: "issued", 4: "issued",
                                                             5: "destroyed", 6: "void", 7: "reserved"}
    for n, c in copies.items():
        assert dates[(doc_id, n)] == [h["ts"] for h in history[n] if h["status"] == c.status][-1], n
    assert dates[(doc_id, 2)] == copies[2].issued_at
    assert dates[(doc_id, 7)] == runs[1].created_at
