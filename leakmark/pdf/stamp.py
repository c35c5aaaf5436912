"""The visible 份号 stamp (`issue --stamp`): the copy number as embedded vector text on page 1.

Where it goes, by default, is where GB/T 9704-2012 (党政机关公文格式) puts 份号: §7.2.1 "一般用6位3号
阿拉伯数字，顶格编排在版心左上角第一行", with 密级和保密期限 (§7.2.2, 3号黑体) on the second line. The type
area (版心, §5.2.1) of an A4 page starts 37 mm from the top edge (天头) and 28 mm from the left edge (订口) and
is 156 mm × 225 mm; §5.2.3 fills it with 22 lines, so a line is 225/22 ≈ 10.2 mm at 3号 (16 pt). Other page
sizes keep the type area's corner at the same fraction of the page (28/210 of the width, 37/297 of the
height). Glyphs are centred in their line box, as a word processor set to the standard does.

The stamp is drawn after the marks, on the marked copy: the tracer measures units found on the ORIGINAL
page, so the stamp's ink is only noise for the few units it covers. This module holds no PyMuPDF import
(the register reads `StampSpec`); the font is `stamp_font`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leakmark.errors import BadRequestError

if TYPE_CHECKING:
    from leakmark.pdf.stamp_font import StampFont

MM = 72 / 25.4  # pt per mm
GBT9704 = "gbt9704"
TOP_RIGHT = "top-right"
POSITIONS = (GBT9704, TOP_RIGHT)
A4_MM = (210.0, 297.0)
TYPE_AREA_MM = (28.0, 37.0, 156.0, 225.0)  # GB/T 9704-2012 §5.2.1: left, top, width, height on A4
LINE_MM = 225.0 / 22  # §5.2.3: 22 lines fill the type area (at 3号)
SIZE_3HAO = 16.0  # 3号 in pt
FONT_RESOURCE = "LMStamp"  # the name page resources give the stamp font
FONT_OBJECTS = 5  # the PDF objects of the stamp font (`stamp_font.StampFont.objects`)
_XY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*,\s*([0-9]+(?:\.[0-9]+)?)\s*$")


@dataclass(frozen=True, kw_only=True)
class StampSpec:
    """What the stamp shows and where. `position`: "gbt9704" (the type area's top-left, GB/T 9704),
    "top-right" (the type area's top-right, lines aligned right) or "X,Y": the stamp's top-left corner in
    mm from the page's left and top edges as the page is viewed."""

    position: str = GBT9704
    include_unit: bool = False  # the recipient's unit after the number
    include_level: bool = False  # the document's 密级★保密期限 on the line below
    size_pt: float = SIZE_3HAO

    def validate(self) -> None:
        self.corner(A4_MM[0] * MM, A4_MM[1] * MM)  # refuses a position it cannot read
        if not (math.isfinite(self.size_pt) and 6 <= self.size_pt <= 72):
            raise BadRequestError(f"stamp size {self.size_pt} pt is outside 6..72")

    def line_pitch(self) -> float:
        return LINE_MM * MM * self.size_pt / SIZE_3HAO

    def corner(self, width_pt: float, height_pt: float) -> tuple[float, float, bool]:
        """(x, y, right-aligned): where the stamp block's first line box starts (its right end when
        right-aligned), in pt from the viewed page's top-left corner."""
        sx, sy = width_pt / (A4_MM[0] * MM), height_pt / (A4_MM[1] * MM)
        left, top, width, _ = TYPE_AREA_MM
        if self.position == GBT9704:
            return left * MM * sx, top * MM * sy, False
        if self.position == TOP_RIGHT:
            return (left + width) * MM * sx, top * MM * sy, True
        m = _XY.match(self.position)
        if m is None:
            raise BadRequestError(f"stamp position {self.position!r} is not one of {', '.join(POSITIONS)} or X,Y "
                                  "in millimetres from the page's top-left corner (e.g. 28,37)")
        return float(m.group(1)) * MM, float(m.group(2)) * MM, False


@dataclass(frozen=True)
class Stamp:
    """What a run stamps (the register keeps it with the run): the spec and the document's 密级 and 保密期限
    as they were when the run started (a resumed run prints the same)."""

    spec: StampSpec
    level: str = ""
    period: str = ""

    def lines(self, copy_label: str, unit: str) -> list[str]:
        return stamp_lines(copy_label, unit, self.level, self.period, self.spec)


def level_line(level: str, period: str) -> str:
    """密级★保密期限 as GB/T 9704 writes it ("机密★1年"); the level alone without a period."""
    return f"{level}★{period}" if level and period else level


def stamp_lines(copy_label: str, unit: str, level: str, period: str, spec: StampSpec) -> list[str]:
    """The stamp's text, line by line: 份号 (with the unit when asked), then 密级★保密期限 when asked."""
    unit, level, period = (" ".join(t.split()) for t in (unit, level, period))  # tabs, newlines: one space
    lines = [copy_label + (f"  {unit}" if spec.include_unit and unit else "")]
    if spec.include_level:
        if not level:
            raise BadRequestError("the stamp cannot show a 密级: the document has none (give --level, or leave "
                                  "out --stamp-level)")
        lines.append(level_line(level, period))
    return lines


def layout(lines: list[str], font: StampFont, spec: StampSpec, width_pt: float,
           height_pt: float) -> list[tuple[str, float, float]]:
    """(text, x, baseline y) of each line, in pt from the viewed page's top-left corner. BadRequestError
    when the stamp would not fit on the page."""
    x, top, right = spec.corner(width_pt, height_pt)
    size, pitch = spec.size_pt, spec.line_pitch()
    ascent = font.ascender / (font.ascender - font.descender)  # the glyphs' share above the baseline
    placed = []
    for i, text in enumerate(lines):
        w = font.width(text, size)
        left = x - w if right else x
        baseline = top + i * pitch + (pitch - size) / 2 + ascent * size
        if left < 0 or left + w > width_pt or top < 0 or top + (i + 1) * pitch > height_pt:
            raise BadRequestError(f"the stamp at {spec.position} does not fit on page 1 "
                                  f"({width_pt / MM:.0f} × {height_pt / MM:.0f} mm): choose another "
                                  "--stamp-position")
        placed.append((text, left, baseline))
    return placed


def content(placed: list[tuple[str, float, float]], font: StampFont, size: float,
            to_user: tuple[float, float, float, float, float, float]) -> bytes:
    """A content-stream snippet drawing the placed lines in black with the font named FONT_RESOURCE.
    `to_user` maps the viewed page (pt, y down from the top-left) to the page's user space: for an
    unrotated page with MediaBox [0 0 W H] it is (1, 0, 0, -1, 0, H)."""
    a, b, c, d, e, f = to_user
    ops = [b"q 0 g 0 Tr BT"]
    for text, x, y in placed:
        # text space -> viewed page: x right, y up (upright as viewed); then viewed page -> user space
        tm = (a, b, -c, -d, x * a + y * c + e, x * b + y * d + f)
        ops.append(b"/%s %s Tf %s Tm %s Tj" % (FONT_RESOURCE.encode(), _num(size),
                                              b" ".join(_num(v) for v in tm), font.encode(text)))
    ops.append(b"ET Q")
    return b"\n".join(ops) + b"\n"


def snippet(font: StampFont, lines: list[str], spec: StampSpec, width_pt: float, height_pt: float) -> bytes:
    """The stamp for an unrotated page with MediaBox [0 0 W H] (the merged print file's pages)."""
    return content(layout(lines, font, spec, width_pt, height_pt), font, spec.size_pt,
                   (1, 0, 0, -1, 0, height_pt))


def draw_stamp(page: Any, copy_label: str, unit: str, level: str, period: str, spec: StampSpec) -> None:
    """Draw the stamp on a PyMuPDF page, upright at the top-left (or `spec.position`) as the page is viewed,
    whatever its /Rotate. The font is embedded once per call, subset to the digits and the stamp's text.
    BadRequestError when the stamp does not fit or its font lacks a character."""
    lines = stamp_lines(copy_label, unit, level, period, spec)
    font = font_for("".join(lines))
    rect = page.rect  # as viewed (after /Rotate and the CropBox)
    to_user = tuple(page.derotation_matrix * ~page.transformation_matrix)
    data = content(layout(lines, font, spec, rect.width, rect.height), font, spec.size_pt, to_user)
    doc = page.parent
    nums = [doc.get_new_xref() for _ in range(FONT_OBJECTS)]
    for num, (entries, stream) in zip(nums, font.objects(nums), strict=True):
        doc.update_object(num, "<<" + entries.decode("latin-1") + ">>")
        if stream is not None:
            doc.update_stream(num, stream, compress=True)
    _add_font_resource(page, nums[-1])
    if not page.is_wrapped:  # the page's own content may leave a changed graphics state behind
        page.wrap_contents()
    stamp_xref = doc.get_new_xref()
    doc.update_object(stamp_xref, "<<>>")
    doc.update_stream(stamp_xref, data, compress=True)
    contents = [*page.get_contents(), stamp_xref]
    doc.xref_set_key(page.xref, "Contents", "[" + " ".join(f"{x} 0 R" for x in contents) + "]")


def font_for(text: str) -> StampFont:
    """The stamp font for `text` and every digit (so that the copies of a run share one subset).
    BadRequestError naming the characters the font cannot draw."""
    from leakmark.pdf.stamp_font import missing_glyphs, stamp_font

    absent = missing_glyphs(text)
    if absent:
        raise BadRequestError(f"the stamp font has no glyph for {absent!r} (in {text!r}): leave that text out of "
                              "the stamp (--stamp-unit, --stamp-level)")
    return stamp_font("0123456789 " + text)


def _add_font_resource(page: Any, font_xref: int) -> None:
    """Name the font in the page's /Resources /Font (a page that inherits its resources gets its own copy)."""
    doc = page.parent
    kind, value = doc.xref_get_key(page.xref, "Resources")
    if kind == "null":  # inherited from the page tree: give the page the resources it sees
        parent = page.xref
        while kind == "null":
            pkind, pval = doc.xref_get_key(parent, "Parent")
            if pkind != "xref":
                value = "<<>>"
                break
            parent = int(pval.split()[0])
            kind, value = doc.xref_get_key(parent, "Resources")
        doc.xref_set_key(page.xref, "Resources", value)
        kind, value = doc.xref_get_key(page.xref, "Resources")
    holder, path = (int(value.split()[0]), "") if kind == "xref" else (page.xref, "Resources/")
    fkind, fvalue = doc.xref_get_key(holder, path + "Font")
    if fkind == "xref":
        holder, path = int(fvalue.split()[0]), ""
    else:
        path += "Font/"
    doc.xref_set_key(holder, path + FONT_RESOURCE, f"{font_xref} 0 R")


def _num(v: float) -> bytes:
    """A PDF number: at most 4 decimals, no exponent, no "-0"."""
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return (s if s not in ("-0", "") else "0").encode()
