"""The report as an A4 PDF, made offline with PyMuPDF's `Story` (MuPDF's HTML/CSS layout) from the same
markup as the HTML file: no browser is needed. Chinese text is set in the CJK font MuPDF carries (Droid
Sans Fallback), picked by the layout for every character the Latin fonts lack. Each page gets a footer with
the report's time and its page number."""

from __future__ import annotations

import io
import logging
from html import escape

from leakmark._mupdf import pymupdf
from leakmark.report.html import render
from leakmark.report.model import ReportModel

log = logging.getLogger(__name__)

MARGIN = 42  # points (about 15 mm)
FOOTER = 16  # points below the text area for the footer line
FOOTER_CSS = "p { font-family: sans-serif; font-size: 7pt; color: #5b6770; text-align: center; margin: 0; }"


def render_pdf(model: ReportModel) -> bytes:
    """The A4 PDF of the report, as bytes."""
    story = pymupdf.Story(html=render(model, for_pdf=True))
    page = pymupdf.paper_rect("a4")
    where = pymupdf.Rect(MARGIN, MARGIN, page.width - MARGIN, page.height - MARGIN - FOOTER)
    buffer = io.BytesIO()
    writer = pymupdf.DocumentWriter(buffer)
    more = True
    while more:
        device = writer.begin_page(page)
        more, _ = story.place(where)
        story.draw(device)
        writer.end_page()
    writer.close()
    return _with_footer(buffer.getvalue(), model)


def _with_footer(pdf: bytes, model: ReportModel) -> bytes:
    doc = pymupdf.open("pdf", pdf)
    try:
        n = doc.page_count
        for i in range(n):
            page = doc[i]
            line = escape(model.t("page_footer", when=model.made_at, page=i + 1, pages=n))
            box = pymupdf.Rect(MARGIN, page.rect.height - MARGIN + 2, page.rect.width - MARGIN,
                               page.rect.height - MARGIN + 16)
            page.insert_htmlbox(box, f"<p>{line}</p>", css=FOOTER_CSS)
        doc.set_metadata({"title": model.t("title"), "producer": "leakmark", "creator": "leakmark trace --report"})
        try:  # the layout embeds the whole CJK fallback font (4 MB) on every page: keep the glyphs used
            doc.subset_fonts()
        except Exception as exc:  # MuPDF's own error types; the report stays valid, only larger
            log.warning("the report's fonts could not be subset (%s); the PDF keeps them whole", exc)
        return doc.tobytes(garbage=4, deflate=True)
    finally:
        doc.close()
