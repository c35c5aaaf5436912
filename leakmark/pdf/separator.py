"""The separator page put before each copy in a merged print file."""

from __future__ import annotations

from typing import Any

from leakmark._mupdf import pymupdf
from leakmark.pdf.image import PageImage
from leakmark.rendering import page_array

SEPARATOR_DPI = 200


def separator_image(doc: Any, copy: Any, width_pt: float, height_pt: float) -> PageImage:
    """The page put before each copy in a merged print file: 份号, recipient and unit in large type,
    as a 1-bit image (any script renders, and it prints crisp). Not marked: it carries no content."""
    page_doc = pymupdf.open()
    try:
        page = page_doc.new_page(width=width_pt, height=height_pt)
        x, y = width_pt * 0.12, height_pt * 0.25
        lines = [(f"份号 {copy.label}", 36), (copy.recipient, 28), (copy.unit, 20), ("", 12),
                 (doc.title, 14), ("  ".join(t for t in (doc.level, f"{doc.id}") if t), 12), ("", 10),
                 ("此页为分发隔页，不属于文件内容", 10), ("Separator page: not part of the document", 10)]
        for text, size in lines:
            _draw_mixed(page, x, y, text, size, width_pt * 0.8)
            y += size * 1.6
        return PageImage.bilevel_from(page_array(page, SEPARATOR_DPI))
    finally:
        page_doc.close()


def _draw_mixed(page: pymupdf.Page, x: float, y: float, text: str, size: float, limit: float) -> None:
    """Latin runs in Helvetica, CJK runs in the CJK font (which sets Latin full-width); cut at `limit`."""
    start = x
    for cjk, run in _script_runs(text):
        font = "china-s" if cjk else "helv"
        width = pymupdf.get_text_length(run, fontname=font, fontsize=size)
        if x + width - start > limit:
            break
        page.insert_text((x, y), run, fontsize=size, fontname=font)
        x += width


def _script_runs(text: str) -> list[tuple[bool, str]]:
    runs: list[tuple[bool, str]] = []
    for ch in text:
        cjk = ord(ch) > 0x2E7F
        if runs and runs[-1][0] == cjk:
            runs[-1] = (cjk, runs[-1][1] + ch)
        else:
            runs.append((cjk, ch))
    return runs
