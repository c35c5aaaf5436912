"""leakmark.pdf.compare: equal documents compare equal, and each kind of change is found and named by its aspect
(and page). Small PyMuPDF-made PDFs, no outside tools."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from leakmark.pdf.compare import (
    ASPECTS,
    Comparison,
    compare,
    read_facts,
    size_target,
    text_diff_summary,
    xmp_properties,
)

XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
       'xmlns:pdf="http://ns.adobe.com/pdf/1.3/" pdf:Keywords="register">'
       '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Notice</rdf:li></rdf:Alt></dc:title>'
       '<xmpMM:DocumentID>uuid:11111111-2222-3333-4444-555555555555</xmpMM:DocumentID>'
       '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def make(path: Path, font: str = "helv", edit: Callable[[pymupdf.Document], None] | None = None) -> Path:
    """Two pages: text, metadata and XMP, an outline, page labels, a URI and an internal link, a text field."""
    doc = pymupdf.open()
    for p in range(2):
        page = doc.new_page()
        for i in range(6):
            page.insert_text((72, 90 + 20 * i), f"Page {p + 1} line {i + 1}: the register records every copy.",
                             fontname=font, fontsize=11)
        page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 300, 200, 314),
                          "uri": f"https://example.org/{p}"})
    doc[0].insert_link({"kind": pymupdf.LINK_GOTO, "from": pymupdf.Rect(72, 330, 200, 344), "page": 1,
                        "to": pymupdf.Point(72, 90)})
    w = pymupdf.Widget()
    w.field_name, w.field_type, w.field_value = "recipient", pymupdf.PDF_WIDGET_TYPE_TEXT, "Alice"
    w.rect = pymupdf.Rect(72, 400, 272, 420)
    doc[0].add_widget(w)
    doc.set_metadata({"title": "Notice", "author": "Records", "subject": "s", "keywords": "register",
                      "creator": "tests", "producer": "PyMuPDF", "creationDate": "D:20240101000000Z",
                      "modDate": "D:20240101000000Z"})
    doc.set_xml_metadata(XMP)
    doc.set_toc([[1, "One", 1], [2, "One.a", 1], [1, "Two", 2]])
    doc.set_page_labels([{"startpage": 0, "prefix": "A-", "style": "D", "firstpagenum": 1}])
    if edit is not None:
        edit(doc)
    doc.save(path, garbage=3, deflate=True)
    doc.close()
    return path


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make(tmp_path_factory.mktemp("compare") / "original.pdf")


def changed(original: Path, tmp_path: Path, edit: Callable[[pymupdf.Document], None]) -> Comparison:
    """`original` opened, edited and saved elsewhere, compared with it."""
    doc = pymupdf.open(original)
    edit(doc)
    out = tmp_path / "copy.pdf"
    doc.save(out, garbage=3, deflate=True)
    doc.close()
    return compare(original, out)


def aspects(c: Comparison) -> set[str]:
    return {d.aspect for d in c.differences}


def test_a_file_equals_itself_and_a_resaved_copy(original: Path, tmp_path: Path) -> None:
    same = shutil.copyfile(original, tmp_path / "same.pdf")
    assert compare(original, same).equal
    c = changed(original, tmp_path, lambda d: None)  # new bytes (another /ID, object order), same document
    assert c.copy.bytes > 0
    assert c.equal, c.differences
    assert not c.notes
    assert c.page_modes() == ["vector", "vector"]


def test_facts_hold_what_the_document_has(original: Path) -> None:
    f = read_facts(original)
    assert len(f.pages) == 2 and f.fields == 1
    assert [e[:3] for e in f.outline] == [(1, "One", 1), (2, "One.a", 1), (1, "Two", 2)]
    assert [p.label for p in f.pages] == ["A-1", "A-2"]
    assert ("Helvetica", "Type1", False) in f.pages[0].fonts
    assert {a for a, _ in f.pages[0].annotations} == {"Link", "Widget"}
    assert dict(f.xmp)["dc:title"].endswith("Notice") and dict(f.xmp)["pdf:Keywords"] == "register"
    assert f.widgets[0][1:4] == ("recipient", "Text", "Alice")


def test_dropped_outline_entry(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d.set_toc(d.get_toc()[:2]))
    assert aspects(c) == {"outline"}
    assert "1 of 3 missing" in c.failed("outline")[0].detail and "'Two'" in c.failed("outline")[0].detail


def test_outline_destination_change(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d.set_toc([[1, "One", 1], [2, "One.a", 2], [1, "Two", 2]]))
    assert aspects(c) == {"outline"}


def test_changed_title_is_a_difference_and_producer_a_note(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d.set_metadata({**d.metadata, "title": "Other"}))
    assert aspects(c) == {"metadata"}
    assert c.failed("metadata")[0].detail == "title 'Notice' → 'Other'"
    c = changed(original, tmp_path, lambda d: d.set_metadata({**d.metadata, "producer": "leakmark",
                                                              "modDate": "D:20250101000000Z"}))
    assert c.equal
    assert {n.detail.split()[0] for n in c.notes} == {"producer", "modDate"}


def test_xmp_property_lost_or_changed_but_documentid_may_change(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d.set_xml_metadata(XMP.replace(' pdf:Keywords="register"', "")))
    assert aspects(c) == {"xmp"} and "pdf:Keywords" in c.failed("xmp")[0].detail
    c = changed(original, tmp_path, lambda d: d.set_xml_metadata(XMP.replace(">Notice<", ">Other<")))
    assert aspects(c) == {"xmp"} and c.failed("xmp")[0].detail.startswith("dc:title")
    c = changed(original, tmp_path, lambda d: d.set_xml_metadata(XMP.replace("11111111", "99999999")))
    assert c.equal and [n.detail for n in c.notes] == ["xmpMM:DocumentID changed (allowed)"]


def test_dropped_link(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d[1].delete_link(d[1].get_links()[0]))
    # the link is gone from the page's links and from its annotations
    assert aspects(c) == {"links", "annotations"}
    assert c.failed("links")[0].page == 2 and "https://example.org/1" in c.failed("links")[0].detail


def test_flattened_form_field(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d.bake(annots=False, widgets=True))
    assert "form_fields" in aspects(c)
    assert any("'recipient'" in d.detail for d in c.failed("form_fields"))
    assert "annotations" in aspects(c)  # the widget annotation is gone from page 1


def test_changed_field_value(original: Path, tmp_path: Path) -> None:
    def edit(d: pymupdf.Document) -> None:
        page = d[0]  # the widget needs its page alive
        w = next(page.widgets())
        w.field_value = "Bob"
        w.update()

    c = changed(original, tmp_path, edit)
    assert aspects(c) == {"form_fields", "text"}  # MuPDF extracts a widget's value with the page text
    assert "'Alice'" in c.failed("form_fields")[0].detail


def test_changed_text(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d[1].insert_text((72, 500), "added line", fontname="helv"))
    assert aspects(c) == {"text"}
    (diff,) = c.failed("text")
    assert diff.page == 2 and "'added line'" in diff.detail


def test_changed_boxes_and_rotation(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d[0].set_cropbox(pymupdf.Rect(10, 10, 500, 700)))
    assert "boxes" in aspects(c) and c.failed("boxes")[0].page == 1
    assert any(d.detail.startswith("CropBox") for d in c.failed("boxes"))
    c = changed(original, tmp_path, lambda d: d[1].set_rotation(90))
    assert c.failed("rotation")[0].detail == "/Rotate 0 → 90"
    assert aspects(c) <= {"rotation", "links", "outline"}  # link and destination points are in rotated space


def test_changed_font(original: Path, tmp_path: Path) -> None:
    other = make(tmp_path / "courier.pdf", font="cour")
    c = compare(original, other)
    assert aspects(c) == {"fonts"}  # the same text in another font
    assert "missing Helvetica" in c.failed("fonts")[0].detail and "added Courier" in c.failed("fonts")[0].detail


def test_page_labels_annotations_and_page_count(original: Path, tmp_path: Path) -> None:
    c = changed(original, tmp_path, lambda d: d.set_page_labels([{"startpage": 0, "style": "r", "firstpagenum": 1}]))
    assert aspects(c) == {"page_labels"}
    c = changed(original, tmp_path, lambda d: d[0].add_text_annot((300, 300), "note"))
    assert aspects(c) == {"annotations"} and "'Text': 1" in c.failed("annotations")[0].detail
    c = changed(original, tmp_path, lambda d: d.delete_page(1))
    assert "pages" in aspects(c)


def test_a_raster_copy_fails_and_its_pages_are_observed_as_raster(original: Path, tmp_path: Path) -> None:
    """What leakmark's raster copies are: each page a picture under invisible text."""
    src = pymupdf.open(original)
    doc = pymupdf.open()
    for page in src:
        new = doc.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, pixmap=page.get_pixmap(dpi=50))
        new.insert_text((72, 90), " ".join(page.get_text().split()), fontname="tiro", fontsize=11, render_mode=3)
    doc.save(tmp_path / "raster.pdf")
    c = compare(original, tmp_path / "raster.pdf")
    assert {"fonts", "metadata", "xmp", "outline", "page_labels", "links", "annotations", "form_fields",
            "text"} <= aspects(c)
    assert not c.failed("pages") and not c.failed("boxes") and not c.failed("rotation")
    assert c.page_modes() == ["raster", "raster"]


