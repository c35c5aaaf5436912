"""Writing per-copy PDF files: an invisible text layer plus each page's marked image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from leakmark._mupdf import pymupdf
from leakmark.errors import LeakmarkError, OutputError
from leakmark.layers import file as filemark


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
