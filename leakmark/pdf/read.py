"""Reading inputs: PDFs and page images, checked, hashed and rendered one page at a time."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from leakmark._mupdf import pymupdf
from leakmark.errors import EncryptedPdfError, InputFileError, LeakmarkError
from leakmark.rendering import page_array

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 400_000_000  # a 600 dpi A0 scan is legitimate input (Pillow refuses > 179 M by default)
MIN_SIDE_PX = 32  # a page (or a capture of one) narrower than this carries no mark and shows nothing to trace


@dataclass(frozen=True)
class SourceInfo:
    path: Path
    kind: str  # "pdf" or "image"
    sha256: str
    pages: int
    title: str
    page_sizes: tuple[tuple[float, float], ...] = ()  # per page: PDF points, or pixels for images
    repaired: bool = False  # MuPDF had to repair a damaged PDF (accepted only with `repair=True`)


SNIFF_BYTES = 1024  # how much of a file's start `kind_of` looks at


def kind_of(head: bytes) -> str | None:
    """'pdf', 'image' or None (neither) from a file's first SNIFF_BYTES bytes: its content, not its name."""
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        return "image"
    return None


def sniff_kind(path: Path) -> str:
    """'pdf' or 'image' from the file's first bytes, with clear errors for the usual mistakes."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give a PDF or an image file")
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror}); check its permissions") from exc
    if not head:
        raise InputFileError(f"{path} is empty (0 bytes); give the real document")
    kind = kind_of(head)
    if kind is None:
        raise InputFileError(f"{path} is neither a PDF nor a PNG/JPEG/TIFF image; convert it to PDF first")
    return kind


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
    try:
        if doc.needs_pass:
            if not password:
                raise EncryptedPdfError(f"{path} is encrypted; give its password with --password")
            if not doc.authenticate(password):
                raise EncryptedPdfError(f"the password given for {path} is wrong")
        if doc.page_count == 0:
            raise InputFileError(f"{path} has no pages")
    except LeakmarkError:
        doc.close()
        raise
    except Exception as exc:  # e.g. a page tree MuPDF cannot count
        doc.close()
        raise InputFileError(f"{path} is not a readable PDF ({exc}); repair it or print it to a new PDF") from exc
    return doc


def image_frames(img: Image.Image, path: Path) -> int:
    """How many pages (frames) an opened image has; a damaged multi-page file is a typed error."""
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception as exc:
        raise InputFileError(f"{path} is not a readable image ({exc}); open it in an image viewer and save it "
                             "again as PNG or JPEG") from exc


def open_image(path: Path, *, load: bool = True, max_pixels: int | None = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open an image; with `load`, decode it (then it must be at most `max_pixels`: refused before decoding)."""
    saved = Image.MAX_IMAGE_PIXELS  # Pillow's limit is a module global: off for this call, we check ourselves
    Image.MAX_IMAGE_PIXELS = None
    try:
        img = Image.open(path)
        check_image_size(path, img.size, max_pixels if load else None)
        if load:
            img.load()
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"{path} is not a readable image ({exc}); open it in an image viewer and save "
                             "it again as PNG or JPEG") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    return img


def check_image_size(path: Path, size: tuple[int, int], max_pixels: int | None, page: int | None = None) -> None:
    """Degenerate sizes as typed errors: too small to carry or show a mark, or too large to decode."""
    w, h = size
    where = f"{path}" + (f", page {page}," if page is not None else "")
    if min(w, h) < MIN_SIDE_PX:
        raise InputFileError(f"{where} is {w} × {h} pixels: too small to carry or show a mark (at least "
                             f"{MIN_SIDE_PX} pixels a side); give the whole page, scanned or photographed")
    if max_pixels is not None and w * h > max_pixels:
        raise InputFileError(f"{where} is {w} × {h} pixels ({w * h / 1e6:.0f} megapixels), more than leakmark "
                             f"decodes ({max_pixels / 1e6:.0f} megapixels); scale it down (a page at 300–600 dpi "
                             "is enough)")


