"""Reading inputs: PDFs and page images, checked, hashed and rendered one page at a time."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from leakmark._mupdf import pymupdf
from leakmark.errors import EncryptedPdfError, InputFileError
from leakmark.rendering import page_array

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 400_000_000  # a 600 dpi A0 scan is legitimate input (Pillow refuses > 179 M by default)


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
    saved = Image.MAX_IMAGE_PIXELS  # Pillow's limit is a module global: raised for this call only
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        img = Image.open(path)
        img.load()
    except Exception as exc:
        raise InputFileError(f"{path} is not a readable image ({exc})") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = saved
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
            rgb = page_array(page, dpi, mode="rgb")
            rawdict = page.get_text("rawdict", flags=pymupdf.TEXT_PRESERVE_WHITESPACE)
            scale = rgb.shape[1] / page.rect.width
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
