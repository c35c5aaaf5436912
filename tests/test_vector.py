"""Vector copies: the original PDF with the marks in its own content (issue 12)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from lmtest import htmlbox_document

import leakmark
from leakmark import TraceOptions, trace
from leakmark.layers.codes import signs
from leakmark.pdf import vector
from leakmark.rendering import render_page_array


def test_copies_are_vector_and_keep_the_document(issued):
    assert issued.result.stats["page_modes"] == ["vector", "vector"]
    with pymupdf.open(issued.source) as src, pymupdf.open(issued.copy_path(1)) as cp:
        assert cp.page_count == src.page_count
        for a, b in zip(src, cp, strict=True):
            assert b.get_text() == a.get_text()  # the original's text, not a substitute layer
            assert {f[3] for f in b.get_fonts()} == {f[3] for f in a.get_fonts()}
            assert b.rect == a.rect and b.rotation == a.rotation
            assert not b.get_images()  # no page image anywhere
        for k in ("title", "author", "subject", "keywords"):
            assert cp.metadata[k] == src.metadata[k]
    size, original = issued.copy_path(1).stat().st_size, issued.source.stat().st_size
    assert size <= 1.05 * original + 30_000


def test_copies_differ_only_in_their_marks(issued):
    with pymupdf.open(issued.copy_path(1)) as a, pymupdf.open(issued.copy_path(2)) as b:
        assert a[0].read_contents() != b[0].read_contents()
        assert a[0].get_text() == b[0].get_text()


def _streams(doc: pymupdf.Document) -> set[bytes]:
    out = set()
    for xref in range(1, doc.xref_length()):
        if doc.xref_is_stream(xref):
            try:
                out.add(doc.xref_stream(xref))
            except Exception:  # an image stream MuPDF will not decode raw: not content
                continue
    return out


def test_no_unmarked_content_stream_stays_in_the_file(issued):
    with pymupdf.open(issued.source) as src, pymupdf.open(issued.copy_path(2)) as cp:
        originals = {p.read_contents() for p in src}
        assert not originals & _streams(cp)


def _strip(path, out):
    """What an insider would try: make any invisible text visible, delete images, drop annotations, then
    flatten the result (render it)."""
    with pymupdf.open(path) as doc:
        for page in doc:
            for annot in list(page.annots() or []):
                page.delete_annot(annot)
            for img in page.get_images(full=True):
                page.delete_image(img[0])
            page.clean_contents()
            xref = page.get_contents()[0]
            data = doc.xref_stream(xref)
            doc.update_stream(xref, re.sub(rb"\b[1-7] Tr\b", b"0 Tr", data))
        doc.save(out)


def test_an_insider_stripping_a_vector_copy_still_leaves_it_traceable(issued, tmp_path):
    stripped = tmp_path / "stripped.pdf"
    _strip(issued.copy_path(3), stripped)
    with pymupdf.open(stripped) as doc:
        doc[0].get_text()  # still a readable document
    import cv2

    page = render_page_array(stripped, 0, 300)  # flattened: a picture of the stripped page
    cv2.imwrite(str(tmp_path / "flat.png"), page)
    r = trace(issued.ws, TraceOptions(evidence=(tmp_path / "flat.png",)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == 3


def test_a_page_plan_is_deterministic_and_moves_units_by_their_code(issued):
    from leakmark import units
    from leakmark.pdf.read import render_page

    page = render_page(issued.source, "pdf", 0, 300, None)
    import cv2

    gray = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
    pu = units.from_text(page.rawdict, page.matrix, gray, 1)
    data = issued.source.read_bytes()
    plan_a, plan_b = vector.plan(data, 0, pu, 300, 1), vector.plan(data, 0, pu, 300, 1)
    codes = signs(b"seed", pu.n_codes)
    assert plan_a.content(codes) == plan_b.content(codes)
    figures = vector.verify(plan_a, data, 0, gray, 300)
    assert figures["agreement"] >= 0.95 and figures["measured"] >= 0.9 * figures["raster_measured"]


def test_unit_moves_follow_the_raster_marker():
    from leakmark.units import PageUnits

    pu = PageUnits(words=np.array([[10, 10, 20, 20], [30, 10, 40, 20]], np.int32), word_axis=np.array([0, 0], np.int8),
                   word_line=np.array([0, 0], np.int32), lines=np.array([[10, 10, 40, 20]], np.int32),
                   rules=np.array([[0, 50, 100, 52]], np.int32), rule_axis=np.array([1], np.int8),
                   blobs=np.array([[60, 60, 80, 80]], np.int32))
    codes = np.array([1, -1, -1, 1, 1, -1], np.int8)  # words, line, rule, blob x, blob y
    moves = vector.unit_moves(pu, codes, 2)
    # word = its line's move (across: y) + its own (along: x); rule across itself; blob in x and y
    assert moves.tolist() == [[2, -2], [-2, -2], [0, -2], [0, 2], [2, -2]]


@pytest.fixture
def rich_pdf(tmp_path):
    """A PyMuPDF-made document with what offices' files carry: metadata, outline, labels, links, a form field."""
    doc = pymupdf.open()
    for i in range(2):
        page = doc.new_page()
        y = 72
        for k in range(28):
            page.insert_text((72, y), f"Paragraph {k} of page {i + 1}: the quick brown fox jumps over it.",
                             fontsize=11)
            y += 18
        page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 60, 200, 75),
                          "uri": "https://example.org/"})
    widget = pymupdf.Widget()
    widget.field_name, widget.field_type = "approver", pymupdf.PDF_WIDGET_TYPE_TEXT
    widget.rect, widget.field_value = pymupdf.Rect(300, 740, 500, 760), "Li Ming"
    doc[1].add_widget(widget)
    doc.set_toc([[1, "First", 1], [2, "Second", 2]])
    doc.set_page_labels([{"startpage": 0, "prefix": "A-", "style": "D", "firstpagenum": 1}])
    doc.set_metadata({"title": "Rich", "author": "Office", "subject": "Test", "keywords": "a, b"})
    path = tmp_path / "rich.pdf"
    doc.save(path, no_new_id=True)
    return path


