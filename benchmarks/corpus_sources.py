"""The documents the fidelity corpus generates itself (`benchmarks.corpus` builds them into PDFs): HTML pages
for LibreOffice and Chromium, PyMuPDF-made PDFs with every structure PyMuPDF can write, and scans.

Everything here is seeded (`random.Random(seed)` picks sentences; the scans' noise comes from NumPy's seeded
generator): the same call writes the same bytes, except where a tool stamps the time (see corpus.py).
"""

from __future__ import annotations

import base64
import html
import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from leakmark._mupdf import pymupdf  # without PyMuPDF's ONNX add-ons

# -- text -----------------------------------------------------------------------------------------------

EN_SENTENCES = (
    "The register records every copy issued, to whom and when.",
    "Each recipient signs for the copy on receipt and returns it when the matter is closed.",
    "Copies may not be reproduced, photographed or forwarded without the written approval of the issuing office.",
    "The working group met on Tuesday to review the draft budget for the next financial year.",
    "Figures in the table below are provisional and will be revised after the audit.",
    "Questions about this memorandum should be addressed to the records office.",
    "The print room keeps a log of every job sent to the secure printer.",
    "A lost or damaged copy must be reported within one working day.",
    "Drafts are destroyed by cross-cut shredding; the destruction is recorded in the register.",
    "The annex lists the units that receive this notice and the number of copies for each.",
    "Staff who leave the unit return all controlled documents before their last day.",
    "The review found no discrepancy between the register and the copies held by the units.",
)

ZH_SENTENCES = (
    "各单位要严格落实保密工作责任制，确保涉密文件的登记、传阅、归档和销毁全程可查。",
    "涉密文件一律按份号登记，收文单位应当在签收单上签字并注明日期。",
    "未经发文机关批准，任何人不得复制、摘抄、拍照或者转发涉密文件。",
    "文件传阅完毕后应当及时退回机要室，不得个人留存。",
    "各单位要加强对打印、复印设备的管理，建立使用登记制度。",
    "发现文件遗失或者泄露的，应当立即报告，并采取补救措施。",
    "保密检查每半年开展一次，检查结果纳入年度考核。",
    "本通知自印发之日起施行，由办公室负责解释。",
    "会议要求，各部门要认真学习有关规定，切实增强保密意识。",
    "涉密计算机不得连接互联网，移动存储介质实行统一管理。",
    "年度预算草案已经工作组讨论，具体数字以审计后的结果为准。",
    "附件列出了接收本通知的单位及各单位的份数。",
)

UNITS_ZH = ("办公室", "财务处", "人事处", "科技处", "机要室", "综合处", "法规处", "后勤服务中心")
UNITS_EN = ("Records Office", "Finance", "Personnel", "Research", "Legal", "Facilities", "Audit", "Print Room")


def paragraph(rng: random.Random, zh: bool, n: int = 4) -> str:
    pool = ZH_SENTENCES if zh else EN_SENTENCES
    return ("" if zh else " ").join(rng.choice(pool) for _ in range(n))


