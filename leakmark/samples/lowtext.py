"""Low-text sample pages: a chart report page and a ruled form with a signature and a seal."""

from __future__ import annotations

import numpy as np

from leakmark._mupdf import pymupdf
from leakmark.samples.text import A4, BLACK, RED, _centred, _text, _width

GREY = (0.45, 0.45, 0.45)
BLUE_INK = (0.08, 0.12, 0.45)


def _axes(page: pymupdf.Page, box: pymupdf.Rect, ymax: float, step: float, unit: str) -> None:
    """Axes, horizontal gridlines and y tick labels of a chart in `box` (values 0..ymax)."""
    v = 0.0
    while v <= ymax + 1e-9:
        y = box.y1 - v / ymax * box.height
        page.draw_line((box.x0, y), (box.x1, y), color=(0.82, 0.82, 0.82), width=0.5)
        label = f"{v:g}"
        page.insert_text((box.x0 - 6 - pymupdf.get_text_length(label, "helv", 8), y + 3), label, fontname="helv",
                         fontsize=8, color=GREY)
        v += step
    page.draw_line((box.x0, box.y0), (box.x0, box.y1), color=BLACK, width=0.8)
    page.draw_line((box.x0, box.y1), (box.x1, box.y1), color=BLACK, width=0.8)
    _text(page, box.x0 - 30, box.y0 - 8, unit, 8, GREY)


def _legend(page: pymupdf.Page, x: float, y: float, items: list[tuple[str, tuple]], line: bool = False) -> None:
    for name, colour in items:
        if line:
            page.draw_line((x, y - 3), (x + 16, y - 3), color=colour, width=1.8)
            page.draw_circle((x + 8, y - 3), 2.2, color=colour, fill=colour)
        else:
            page.draw_rect(pymupdf.Rect(x, y - 8, x + 10, y + 1), color=None, fill=colour)
        _text(page, x + 20, y, name, 9)
        x += 26 + _width(name, 9)


def chart_page() -> bytes:
    """A statistics report page: title, a grouped bar chart, a line chart with markers, two lines of text."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    _text(page, 60, 56, "机密★1年", 11, RED)
    _centred(page, A4.width / 2, 92, "2025年前三季度涉密载体管理情况统计", 18)
    _text(page, 72, 126, "一、各季度涉密载体登记、回收和销毁数量（份）", 11)
    # grouped bar chart
    box = pymupdf.Rect(100, 160, A4.width - 70, 400)
    _axes(page, box, 400, 50, "份数")
    series = [("登记", (0.22, 0.42, 0.69)), ("回收", (0.93, 0.55, 0.17)), ("销毁", (0.35, 0.63, 0.31))]
    data = [(312, 268, 145), (355, 301, 190), (286, 277, 232), (371, 330, 204)]
    groups = ["一季度", "二季度", "三季度", "（预计）四季度"]
    gw = box.width / len(groups)
    bw = gw * 0.2
    for g, (values, label) in enumerate(zip(data, groups, strict=True)):
        x = box.x0 + g * gw + gw * 0.2
        for (_, colour), val in zip(series, values, strict=True):
            top = box.y1 - val / 400 * box.height
            page.draw_rect(pymupdf.Rect(x, top, x + bw, box.y1), color=None, fill=colour)
            page.insert_text((x + 1, top - 3), str(val), fontname="helv", fontsize=7, color=GREY)
            x += bw
        _centred(page, box.x0 + (g + 0.5) * gw, box.y1 + 14, label, 9)
    _legend(page, box.x0 + 10, box.y1 + 36, series)
    # line chart
    _text(page, 72, 470, "二、各月涉密文件复制审批与违规复制查处情况", 11)
    box = pymupdf.Rect(100, 500, A4.width - 70, 700)
    _axes(page, box, 60, 10, "件数")
    months = [f"{m}月" for m in range(1, 10)]
    lines = [("复制审批", (0.75, 0.15, 0.15), [22, 31, 28, 35, 41, 38, 46, 52, 49]),
             ("违规复制查处", (0.35, 0.25, 0.6), [6, 4, 7, 3, 5, 2, 4, 1, 2])]
    step = box.width / (len(months) - 1)
    for i, m in enumerate(months):
        x = box.x0 + i * step
        page.draw_line((x, box.y1), (x, box.y1 + 3), color=BLACK, width=0.6)
        _centred(page, x, box.y1 + 14, m, 8)
    for _, line_colour, counts in lines:
        pts = [(box.x0 + i * step, box.y1 - v / 60 * box.height) for i, v in enumerate(counts)]
        page.draw_polyline(pts, color=line_colour, width=1.6)
        for p in pts:
            page.draw_circle(p, 2.6, color=line_colour, fill=(1, 1, 1), width=1.2)
    _legend(page, box.x0 + 10, box.y1 + 36, [(n, c) for n, c, _ in lines], line=True)
    _text(page, 72, 762, "说明：三季度登记数量下降主要因会议材料改为电子分发；违规复制查处数逐月减少，", 10.5)
    _text(page, 72, 780, "专项清查成效明显。数据截至2025年9月30日。", 10.5)
    doc.set_metadata({"title": "2025年前三季度涉密载体管理情况统计", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run


_FORM_HEAD = ("序号", "载体名称 / 编号", "密级", "份数", "签收人")
_FORM_ROWS = [
    ("1", "会议纪要 HY-2025-031", "机密", "12", "王晓明"),
    ("2", "技术方案 TS-7", "秘密", "5", "Li Wei"),
    ("3", "U盘 No.0417", "机密", "1", "张华"),
    ("4", "图纸 D-14 rev.B", "秘密", "3", ""),
    ("5", "请示报告〔2025〕9号", "绝密", "2", "陈静"),
    ("6", "光盘 CD-22", "秘密", "1", ""),
]


def _seal(page: pymupdf.Page, centre: tuple[float, float], radius: float, text: str, bottom: str) -> None:
    """A round red official seal: double ring, the unit's name around the top, a star, a line below it."""
    cx, cy = centre
    seal = (0.86, 0.1, 0.12)
    page.draw_circle(centre, radius, color=seal, width=2.6)
    page.draw_circle(centre, radius - 4, color=seal, width=0.6)
    size = radius * 0.2
    r = radius - 7 - size * 0.5  # the glyphs' centres
    n = len(text)
    span = 240.0  # degrees of arc the name takes, centred on the top
    for i, ch in enumerate(text):
        deg = -90 - span / 2 + span * (i + 0.5) / n  # page y grows downwards: -90° is the top
        a = np.radians(deg)
        px, py = cx + r * np.cos(a), cy + r * np.sin(a)
        # the glyph's top points away from the centre: turned by deg + 90 (clockwise on the page)
        m = pymupdf.Matrix(-(deg + 90))
        page.insert_text((px - size / 2, py + size * 0.36), ch, fontname="china-s", fontsize=size, color=seal,
                         morph=(pymupdf.Point(px, py), m))
    star = []
    for k in range(10):
        rr = radius * (0.3 if k % 2 == 0 else 0.12)
        a = np.radians(-90 + 36 * k)
        star.append((cx + rr * np.cos(a), cy + rr * np.sin(a)))
    page.draw_polyline([*star, star[0]], color=seal, fill=seal, width=0.5)
    _centred(page, cx, cy + radius * 0.6, bottom, radius * 0.2, color=seal)


