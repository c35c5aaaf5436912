"""Issue 13, findings 3 and 5: what a trace result says besides the scores.

Finding 3, the file layer bound to content: a PDF's file identifiers (trailer /ID, XMP DocumentID) are
reported as their own finding ("this file carries the identifiers of copy N's file"), name no source on
their own, and a disagreement between them and the pages is stated in words.
Finding 5, status in every trace result: each suspect shows its copy's status and when it got it.
"""

from __future__ import annotations

import json

import cv2
import pymupdf
import pytest
from lmtest import run_main

from leakmark import TraceOptions, register, trace
from leakmark.cli_common import local_time
from leakmark.layers import file as filemark
from leakmark.ledger import Ledger, Planned, Run, RunState, now_iso


def _one_line_pdf(path, tok: bytes, xmp: bool = False):
    """A new one-line PDF given an issued copy's trailer /ID (and its XMP DocumentID with `xmp`)."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Nothing registered here.", fontname="helv", fontsize=11)
    if xmp:
        doc.set_xml_metadata(filemark.xmp(tok))
    doc.xref_set_key(-1, "ID", f"[<{tok.hex()}><{tok.hex()}>]")
    doc.save(path, no_new_id=True)
    doc.close()
    return path


def _restamped(src, dst, tok: bytes, keep_id: bool = False):
    """An issued PDF whose identifiers are changed to `tok`: the XMP only (`keep_id`: the trailer /ID stays
    the copy's own, so the file carries two copies' identifiers), or both."""
    doc = pymupdf.open(src)
    if keep_id:
        doc.set_xml_metadata(filemark.xmp(tok))
    else:
        filemark.stamp(doc, tok)
    doc.save(dst)
    doc.close()
    return dst


def _tok(issued, n: int) -> bytes:
    return filemark.token(issued.ws.key(), issued.result.document.id, n)


# -- finding 3: file identifiers alone, and disagreeing with the pages --------------------------------------
def test_a_new_pdf_with_a_copys_trailer_id_names_no_source(capsys, issued, ws_copy, tmp_path):
    """The issue's reproduction: a one-line PDF given copy 000003's trailer /ID."""
    ev = _one_line_pdf(tmp_path / "framed.pdf", _tok(issued, 3))
    code, out, err = run_main(capsys, "trace", ev, "--home", ws_copy.home)
    assert code == 0, err
    assert "is the source of this capture" not in out and "verdict: identified" not in out
    assert f"file: {ev}: this file carries the identifiers of copy 000003's file" in out
    assert "issued to Chen Jing (Test lab)" in out and "shows no registered page" in out
    code, out, err = run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)
    res = json.loads(out)
    assert res["verdict"] == "no-match" and res["suspects"] == [] and res["document"] is None
    [fid] = res["file_identifiers"]
    assert (fid["copy_no"], fid["document_id"], fid["recipient"]) == ("000003", issued.result.document.id,
                                                                      "Chen Jing")
    assert fid["pages"] == "no-page" and fid["pages_agree"] is None and fid["path"] == str(ev)
    assert fid["status"] == "issued" and fid["status_date"]
    assert res["disagreements"] == []


def test_the_unmarked_original_with_a_copys_identifiers_names_no_one(issued, tmp_path):
    """Registered pages (the original from the vault) carrying copy 000003's identifiers: the pages name no
    copy, so the identifiers do not either; they are reported as unconfirmed."""
    ev = _restamped(issued.source, tmp_path / "original.pdf", _tok(issued, 3))
    r = trace(issued.ws, TraceOptions(evidence=(ev,)))
    assert r.verdict != "identified" and r.named == 0
    assert all("file" not in s.layers for s in r.suspects)
    [fid] = r.file_identifiers
    assert fid.copy.copy_no == 3 and fid.pages == "unconfirmed" and fid.pages_agree is None


def test_pages_of_one_copy_and_identifiers_of_another_disagree(capsys, issued, ws_copy, tmp_path):
    """Copy 000001's pages with copy 000003's identifiers: the pages name copy 000001 alone, with the
    scores of its pages (the file layer adds nothing), and the disagreement is said in so many words."""
    plain = trace(issued.ws, TraceOptions(evidence=(issued.copy_path(1),), layers=("shift",)))
    ev = _restamped(issued.copy_path(1), tmp_path / "swapped.pdf", _tok(issued, 3))
    r = trace(issued.ws, TraceOptions(evidence=(ev,)))
    assert r.verdict == "identified" and [s.copy.copy_no for s in r.suspects[: r.named]] == [1]
    assert set(r.suspects[0].layers) == {"shift"}
    assert r.suspects[0].score == pytest.approx(plain.suspects[0].score)
    [fid] = r.file_identifiers
    assert fid.copy.copy_no == 3 and fid.pages == "disagree" and fid.pages_agree is False
    assert r.disagreements == [f"page layers and file identifiers disagree: the pages trace to copy 000001, but "
                               f"{ev} carries the identifiers of copy 000003's file"]
    code, out, _ = run_main(capsys, "trace", ev, "--home", ws_copy.home)
    assert code == 0
    assert "=> copy 000001 issued to Alice Archer (Registry) is the source of this capture" in out
    assert "=> copy 000003" not in out
    assert "!! page layers and file identifiers disagree: the pages trace to copy 000001" in out
    res = json.loads(run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)[1])
    assert res["file_identifiers"][0]["pages_agree"] is False and res["disagreements"] == r.disagreements


def test_a_copy_carrying_another_copys_identifiers_names_only_its_own(issued, tmp_path):
    """Copy 000001's file (its own /ID) with copy 000003's XMP DocumentID added: copy 000001 is named, with
    its file layer (its pages agree); copy 000003 is not, and the file's two identities are reported."""
    ev = _restamped(issued.copy_path(1), tmp_path / "both.pdf", _tok(issued, 3), keep_id=True)
    assert {_tok(issued, 1), _tok(issued, 3)} <= filemark.read(ev)
    r = trace(issued.ws, TraceOptions(evidence=(ev,)))
    assert r.verdict == "identified" and [s.copy.copy_no for s in r.suspects[: r.named]] == [1]
    assert set(r.suspects[0].layers) == {"shift", "file"}
    assert {f.copy.copy_no: f.pages for f in r.file_identifiers} == {1: "agree", 3: "disagree"}
    assert len(r.disagreements) == 2
    assert "carries the identifiers of 2 copies' files" in r.disagreements[1]


