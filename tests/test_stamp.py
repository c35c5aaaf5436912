"""The visible 份号 stamp (`issue --stamp`): where GB/T 9704 puts it, embedded and subset, upright on rotated
pages, one font object per merged run (also across a resume), recorded in the register, and harmless to
tracing."""

from __future__ import annotations

import errno
import json

import cv2
import numpy as np
import pymupdf
import pytest
from lmtest import db_rows, run_main

import leakmark
from leakmark import register, vault
from leakmark.errors import BadRequestError
from leakmark.issuing import RunRecord
from leakmark.pdf import copy as pdf_copy
from leakmark.pdf.stamp import MM, Stamp, StampSpec, draw_stamp, snippet
from leakmark.pdf.stamp_font import stamp_font
from leakmark.pdf.stream import PageImage, StreamingPdf
from leakmark.rendering import render_page_array

A4 = pymupdf.paper_rect("a4")
LINE = 225 / 22  # mm: GB/T 9704 §5.2.3, 22 lines in the 225 mm type area


def _spans(page: pymupdf.Page) -> list[tuple[str, pymupdf.Rect, tuple[float, float]]]:
    """Each text span as the page is viewed: text, rectangle in mm, writing direction."""
    out = []
    rot = page.rotation_matrix
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            d = pymupdf.Point(line["dir"]) * rot - pymupdf.Point(0, 0) * rot
            for s in line["spans"]:
                r = pymupdf.Rect(s["bbox"]) * rot
                out.append((s["text"], pymupdf.Rect(r.x0 / MM, r.y0 / MM, r.x1 / MM, r.y1 / MM),
                            (round(d.x, 3), round(d.y, 3))))
    return out


def _stamped(rotation: int = 0, spec: StampSpec | None = None, unit: str = "办公室", level: str = "机密",
             period: str = "1年") -> pymupdf.Page:
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    page.insert_text((72, 400), "body text", fontname="helv", fontsize=11)
    page.set_rotation(rotation)
    draw_stamp(page, "000123", unit, level, period, spec or StampSpec(include_level=True))
    return pymupdf.open("pdf", doc.tobytes(garbage=3, deflate=True))[0]  # as a reader sees the saved file


def test_gbt9704_position_number_on_line_1_and_level_on_line_2():
    spans = {t: r for t, r, _ in _spans(_stamped())}
    num, level = spans["000123"], spans["机密★1年"]
    assert abs(num.x0 - 28) < 0.3 and abs(level.x0 - 28) < 0.3  # flush with the type area's left edge (订口 28 mm)
    assert 37 <= num.y0 and num.y1 <= 37 + LINE  # inside the first line box (天头 37 mm)
    assert 37 + LINE <= level.y0 and level.y1 <= 37 + 2 * LINE  # the second
    assert 5.0 < num.height < 8.0  # 3号 = 16 pt = 5.6 mm em, the span box a little taller


def test_the_font_is_embedded_subset_and_small():
    page = _stamped()
    fonts = [f for f in page.get_fonts(full=True) if f[4] == "LMStamp"]
    assert len(fonts) == 1
    xref, ext, kind, name = fonts[0][:4]
    assert (ext, kind) == ("ttf", "Type0") and name.endswith("+DroidSansFallback") and name[6] == "+"
    program = page.parent.extract_font(xref)[3]
    assert len(program) > 1000  # the font program is in the file
    assert len(page.parent.tobytes(garbage=3, deflate=True)) < 8000  # subset: the full font is 3.5 MB


def test_unit_follows_the_number_and_nothing_else_unless_asked():
    texts = [t for t, _, _ in _spans(_stamped(spec=StampSpec(include_unit=True)))]
    assert "000123  办公室" in texts and not any("机密" in t for t in texts)
    texts = [t for t, _, _ in _spans(_stamped(spec=StampSpec(include_unit=True), unit=" 保密\t办\n"))]
    assert "000123  保密 办" in texts  # a unit's tabs and line breaks print as spaces
    texts = [t for t, _, _ in _spans(_stamped(spec=StampSpec()))]
    assert "000123" in texts and len(texts) == 2  # the number and the page's own text


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_rotated_page_gets_the_stamp_upright_at_its_viewed_top_left(rotation):
    page = _stamped(rotation)
    assert page.rotation == rotation
    spans = {t: (r, d) for t, r, d in _spans(page)}
    num, direction = spans["000123"]
    assert direction == (1.0, 0.0)  # reads left to right as viewed
    w, h = page.rect.width / MM, page.rect.height / MM
    assert abs(num.x0 - 28 * w / 210) < 0.3 and 37 * h / 297 <= num.y0 < 37 * h / 297 + LINE
    img = render_page_array_from(page)
    ink = img[: img.shape[0] // 4, : img.shape[1] // 3] < 128
    assert ink.sum() > 200  # drawn where the viewer sees it, not just recorded there


def render_page_array_from(page: pymupdf.Page) -> np.ndarray:
    pix = page.get_pixmap(dpi=72, colorspace=pymupdf.csGRAY)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width)


