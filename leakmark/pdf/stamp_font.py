"""The visible stamp's font, embedded and subset to the glyphs a stamp uses.

The font is Droid Sans Fallback, which ships inside PyMuPDF (`pymupdf.Font("cjk")`, Apache License 2.0:
embedding is allowed): one offline font for the digits, CJK units and 密级 lines, a 黑体-like sans as
GB/T 9704 asks for the 密级 line. PyMuPDF's `fontname="china-s"` is no use here: it writes a reference to
a viewer's "Heiti", not an embedded font.

MuPDF's subsetter keeps each glyph's id and drops the cmap, so the PDF objects around the subset program
are written here: a Type0 font (Identity-H: the text is glyph ids), widths and a ToUnicode map for the used
glyphs only (text extraction finds "000123"). The same objects serve a copy written by PyMuPDF and a merged
print file written as a stream (one font object for the whole run).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from leakmark._mupdf import pymupdf
from leakmark.pdf.stamp import FONT_OBJECTS

BASE_NAME = b"DroidSansFallback"
OBJECTS = FONT_OBJECTS  # program, ToUnicode, descriptor, CID font, Type0 font (the one a page's /Font names)


@functools.cache
def _base() -> pymupdf.Font:
    return pymupdf.Font("cjk")


def missing_glyphs(text: str) -> str:
    """The characters of `text` the stamp font cannot draw (each once, in order)."""
    font = _base()
    out = ""
    for ch in text:
        if ch not in out and not ch.isspace() and font.has_glyph(ord(ch)) == 0:
            out += ch
    return out


@dataclass(frozen=True)
class StampFont:
    """A subset of the stamp font holding the glyphs of `chars`."""

    chars: str  # sorted, each once
    gids: tuple[int, ...]  # glyph id of each char
    widths: tuple[int, ...]  # advance of each char, 1/1000 em
    program: bytes  # the subset TrueType program (glyph ids as in the full font)
    ascender: float
    descender: float
    bbox: tuple[float, float, float, float]

    def encode(self, text: str) -> bytes:
        """`text` as the hex string of a PDF text-showing operator (Identity-H: two-byte glyph ids)."""
        index = {c: g for c, g in zip(self.chars, self.gids, strict=True)}
        try:
            return b"<" + "".join(f"{index[c]:04X}" for c in text).encode() + b">"
        except KeyError as exc:
            raise ValueError(f"the stamp font subset has no {exc.args[0]!r}") from None

    def width(self, text: str, size: float) -> float:
        """Advance of `text` at `size` pt, in pt."""
        w = {c: x for c, x in zip(self.chars, self.widths, strict=True)}
        return sum(w[c] for c in text) * size / 1000

    @property
    def tag(self) -> bytes:
        """The subset's name prefix (PDF 32000 §9.6.4): six capitals, derived from the glyph set."""
        digest = hashlib.sha256(self.chars.encode()).digest()
        return bytes(65 + b % 26 for b in digest[:6])

    def objects(self, nums: list[int]) -> list[tuple[bytes, bytes | None]]:
        """The font's PDF objects as (dictionary entries without << >> and /Length, raw stream or None),
        to be written as objects `nums` in this order; the last one is the font a page's /Font names."""
        if len(nums) != OBJECTS:
            raise ValueError(f"the stamp font needs {OBJECTS} object numbers")
        prog, cmap, desc, cid, _ = nums
        name = b"/" + self.tag + b"+" + BASE_NAME
        x0, y0, x1, y1 = (round(v * 1000) for v in self.bbox)
        widths = b" ".join(b"%d [%d]" % (g, w) for g, w in sorted(set(zip(self.gids, self.widths, strict=True))))
        return [
            (b"/Length1 %d" % len(self.program), self.program),
            (b"", self._to_unicode()),
            (b"/Type /FontDescriptor /FontName %s /Flags 4 /FontBBox [%d %d %d %d] /ItalicAngle 0 /Ascent %d "
             b"/Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R"
             % (name, x0, y0, x1, y1, round(self.ascender * 1000), round(self.descender * 1000),
                round(self.ascender * 700), prog), None),
            (b"/Type /Font /Subtype /CIDFontType2 /BaseFont %s /CIDSystemInfo << /Registry (Adobe) /Ordering "
             b"(Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 1000 /W [%s] /CIDToGIDMap /Identity"
             % (name, desc, widths), None),
            (b"/Type /Font /Subtype /Type0 /BaseFont %s /Encoding /Identity-H /DescendantFonts [%d 0 R] "
             b"/ToUnicode %d 0 R" % (name, cid, cmap), None),
        ]

    def _to_unicode(self) -> bytes:
        pairs = sorted({(g, c) for c, g in zip(self.chars, self.gids, strict=True)})
        lines = [b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
                 b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
                 b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
                 b"1 begincodespacerange <0000> <FFFF> endcodespacerange"]
        for i in range(0, len(pairs), 100):  # at most 100 entries per block
            chunk = pairs[i:i + 100]
            lines.append(b"%d beginbfchar" % len(chunk))
            lines += [b"<%04X> <%s>" % (g, c.encode("utf-16-be").hex().upper().encode()) for g, c in chunk]
            lines.append(b"endbfchar")
        lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
        return b"\n".join(lines)


def stamp_font(text: str) -> StampFont:
    """The font subset for every character of `text` (each call with the same characters shares one)."""
    return _subset("".join(sorted(set(text))))


@functools.lru_cache(maxsize=64)
def _subset(chars: str) -> StampFont:
    font = _base()
    absent = missing_glyphs(chars)
    if absent:
        raise ValueError(f"the stamp font has no glyph for {absent!r}")
    gids = tuple(font.has_glyph(ord(c)) for c in chars)
    widths = tuple(round(font.glyph_advance(ord(c)) * 1000) for c in chars)
    # MuPDF subsets a font inside a document: show the characters with the full font, subset, take the program
    doc = pymupdf.open()
    try:
        page = doc.new_page()
        page.insert_font(fontname="F", fontbuffer=font.buffer)
        page.insert_text((10, 50), chars, fontname="F", fontsize=10)
        doc.subset_fonts()
        program = next(doc.xref_stream(x) for x in range(1, doc.xref_length())
                       if doc.xref_get_key(x, "Length1")[0] != "null")
    finally:
        doc.close()
    return StampFont(chars=chars, gids=gids, widths=widths, program=program or b"", ascender=font.ascender,
                     descender=font.descender, bbox=tuple(pymupdf.Rect(font.bbox)))  # type: ignore[arg-type]
