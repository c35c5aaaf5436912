"""The text sample documents: a 3-page Chinese 公文-style notice and a 2-page English memo with a table.

The text is our own; fonts are PyMuPDF's built-in ones (the CJK font "china-s" ships inside PyMuPDF), so
generation works offline.
"""

from __future__ import annotations

from leakmark._mupdf import pymupdf

A4 = pymupdf.paper_rect("a4")
RED = (0.8, 0.0, 0.0)
BLACK = (0.0, 0.0, 0.0)

_CN_PARAGRAPHS = [
    "各区县保密办，市直各单位：",
    "为进一步加强涉密文件的全流程管理，落实“谁产生、谁负责，谁使用、谁负责”的要求，经研究，决定在全市范围内"
    "开展涉密载体专项清查工作。现将有关事项通知如下。",
    "一、清查范围。本次清查覆盖各单位二〇二五年以来制发、接收、复制的全部涉密纸质文件和电子文件，重点是会议材料、"
    "请示报告、领导讲话稿和技术资料。各单位应当逐份核对份号、密级、保密期限和知悉范围，做到账物相符。",
    "二、工作要求。各单位主要负责同志要亲自部署，保密工作机构具体组织，确定专人负责登记、分发、回收和销毁。"
    "发现涉密文件丢失、被盗或者擅自复制的，应当立即采取补救措施，并在二十四小时内报告。",
    "三、分发管理。涉密文件应当按照份号分发到具体人员，签收时注明日期和用途。传阅文件不得擅自复印、拍照或者"
    "摘抄，确因工作需要复制的，须经发文机关批准，复制件按原件管理。",
    "四、回收销毁。会议结束后，会议材料应当当场清点收回。超过保密期限或者不再使用的文件，应当送交指定的销毁"
    "机构集中销毁，严禁作为废品出售或者自行焚烧。",
    "五、监督检查。市保密办将采取抽查、暗访等方式对各单位清查情况进行检查，检查结果纳入年度保密工作考核。"
    "对工作不力、造成泄密隐患的单位，将予以通报批评，并依法依规追究有关人员责任。",
    "六、时间安排。各单位于十二月二十日前完成自查，十二月三十一日前将清查报告和统计表报送市保密办。"
    "联系人：王晓明，联系电话：01234567。",
    "附件：一、涉密载体清查统计表；二、涉密文件分发登记表；三、涉密载体销毁审批表。",
    "本通知自印发之日起施行。执行中遇到的问题，请及时向市保密办反映。各单位要结合本单位实际，细化工作措施，"
    "明确责任分工，确保各项要求落到实处。对清查中发现的问题，要建立台账，限期整改，整改情况一并报送。",
    "各单位在清查中应当注意保护国家秘密的安全，清查工作本身不得产生新的泄密风险。清查人员应当具备相应的"
    "保密资格，清查记录按照同等密级管理，清查结束后统一归档。",
    "特此通知。",
]

_EN_PARAGRAPHS = [
    "This memorandum sets out the arrangements for the handling of restricted project documents during the"
    " fourth quarter. It replaces the note of 3 September and applies to every team that receives numbered"
    " copies of design reviews, supplier quotations or test reports.",
    "1. Distribution. Each restricted document is issued as numbered copies to named recipients. A copy may"
    " not be passed on, photocopied or photographed. If a colleague needs the document, ask the registry"
    " for a further copy in their name; the registry keeps the distribution record up to date.",
    "2. Storage. Keep paper copies in a locked cabinet when you are away from your desk, including during"
    " lunch and meetings. Electronic copies stay on the project share; do not forward them by e-mail or"
    " upload them to any external service, translation site or chat application.",
    "3. Return and destruction. Return copies to the registry when the work is finished or when asked. The"
    " registry records each return and arranges cross-cut shredding of copies that are no longer needed.",
    "4. Loss. Report a lost or misplaced copy to the security officer on the same day, even if you expect to"
    " find it again. Early reports make recovery far more likely and are never held against the reporter.",
]