def test_size_target_and_ratio(original: Path, tmp_path: Path) -> None:
    assert size_target(1_000_000) == 1_050_000 + 30 * 1024
    c = compare(original, original)
    assert c.size_ratio == 1.0 and c.size_ok


def test_text_diff_summary_and_xmp_parsing() -> None:
    assert (text_diff_summary("a\nb\nc\n", "a\nB\nc\n")
            == "1 of 3 lines differ (6 → 6 chars); first at line 2: 'b' → 'B'")
    assert "line breaks" in text_diff_summary("a\nb", "a\nb\n")
    long = "x" * 100
    assert text_diff_summary(f"{long}old tail\n", f"{long}new tail\n").endswith(
        f"first at line 1: '…{'x' * 20}old tail' → '…{'x' * 20}new tail'")
    assert xmp_properties("") == {}
    assert list(xmp_properties("<not xml")) == ["(unparsable XMP)"]


def test_every_aspect_is_named_by_a_test() -> None:
    named = {"pages", "boxes", "rotation", "fonts", "metadata", "xmp", "outline", "page_labels", "links",
             "annotations", "form_fields", "text"}
    assert set(ASPECTS) == named


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) is not installed")
def test_ghostscript_print_rasterises_one_page_in_gray(original: Path, tmp_path: Path) -> None:
    from PIL import Image

    from benchmarks.fidelity import ghostscript_print

    png = ghostscript_print(original, 2, tmp_path / "p2.png", dpi=100)
    with Image.open(png) as im:
        assert im.mode == "L" and im.size == (826, 1169)  # A4 at 100 dpi
        assert im.getextrema()[0] < 64  # the text is there