def chart_png(seed: int, width: int = 480, height: int = 240) -> bytes:
    """A small bar chart (an image for the documents to embed)."""
    rng = random.Random(seed)
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    d.line((30, height - 20, width - 10, height - 20), fill="black", width=2)
    d.line((30, 10, 30, height - 20), fill="black", width=2)
    colours = ("#1f4e79", "#a23b2a", "#4f7f3a", "#b08a1e")
    for i in range(8):
        h = rng.randint(30, height - 40)
        x = 45 + i * (width - 60) // 8
        d.rectangle((x, height - 20 - h, x + (width - 60) // 8 - 12, height - 21), fill=colours[i % 4])
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# -- HTML (LibreOffice imports it as a Writer document; Chromium prints it) ---------------------------------

def html_document(*, title: str, zh: bool, seed: int, sections: int, table: bool = True, image: bool = True,
                  form: bool = False, css: str = "", font: str = "", chromium: bool = False) -> str:
    """A report or notice: numbered headings (→ outline), paragraphs, external and internal links, a table of
    units, a chart, optionally a form (text field, check box, list). `chromium`: page breaks and @page CSS."""
    rng = random.Random(seed)
    esc = html.escape
    head_font = f"font-family: '{font}', serif;" if font else ""
    style = f"body {{ {head_font} font-size: 11pt; line-height: 1.5; }} table {{ border-collapse: collapse; }} " \
            f"td, th {{ border: 1px solid #000; padding: 3pt 6pt; }} {css}"
    out = ['<!DOCTYPE html>', f'<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f'<meta name="author" content="{"机要室" if zh else "Records Office"}">',
           f'<meta name="description" content="{"测试文档" if zh else "corpus document"} {seed}">',
           f"<style>{style}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    numerals = "一二三四五六七八九十"
    names = [(f"{numerals[i % 10]}、{UNITS_ZH[i % len(UNITS_ZH)]}工作要求" if zh else
              f"{i + 1}. {UNITS_EN[i % len(UNITS_EN)]} requirements") for i in range(sections)]
    toc = "".join(f'<li><a href="#s{i}">{esc(n)}</a></li>' for i, n in enumerate(names))
    out.append(f'<p>{"目录" if zh else "Contents"}:</p><ul>{toc}</ul>')
    link = "https://www.example.org/regulations/" + str(seed)
    out.append(f"<p>{esc(paragraph(rng, zh))} <a href=\"{link}\">{'有关规定' if zh else 'the regulations'}</a>.</p>")
    for i, name in enumerate(names):
        brk = ' style="page-break-before: always"' if chromium and i and i % 2 == 0 else ""
        out.append(f'<h2 id="s{i}"{brk}>{esc(name)}</h2>')
        for _ in range(rng.randint(2, 4)):
            out.append(f"<p>{esc(paragraph(rng, zh, rng.randint(3, 6)))}</p>")
        if i % 3 == 1:
            sub = "（一）具体措施" if zh else f"{i + 1}.1 Measures"
            out.append(f"<h3>{esc(sub)}</h3><p>{esc(paragraph(rng, zh))}</p>")
        if table and i == 0:
            units = UNITS_ZH if zh else UNITS_EN
            hdr = ("序号", "单位", "份数", "备注") if zh else ("No.", "Unit", "Copies", "Note")
            note = "急件" if zh else "urgent"
            rows = "".join(f"<tr><td>{k + 1}</td><td>{esc(u)}</td><td>{rng.randint(1, 9)}</td>"
                           f"<td>{'' if k % 3 else note}</td></tr>" for k, u in enumerate(units))
            out.append(f"<table><tr>{''.join(f'<th>{h}</th>' for h in hdr)}</tr>{rows}</table>")
        if image and i == 1:
            out.append(f'<p><img src="{_data_uri(chart_png(seed))}" width="360" height="180" alt="chart"></p>')
        if i == sections - 1:
            out.append(f'<p><a href="#s0">{"返回第一节" if zh else "Back to section 1"}</a></p>')
    if form:
        labels = ("收件人", "单位", "急件", "密级") if zh else ("Recipient", "Unit", "Urgent", "Level")
        levels = ("秘密", "机密", "绝密") if zh else ("Restricted", "Confidential", "Secret")
        out.append(f"<h2>{'回执' if zh else 'Receipt'}</h2><form><p>{labels[0]}: "
                   f'<input type="text" name="recipient" value="{"张三" if zh else "J. Smith"}" size="24"></p>'
                   f'<p>{labels[1]}: <input type="text" name="unit" value="" size="24"></p>'
                   f'<p>{labels[2]}: <input type="checkbox" name="urgent" checked></p>'
                   f'<p>{labels[3]}: <select name="level">'
                   + "".join(f"<option{' selected' if k == 1 else ''}>{v}</option>" for k, v in enumerate(levels))
                   + "</select></p></form>")
    out.append("</body></html>")
    return "\n".join(out)


# -- PyMuPDF-made PDFs --------------------------------------------------------------------------------------

def _text_pages(doc: pymupdf.Document, rng: random.Random, zh: bool, pages: int, fontname: str,
                fontfile: str | None = None, size: tuple[float, float] = (595.0, 842.0)) -> None:
    for p in range(pages):
        page = doc.new_page(width=size[0], height=size[1])
        if fontfile:
            page.insert_font(fontname=fontname, fontfile=fontfile)
        y = 80.0
        page.insert_text((72, y), (f"第{p + 1}节" if zh else f"Section {p + 1}"), fontname=fontname, fontsize=16)
        y += 30
        text = paragraph(rng, zh, 10)
        rect = pymupdf.Rect(72, y, size[0] - 72, size[1] - 72)
        page.insert_textbox(rect, text, fontname=fontname, fontsize=11, lineheight=1.4)


def pymupdf_structured(out: Path, seed: int = 41) -> None:
    """English: metadata, XMP, a two-level outline, page labels (roman then arabic), URI and internal links,
    a base-14 font beside an embedded TrueType one."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    _text_pages(doc, rng, False, 3, "helv")
    _text_pages(doc, rng, False, 4, "dejavu", fontfile="/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
    doc.set_metadata({"title": "Annual records review", "author": "Records Office", "subject": "corpus: PyMuPDF",
                      "keywords": "register, copies, review", "creator": "leakmark corpus",
                      "producer": f"PyMuPDF {pymupdf.__version__}", "creationDate": "D:20240105093000+08'00'",
                      "modDate": "D:20240105093000+08'00'"})
    doc.set_xml_metadata(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
        '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Annual records review</rdf:li></rdf:Alt></dc:title>'
        '<dc:creator><rdf:Seq><rdf:li>Records Office</rdf:li></rdf:Seq></dc:creator>'
        '<xmp:CreateDate>2024-01-05T09:30:00+08:00</xmp:CreateDate><pdf:Keywords>register, copies, review'
        '</pdf:Keywords></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    doc.set_toc([[1, "Front matter", 1], [2, "Preface", 2], [1, "Review", 4], [2, "Findings", 5],
                 [2, "Annex", 7]])
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
                         {"startpage": 3, "prefix": "", "style": "D", "firstpagenum": 1}])
    for i, page in enumerate(doc):
        page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 770, 300, 784),
                          "uri": f"https://www.example.org/review/{i + 1}"})
        page.insert_text((72, 780), f"https://www.example.org/review/{i + 1}", fontname="helv", fontsize=9,
                         color=(0, 0, 0.6))
        if i + 1 < doc.page_count:
            page.insert_link({"kind": pymupdf.LINK_GOTO, "from": pymupdf.Rect(450, 770, 523, 784), "page": i + 1,
                              "to": pymupdf.Point(72, 80)})
            page.insert_text((450, 780), "next page", fontname="helv", fontsize=9, color=(0, 0, 0.6))
    doc.save(out, garbage=3, deflate=True, no_new_id=True)
    doc.close()


def pymupdf_form_zh(out: Path, seed: int = 42) -> None:
    """Chinese: text laid out by MuPDF's HTML engine (embedded subset CJK fonts) and a live form (text fields
    with Chinese values, a check box, a combo box, a radio pair)."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    for p in range(3):
        page = doc.new_page(width=595, height=842)
        body = "".join(f"<p>{html.escape(paragraph(rng, True, 4))}</p>" for _ in range(4 if p else 2))
        page.insert_htmlbox(pymupdf.Rect(72, 72, 523, 520 if p == 0 else 770),
                            f"<h2>关于文件登记的通知（第{p + 1}页）</h2>{body}")
    page = doc[0]
    fields = [("收件人", "recipient", pymupdf.PDF_WIDGET_TYPE_TEXT, "李四"),
              ("单位", "unit", pymupdf.PDF_WIDGET_TYPE_TEXT, "机要室"),
              ("急件", "urgent", pymupdf.PDF_WIDGET_TYPE_CHECKBOX, True),
              ("密级", "level", pymupdf.PDF_WIDGET_TYPE_COMBOBOX, "机密")]
    y = 560.0
    for label, name, kind, value in fields:
        page.insert_htmlbox(pymupdf.Rect(72, y, 150, y + 20), f"<p>{label}：</p>")
        w = pymupdf.Widget()
        w.field_name, w.field_type = name, kind
        w.rect = pymupdf.Rect(160, y, 160 + (20 if kind == pymupdf.PDF_WIDGET_TYPE_CHECKBOX else 200), y + 20)
        if kind == pymupdf.PDF_WIDGET_TYPE_COMBOBOX:
            w.choice_values = ["秘密", "机密", "绝密"]
        if kind == pymupdf.PDF_WIDGET_TYPE_TEXT:
            w.text_font = "china-s"
        w.field_value = value
        page.add_widget(w)
        y += 32
    for k, on in enumerate((True, False)):
        w = pymupdf.Widget()
        w.field_name, w.field_type = "copies", pymupdf.PDF_WIDGET_TYPE_RADIOBUTTON
        w.rect = pymupdf.Rect(160 + 40 * k, y, 176 + 40 * k, y + 16)
        w.field_value = on
        page.add_widget(w)
    doc.set_metadata({"title": "关于文件登记的通知", "author": "机要室", "subject": "表单", "keywords": "登记, 份号",
                      "creator": "leakmark corpus", "producer": f"PyMuPDF {pymupdf.__version__}",
                      "creationDate": "D:20240301100000+08'00'", "modDate": "D:20240301100000+08'00'"})
    doc.set_toc([[1, "通知", 1], [1, "回执", 1], [1, "附件", 3]])
    doc.subset_fonts()  # MuPDF embeds the whole CJK font otherwise (12 MB)
    doc.save(out, garbage=3, deflate=True, no_new_id=True)
    doc.close()


def pymupdf_geometry(out: Path, seed: int = 43) -> None:
    """Page geometry: /Rotate 90 and 270, a CropBox inside the MediaBox, Trim/Bleed/Art boxes, landscape."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    _text_pages(doc, rng, False, 2, "tiro")
    _text_pages(doc, rng, True, 1, "china-s")
    _text_pages(doc, rng, False, 2, "cour", size=(842.0, 595.0))
    doc[0].set_rotation(90)
    doc[3].set_rotation(270)
    doc[1].set_mediabox(pymupdf.Rect(0, 0, 595, 842))
    doc[1].set_cropbox(pymupdf.Rect(36, 36, 559, 806))
    doc[2].set_bleedbox(pymupdf.Rect(9, 9, 586, 833))
    doc[2].set_trimbox(pymupdf.Rect(18, 18, 577, 824))
    doc[2].set_artbox(pymupdf.Rect(60, 60, 535, 782))
    doc.set_metadata({"title": "Geometry", "author": "Print Room", "creator": "leakmark corpus",
                      "producer": f"PyMuPDF {pymupdf.__version__}", "creationDate": "D:20240402080000Z",
                      "modDate": "D:20240402080000Z"})
    doc.set_toc([[1, "Rotated 90", 1], [1, "Cropped", 2], [1, "Boxes (中文)", 3], [1, "Landscape, rotated 270", 4]])
    doc.save(out, garbage=3, deflate=True, no_new_id=True)
    doc.close()


def pymupdf_annotations(out: Path, seed: int = 44) -> None:
    """Review marks: a sticky note, highlight, strike-out, free text, ink, a square, plus links."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    _text_pages(doc, rng, False, 2, "helv")
    _text_pages(doc, rng, True, 1, "china-s")
    p0, p1, p2 = doc[0], doc[1], doc[2]
    p0.add_text_annot((500, 90), "Check the copy count with the print room.")
    words = p0.get_text("words")
    p0.add_highlight_annot([pymupdf.Rect(w[:4]) for w in words[5:12]])
    p0.add_strikeout_annot([pymupdf.Rect(w[:4]) for w in words[20:24]])
    p1.add_freetext_annot(pymupdf.Rect(350, 60, 540, 100), "Draft: not for circulation", fontsize=10)
    p1.add_ink_annot([[(80, 700), (120, 720), (160, 690), (200, 730)]])
    p1.add_rect_annot(pymupdf.Rect(70, 640, 300, 760))
    p2.add_text_annot((500, 90), "核对份数")
    for i, page in enumerate(doc):
        page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(72, 790, 260, 804),
                          "uri": f"https://www.example.org/annotated/{i}"})
    doc.set_metadata({"title": "Annotated draft", "author": "Reviewer", "creator": "leakmark corpus",
                      "producer": f"PyMuPDF {pymupdf.__version__}", "creationDate": "D:20240505120000Z",
                      "modDate": "D:20240505120000Z"})
    doc.save(out, garbage=3, deflate=True, no_new_id=True)
    doc.close()