def test_a_forwarded_copy_agrees_with_its_pages(issued):
    r = trace(issued.ws, TraceOptions(evidence=(issued.copy_path(4),)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == 4
    [fid] = r.file_identifiers
    assert fid.copy.copy_no == 4 and fid.pages == "agree" and fid.pages_agree is True
    assert r.disagreements == [] and "its pages trace to the same copy" in fid.finding


def test_the_file_layer_alone_never_identifies(issued):
    """`--layers file`: the identifiers are reported, nobody is named."""
    r = trace(issued.ws, TraceOptions(evidence=(issued.copy_path(4),), layers=("file",)))
    assert r.verdict == "no-match" and r.named == 0
    assert [f.copy.copy_no for f in r.file_identifiers] == [4]


def test_a_page_image_carries_no_file_identifiers(issued, copy3_page1, tmp_path):
    ev = tmp_path / "leak.png"
    cv2.imwrite(str(ev), copy3_page1)
    r = trace(issued.ws, TraceOptions(evidence=(ev,)))
    assert r.verdict == "identified" and r.file_identifiers == [] and r.disagreements == []
    assert set(r.to_json()) >= {"verdict", "document", "suspects", "evidence", "leakmark_version",
                                "file_identifiers", "disagreements"}


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

    code, out, err = run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    got = {s["copy_no"]: (s["status"], s["status_date"]) for s in res["suspects"]}
    assert got["000002"] == ("returned", returned) and got["000001"] == ("issued", by_no[1].copy.issued_at)
    assert res["suspects"][0]["status"] == "destroyed" and res["suspects"][0]["status_date"] == destroyed
    assert all(s["status"] and s["status_date"] for s in res["suspects"])

    code, out, _ = run_main(capsys, "trace", ev, "--home", ws_copy.home)
    assert "=> copy 000003 issued to Chen Jing (Test lab) is the source of this capture" in out
    # text shows the machine's local time with its offset (the JSON above keeps the stored UTC)
    assert f"status: destroyed on {local_time(destroyed)}" in out
    assert f"note: copy 000003 is recorded as destroyed on {local_time(destroyed)}" in out
    assert f"returned on {local_time(returned)}" in out


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
