"""Sample documents: a 3-page Chinese 公文-style notice and a 2-page English memo with a table; and three
low-text pages (a full-page photograph, a chart report page, a ruled form) for the layers that do not
need text.

Used by `leakmark demo`, the tests and the benchmarks. The text is our own; fonts are PyMuPDF's
built-in ones (the CJK font "china-s" ships inside PyMuPDF), so generation works offline.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from leakmark._io import atomic_write_bytes
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
    return doc.tobytes(garbage=3, deflate=True)


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
    return doc.tobytes(garbage=3, deflate=True)


SAMPLES = {"notice-zh.pdf": chinese_notice, "memo-en.pdf": english_memo}


def write_samples(folder: Path) -> list[Path]:
    """Write every sample PDF into `folder` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in SAMPLES.items():
        path = folder / name
        atomic_write_bytes(path, make())
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------- low-text pages
# Pages where the shift layer has little or nothing to move: a full-page photograph, a chart report page and
# a ruled form. Everything is drawn here with fixed seeds (no external files): the same bytes on every run.

GREY = (0.45, 0.45, 0.45)
BLUE_INK = (0.08, 0.12, 0.45)


def _fbm(rng: np.random.Generator, h: int, w: int, octaves: int, base: int = 4) -> np.ndarray:
    """Smooth fractal noise, about zero mean and unit spread: the sum of upsampled random grids."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2 ** o
        grid = rng.normal(0, 1, (max(2, n * h // max(h, w)) + 1, n + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    return out / total


def _ridge(rng: np.random.Generator, w: int, base: float, rough: float, octaves: int = 6) -> np.ndarray:
    """A skyline: height (rows from the top) per column."""
    return base + rough * _fbm(rng, 1, w, octaves, base=3)[0] * 2.2


def _photograph(h: int = 1900, w: int = 1500, seed: int = 2025) -> np.ndarray:
    """A procedural landscape photograph (BGR uint8): sky with clouds and a bright sun, hazy far mountains,
    textured green hills, a village with hard-edged buildings, dark trees, a lake, a road, sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    v = yy / h
    # sky: deep blue at the top to pale near the horizon, soft clouds, a bright sun halo (top right)
    top, hor = np.array([150, 95, 40], np.float32), np.array([235, 215, 190], np.float32)
    t = np.clip(v / 0.42, 0, 1)[..., None]
    img = top * (1 - t) + hor * t
    clouds = _fbm(rng, h, w, 6, base=3)
    clouds = np.clip((clouds - 0.15) * 2.2, 0, 1) * np.clip(1 - v / 0.4, 0, 1)
    clouds = cv2.GaussianBlur(clouds, (0, 0), 3)[..., None]
    shade = (0.85 + 0.15 * _fbm(rng, h, w, 4, base=8))[..., None]
    img = img * (1 - clouds) + np.array([250, 248, 246], np.float32) * shade * clouds
    sun = np.exp(-((xx - 0.8 * w) ** 2 + (yy - 0.1 * h) ** 2) / (2 * (0.07 * w) ** 2))[..., None]
    img = img * (1 - sun) + 254 * sun
    # far mountains, hazy blue-grey, with rocky texture
    ridge = _ridge(rng, w, 0.36 * h, 0.06 * h)
    far = (yy > ridge[None, :])[..., None]
    rock = _fbm(rng, h, w, 7, base=16)[..., None]
    mcol = np.array([150, 140, 125], np.float32) + 25 * rock - 40 * np.clip((yy - ridge) / (0.12 * h), 0, 1)[..., None]
    img = np.where(far, mcol, img)
    # near hills, green, grassy texture, lit from the right
    ridge2 = _ridge(rng, w, 0.5 * h, 0.05 * h)
    near = (yy > ridge2[None, :])[..., None]
    grass = rng.normal(0, 1, (h, w)).astype(np.float32)
    grass = cv2.GaussianBlur(grass, (0, 0), 0.8) * 14 + cv2.GaussianBlur(grass, (0, 0), 3) * 10
    light = 0.75 + 0.35 * xx / w + 0.2 * _fbm(rng, h, w, 4, base=6)
    hcol = np.stack([40 + 0 * xx, 110 + 20 * _fbm(rng, h, w, 5, base=6), 70 + 0 * xx], -1) * light[..., None]
    hcol += grass[..., None] * np.array([0.4, 1.0, 0.6], np.float32)
    img = np.where(near, hcol, img)
    # a lake in the lower left: dark water with the sky's reflection and ripples
    lake = (((xx - 0.22 * w) / (0.3 * w)) ** 2 + ((yy - 0.8 * h) / (0.08 * h)) ** 2 < 1)
    ripple = np.sin(yy * 0.9 + 3 * _fbm(rng, h, w, 3, base=8)) * 8
    water = np.stack([110 + ripple, 85 + ripple, 50 + ripple * 0.5], -1) * (0.8 + 0.2 * (1 - v))[..., None]
    img = np.where(lake[..., None], water, img)
    # a road: a grey band curving down to the bottom edge
    cx = 0.62 * w + 0.12 * w * np.sin(v * 6)
    half = 6 + 120 * np.clip((v - 0.55) / 0.45, 0, 1) ** 1.5
    road = (np.abs(xx - cx) < half) & (v > 0.56)
    img = np.where(road[..., None], (105 + 10 * rng.normal(0, 1, (h, w)).astype(np.float32))[..., None]
                   * np.array([1.0, 1.0, 1.02], np.float32), img)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # the village: buildings with hard edges, lit walls, shaded walls, windows, red and grey roofs
    for _ in range(9):
        bw, bh = int(rng.uniform(70, 170)), int(rng.uniform(60, 160))
        x0 = int(rng.uniform(0.45, 0.95) * w) - bw
        y1 = int(ridge2[min(w - 1, x0 + bw // 2)] + rng.uniform(40, 200))
        y0 = y1 - bh
        wall = tuple(int(c) for c in rng.uniform(185, 240) * np.array([0.92, 0.95, 1.0]))
        cv2.rectangle(img, (x0, y0), (x0 + bw, y1), wall, -1)
        side = int(bw * 0.35)
        cv2.rectangle(img, (x0 + bw, y0 + 6), (x0 + bw + side, y1), tuple(int(c * 0.55) for c in wall), -1)
        roof = (40, 45, 150) if rng.random() < 0.6 else (70, 70, 75)
        pts = np.array([[x0 - 8, y0], [x0 + bw // 2, y0 - int(bh * 0.45)], [x0 + bw + 8, y0]], np.int32)
        cv2.fillPoly(img, [pts], roof)
        pts = np.array([[x0 + bw // 2, y0 - int(bh * 0.45)], [x0 + bw + side, y0 - int(bh * 0.3)],
                        [x0 + bw + side, y0 + 6], [x0 + bw + 8, y0]], np.int32)
        cv2.fillPoly(img, [pts], tuple(int(c * 0.6) for c in roof))
        for wy in range(y0 + 14, y1 - 24, 34):
            for wx in range(x0 + 12, x0 + bw - 20, 30):
                cv2.rectangle(img, (wx, wy), (wx + 14, wy + 18), (60, 50, 40), -1)
        cv2.rectangle(img, (x0 + bw // 2 - 10, y1 - 34), (x0 + bw // 2 + 10, y1), (35, 40, 50), -1)
    # trees: dark round crowns with leafy texture, trunks
    for _ in range(40):
        x = int(rng.uniform(0, w))
        y = int(ridge2[x] + rng.uniform(0, 0.45 * h))
        r = int(rng.uniform(18, 55))
        cv2.line(img, (x, y), (x, y + int(r * 1.3)), (30, 45, 60), max(3, r // 6))
        cv2.circle(img, (x, y), r, (int(rng.uniform(15, 40)), int(rng.uniform(55, 90)), int(rng.uniform(20, 45))),
                   -1, cv2.LINE_AA)
    leaves = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2) * 18
    f = img.astype(np.float32)
    dark = (f.sum(-1) < 200)[..., None]
    f = np.where(dark, f + leaves[..., None], f)
    # vignette and sensor noise, then the camera's own smoothing
    r2 = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    f *= (1 - 0.35 * r2)[..., None]
    f += rng.normal(0, 2.0, f.shape).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


def photo_page() -> bytes:
    """A page that is almost all one colour photograph (embedded JPEG) with a one-line caption."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    ok, jpg = cv2.imencode(".jpg", _photograph(), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError("could not encode the sample photograph")
    page.insert_image(pymupdf.Rect(36, 36, A4.width - 36, A4.height - 66), stream=jpg.tobytes(), keep_proportion=False)
    cap = "图1　某基地全景（2025年10月摄）"
    _centred(page, A4.width / 2, A4.height - 42, cap, 11)
    doc.set_metadata({"title": "某基地全景照片", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run


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
    for _, colour, values in lines:
        pts = [(box.x0 + i * step, box.y1 - v / 60 * box.height) for i, v in enumerate(values)]
        page.draw_polyline(pts, color=colour, width=1.6)
        for p in pts:
            page.draw_circle(p, 2.6, color=colour, fill=(1, 1, 1), width=1.2)
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
        page.draw_bezier(*p, color=BLUE_INK, width=1.3, lineCap=1)
    _seal(page, (right - 100, y + 100), 56, "某市保密工作委员会办公室", "登记专用章")
    doc.set_metadata({"title": "涉密载体登记表", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run


LOWTEXT_SAMPLES = {"photo.pdf": photo_page, "chart.pdf": chart_page, "form.pdf": form_page}


def write_lowtext_samples(folder: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """Write the low-text sample pages (photo, chart, form; or the `names` given, without .pdf) into
    `folder` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in LOWTEXT_SAMPLES.items():
        if names is not None and name.removesuffix(".pdf") not in names:
            continue
        path = folder / name
        atomic_write_bytes(path, make())
        paths.append(path)
    return paths


def synthetic_photo(h: int, w: int, seed: int) -> np.ndarray:
    """A small synthetic greyscale photograph (smooth shading, textured patches, hard-edged rectangles),
    deterministic for a seed: the tests' and benchmarks' picture when a whole sample page is too much."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    img = np.full((h, w), 120, np.float32)
    for _ in range(25):
        y, x, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(40, 300)
        img += rng.uniform(-70, 70) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))
    texture = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5) * 30
    patches = cv2.resize((rng.uniform(0, 1, (h // 80 + 1, w // 80 + 1)) > 0.5).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_NEAREST)
    img += texture * cv2.GaussianBlur(patches, (0, 0), 8)
    for _ in range(6):
        x0, y0 = int(rng.uniform(0, w - 200)), int(rng.uniform(0, h - 200))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.uniform(60, 200)), y0 + int(rng.uniform(60, 200))),
                      float(rng.uniform(20, 230)), -1)
    return np.clip(img, 0, 255).astype(np.uint8)