def form_page() -> bytes:
    """A ruled register form (涉密载体登记表): 15 × 5 grid, grey header row, a few filled rows, a red seal and
    a handwritten signature."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    _text(page, 60, 56, "秘密", 11, RED)
    _centred(page, A4.width / 2, 96, "涉密载体登记表", 20)
    _text(page, 60, 130, "单位：市保密办综合处", 10.5)
    _text(page, A4.width - 200, 130, "编号：DJ-2025-0118", 10.5)
    left, right, top, row_h = 60.0, A4.width - 60.0, 142.0, 31.0
    cols = [left, left + 45, left + 235, left + 305, left + 360, right]
    rows = 16  # a header and 15 rows
    page.draw_rect(pymupdf.Rect(left, top, right, top + row_h), color=None, fill=(0.82, 0.82, 0.82))
    for j, head in enumerate(_FORM_HEAD):
        _centred(page, (cols[j] + cols[j + 1]) / 2, top + 20, head, 10.5)
    for i, row in enumerate(_FORM_ROWS, start=1):
        for j, cell in enumerate(row):
            if cell:
                _centred(page, (cols[j] + cols[j + 1]) / 2, top + i * row_h + 20, cell, 10)
    for i in range(rows + 1):
        w = 1.2 if i in (0, rows) else 0.6
        page.draw_line((left, top + i * row_h), (right, top + i * row_h), color=BLACK, width=w)
    for j, x in enumerate(cols):
        page.draw_line((x, top), (x, top + rows * row_h), color=BLACK, width=1.2 if j in (0, len(cols) - 1) else 0.6)
    y = top + rows * row_h
    _text(page, left, y + 34, "备注：载体回收后请在签收人栏注明回收日期。", 10)
    _text(page, left, y + 72, "经办人（签字）：", 11)
    _text(page, right - 150, y + 140, "2025年11月20日", 11)
    # a handwritten signature: a few joined bezier strokes in blue-black ink
    x0, y0 = left + 90, y + 70
    strokes = [((0, 0), (6, -22), (14, -18), (12, 4)), ((12, 4), (10, 16), (26, -20), (34, -6)),
               ((34, -6), (40, 4), (44, -14), (52, -10)), ((52, -10), (60, -6), (58, 8), (70, -4)),
               ((70, -4), (82, -18), (90, 2), (110, -8)), ((-4, 8), (30, 2), (70, 6), (118, 0))]
    for s in strokes:
        p = [pymupdf.Point(x0 + a, y0 + b) for a, b in s]
        page.draw_bezier(p[0], p[1], p[2], p[3], color=BLUE_INK, width=1.3, lineCap=1)
    _seal(page, (right - 100, y + 100), 56, "某市保密工作委员会办公室", "登记专用章")
    doc.set_metadata({"title": "涉密载体登记表", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run