def test_other_positions_and_refusals():
    spans = {t: r for t, r, _ in _spans(_stamped(spec=StampSpec(position="top-right", include_level=True)))}
    assert abs(spans["000123"].x1 - (28 + 156)) < 0.3 and abs(spans["机密★1年"].x1 - 184) < 0.3
    spans = {t: r for t, r, _ in _spans(_stamped(spec=StampSpec(position="50, 60.5")))}
    assert abs(spans["000123"].x0 - 50) < 0.3 and 60.5 <= spans["000123"].y0 < 60.5 + LINE
    for bad in ("left", "1,2,3", "-5,10", "nan,1"):
        with pytest.raises(BadRequestError, match="stamp position"):
            StampSpec(position=bad).validate()
    with pytest.raises(BadRequestError, match="does not fit on page 1"):
        _stamped(spec=StampSpec(position="200,10"))
    with pytest.raises(BadRequestError, match="has none"):
        _stamped(spec=StampSpec(include_level=True), level="")
    with pytest.raises(BadRequestError, match="no glyph for '𝄞'"):
        _stamped(spec=StampSpec(include_unit=True), unit="乐队𝄞")


def test_a_stamp_costs_a_few_kilobytes_per_copy(tmp_path):
    text_layer = pdf_copy.build_text_layer([(A4.width, A4.height, [])])
    image = cv2.imencode(".jpg", cv2.cvtColor(render_page_array_from(_stamped()), cv2.COLOR_GRAY2BGR))[1].tobytes()
    plain, stamped = tmp_path / "plain.pdf", tmp_path / "stamped.pdf"
    pdf_copy.write_copy(text_layer, [image], plain)
    pdf_copy.write_copy(text_layer, [image], stamped, stamp=lambda page: draw_stamp(
        page, "000123", "办公室", "机密", "1年", StampSpec(include_unit=True, include_level=True)))
    added = stamped.stat().st_size - plain.stat().st_size
    assert 0 < added < 6000, added
    with pymupdf.open(stamped) as doc:
        assert "000123  办公室" in doc[0].get_text()


def test_the_stream_snippet_draws_what_draw_stamp_draws():
    font = stamp_font("0123456789 机密★1年")
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    lines = Stamp(StampSpec(include_level=True), "机密", "1年").lines("000123", "")
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, snippet(font, lines, StampSpec(include_level=True), A4.width, A4.height))
    nums = [doc.get_new_xref() for _ in range(5)]
    for n, (entries, stream) in zip(nums, font.objects(nums), strict=True):
        doc.update_object(n, "<<" + entries.decode("latin-1") + ">>")
        if stream is not None:
            doc.update_stream(n, stream)
    doc.xref_set_key(page.xref, "Resources", f"<</Font<</LMStamp {nums[-1]} 0 R>>>>")
    doc.xref_set_key(page.xref, "Contents", f"{xref} 0 R")
    mine = {t: r for t, r, _ in _spans(pymupdf.open("pdf", doc.tobytes())[0])}
    theirs = {t: r for t, r, _ in _spans(_stamped())}
    for text in ("000123", "机密★1年"):
        assert abs(mine[text].x0 - theirs[text].x0) < 0.01 and abs(mine[text].y0 - theirs[text].y0) < 0.01


def test_the_streamed_file_writes_the_shared_font_once_and_finds_it_after_a_resume(tmp_path):
    font = stamp_font("0123456789 ")
    final = tmp_path / "run.pdf"
    w = StreamingPdf(final)
    ref = w.add_shared(5, font.objects)
    img = PageImage(cv2.imencode(".jpg", render_page_array_from(_stamped()))[1].tobytes(), 595, 842)
    w.add_page(A4.width, A4.height, img, snippet(font, ["000001"], StampSpec(), A4.width, A4.height),
               {"LMStamp": ref})
    committed = w.commit()
    w.close()
    w = StreamingPdf(final, committed=committed)
    assert w.shared() == ref
    w.add_page(A4.width, A4.height, img, snippet(font, ["000002"], StampSpec(), A4.width, A4.height),
               {"LMStamp": ref})
    w.finish()
    with pymupdf.open(final) as doc:
        assert [[f[0] for f in p.get_fonts(full=True) if f[4] == "LMStamp"] for p in doc] == [[ref], [ref]]
        assert "000002" in doc[1].get_text()


# -- through issue --------------------------------------------------------------------------------------
def _people(n: int) -> tuple[leakmark.Recipient, ...]:
    return tuple(leakmark.Recipient(f"S{i:02d}", ("办公室", "保密办", "Test lab")[i % 3]) for i in range(n))


