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
    """Splits strings shown in one font into codes; `vertical` fonts (wmode 1) are not moved."""

    def __init__(self, ranges: Ranges | None, vertical: bool = False) -> None:
        self.ranges = ranges  # None: single-byte
        self.vertical = vertical

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