def test_outline_labels_links_and_live_form_fields_survive(ws_copy, rich_pdf, tmp_path):
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(source=rich_pdf, recipients=(leakmark.Recipient("A"),),
                                                           output_dir=tmp_path / "out", jobs=1))
    assert result.stats["vector_pages"] == 2, result.stats["raster_reasons"]
    with pymupdf.open(rich_pdf) as src, pymupdf.open(result.copies[0].path) as cp:
        assert cp.get_toc() == src.get_toc()
        assert [p.get_label() for p in cp] == [p.get_label() for p in src]
        assert [[(ln["uri"], ln["from"]) for ln in p.get_links()] for p in cp] == \
            [[(ln["uri"], ln["from"]) for ln in p.get_links()] for p in src]
        fields = [(w.field_name, w.field_value) for w in cp[1].widgets()]
        assert fields == [("approver", "Li Ming")]
        assert cp.metadata["title"] == "Rich" and cp.metadata["keywords"] == "a, b"


def test_raster_is_still_available(ws_copy, rich_pdf, tmp_path):
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(source=rich_pdf, recipients=(leakmark.Recipient("A"),),
                                                           output_dir=tmp_path / "out", jobs=1, vector=False))
    assert result.stats["page_modes"] == ["raster", "raster"]
    with pymupdf.open(result.copies[0].path) as cp:
        assert cp[0].get_images()


def test_content_streams_compress(issued):
    # the copy's content is ordinary PDF operators: it deflates like the original's
    with pymupdf.open(issued.copy_path(1)) as cp:
        raw = cp[0].read_contents()
        assert len(zlib.compress(raw)) < len(raw) / 2


