"""Distinct one-page documents for archive-scale tests and benchmarks: page `n` of a made-up office archive.

Six families, by `n % 6`: Chinese and English, each as prose, a table and a form. The words are drawn
from the text samples' own vocabulary with a generator seeded by `n`, so page `n` is the same bytes on every
run and no two pages share their text (the page index must tell apart pages in the same fonts and layout).
"""

from __future__ import annotations

import numpy as np

from leakmark._mupdf import pymupdf
from leakmark.samples.text import _CN_PARAGRAPHS, _EN_PARAGRAPHS, A4, BLACK, RED, _centred, _text

FAMILIES = ("zh-prose", "en-prose", "zh-table", "en-table", "zh-form", "en-form")
_EN_WORDS = sorted({w.strip(".,;:()") for p in _EN_PARAGRAPHS for w in p.split() if w.strip(".,;:()").isalpha()})
_CN_CHARS = sorted({c for p in _CN_PARAGRAPHS for c in p if "\u4e00" <= c <= "\u9fff"})


def family(n: int) -> str:
    return FAMILIES[n % len(FAMILIES)]


def _en_sentence(rng: np.random.Generator, words: int) -> str:
    s = " ".join(_EN_WORDS[i] for i in rng.integers(0, len(_EN_WORDS), words))
    return s[0].upper() + s[1:] + "."


def _cn_sentence(rng: np.random.Generator, chars: int) -> str:
    return "".join(_CN_CHARS[i] for i in rng.integers(0, len(_CN_CHARS), chars)) + "。"


def _grid(page: pymupdf.Page, left: float, top: float, cols: list[float], rows: int, row_h: float) -> None:
    for i in range(rows + 1):
        page.draw_line((left, top + i * row_h), (cols[-1], top + i * row_h), color=BLACK, width=0.6)
    for x in cols:
        page.draw_line((x, top), (x, top + rows * row_h), color=BLACK, width=0.6)


def archive_page(n: int) -> bytes:
    """Page `n` of the archive as a one-page PDF (A4)."""
    rng = np.random.default_rng(n)
    kind = family(n)
    zh = kind.startswith("zh")
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    left, right = 72.0, A4.width - 72.0
    title = (_cn_sentence(rng, int(rng.integers(8, 14)))[:-1] if zh
             else " ".join(_EN_WORDS[i] for i in rng.integers(0, len(_EN_WORDS), 5)).title())
    _text(page, left, 60, ("秘密" if zh else "RESTRICTED") + f"  No. {n:06d}", 11, RED)
    _centred(page, A4.width / 2, 110, title, 18)
    if kind.endswith("prose"):
        paras = [(_cn_sentence(rng, int(rng.integers(40, 90))) if zh
                  else " ".join(_en_sentence(rng, int(rng.integers(8, 16))) for _ in range(4)))
                 for _ in range(int(rng.integers(5, 8)))]
        text = "\n".join("\u3000\u3000" + p for p in paras) if zh else "\n\n".join(paras)
        page.insert_textbox(pymupdf.Rect(left, 140, right, A4.height - 72), text, fontsize=13 if zh else 11.5,
                            fontname="china-s" if zh else "tiro", lineheight=1.6 if zh else 1.35)
    elif kind.endswith("table"):
        ncols, rows, row_h = int(rng.integers(3, 6)), int(rng.integers(12, 22)), 26.0
        cols = list(np.linspace(left, right, ncols + 1))
        for i in range(rows):
            for j in range(ncols):
                cell = (_cn_sentence(rng, int(rng.integers(2, 6)))[:-1] if zh else
                        " ".join(_EN_WORDS[k] for k in rng.integers(0, len(_EN_WORDS), int(rng.integers(1, 3)))))
                if j == ncols - 1:
                    cell = f"{int(rng.integers(1, 10_000)):,}"
                _text(page, cols[j] + 5, 160 + i * row_h + 17, cell, 10)
        _grid(page, left, 160, cols, rows, row_h)
    else:  # a form: labelled fields, some filled in, and a signature line
        y = 150.0
        for _ in range(int(rng.integers(10, 16))):
            label = (_cn_sentence(rng, int(rng.integers(2, 5)))[:-1] + "：" if zh
                     else _EN_WORDS[int(rng.integers(0, len(_EN_WORDS)))].title() + ":")
            _text(page, left, y, label, 11)
            page.draw_line((left + 110, y + 3), (right, y + 3), color=BLACK, width=0.5)
            if rng.random() < 0.7:
                value = (_cn_sentence(rng, int(rng.integers(4, 12)))[:-1] if zh else _en_sentence(rng, 5)[:-1])
                _text(page, left + 116, y - 2, value, 10.5)
            y += float(rng.integers(28, 44))
        page.draw_rect(pymupdf.Rect(left, y + 10, right, y + 110), color=BLACK, width=0.8)
        _text(page, left + 8, y + 30, _cn_sentence(rng, 20) if zh else _en_sentence(rng, 10), 10)
    doc.set_metadata({"title": title, "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)