_EN_TABLE = [
    ("Document", "Owner", "Copies", "Review date"),
    ("Design review D-14", "Structures", "12", "14 Oct"),
    ("Supplier quotes Q-7", "Purchasing", "6", "21 Oct"),
    ("Thermal test report", "Test lab", "9", "4 Nov"),
    ("Cost model v3", "Finance", "5", "18 Nov"),
    ("Risk register", "Programme", "15", "2 Dec"),
]

_EN_PAGE2 = [
    "5. Meetings. Numbered meeting packs are handed out at the start of a meeting and collected at the end."
    " The chair checks that every pack has come back before the room is released. Notes that quote"
    " restricted figures are themselves restricted and follow the same rules.",
    "6. Visitors. Visitors do not see restricted documents unless the programme manager has agreed it in"
    " writing beforehand. Clear your desk before a visitor arrives and do not leave drafts on shared printers.",
    "7. Questions. Send questions about these arrangements to the registry. Thank you for your care: the"
    " value of our work depends on keeping the details of the programme within the team.",
]


def _cn_body(page: pymupdf.Page, rect: pymupdf.Rect, paragraphs: list[str]) -> None:
    text = "\n".join("\u3000\u3000" + p for p in paragraphs)
    rc = page.insert_textbox(rect, text, fontname="china-s", fontsize=14, lineheight=1.75, color=BLACK)
    if rc < 0:  # our own text must fit: a sample that silently loses lines would mislead the tests
        raise RuntimeError(f"sample text overflows its box by {-rc:.0f} pt")