def test_a_resaved_pdf_copy_is_read_from_its_own_text(issued, tmp_path):
    # a copy placed, scaled, on another paper size (as "print to PDF" does) and re-saved: no file
    # identifiers left, and the words' positions are read from the text, not the rendering
    out = pymupdf.open()
    with pymupdf.open(issued.copy_path(2)) as src:
        for i in range(src.page_count):
            page = out.new_page(width=612, height=792)  # US Letter
            page.show_pdf_page(pymupdf.Rect(20, 30, 590, 770), src, i)
    path = tmp_path / "printed.pdf"
    out.save(path, garbage=4, deflate=True)
    r = trace(issued.ws, TraceOptions(evidence=(path,), layers=("shift",)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == 2
    assert all("read from the PDF's own text" in e.detail for e in r.evidence)


def test_the_unmarked_original_as_evidence_names_nobody(issued):
    r = trace(issued.ws, TraceOptions(evidence=(issued.source,)))
    assert r.verdict == "no-match" and r.named == 0


def test_clipping_paths_keep_their_rule_and_text_moves_inside_them():
    from leakmark.units import PageUnits

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "clip test words here", fontsize=11)
    xref = page.get_contents()[0]
    doc.update_stream(xref, b"q 50 50 400 400 re 100 100 100 100 re W* n " + doc.xref_stream(xref) + b" Q")
    one = np.array([[290, 370, 400, 420]], np.int32)
    pu = PageUnits(words=one, word_axis=np.array([0], np.int8), word_line=np.array([0], np.int32), lines=one)
    out = vector.plan(doc.tobytes(), 0, pu, 300, 1).content(np.array([1, 1], np.int8))
    assert b"W*\nn" in out and b"100 100 100 100 re" in out  # the even-odd clip as it was
    assert b"Ts" in out and b"] TJ" in out  # the word moved across (text rise) and along (TJ adjustment)


def _page_units(data: bytes, tmp_path: Path):
    import cv2

    from leakmark import units
    from leakmark.pdf.read import render_page

    path = tmp_path / "page.pdf"
    path.write_bytes(data)
    page = render_page(path, "pdf", 0, 300, None)
    gray = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
    return units.from_text(page.rawdict, page.matrix, gray, 1), gray


def _lines_pdf(prefix: bytes = b"") -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    for k in range(8):
        page.insert_text((72, 100 + 24 * k), f"Line {k}: bold words of a table header", fontsize=12)
    xref = page.get_contents()[0]
    doc.update_stream(xref, doc.xref_stream(xref).replace(b"BT", b"BT " + prefix))
    return doc.tobytes()


def test_text_filled_and_stroked_is_moved_once_per_glyph(tmp_path):
    # LibreOffice draws the bold of a font without a bold face as fill and stroke (2 Tr): MuPDF traces such
    # text twice, which must not read as twice the glyphs (lo-docx-zh-report p1 stayed raster, with no text)
    data = _lines_pdf(b"2 Tr 0.3 w ")
    pu, gray = _page_units(data, tmp_path)
    plan = vector.plan(data, 0, pu, 300, 1)
    assert plan.stats["moved_slots"] >= 0.9 * plan.stats["slots"]
    figures = vector.verify(plan, data, 0, gray, 300)
    assert figures["agreement"] >= 0.95
    assert b"2 Tr" in plan.content(signs(b"seed", pu.n_codes))  # the page still draws its bold


def test_invisible_text_gets_a_text_layer_moved_with_the_image(tmp_path):
    # a scan's OCR text (3 Tr): MuPDF traces it without a colour; its glyphs still map to their operators
    pu, _ = _page_units(_lines_pdf(), tmp_path)  # the units of the page image: where the invisible words lie
    data = _lines_pdf(b"3 Tr ")
    plan = vector.plan(data, 0, pu, 300, 1, text_only=True)
    assert plan.stats["moved_slots"] >= 0.9 * plan.stats["slots"]
    out = plan.content(signs(b"seed", pu.n_codes))
    assert b"Ts" in out and b"] TJ" in out


def _htmlbox_pdf(path: Path, twice: bool = False) -> Path:
    """`lmtest.htmlbox_document` in a file. `twice`: the second page draws the first page's form again."""
    with htmlbox_document() as doc:
        doc.save(path, no_new_id=True)
    if twice:
        import pikepdf

        with pikepdf.open(path, allow_overwriting_input=True) as pdf:
            first, second = pdf.pages
            name, form = next(iter(first.Resources.XObject.items()))
            second.Resources.XObject[name + "b"] = form
            second.contents_add(pdf.make_stream(f"q 1 0 0 1 0 -300 cm {name}b Do Q".encode()))
            pdf.save(path)
    return path


def _form_streams(path: Path) -> dict[int, bytes]:
    """The form XObjects that show text, by object number."""
    with pymupdf.open(path) as doc:
        forms = {x: doc.xref_stream(x) for x in range(1, doc.xref_length())
                 if doc.xref_get_key(x, "Subtype")[1] == "/Form"}
    return {x: data for x, data in forms.items() if re.search(rb"\bT[jJ]\b", data)}


def test_text_inside_form_xobjects_is_moved_in_the_forms(ws_copy, tmp_path):
    source = _htmlbox_pdf(tmp_path / "htmlbox.pdf")
    with pymupdf.open(source) as doc:
        assert b"BT" not in doc[0].read_contents()
    people = (leakmark.Recipient("A"), leakmark.Recipient("B"))
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(source=source, recipients=people,
                                                           output_dir=tmp_path / "out", jobs=1))
    assert result.stats["page_modes"] == ["vector", "vector"], result.stats["raster_reasons"]
    original = _form_streams(source)
    a, b = (Path(c.path) for c in result.copies)
    with pymupdf.open(source) as src, pymupdf.open(a) as cp:
        assert [p.get_text() for p in cp] == [p.get_text() for p in src] and not cp[0].get_images()
    forms_a, forms_b = _form_streams(a), _form_streams(b)
    assert len(forms_a) == len(original) == 2
    assert not set(original.values()) & set(forms_a.values())  # no unmarked text left in the file
    assert set(forms_a.values()) != set(forms_b.values())  # each copy's forms carry its own marks
    import cv2

    cv2.imwrite(str(tmp_path / "b.png"), render_page_array(b, 1, 300))
    r = trace(ws_copy, TraceOptions(evidence=(tmp_path / "b.png",)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == int(result.copies[1].copy_no)


def test_a_form_xobject_drawn_twice_or_in_a_merged_file_keeps_its_page_raster(tmp_path):
    data = _htmlbox_pdf(tmp_path / "twice.pdf", twice=True).read_bytes()
    pu, _ = _page_units(data, tmp_path)
    with pytest.raises(vector.NotEditable, match="other pages or forms draw too"):
        vector.plan(data, 0, pu, 300, 1)  # page 2 draws page 1's form too: one content cannot mark both
    data = _htmlbox_pdf(tmp_path / "once.pdf").read_bytes()
    pu, _ = _page_units(data, tmp_path)
    with pytest.raises(vector.NotEditable, match="merged print file"):
        vector.plan(data, 0, pu, 300, 1, forms=False)
    assert vector.plan(data, 0, pu, 300, 1).forms


def test_font_code_spaces():
    from leakmark.pdf.fontcodes import _GBK, _UTF16, FontCodes

    assert FontCodes(None).split(b"ab") == [b"a", b"b"]
    assert FontCodes(_UTF16).split(b"\x4e\x2d\xd8\x3d\xde\x00") == [b"\x4e\x2d", b"\xd8\x3d\xde\x00"]
    assert FontCodes(_GBK).split(b"a\xd6\xd0b") == [b"a", b"\xd6\xd0", b"b"]
    assert FontCodes(_GBK).split(b"\xff") is None  # outside the code space: not guessed


def test_an_insider_stripping_a_raster_copy_finds_its_text_marked_too(ws_copy, issued, tmp_path):
    # an image copy: delete the page image and make the invisible text visible; what is left must be the
    # copy's marks too (its glyphs moved as the image's units), not a clean original
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("Z"),),
                                                           output_dir=tmp_path / "out", jobs=1, vector=False))
    path = Path(result.copies[0].path)
    with pymupdf.open(path) as doc:
        assert doc[0].get_images() and doc[0].get_text() == pymupdf.open(issued.source)[0].get_text()
    stripped = tmp_path / "stripped.pdf"
    _strip(path, stripped)
    with pymupdf.open(stripped) as doc:
        # PyMuPDF leaves a 1 × 1 placeholder where it deletes an image
        assert all(img[2] * img[3] <= 1 for img in doc[0].get_images()) and len(doc[0].get_text()) > 200
    import cv2

    cv2.imwrite(str(tmp_path / "flat.png"), render_page_array(stripped, 0, 300))
    r = trace(ws_copy, TraceOptions(evidence=(tmp_path / "flat.png",)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == int(result.copies[0].copy_no)


def _with_form(rect: tuple[float, float, float, float], source_text: str, slant: float = 0) -> bytes:
    """A page of words with a form XObject (PyMuPDF's show_pdf_page) holding text and a ring at `rect`."""
    with pymupdf.open() as src:
        sp = src.new_page(width=200, height=200)
        sp.draw_circle((100, 100), 45, color=(0.8, 0, 0), width=4)  # touching the lettering: one mark
        sp.insert_text((62, 108), source_text, fontsize=24, color=(0.8, 0, 0),
                       morph=(pymupdf.Point(100, 100), pymupdf.Matrix(slant)))
        doc = pymupdf.open()
        page = doc.new_page()
        for k in range(12):
            page.insert_text((72, 90 + 22 * k), f"line {k} of the body text with several words", fontsize=11)
        page.show_pdf_page(pymupdf.Rect(*rect), src, 0)
        return doc.tobytes()


def test_a_seal_drawn_by_a_form_xobject_moves_as_its_mark_unit(tmp_path):
    # a seal away from the body text, its lettering slanted (as round a seal's rim): no word units, the
    # whole seal is one mark (blob) unit, as in XeTeX's logo pages
    data = _with_form((380, 600, 480, 700), "SEAL", slant=30)
    pu, gray = _page_units(data, tmp_path)
    assert pu.n_blobs >= 1
    plan = vector.plan(data, 0, pu, 300, 1)
    figures = vector.verify(plan, data, 0, gray, 300)
    assert figures["measured"] >= 0.9 * figures["raster_measured"]
    assert plan.forms  # the seal's form is edited in the copy: its lettering moves with the seal


def test_dot_leaders_commas_and_quotes_move_with_their_own_words(tmp_path):
    # a contents or index page: words made only of low or high glyphs (leader dots, commas, quotes) sit
    # in one end of their glyphs' boxes, whose centres fall outside those words; they must still move as
    # the image marker moves them, or the page measures a third of its units and stays raster (issue 12)
    import cv2

    from leakmark import units
    from leakmark.pdf.read import render_page

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "x", fontname="helv", fontsize=11)  # the font resource
    leader = b" ".join([b"(.) -900"] * 12)
    body = b"".join(b"BT /helv 11 Tf 72 %d Td (Entry %d) Tj 60 0 Td [%s] TJ 150 0 Td (%d) Tj 12 0 Td (,) Tj "
                    b"5 0 Td (%d) Tj 30 0 Td (\") Tj ET\n" % (740 - 22 * k, k, leader, 3 * k + 1, 3 * k + 2)
                    for k in range(12))
    doc.update_stream(page.get_contents()[0], body)
    path = tmp_path / "index.pdf"
    doc.save(path, no_new_id=True)
    rendered = render_page(path, "pdf", 0, 300, None)
    gray = cv2.cvtColor(rendered.rgb, cv2.COLOR_RGB2GRAY)
    pu = units.from_text(rendered.rawdict, rendered.matrix, gray, 1)
    dots = np.nonzero(pu.words[:, 3] - pu.words[:, 1] < 10)[0]  # words of dots only: a few pixels high
    assert len(dots) >= 12 * 12
    plan = vector.plan(path.read_bytes(), 0, pu, 300, 1)
    assert plan.stats["still"] == {}  # every word, the dots, commas and quotes too, got its glyphs
    figures = vector.verify(plan, path.read_bytes(), 0, gray, 300)
    assert figures["measured"] == figures["raster_measured"] and figures["agreement"] >= 0.95


def test_a_copy_keeps_the_originals_object_streams(tmp_path):
    """pdfTeX, LuaTeX and XeTeX write object streams: written without them a copy grew by a third."""
    from leakmark.pdf.copy import write_pdf_copy
    from leakmark.pdf.image import PageContent

    src = pymupdf.open()
    for k in range(30):
        page = src.new_page()
        page.insert_text((72, 72), f"page {k}", fontsize=11)
        for j in range(40):
            page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 90 + 15 * j, 200, 102 + 15 * j),
                              "uri": f"https://example.org/{k}/{j}"})
    for use in (0, 1):
        original = tmp_path / f"objstm-{use}.pdf"
        src.save(original, garbage=3, deflate=True, use_objstms=use)
        with pymupdf.open(original) as doc:
            contents: list = [PageContent(b"".join(doc.xref_stream(x) for x in p.get_contents())) for p in doc]
        out = tmp_path / f"copy-{use}.pdf"
        write_pdf_copy(original, contents, out)
        with pymupdf.open(out) as copy:
            assert (copy.xref_get_key(-1, "Type") == ("name", "/XRef")) == bool(use)
        assert out.stat().st_size <= 1.05 * original.stat().st_size + 2048, use


