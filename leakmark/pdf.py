"""Reading inputs (PDFs and page images) and writing marked copies, with PyMuPDF and Pillow."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
from PIL import Image, ImageOps

from leakmark.errors import EncryptedPdfError, InputFileError, OutputError
from leakmark.pdfstream import PageImage
from leakmark.watermark import filemark

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
Image.MAX_IMAGE_PIXELS = 400_000_000  # a 600 dpi A0 scan is legitimate input

pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's own warnings would reach stdout otherwise


@dataclass(frozen=True)
class SourceInfo:
    path: Path
    kind: str  # "pdf" or "image"
    sha256: str
    pages: int
    title: str


def sniff_kind(path: Path) -> str:
    """'pdf' or 'image' from the file's first bytes, with clear errors for the usual mistakes."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give a PDF or an image file")
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror}); check its permissions") from exc
    if not head:
        raise InputFileError(f"{path} is empty (0 bytes); give the real document")
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        return "image"
    raise InputFileError(f"{path} is neither a PDF nor a PNG/JPEG/TIFF image; convert it to PDF first")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_pdf(path: Path, password: str | None = None) -> pymupdf.Document:
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # MuPDF raises its own types for every kind of damage
        raise InputFileError(f"{path} is not a readable PDF ({exc}); repair it or print it to a new PDF") from exc
    if doc.needs_pass:
        if not password:
            doc.close()
            raise EncryptedPdfError(f"{path} is encrypted; give its password with --password")
        if not doc.authenticate(password):
            doc.close()
            raise EncryptedPdfError(f"the password given for {path} is wrong")
    if doc.page_count == 0:
        doc.close()
        raise InputFileError(f"{path} has no pages")
    return doc


def open_image(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
    except Exception as exc:
        raise InputFileError(f"{path} is not a readable image ({exc})") from exc
    return img


def inspect(path: Path, password: str | None = None) -> SourceInfo:
    """Check an input to `issue` and return what the ledger needs about it."""
    path = Path(path)
    kind = sniff_kind(path)
    if kind == "pdf":
        doc = open_pdf(path, password)
        pages, title = doc.page_count, (doc.metadata or {}).get("title") or path.stem
        doc.close()
    else:
        img = open_image(path)
        pages, title = getattr(img, "n_frames", 1), path.stem
    return SourceInfo(path=path, kind=kind, sha256=sha256_file(path), pages=pages, title=title)


@dataclass
class RenderedPage:
    rgb: np.ndarray  # (H, W, 3) uint8
    width_pt: float
    height_pt: float
    rawdict: dict | None  # PyMuPDF text with character boxes, None for images
    matrix: tuple[float, ...]  # text coordinates -> rendering pixels
    spans: list[dict]  # invisible text layer: text, origin and size in page points


def render_page(path: Path, kind: str, index: int, dpi: int, password: str | None) -> RenderedPage:
    """Render one page once; every copy of the page is made from this rendering."""
    if kind == "pdf":
        doc = open_pdf(path, password)
        try:
            page = doc[index]
            pix = page.get_pixmap(dpi=dpi, alpha=False, colorspace=pymupdf.csRGB)
            rgb = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3).copy()
            rawdict = page.get_text("rawdict", flags=pymupdf.TEXT_PRESERVE_WHITESPACE)
            scale = pix.width / page.rect.width
            to_display = page.rotation_matrix * pymupdf.Matrix(scale, scale)
            spans = _text_spans(rawdict, page.rotation_matrix)
            has_text = any(ch for b in rawdict.get("blocks", []) for ln in b.get("lines", [])
                           for sp in ln.get("spans", []) for ch in sp.get("chars", []))
            return RenderedPage(rgb=rgb, width_pt=page.rect.width, height_pt=page.rect.height,
                                rawdict=rawdict if has_text else None, matrix=tuple(to_display), spans=spans)
        finally:
            doc.close()
    img = open_image(path)
    img.seek(index)
    frame = ImageOps.exif_transpose(img.convert("RGB"))
    xdpi = float((img.info.get("dpi") or (dpi, dpi))[0]) or dpi
    rgb = np.asarray(frame, dtype=np.uint8).copy()
    h, w = rgb.shape[:2]
    return RenderedPage(rgb=rgb, width_pt=w * 72.0 / xdpi, height_pt=h * 72.0 / xdpi, rawdict=None,
                        matrix=(1, 0, 0, 1, 0, 0), spans=[])


