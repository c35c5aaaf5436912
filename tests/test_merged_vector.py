"""Merged print files of vector copies: each source page's resources written once per file (one font object
for the whole run, also across a resume), each copy's page its own marked content, rendering exactly as the
per-copy file of the same copy; pages with annotations stay images, over their invisible marked text."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pikepdf
import pymupdf
import pytest
from lmtest import db_rows

import leakmark
from leakmark import TraceOptions, trace
from leakmark.pdf.stamp import StampSpec
from leakmark.pdf.stream import StreamingPdf
from leakmark.rendering import page_array


def _people(n: int) -> tuple[leakmark.Recipient, ...]:
    return tuple(leakmark.Recipient(f"M{i:03d}", "保密办") for i in range(n))


def _font_objects(path: Path) -> list[int]:
    with pymupdf.open(path) as doc:
        return [x for x in range(1, doc.xref_length()) if doc.xref_get_key(x, "Type")[1] == "/Font"]


def _twin(ws: leakmark.Workspace, tmp: Path) -> leakmark.Workspace:
    """The same workspace (key, register) a second time: its next copies get the same numbers and marks."""
    shutil.copytree(ws.home, tmp / "twin")
    return leakmark.Workspace.open(tmp / "twin", create=False)


def _assert_pages_equal_to_copy_files(merged: Path, files: list[Path], pages: int) -> None:
    with pymupdf.open(merged) as doc:
        assert len(doc) == len(files) * pages
        for k, f in enumerate(files):
            with pymupdf.open(f) as own:
                for p in range(pages):
                    assert np.array_equal(page_array(doc[k * pages + p], 150), page_array(own[p], 150)), (k, p)


def test_a_merged_vector_run_shares_fonts_and_renders_as_the_copy_files(issued, ws_copy, tmp_path):
    twin = _twin(ws_copy, tmp_path)
    merged = tmp_path / "print" / "run.pdf"
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(3), merge=merged,
                                                      jobs=1))
    assert r.stats["page_modes"] == ["vector", "vector"] and r.stats["raster_reasons"] == []
    fonts = _font_objects(merged)
    assert len(fonts) == len(_font_objects(issued.source)) == 3  # one object per font for the whole run
    with pymupdf.open(merged) as doc:
        assert not any(doc[i].get_images() for i in range(len(doc)))  # text and rules, not page images
        assert all(sorted(f[0] for f in doc[i].get_fonts()) == fonts for i in range(len(doc)))
    with pikepdf.open(merged) as pdf:
        assert pdf.check_pdf_syntax() == []
        first, second = (pdf.pages[i].obj for i in (0, 2))  # page 1 of copies 1 and 2: same resources object
        assert first.Resources.objgen == second.Resources.objgen and first.Contents.objgen != second.Contents.objgen
    files = leakmark.issue(twin, leakmark.IssueOptions(source=issued.source, recipients=_people(3),
                                                       output_dir=tmp_path / "files", jobs=1))
    assert [c.copy_no for c in files.copies] == [c.copy_no for c in r.copies]
    _assert_pages_equal_to_copy_files(merged, [Path(c.path) for c in files.copies], 2)
    one = tmp_path / "page.pdf"  # page 2 of copy 2, as a PDF of its own: traced from its text (pdf_measure)
    with pymupdf.open(merged) as doc, pymupdf.open() as out:
        out.insert_pdf(doc, from_page=3, to_page=3)
        out.save(one)
    t = trace(ws_copy, TraceOptions(evidence=(one,)))
    assert t.verdict == "identified" and t.suspects[0].copy.copy_no == int(r.copies[1].copy_no)


def test_an_interrupted_merged_vector_run_resumes_without_rewriting_the_shared_objects(issued, ws_copy, tmp_path,
                                                                                     monkeypatch):
    twin = _twin(ws_copy, tmp_path)
    real = StreamingPdf._write_object
    calls: list[int] = []

    def filling(self, num, body, stream, role):
        calls.append(role)
        if calls.count(1) == 7:  # the 7th page (role 1): copy 4's first, in the second batch of 2 copies
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, num, body, stream, role)

    monkeypatch.setattr(StreamingPdf, "_write_object", filling)
    merged = tmp_path / "run.pdf"
    stamp = StampSpec(include_unit=True)
    with pytest.raises(leakmark.errors.OutputError, match="No space left on device") as info:
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(5), merge=merged,
                                                      jobs=1, batch=2, stamp=stamp))
    assert "2 of 5 copies issued" in info.value.message
    monkeypatch.undo()
    r = leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    assert r.stats["made_now"] == 3
    rows = db_rows(ws_copy.ledger_path, "SELECT path FROM copies WHERE run_id=? ORDER BY copy_no", (r.run,))
    assert [p.rpartition("#pages=")[2] for (p,) in rows] == [f"{2 * i + 1}-{2 * i + 2}" for i in range(5)]
    fonts = _font_objects(merged)  # written with the first batch, found again, never rewritten
    assert len(fonts) == 3 + 2  # the memo's 3, the stamp's Type0 font and its CID font
    with pymupdf.open(merged) as doc:
        first_pages = [sorted(f[0] for f in doc[2 * i].get_fonts()) for i in range(5)]
        assert all(f == first_pages[0] and len(f) == 4 for f in first_pages)  # the memo's 3 and the stamp
        for i, c in enumerate(r.copies):
            assert f"{c.copy_no}  保密办" in doc[2 * i].get_text()
    with pikepdf.open(merged) as pdf:
        assert pdf.check_pdf_syntax() == []
    files = leakmark.issue(twin, leakmark.IssueOptions(source=issued.source, recipients=_people(5),
                                                       output_dir=tmp_path / "files", jobs=1, stamp=stamp))
    _assert_pages_equal_to_copy_files(merged, [Path(c.path) for c in files.copies], 2)


def test_pages_with_annotations_stay_images_in_a_merged_file(issued, ws_copy, tmp_path):
    source = tmp_path / "annotated.pdf"
    with pymupdf.open(issued.source) as doc:
        doc[1].add_freetext_annot(pymupdf.Rect(300, 700, 500, 740), "已阅", fontname="helv")
        doc[0].insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 72, 200, 90), "uri": "http://x"})
        doc.save(source, no_new_id=True)
    merged = tmp_path / "run.pdf"
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(source=source, recipients=_people(1), merge=merged, jobs=1))
    assert r.stats["page_modes"] == ["vector", "raster"]  # a link is no reason
    assert r.stats["raster_reasons"] == ["page 2: it has annotations, which a merged print file does not carry "
                                         "(its image shows them)"]
    with pymupdf.open(merged) as doc, pymupdf.open(issued.source) as src:  # the original without the note
        assert not doc[0].get_images() and len(doc[1].get_images()) == 1
        assert not list(doc[0].annots()) and not doc[0].get_links()
        # the raster page keeps its text, invisible, under its image, where the original has it (±2 px at 300 dpi)
        words, original = doc[1].get_text("words"), src[1].get_text("words")
        assert [w[4] for w in words] == [w[4] for w in original] and len(words) > 20
        assert max(abs(a - b) for w, o in zip(words, original, strict=True)
                   for a, b in zip(w[:4], o[:4], strict=True)) < 0.5
        assert sorted(f[0] for f in doc[1].get_fonts()) == sorted(f[0] for f in doc[0].get_fonts())  # shared
    one = tmp_path / "page.pdf"  # the raster page as a PDF of its own: its text layer carries the marks too
    with pymupdf.open(merged) as doc, pymupdf.open() as out:
        out.insert_pdf(doc, from_page=1, to_page=1)
        out.save(one)
    t = trace(ws_copy, TraceOptions(evidence=(one,)))
    assert t.verdict == "identified" and t.suspects[0].copy.copy_no == int(r.copies[0].copy_no)


def test_pages_with_text_in_form_xobjects_stay_images_in_a_merged_file(ws_copy, tmp_path):
    # each copy file edits those forms; a merged file's copies share the original's objects, unmarked forms
    # included: such a page is an image there
    source = tmp_path / "forms.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_htmlbox(pymupdf.Rect(72, 72, 523, 400), "".join(
        f"<p>Paragraph {k}: the quick brown fox jumps over it.</p>" for k in range(14)))
    doc.save(source, no_new_id=True)
    merged = tmp_path / "run.pdf"
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(source=source, recipients=_people(1), merge=merged, jobs=1))
    assert r.stats["page_modes"] == ["raster"]
    assert "a merged print file shares" in r.stats["raster_reasons"][0]
    with pymupdf.open(merged) as out:
        assert len(out[0].get_images()) == 1 and not out[0].get_xobjects()  # no form left to draw the original