def chinese_notice() -> bytes:
    """A 3-page 公文-style notice: red header, 份号 and 密级★期限 top-left, title, body."""
    doc = pymupdf.open()
    left, right = 79.0, A4.width - 74.0
    # page 1: header block
    page = doc.new_page(width=A4.width, height=A4.height)
    page.insert_text((left, 70), "份号：______", fontname="china-s", fontsize=14)
    page.insert_text((left, 92), "机密★1年", fontname="china-s", fontsize=14)
    page.insert_text((left, 114), "特急", fontname="china-s", fontsize=14)
    header = "某市保密工作委员会办公室文件"
    hw = pymupdf.get_text_length(header, fontname="china-s", fontsize=30)
    page.insert_text(((A4.width - hw) / 2, 180), header, fontname="china-s", fontsize=30, color=RED)
    ref = "市保办发〔2025〕18号"
    rw = pymupdf.get_text_length(ref, fontname="china-s", fontsize=14)
    page.insert_text(((A4.width - rw) / 2, 222), ref, fontname="china-s", fontsize=14)
    page.draw_line((left, 236), (right, 236), color=RED, width=2)
    title = "关于开展涉密载体专项清查工作的通知"
    tw = pymupdf.get_text_length(title, fontname="china-s", fontsize=20)
    page.insert_text(((A4.width - tw) / 2, 285), title, fontname="china-s", fontsize=20)
    _cn_body(page, pymupdf.Rect(left, 310, right, A4.height - 72), _CN_PARAGRAPHS[:4])
    # page 2
    page = doc.new_page(width=A4.width, height=A4.height)
    _cn_body(page, pymupdf.Rect(left, 80, right, A4.height - 72), _CN_PARAGRAPHS[4:9])
    # page 3: closing, signature block and distribution line
    page = doc.new_page(width=A4.width, height=A4.height)
    _cn_body(page, pymupdf.Rect(left, 80, right, 420), _CN_PARAGRAPHS[9:])
    page.insert_text((right - 230, 480), "某市保密工作委员会办公室", fontname="china-s", fontsize=14)
    page.insert_text((right - 190, 506), "2025年11月20日", fontname="china-s", fontsize=14)
    page.draw_circle((right - 130, 485), 42, color=RED, width=2)
    page.draw_line((left, 720), (right, 720), color=BLACK, width=0.8)
    page.insert_text((left + 8, 740), "抄送：市委办公室，市政府办公室。", fontname="china-s", fontsize=12)
    page.draw_line((left, 750), (right, 750), color=BLACK, width=0.8)
    page.insert_text((left + 8, 770), "某市保密工作委员会办公室　　2025年11月20日印发", fontname="china-s", fontsize=12)
    doc.set_metadata({"title": "关于开展涉密载体专项清查工作的通知", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run: its id, so its marks


def english_memo() -> bytes:
    """A 2-page English memo with a table."""
    doc = pymupdf.open()
    left, right = 72.0, A4.width - 72.0
    page = doc.new_page(width=A4.width, height=A4.height)
    page.insert_text((left, 80), "RESTRICTED", fontname="hebo", fontsize=12, color=RED)
    page.insert_text((left, 120), "MEMORANDUM", fontname="hebo", fontsize=22)
    y = 150.0
    for label, value in (("To:", "Project team leads"), ("From:", "Programme registry"),
                         ("Date:", "20 November 2025"), ("Subject:", "Handling of restricted documents, Q4")):
        page.insert_text((left, y), label, fontname="hebo", fontsize=11)
        page.insert_text((left + 70, y), value, fontname="helv", fontsize=11)
        y += 17
    page.draw_line((left, y - 6), (right, y - 6), color=BLACK, width=0.8)
    rect = pymupdf.Rect(left, y + 8, right, 560)
    rc = page.insert_textbox(rect, "\n\n".join(_EN_PARAGRAPHS), fontname="tiro", fontsize=11.5, lineheight=1.35)
    if rc < 0:
        raise RuntimeError(f"sample text overflows its box by {-rc:.0f} pt")
    # table of restricted documents
    top, row_h = 590.0, 24.0
    cols = [left, left + 170, left + 300, left + 370, right]
    for i, row in enumerate(_EN_TABLE):
        y0 = top + i * row_h
        if i == 0:
            page.draw_rect(pymupdf.Rect(left, y0, right, y0 + row_h), color=None, fill=(0.85, 0.88, 0.95))
        for j, cell in enumerate(row):
            page.insert_text((cols[j] + 6, y0 + 16), cell, fontname="hebo" if i == 0 else "helv", fontsize=10.5)
    for i in range(len(_EN_TABLE) + 1):
        page.draw_line((left, top + i * row_h), (right, top + i * row_h), width=0.6)
    for x in cols:
        page.draw_line((x, top), (x, top + len(_EN_TABLE) * row_h), width=0.6)
    page = doc.new_page(width=A4.width, height=A4.height)
    rc = page.insert_textbox(pymupdf.Rect(left, 80, right, 500), "\n\n".join(_EN_PAGE2), fontname="tiro",
                             fontsize=11.5, lineheight=1.35)
    if rc < 0:
        raise RuntimeError(f"sample text overflows its box by {-rc:.0f} pt")
    page.insert_text((left, 560), "Programme registry", fontname="hebo", fontsize=11)
    page.insert_text((left, 576), "Building 4, room 112", fontname="helv", fontsize=11)
    doc.set_metadata({"title": "Handling of restricted documents, Q4", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run: its id, so its marks


# -- mixed-script text on sample pages (Latin in Helvetica, CJK in the CJK font) --
def _runs(text: str) -> list[tuple[str, str]]:
    """Split text into (font, run): ASCII in Helvetica, the rest in the CJK font (its Latin is full-width)."""
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = "helv" if ch.isascii() else "china-s"
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return runs


def _width(text: str, size: float) -> float:
    return sum(pymupdf.get_text_length(run, fontname=font, fontsize=size) for font, run in _runs(text))


def _text(page: pymupdf.Page, x: float, y: float, text: str, size: float, color: tuple = BLACK) -> None:
    """Mixed CJK and Latin text on one baseline."""
    for font, run in _runs(text):
        page.insert_text((x, y), run, fontname=font, fontsize=size, color=color)
        x += pymupdf.get_text_length(run, fontname=font, fontsize=size)


def _centred(page: pymupdf.Page, x: float, y: float, text: str, size: float, color: tuple = BLACK) -> None:
    _text(page, x - _width(text, size) / 2, y, text, size, color)