_ROTATE_BY_DIRECTION = {(1, 0): 0, (0, -1): 90, (-1, 0): 180, (0, 1): 270}  # PyMuPDF's insert_text(rotate=)


def _text_spans(page_dict: dict, rot: pymupdf.Matrix) -> list[dict]:
    """Spans in display coordinates (after /Rotate), with the insert_text rotation that reproduces them."""
    spans = []
    for block in page_dict.get("blocks", []):
        for line in block.get("lines", []):
            d = pymupdf.Point(line.get("dir", (1, 0))) * rot - pymupdf.Point(0, 0) * rot
            rotate = _ROTATE_BY_DIRECTION.get((round(d.x, 3), round(d.y, 3)))
            if rotate is None:
                continue  # slanted text is left out of the text layer
            for span in line.get("spans", []):
                text = "".join(ch["c"] for ch in span.get("chars", []))  # rawdict spans carry characters only
                if not text.strip():
                    continue
                bbox = pymupdf.Rect(span["bbox"]) * rot
                origin = pymupdf.Point(span["origin"]) * rot
                spans.append({"text": text, "x": origin.x, "y": origin.y, "size": span["size"], "rotate": rotate,
                              "width": bbox.width if rotate in (0, 180) else bbox.height})
    return spans


def build_text_layer(pages: list[tuple[float, float, list[dict]]]) -> bytes:
    """A PDF with one page per input page holding only invisible (render mode 3) text.

    Each copy starts from this, so text stays searchable and copyable without carrying the
    unmarked original's glyphs (which would defeat the marks).
    """
    doc = pymupdf.open()
    for width, height, spans in pages:
        page = doc.new_page(width=width, height=height)
        for s in spans:
            cjk = any(ord(ch) > 0x2E7F for ch in s["text"])
            font = "china-s" if cjk else "helv"
            natural = pymupdf.get_text_length(s["text"], fontname=font, fontsize=s["size"])
            sx = s["width"] / natural if natural > 0 and s["width"] > 0 else 1.0
            origin = pymupdf.Point(s["x"], s["y"])
            rotate = s.get("rotate", 0)
            stretch = pymupdf.Matrix(sx, 1) if rotate in (0, 180) else pymupdf.Matrix(1, sx)
            try:
                page.insert_text(origin, s["text"], fontsize=s["size"], fontname=font, render_mode=3,
                                 rotate=rotate, morph=(origin, stretch))
            except Exception:  # a glyph the base-14/CJK font cannot encode: leave that span out
                continue
    return doc.tobytes(garbage=3, deflate=True)


def write_copy(text_layer: bytes, images: list[bytes], out: Path, file_token: bytes | None = None) -> None:
    """Write one copy: the text layer plus each page's marked image filling the page; with `file_token`,
    the copy's `file` layer (trailer /ID and XMP DocumentID)."""
    doc = pymupdf.open("pdf", text_layer)
    try:
        for page, data in zip(doc, images, strict=True):
            page.insert_image(page.rect, stream=data, keep_proportion=False, overlay=True)
        if file_token is not None:
            filemark.stamp(doc, file_token)
        doc.save(out, garbage=1, deflate=True)
    except Exception as exc:  # MuPDF reports a full disk or a bad folder as its own error types
        raise OutputError(f"cannot write {out}: {exc}") from exc
    finally:
        doc.close()


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
        pix = page.get_pixmap(dpi=SEPARATOR_DPI, colorspace=pymupdf.csGRAY)
        gray = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width)
        return PageImage.bilevel_from(gray)
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