def check_pages(info: SourceInfo, dpi: int) -> None:
    """Every page of an input to `issue` renders to a sensible size at `dpi`: neither a speck nor gigapixels."""
    for i, (w, h) in enumerate(info.page_sizes, start=1):
        if info.kind != "pdf":
            check_image_size(info.path, (int(w), int(h)), MAX_IMAGE_PIXELS, page=i if info.pages > 1 else None)
            continue
        pw, ph = w * dpi / 72, h * dpi / 72
        mm = f"{w * 25.4 / 72:.0f} × {h * 25.4 / 72:.0f} mm"
        if min(pw, ph) < MIN_SIDE_PX:
            raise InputFileError(f"{info.path}, page {i} is {w:.1f} × {h:.1f} pt ({mm}): at {dpi} dpi that is "
                                 f"{pw:.0f} × {ph:.0f} pixels, too small to carry a mark; check the page size "
                                 "(MediaBox/CropBox) of the PDF")
        if pw * ph > MAX_IMAGE_PIXELS:
            top = int(72 * math.sqrt(MAX_IMAGE_PIXELS / (w * h)))
            hint = (f"issue it with --dpi {top} or lower, or " if top >= 72 else "") + \
                "scale the page to a paper size (e.g. print it to an A4 or A3 PDF)"
            raise InputFileError(f"{info.path}, page {i} is {mm}: at {dpi} dpi that is {pw * ph / 1e6:.0f} "
                                 f"megapixels, more than leakmark renders ({MAX_IMAGE_PIXELS / 1e6:.0f}); {hint}")


def inspect(path: Path, password: str | None = None, *, repair: bool = False) -> SourceInfo:
    """Check an input to `issue` and return what the ledger needs about it.

    A PDF that MuPDF had to repair (broken cross-reference table, truncated file) is refused unless `repair`:
    what MuPDF recovers may lack pages or parts of them, and the copies would silently differ from the
    original the author meant."""
    path = Path(path)
    kind = sniff_kind(path)
    if kind == "pdf":
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        doc = open_pdf(path, password)
        try:
            pages = doc.page_count
            try:
                title = (doc.metadata or {}).get("title") or path.stem
            except Exception:  # damaged metadata: the file name
                title = path.stem
            sizes = []
            for i in range(pages):  # every page and its content, so that a repair made on demand shows too
                try:
                    page = doc.load_page(i)
                    page.read_contents()
                except Exception as exc:  # MuPDF's own types for every kind of damage
                    raise InputFileError(f"{path}: page {i + 1} cannot be read ({exc}); repair the PDF (re-save it "
                                         "from the program that made it, or print it to a new PDF)") from exc
                sizes.append((float(page.rect.width), float(page.rect.height)))
            repaired = bool(doc.is_repaired)
        finally:
            doc.close()
        if repaired:
            said = "; ".join(x for x in pymupdf.TOOLS.mupdf_warnings(reset=True).splitlines()[:3] if x)
            if not repair:
                raise InputFileError(
                    f"{path} is damaged: MuPDF had to repair it ({said or 'broken structure'}), so pages or parts "
                    "of them may be missing. Repair it (re-save it from the program that made it, or print it to a "
                    "new PDF) and issue that, or pass --repair to issue it as MuPDF reads it")
            log.warning("%s is damaged and was repaired by MuPDF (%s); its copies are made from what MuPDF "
                        "recovered: check them page by page", path, said or "broken structure")
    else:
        img = open_image(path, load=False)
        pages, title, repaired = image_frames(img, path), path.stem, False
        sizes = []
        for i in range(pages):
            try:
                img.seek(i)
                check_image_size(path, img.size, MAX_IMAGE_PIXELS, page=i + 1 if pages > 1 else None)
                img.load()  # damage shows now, not in a worker
            except InputFileError:
                raise
            except Exception as exc:
                raise InputFileError(f"{path} is not a readable image ({exc}); open it in an image viewer and "
                                     "save it again as PNG or JPEG") from exc
            sizes.append((float(img.size[0]), float(img.size[1])))
    return SourceInfo(path=path, kind=kind, sha256=sha256_file(path), pages=pages, title=title,
                      page_sizes=tuple(sizes), repaired=repaired)


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
    try:
        return _render_page(path, kind, index, dpi, password)
    except LeakmarkError:
        raise
    except (Exception, MemoryError) as exc:  # MuPDF's and Pillow's own types for every kind of damage
        raise InputFileError(f"{path}: page {index + 1} cannot be rendered ({type(exc).__name__}: {exc}); repair "
                             "the file (re-save it, or print it to a new PDF)") from exc


def _render_page(path: Path, kind: str, index: int, dpi: int, password: str | None) -> RenderedPage:
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
    img = open_image(path, load=False)
    img.seek(index)
    check_image_size(path, img.size, MAX_IMAGE_PIXELS)
    img.load()
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