def test_text_in_a_hidden_layer_keeps_the_page_raster_and_out_of_its_text_layer(ws_copy, tmp_path):
    # microtype's manual: answers in an optional content group that is off until the reader turns it on.
    # MuPDF draws and extracts none of it, so its glyphs cannot be placed: the page goes raster, and its text
    # layer (moved with the image) holds what the original shows and extracts, without the hidden answer
    src = tmp_path / "layers.pdf"
    doc = pymupdf.open()
    hidden = doc.add_ocg("Answers", on=False)
    page = doc.new_page()
    for k in range(12):
        page.insert_text((72, 100 + 24 * k), f"Line {k}: the visible words of this page", fontsize=12)
    page.insert_text((72, 420), "The hidden answer is forty-two", fontsize=12, oc=hidden)
    doc.save(src, no_new_id=True)
    with pymupdf.open(src) as doc:
        original = doc[0].get_text()
    assert "hidden answer" not in original and "Line 11" in original
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(source=src, recipients=(leakmark.Recipient("Z"),),
                                                           output_dir=tmp_path / "out", jobs=1))
    assert result.stats["page_modes"] == ["raster"]
    [why] = result.stats["raster_reasons"]
    assert "optional content that is hidden" in why, why
    with pymupdf.open(result.copies[0].path) as doc:
        assert doc[0].get_text() == original


