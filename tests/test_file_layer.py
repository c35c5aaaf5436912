"""The `file` layer: a keyed token in each issued PDF (trailer /ID, XMP), read first when the evidence is a PDF."""

from __future__ import annotations

import json

import pymupdf
import pytest

import leakmark
from leakmark import TraceOptions, trace
from leakmark.layers import file as filemark
from leakmark.ledger import Ledger
from leakmark.trace.decide import exact_score


def test_issued_copies_carry_distinct_keyed_tokens(issued):
    key = issued.ws.key()
    seen = set()
    for n in range(1, 6):
        found = filemark.read(issued.copy_path(n))
        tok = filemark.token(key, issued.result.document.id, n)
        assert tok in found and tok not in seen
        seen.add(tok)
        with pymupdf.open(issued.copy_path(n)) as doc:  # opaque: no name, no number in the metadata
            meta = (doc.get_xml_metadata() or "") + json.dumps(doc.metadata, ensure_ascii=False)
        assert issued.result.copies[n - 1].recipient not in meta and f"{n:06d}" not in meta
    with Ledger(issued.ws) as ledger:
        assert json.loads(ledger.copies()[0].settings)["layers"] == ["shift", "file"]


def test_a_forwarded_pdf_traces_with_file_and_page_layers(issued):
    r = trace(issued.ws, TraceOptions(evidence=(issued.copy_path(4),)))
    assert r.verdict == "identified" and r.named == 1
    best = r.suspects[0]
    assert best.copy.copy_no == 4 and set(best.layers) == {"shift", "file"}
    assert best.layers["file"] == pytest.approx(exact_score(filemark.MATCH_BITS))
    assert all(s.layers["file"] == 0 for s in r.suspects[1:])


def test_the_file_layer_alone_names_no_source(issued, tmp_path):
    """A file with the copy's identifiers and nothing on its pages (the page layers measure nothing): a
    finding of its own, "this file carries the identifiers of copy 000002's file", never a verdict (issue 13,
    finding 3: the file layer is bound to content)."""
    doc = pymupdf.open()
    doc.new_page()
    filemark.stamp(doc, filemark.token(issued.ws.key(), issued.result.document.id, 2))
    doc.save(tmp_path / "forwarded.pdf")
    r = trace(issued.ws, TraceOptions(evidence=(tmp_path / "forwarded.pdf",)))
    assert r.verdict == "no-match" and r.suspects == [] and r.named == 0
    [found] = r.file_identifiers
    assert found.copy.copy_no == 2 and found.pages == "no-page" and found.pages_agree is None
    assert "this file carries the identifiers of copy 000002's file" in found.finding


def test_stripped_identifiers_still_trace_through_the_pages(issued, tmp_path):
    src = pymupdf.open(issued.copy_path(5))
    out = pymupdf.open()
    out.insert_pdf(src)  # a new file: new /ID, no XMP (what "print to PDF" or another tool does)
    out.save(tmp_path / "resaved.pdf", garbage=4)
    key = issued.ws.key()
    assert filemark.token(key, issued.result.document.id, 5) not in filemark.read(tmp_path / "resaved.pdf")
    r = trace(issued.ws, TraceOptions(evidence=(tmp_path / "resaved.pdf",)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == 5
    assert set(r.suspects[0].layers) == {"shift"}  # a foreign /ID matches nothing and dilutes nothing


def test_layer_choice(issued, ws_copy, tmp_path):
    with pytest.raises(leakmark.errors.BadRequestError, match="merged print file"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("A"),),
                                                      merge=tmp_path / "m.pdf", layers=("shift", "file")))
    with pytest.raises(leakmark.errors.BadRequestError, match="shift layer cannot be left out"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("A"),),
                                                      layers=("file",)))
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("A"),),
                                                      output_dir=tmp_path / "o", layers=("shift",), jobs=1))
    assert filemark.token(ws_copy.key(), r.document.id, 6) not in filemark.read(r.copies[0].path)
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("B"),),
                                                      merge=tmp_path / "m.pdf", jobs=1))
    with Ledger(ws_copy) as ledger:
        layers = {c.copy_no: json.loads(c.settings)["layers"] for c in ledger.copies(r.document.id)}
    assert layers[6] == ["shift"] and layers[7] == ["shift"]  # merged: no file layer
