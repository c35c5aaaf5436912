"""How a font's string bytes split into character codes (one code per glyph drawn).

Simple fonts (Type1, TrueType, Type3) use one byte per code. Composite (Type0) fonts use their CMap's
code space ranges: the Identity and UCS-2 CMaps two bytes, UTF-16 two or four, the EUC-style CMaps one
or two. A font whose code space we do not know returns None, and its page stays raster.
"""

from __future__ import annotations

import re
from typing import Any

Ranges = list[tuple[bytes, bytes]]

_TWO: Ranges = [(b"\x00\x00", b"\xff\xff")]
_UTF16: Ranges = [(b"\x00\x00", b"\xd7\xff"), (b"\xe0\x00", b"\xff\xff"), (b"\xd8\x00\xdc\x00", b"\xdb\xff\xdf\xff")]
_EUC_GB: Ranges = [(b"\x00", b"\x80"), (b"\xa1\xa1", b"\xfe\xfe")]
_GBK: Ranges = [(b"\x00", b"\x80"), (b"\x81\x40", b"\xfe\xfe")]
_PREDEFINED: dict[str, Ranges] = {
    "Identity-H": _TWO,
    "UniGB-UCS2-H": _TWO, "UniCNS-UCS2-H": _TWO, "UniJIS-UCS2-H": _TWO, "UniKS-UCS2-H": _TWO,
    "UniGB-UTF16-H": _UTF16, "UniCNS-UTF16-H": _UTF16, "UniJIS-UTF16-H": _UTF16, "UniKS-UTF16-H": _UTF16,
    "GB-EUC-H": _EUC_GB, "GBpc-EUC-H": _EUC_GB, "GBK-EUC-H": _GBK, "GBKp-EUC-H": _GBK,
}
_RANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


class FontCodes:
    """Splits strings shown in one font into codes. `vertical` fonts (wmode 1) are moved only with Identity-V,
    whose codes are CIDs and whose vertical advances (`advances`) the font's /W2 and /DW2 give."""

    def __init__(self, ranges: Ranges | None, vertical: bool = False,
                 advances: tuple[float, dict[int, float]] | None = None) -> None:
        self.ranges = ranges  # None: single-byte
        self.vertical = vertical
        self.advances = advances  # vertical fonts: (default w1, {cid: w1}) in 1/1000 text space units

    def advance(self, code: bytes) -> float:
        """A vertical font's advance for a code (w1: negative, down the page), 1/1000 text space units."""
        default, per_cid = self.advances or (-1000.0, {})
        return per_cid.get(int.from_bytes(code, "big"), default)

    def split(self, data: bytes) -> list[bytes] | None:
        if self.ranges is None:
            return [data[i:i + 1] for i in range(len(data))]
        out, i = [], 0
        while i < len(data):
            for lo, hi in self.ranges:
                n = len(lo)
                code = data[i:i + n]
                if len(code) == n and all(a <= c <= b for a, c, b in zip(lo, code, hi, strict=True)):
                    out.append(code)
                    i += n
                    break
            else:
                return None  # a byte sequence outside the code space: do not guess
        return out


def font_codes(font: Any) -> FontCodes | None:
    """The code splitter of a pikepdf font dictionary, or None when its encoding is not understood."""
    import pikepdf

    if font is None or not isinstance(font, pikepdf.Dictionary):
        return None
    if font.get("/Subtype") != pikepdf.Name.Type0:
        return FontCodes(None)
    enc = font.get("/Encoding")
    if isinstance(enc, pikepdf.Name):
        name = str(enc)[1:]
        if name == "Identity-V":
            advances = _vertical_advances(font)
            return FontCodes(_TWO if advances else None, vertical=True, advances=advances)
        if name.endswith("-V"):
            return FontCodes(None, vertical=True)
        ranges = _PREDEFINED.get(name)
        return FontCodes(ranges) if ranges is not None else None
    if isinstance(enc, pikepdf.Stream):
        if int(enc.get("/WMode", 0)) == 1:
            return FontCodes(None, vertical=True)
        try:
            data = enc.read_bytes()
        except Exception:  # a damaged CMap stream: leave the page raster
            return None
        found: Ranges = []
        for block in re.findall(rb"begincodespacerange(.*?)endcodespacerange", data, re.S):
            found += [(bytes.fromhex(a.decode()), bytes.fromhex(b.decode())) for a, b in _RANGE.findall(block)
                       if len(a) == len(b) and len(a) % 2 == 0]
        if b"/WMode 1" in data:
            return FontCodes(None, vertical=True)
        return FontCodes(sorted(found, key=lambda r: len(r[0]))) if found else None
    return None


def _vertical_advances(font: Any) -> tuple[float, dict[int, float]] | None:
    """(default w1, {cid: w1}) of a CID font's vertical metrics (/DW2, /W2; PDF 32000 9.7.4.3), or None
    when they cannot be read."""
    import pikepdf

    try:
        desc = font.get("/DescendantFonts")[0]
        dw2 = desc.get("/DW2")
        default = float(dw2[1]) if dw2 is not None else -1000.0
        per_cid: dict[int, float] = {}
        w2 = list(desc.get("/W2", []))
        i = 0
        while i < len(w2):
            first = int(w2[i])
            if isinstance(w2[i + 1], pikepdf.Array):  # c [w1 vx vy w1 vx vy ...]
                vals = [float(v) for v in w2[i + 1]]
                for k in range(0, len(vals) - 2, 3):
                    per_cid[first + k // 3] = vals[k]
                i += 2
            else:  # c_first c_last w1 vx vy
                last, w1 = int(w2[i + 1]), float(w2[i + 2])
                if last - first > 65535:
                    return None
                for cid in range(first, last + 1):
                    per_cid[cid] = w1
                i += 5
        return default, per_cid
    except (TypeError, ValueError, IndexError, AttributeError):
        return None