def _vertical_pdf() -> bytes:
    """A line of horizontal text, then 12 CJK glyphs in an embedded font written vertically (Identity-V): a TJ
    with a kerning number (placed by a Td from the text object's start), a Tj that goes on from where it ends, a Td
    to a second column and a Tj there."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="V", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text((72, 100), "横排的文字在这里", fontname="V", fontsize=14)
    page.insert_text((300, 200), "竖排文字一二三四五六七八", fontname="V", fontsize=14)
    doc = pymupdf.open("pdf", doc.tobytes())
    page = doc[0]
    streams = b"".join(doc.xref_stream(x) for x in page.get_contents())
    h, v = re.findall(rb"\[<([0-9a-f]+)>\]", streams)
    fx = next(f for f in page.get_fonts() if f[4] == "V")[0]
    vx = doc.get_new_xref()
    doc.update_object(vx, doc.xref_object(fx).replace("/Identity-H", "/Identity-V"))
    res = doc.xref_get_key(page.xref, "Resources")
    rx = int(res[1].split()[0]) if res[0] == "xref" else page.xref
    fonts = doc.xref_get_key(rx, "Font")
    if fonts[0] == "xref":
        doc.xref_set_key(int(fonts[1].split()[0]), "W", f"{vx} 0 R")
    else:
        doc.xref_set_key(rx, "Font/W", f"{vx} 0 R")
    q = [v[i:i + 4] for i in range(0, len(v), 4)]
    content = (b"BT /V 14 Tf 1 0 0 1 72 742 Tm [<" + h + b">] TJ ET\n"
               b"BT /W 14 Tf 300 700 Td [<" + b"".join(q[:3]) + b"> 120 <" + b"".join(q[3:6]) + b">] TJ <"
               + b"".join(q[6:9]) + b"> Tj 30 0 Td <" + b"".join(q[9:]) + b"> Tj ET\n")
    cx = page.get_contents()[0]
    doc.update_stream(cx, content)
    page.set_contents(cx)
    return doc.tobytes(garbage=3)


def test_vertical_text_moves_across_and_along_its_column_and_leaves_the_rest_in_place():
    # zhspacing's manual (XeTeX) sets an example column in a vertical font: its page stayed raster. A TJ
    # adjustment and a text rise move glyphs along text space x and y, and in writing mode 1 both act
    # down the column: each group gets its own Tm, and the text position is put back after the operator
    from leakmark.units import PageUnits

    data = _vertical_pdf()
    s = 300 / 72
    # where the glyphs are drawn (MuPDF's text trace and the ink agree; its rawdict boxes of vertical glyphs
    # lie 0.8 em lower): 竖 143-157, 排, 文, (a kerning gap) 字 187-201, 一, 二, 三 ... 五 -271
    word = [293 * s, 186 * s, 307 * s, 229 * s]  # 字一二: moves along the column (y)
    line = [293 * s, 142 * s, 307 * s, 272 * s]  # the first column: moves across it (x)
    pu = PageUnits(words=np.array([word], np.int32), word_axis=np.array([1], np.int8),
                   word_line=np.array([0], np.int32), lines=np.array([line], np.int32))
    plan = vector.plan(data, 0, pu, 300, 4)
    codes = np.array([1, -1], np.int8)
    moves = vector.unit_moves(pu, codes, 4) / s  # points: the line -4 px across, the word +4 px along
    assert moves[0].tolist() == pytest.approx([-4 / s, 4 / s]) and moves[1].tolist() == pytest.approx([-4 / s, 0])

    def boxes(content: bytes | None) -> list[tuple[str, list[float]]]:
        doc = pymupdf.open("pdf", data)
        if content is not None:
            xref = doc[0].get_contents()[0]
            doc.update_stream(xref, content)
        return [(chr(ch[0]), list(ch[3])) for sp in doc[0].get_texttrace() for ch in sp["chars"]]

    before = boxes(None)
    assert "".join(c for c, _ in before) == "横排的文字在这里竖排文字一二三四五六七八"
    # the page's own content, and the invisible text layer of a raster page (made visible: its glyphs move alike)
    layer = vector.plan(data, 0, pu, 300, 4, text_only=True).content(codes)
    assert layer.count(b"3 Tr") == 2  # one per text object
    for content in (plan.content(codes), layer.replace(b"3 Tr", b"0 Tr")):
        after = boxes(content)
        assert [c for c, _ in after] == [c for c, _ in before]
        for k, ((c, b0), (_, b1)) in enumerate(zip(before, after, strict=True)):
            want = (0.0, 0.0) if k < 8 else moves[0] if c in "字一二" else moves[1] if c in "竖排文三四五" else (0, 0)
            assert [b1[0] - b0[0], b1[1] - b0[1]] == pytest.approx(list(want), abs=0.01), c
    text = pymupdf.open("pdf", data)[0].get_text()
    zero = vector.PagePlan(plan.parts, pu, 0, plan.stats, plan.forms).content(codes)
    doc = pymupdf.open("pdf", data)
    doc.update_stream(doc[0].get_contents()[0], zero)
    assert doc[0].get_text() == text  # unmoved, it is the original (the second column: where the Td puts it)


def _thin_space_pdf() -> bytes:
    """Lines of words in an embedded font, set apart by kerning only: word spaces of 0.25 em and, around
    each "=", thin spaces of 0.166 em (TeX's \\,: microtype's manual sets "⟨character⟩ = ⟨factor⟩" so)."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="T", fontbuffer=pymupdf.Font("tiro").buffer)
    words = ["pairs", "of", "value", "=", "factor", "and", "key", "=", "amount"]
    for k, w in enumerate(words):
        page.insert_text((72, 60 + 14 * k), w, fontname="T", fontsize=11)
    doc = pymupdf.open("pdf", doc.tobytes())
    page = doc[0]
    codes = re.findall(rb"\[<([0-9a-f]+)>\]", b"".join(doc.xref_stream(x) for x in page.get_contents()))
    assert len(codes) == len(words)
    thin = {k for k, w in enumerate(words) if w == "="} | {k - 1 for k, w in enumerate(words) if w == "="}
    line = b"".join(b"<" + c + b">" + (b"" if k == len(words) - 1 else b" -166 " if k in thin else b" -250 ")
                    for k, c in enumerate(codes))
    content = b"".join(b"BT /T 11 Tf 72 %d Td [%s] TJ ET\n" % (740 - 20 * k, line) for k in range(14))
    cx = page.get_contents()[0]
    doc.update_stream(cx, content)
    page.set_contents(cx)
    return doc.tobytes(garbage=3)


