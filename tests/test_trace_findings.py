"""Issue 13, findings 3 and 5: what a trace result says besides the scores.

Finding 5, status in every trace result: each suspect shows its copy's status and when it got it.
"""

from __future__ import annotations

from leakmark import register
from leakmark.ledger import Ledger, Planned, Run, RunState, now_iso


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