def test_a_merged_run_shares_one_font_object_across_copies_also_after_a_resume(issued, ws_copy, tmp_path,
                                                                              monkeypatch):
    real = StreamingPdf._write_object
    calls = []

    def filling(self, num, body, stream, role):
        calls.append(num)
        if len(calls) == 25:  # 5 font objects, then 3 per page: in the second batch of 2 copies x 2 pages
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, num, body, stream, role)

    monkeypatch.setattr(StreamingPdf, "_write_object", filling)
    merged = tmp_path / "run.pdf"
    spec = StampSpec(include_unit=True)
    with pytest.raises(leakmark.errors.OutputError, match="No space left on device"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(5), merge=merged,
                                                      jobs=1, batch=2, stamp=spec, vector=False,
                                                      text_layer=False))  # page images, no fonts of the memo
    monkeypatch.undo()
    r = leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    assert r.stats["made_now"] == 3
    with pymupdf.open(merged) as doc:
        assert len(doc) == 10
        fonts = [[f[0] for f in doc[i].get_fonts(full=True)] for i in range(10)]
        assert all(f == fonts[0] and len(f) == 1 for f in fonts[::2]) and not any(fonts[1::2])
        for i, c in enumerate(r.copies):
            assert f"{c.copy_no}  {c.unit}" in doc[2 * i].get_text()
        font_objects = [x for x in range(1, doc.xref_length()) if doc.xref_get_key(x, "Subtype")[1] == "/Type0"]
        assert font_objects == fonts[0]  # one font object in the whole file


def test_the_register_records_the_stamp_and_log_show_shows_it(issued, ws_copy, tmp_path, capsys):
    out = tmp_path / "copies"
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(1), output_dir=out,
                                                      jobs=1, stamp=StampSpec(position="top-right",
                                                                              include_unit=True)))
    options = db_rows(ws_copy.ledger_path, "SELECT options FROM runs WHERE id=?", (r.run,))[0][0]
    record = json.loads(options)
    assert record["format"] == 2 and record["stamp"] == {"position": "top-right", "unit": True, "level": False,
                                                         "size_pt": 16.0, "level_text": "", "period": ""}
    assert RunRecord.from_json(options).stamp == Stamp(StampSpec(position="top-right", include_unit=True))
    code, out, _ = run_main(capsys, "log", "show", r.copies[0].copy_no, "--home", ws_copy.home)
    assert code == 0
    assert f"stamp:     {r.copies[0].copy_no}  办公室  (visible on page 1 at top-right, 16 pt)" in out
    detail = register.show(ws_copy, r.copies[0].copy_no)
    assert detail.to_json()["copy"]["stamp"] == {"position": "top-right", "size_pt": 16.0,
                                                 "lines": [f"{r.copies[0].copy_no}  办公室"]}
    older = register.show(ws_copy, "000001")  # issued without a stamp
    assert older.stamp is None and older.to_json()["copy"]["stamp"] is None
    code, out, _ = run_main(capsys, "log", "show", "000001", "--home", ws_copy.home)
    assert code == 0 and "stamp:" not in out
    with pytest.raises(BadRequestError, match="newer leakmark"):
        RunRecord.from_json('{"format": 3, "layers": ["shift"]}')


def test_cli_stamp_options(issued, ws_copy, tmp_path, capsys):
    base = ["issue", issued.source, "-r", "A/办公室", "-o", tmp_path / "o", "--home", ws_copy.home, "-q"]
    code, _, err = run_main(capsys, *base, "--stamp-unit")
    assert code == 2 and "go with --stamp" in err
    code, _, err = run_main(capsys, *base, "--stamp", "--stamp-level")  # the memo has no 密级
    assert code == 10 and "the stamp cannot show a 密级: the document has none" in err
    code, _, err = run_main(capsys, *base, "--stamp", "--stamp-position", "here")
    assert code == 10 and "stamp position 'here' is not one of gbt9704, top-right or X,Y" in err
    code, _, err = run_main(capsys, "issue", "--resume", "last", "--stamp", "--home", ws_copy.home)
    assert code == 2 and "the run has them" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # nothing issued
    code, out, _ = run_main(capsys, *base, "--stamp", "--stamp-unit", "--json")
    assert code == 0
    path = json.loads(out)["copies"][0]["path"]
    with pymupdf.open(path) as doc:
        assert "办公室" in doc[0].get_text()


def test_a_stamped_copy_still_traces_to_its_copy(issued, ws_copy, tmp_path):
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(
        source=issued.source, recipients=_people(2), output_dir=tmp_path / "copies", jobs=1,
        stamp=StampSpec(include_unit=True)))  # over the memo's "MEMORANDUM": ink on some of its units
    copy = r.copies[1]
    page = render_page_array(copy.path, 0, 300)
    png = tmp_path / "scan.png"
    cv2.imwrite(str(png), page)
    with pymupdf.open(copy.path) as doc:
        assert f"{copy.copy_no}  保密办" in doc[0].get_text()
        stamp_box = doc[0].search_for(f"{copy.copy_no}  保密办")[0] * (300 / 72)
    words = vault.load_units_json(ws_copy, r.document.sha256, 0)["words"]
    assert any(stamp_box.intersects(pymupdf.Rect(w)) for w in words)  # new ink over units of the original
    t = leakmark.trace(ws_copy, leakmark.TraceOptions(evidence=(png,)))
    assert t.verdict == "identified" and t.named == 1, [(s.copy.copy_no, s.score) for s in t.suspects]
    assert t.suspects[0].copy.label == copy.copy_no