def test_a_thin_space_before_a_word_stays_in_the_extracted_text(monkeypatch):
    # MuPDF extracts a space where a glyph starts 0.15 em or more after the pen. The unit builder joins two
    # words that near: but microtype's manual (p12, p18, p19) has "⟨character⟩ = ⟨factor⟩" in whose
    # extracted text (a ToUnicode of many letters per glyph) "⟨character⟩" made no word, so it moved with
    # its line only while "=" moved by its word's delta, and a copy's text read "⟩= ⟨". A glyph whose gap to
    # the glyph before it lies that near a threshold now moves with that glyph.
    from leakmark.units import PageUnits

    data = _thin_space_pdf()
    page = pymupdf.open("pdf", data)[0]
    original = page.get_text()
    assert original.count(" = ") == 14 * 2
    s = 300 / 72
    words, lines, word_line = [], [], []
    for k in range(14):
        line = [w for w in page.get_text("words") if w[5] == k]
        x0, y0, x1, y1 = (min(w[i] for w in line) if i < 2 else max(w[i] for w in line) for i in range(4))
        lines.append([x0 * s, y0 * s, x1 * s, y1 * s])
        # as there: the word before "=" makes no unit, "=" makes one with the word after it
        for a, b in ((0, 0), (1, 1), (3, 4), (5, 5), (7, 8)):
            words.append([line[a][0] * s, line[a][1] * s, line[b][2] * s, line[b][3] * s])
            word_line.append(k)
    pu = PageUnits(words=np.array(words, np.int32), word_axis=np.zeros(len(words), np.int8),
                   word_line=np.array(word_line, np.int32), lines=np.array(lines, np.int32))

    def texts(plan: vector.PagePlan) -> set[str]:
        out = set()
        for seed in range(12):
            doc = pymupdf.open("pdf", data)
            doc.update_stream(doc[0].get_contents()[0], plan.content(signs(b"thin%d" % seed, pu.n_codes)))
            out.add(doc[0].get_text())
        return out

    plan = vector.plan(data, 0, pu, 300, 1)
    assert texts(plan) == {original}
    assert plan.stats["still"] == {}  # "=" rides with the word before it, the rest of its unit moves
    monkeypatch.setattr(vector, "_extraction_ties", lambda drawn, reach: {})
    assert texts(vector.plan(data, 0, pu, 300, 1)) != {original}  # what the ties prevent


def test_a_blank_page_stays_as_it_is(ws_copy, tmp_path):
    # a book's empty verso (qyxf-book p4) became an image of white paper: 81 KB more per copy, for nothing
    src = tmp_path / "verso.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    for k in range(10):
        page.insert_text((72, 100 + 24 * k), f"Line {k}: words on the recto of this leaf", fontsize=12)
    doc.new_page()  # nothing on it
    hidden = doc.new_page()  # nothing to see, but text to extract: it is not blank
    hidden.insert_text((72, 100), "invisible words", fontsize=12, render_mode=3)
    doc.save(src, no_new_id=True)
    result = leakmark.issue(ws_copy, leakmark.IssueOptions(source=src, recipients=(leakmark.Recipient("V"),),
                                                           output_dir=tmp_path / "out", jobs=1))
    assert result.stats["page_modes"] == ["vector", "vector", "raster"], result.stats["raster_reasons"]
    with pymupdf.open(result.copies[0].path) as copy:
        assert not copy[1].get_images() and not copy[1].get_text().strip()
