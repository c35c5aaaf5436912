"""The `blind` layer end to end: issued, read back from a lossless digital copy, verified with the key;
readable (but not verifiable) in another office's workspace."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pymupdf
import pytest
from lmtest import seeded_workspace
from test_tone import _photo

import leakmark
from leakmark import TraceOptions, trace
from leakmark.errors import BadRequestError
from leakmark.layers import blind
from leakmark.ledger import Ledger
from leakmark.rendering import render_page_array
from leakmark.trace.decide import exact_score


@pytest.fixture(scope="module")
def blind_issue(tmp_path_factory):
    root = tmp_path_factory.mktemp("blind")
    png = root / "photo.png"
    cv2.imwrite(str(png), _photo(1400, 1000, seed=7))
    doc = pymupdf.open()
    doc.new_page(width=595, height=842).insert_image(pymupdf.Rect(60, 80, 535, 745), filename=str(png))
    src = root / "photo-page.pdf"
    doc.save(src, no_new_id=True)
    ws = seeded_workspace(root / "ws", b"leakmark test workspace: blind")
    people = tuple(leakmark.Recipient(f"R{i}") for i in range(3))
    result = leakmark.issue(ws, leakmark.IssueOptions(source=src, recipients=people, output_dir=root / "out",
                                                      layers=("shift", "blind"), jobs=1))
    return root, ws, src, result


def test_lossless_copy_traces_through_blind(blind_issue, tmp_path):
    _, ws, _, result = blind_issue
    copy = result.copies[1]
    with Ledger(ws) as ledger:
        recorded = json.loads(ledger.copies(result.document.id)[1].settings)
    assert "blind" in recorded["layers"] and recorded["blind"]["bits"] == blind.PAYLOAD_BITS
    ev = tmp_path / "leak.png"
    cv2.imwrite(str(ev), render_page_array(Path(copy.path), 0, 300))
    r = trace(ws, TraceOptions(evidence=(ev,)))
    assert r.verdict == "identified" and r.named == 1 and r.suspects[0].copy.label == copy.copy_no
    assert r.suspects[0].layers["blind"] == pytest.approx(exact_score(blind.MATCH_BITS))
    assert r.evidence[0].blind == {"document": r.document.id, "copy_no": copy.copy_no, "verified": True}
    assert all(s.layers["blind"] == 0 for s in r.suspects[1:])  # they carry the layer; it names none of them
    alone = trace(ws, TraceOptions(evidence=(ev,), layers=("blind",)))
    assert alone.suspects[0].copy.label == copy.copy_no and set(alone.suspects[0].layers) == {"blind"}


def test_another_office_reads_but_cannot_verify(blind_issue, tmp_path):
    root, _, _, result = blind_issue
    ev = tmp_path / "leak.png"
    cv2.imwrite(str(ev), render_page_array(Path(result.copies[2].path), 0, 300))
    other = leakmark.Workspace.open(root / "other-office")
    # an office whose register has no blind copies reads the layer on a page it cannot place only when asked:
    # the read costs seconds on every capture of an unregistered page, and almost never finds anything
    r = trace(other, TraceOptions(evidence=(ev,)))
    assert r.verdict == "no-match" and r.evidence[0].blind is None
    r = trace(other, TraceOptions(evidence=(ev,), layers=("blind",)))
    assert r.verdict == "no-match" and r.named == 0
    assert r.evidence[0].blind is not None and r.evidence[0].blind["copy_no"] == result.copies[2].copy_no
    assert r.evidence[0].blind["verified"] is False and "another office" in r.evidence[0].detail


def test_tone_and_blind_together_are_refused(tmp_path):
    with pytest.raises(BadRequestError, match="cannot be combined"):
        leakmark.IssueOptions(source=tmp_path / "x.pdf", recipients=(leakmark.Recipient("A"),),
                              layers=("shift", "tone", "blind")).validate()
