"""Writing per-copy PDF files: an invisible text layer plus each page's marked image (raster copies), or the
original file with each page's marked content stream (vector copies)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from leakmark._mupdf import pymupdf
from leakmark.errors import LeakmarkError, OutputError
from leakmark.layers import file as filemark
from leakmark.pdf.image import PageContent, PageOutput


def build_text_layer(pages: list[tuple[float, float, list[dict]]]) -> bytes:
    """A PDF with one page per input page holding only invisible (render mode 3) text.

    Each copy starts from this, so text stays searchable and copyable without carrying the
    unmarked original's glyphs (which would defeat the marks).
    """
    doc = pymupdf.open()
    for width, height, spans in pages:
        page = doc.new_page(width=width, height=height)
        for s in spans:
            cjk = any(ord(ch) > 0x2E7F for ch in s["text"])
            font = "china-s" if cjk else "helv"
            natural = pymupdf.get_text_length(s["text"], fontname=font, fontsize=s["size"])
            sx = s["width"] / natural if natural > 0 and s["width"] > 0 else 1.0
            origin = pymupdf.Point(s["x"], s["y"])
            rotate = s.get("rotate", 0)
            stretch = pymupdf.Matrix(sx, 1) if rotate in (0, 180) else pymupdf.Matrix(1, sx)
            try:
                page.insert_text(origin, s["text"], fontsize=s["size"], fontname=font, render_mode=3,
                                 rotate=rotate, morph=(origin, stretch))
            except Exception:  # a glyph the base-14/CJK font cannot encode: leave that span out
                continue
    return doc.tobytes(garbage=3, deflate=True)


def write_copy(text_layer: bytes, images: list[bytes], out: Path, file_token: bytes | None = None,
               stamp: Callable[[Any], None] | None = None) -> None:
    """Write one copy: the text layer plus each page's marked image filling the page; with `file_token`,
    the copy's `file` layer (trailer /ID and XMP DocumentID); `stamp` draws on page 1 over the marks."""
    doc = pymupdf.open("pdf", text_layer)
    try:
        for page, data in zip(doc.pages(), images, strict=True):
            page.insert_image(page.rect, stream=data, keep_proportion=False, overlay=True)
        if stamp is not None:
            stamp(doc[0])
        if file_token is not None:
            filemark.stamp(doc, file_token)
        doc.save(out, garbage=1, deflate=True)
    except LeakmarkError:
        raise
    except Exception as exc:  # MuPDF reports a full disk or a bad folder as its own error types
        raise OutputError(f"cannot write {out}: {exc}") from exc
    finally:
        doc.close()


def write_pdf_copy(source: Path, pages: list[PageOutput], out: Path, file_token: bytes | None = None,
                   stamp: Callable[[Any], None] | None = None) -> None:
    """Write one copy as the original document with each page's marked content: its own operators moved
    (vector, `PageContent`), or its marked image over its invisible, equally marked text (raster, `PageImage`).

    Nothing unmarked stays in the file: the old content streams go on save (garbage collection), a raster
    page keeps only its fonts (its pictures, patterns and shadings are dropped from its resources), and page
    thumbnails, unmarked pictures of the page, are removed. Fonts, annotations, links, form fields, outline,
    page labels and metadata are the original's objects.
    """
    doc = pymupdf.open(source)
    try:
        # an original written with object streams (pdfTeX, LuaTeX, XeTeX) is written so again: without them its
        # copy would be a third larger for the same objects
        objstms = doc.xref_get_key(-1, "Type") == ("name", "/XRef")
        if doc.page_count != len(pages):
            raise RuntimeError(f"{len(pages)} marked pages for a {doc.page_count}-page document")
        for page, marked in zip(doc.pages(), pages, strict=True):
            if doc.xref_get_key(page.xref, "Thumb")[0] != "null":
                doc.xref_set_key(page.xref, "Thumb", "null")
            if isinstance(marked, PageContent):
                _set_contents(doc, page, marked.data)
                for num, data in marked.forms:  # drawn by this page only (pdf.vector checks)
                    doc.update_stream(num, data)
                continue
            if marked.bilevel:
                raise RuntimeError("a 1-bit page image in a PDF copy")
            _keep_only_fonts(doc, page)
            _set_contents(doc, page, marked.text or b"")
            page = doc.reload_page(page)
            page.insert_image(page.rect, stream=marked.data, keep_proportion=False, overlay=True)
        if stamp is not None:
            stamp(doc.reload_page(doc[0]))
        if file_token is not None:
            filemark.stamp_keeping(doc, file_token)
        doc.save(out, garbage=3, deflate=True, use_objstms=int(objstms))
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except (RuntimeError, LeakmarkError):
        raise
    except Exception as exc:  # MuPDF reports a full disk or a bad folder as its own error types
        raise OutputError(f"cannot write {out}: {exc}") from exc
    finally:
        doc.close()


def _set_contents(doc: pymupdf.Document, page: pymupdf.Page, data: bytes) -> None:
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, data)
    doc.xref_set_key(page.xref, "Contents", f"{xref} 0 R")


def _keep_only_fonts(doc: pymupdf.Document, page: pymupdf.Page) -> None:
    """A raster page's own resources: its fonts (for the text layer), nothing that could draw the original."""
    kind, fonts = "null", ""
    xref = page.xref
    while xref:  # /Resources may be inherited from the page tree
        kind = doc.xref_get_key(xref, "Resources")[0]
        if kind != "null":
            break
        parent = doc.xref_get_key(xref, "Parent")
        xref = int(parent[1].split()[0]) if parent[0] == "xref" else 0
    if kind != "null":
        kind, fonts = doc.xref_get_key(xref, "Resources/Font")
    font_entry = f"/Font {fonts}" if kind in ("xref", "dict") else ""
    doc.xref_set_key(page.xref, "Resources", f"<<{font_entry}>>")