PYMUPDF_DOCS = {"structured": pymupdf_structured, "form-zh": pymupdf_form_zh, "geometry": pymupdf_geometry,
                "annotations": pymupdf_annotations}


# -- scans --------------------------------------------------------------------------------------------------

def scan_pdf(source: Path, out: Path, *, pages: int, dpi: int, seed: int, angle: float, mode: str,
             title: str) -> None:
    """Render `pages` pages of `source`, rotate slightly, add paper tone and sensor noise, and wrap them as an
    image-only PDF (no text layer), as a scanner's software does. mode: 'gray-jpeg', 'rgb-jpeg' or 'bilevel'
    (1-bit PNG, Flate)."""
    import cv2

    rng = np.random.default_rng(seed)
    src = pymupdf.open(source)
    doc = pymupdf.open()
    try:
        for i in range(min(pages, src.page_count)):
            page = src[i]
            colour = mode == "rgb-jpeg"
            pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB if colour else pymupdf.csGRAY)
            img = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n).astype(np.float32)
            h, w = img.shape[:2]
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle + float(rng.normal(0, 0.1)), 1.0)
            img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
            img = img.reshape(h, w, -1) * 0.92 + 10 + rng.normal(0, 4, (h, w, 1))  # paper tone, noise
            img = np.clip(img, 0, 255).astype(np.uint8)
            if mode == "bilevel":
                im = Image.fromarray(img[:, :, 0]).point(lambda v: 255 if v > 150 else 0).convert("1")
                fmt, kw = "PNG", {"optimize": True}
            else:
                im = Image.fromarray(img if colour else img[:, :, 0])
                fmt, kw = "JPEG", {"quality": 80, "dpi": (dpi, dpi)}
            buf = io.BytesIO()
            im.save(buf, fmt, **kw)
            out_page = doc.new_page(width=page.rect.width, height=page.rect.height)
            out_page.insert_image(out_page.rect, stream=buf.getvalue())
        doc.set_metadata({"title": title, "creator": "leakmark corpus (simulated scanner)",
                          "producer": f"PyMuPDF {pymupdf.__version__}", "creationDate": "D:20240601090000Z",
                          "modDate": "D:20240601090000Z"})
        doc.save(out, garbage=3, deflate=True, no_new_id=True)
    finally:
        doc.close()
        src.close()
