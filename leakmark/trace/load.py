"""Load evidence: images (JPEG, PNG, TIFF, multi-page TIFF) and PDFs (each page rendered), a page at a time.

`open_evidence` checks a file and counts its pages (nothing rendered yet); `Evidence.pages()` then renders or
decodes one page at a time, so a 10,000-page PDF costs the memory of one page. Every page is at most
`decode.MAX_EVIDENCE_PIXELS`: big images are reduced while they are decoded, PDF pages rendered at a lower
resolution (never more than `EVIDENCE_DPI`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leakmark._mupdf import pymupdf
from leakmark.errors import EvidenceFolderError, InputFileError
from leakmark.pdf import read as pdf
from leakmark.trace import decode
from leakmark.trace.pdf_measure import PageText, page_text

log = logging.getLogger(__name__)

EVIDENCE_DPI = 300  # PDF evidence is rendered at the usual issue resolution


@dataclass
class EvidencePage:
    path: Path
    sha256: str
    page: int  # 1-based page of the evidence file
    gray: np.ndarray  # uint8
    text: PageText | None = None  # a PDF page's characters and where they are (trace.pdf_measure)


@dataclass(frozen=True)
class Evidence:
    """One evidence file, checked and hashed; its pages are rendered when iterated."""

    path: Path
    sha256: str
    kind: str  # "pdf" or "image"
    size: int  # bytes hashed
    count: int  # pages (PDF) or frames (image)
    password: str | None = None
    budget: int = decode.MAX_EVIDENCE_PIXELS

    def pages(self) -> Iterator[EvidencePage]:
        if self.kind == "pdf":
            yield from self._pdf_pages()
            return
        for i, gray in enumerate(decode.gray_frames(self.path, self.budget)):
            yield EvidencePage(path=self.path, sha256=self.sha256, page=i + 1, gray=gray)

    def _pdf_pages(self) -> Iterator[EvidencePage]:
        doc = pdf.open_pdf(self.path, self.password)
        try:
            for i in range(doc.page_count):
                gray = self._render(doc, i)
                yield EvidencePage(path=self.path, sha256=self.sha256, page=i + 1, gray=gray, text=self._text(doc, i))
        finally:
            doc.close()

    @staticmethod
    def _text(doc: pymupdf.Document, i: int) -> PageText | None:
        try:
            return page_text(doc.load_page(i))
        except Exception:  # unreadable text: the page is measured from its rendering alone
            return None

    def _render(self, doc: pymupdf.Document, i: int) -> np.ndarray:
        where = f"{self.path}, page {i + 1}"
        try:
            page = doc.load_page(i)
            w_in, h_in = page.rect.width / 72, page.rect.height / 72
            dpi = min(float(EVIDENCE_DPI), math.sqrt(self.budget / max(w_in * h_in, 1e-9)) * 0.999)
            if min(w_in, h_in) * dpi < pdf.MIN_SIDE_PX:
                raise InputFileError(f"{where} is {page.rect.width:.1f} × {page.rect.height:.1f} pt: too small to "
                                     "show a page (check its MediaBox/CropBox, or leave that file out)")
            pix = page.get_pixmap(matrix=pymupdf.Matrix(dpi / 72, dpi / 72), colorspace=pymupdf.csGRAY,
                                  alpha=False)
            return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).copy()
        except InputFileError:
            raise
        except Exception as exc:  # MuPDF's own types for every kind of damage
            raise InputFileError(f"{where} cannot be rendered ({exc}); repair the PDF (re-save it or print it to "
                                 "a new PDF), or leave that file out") from exc


def open_evidence(path: Path, password: str | None = None, budget: int = decode.MAX_EVIDENCE_PIXELS) -> Evidence:
    """Check an evidence file (exists, is a PDF or an image, opens, has pages) and hash it; render nothing."""
    path = Path(path)
    if path.is_dir():
        raise EvidenceFolderError(f"{path} is a folder: trace every file in it as a separate leak with --each, "
                                  "or name the files of one leak")
    kind = pdf.sniff_kind(path)
    if kind == "pdf":
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        doc = pdf.open_pdf(path, password)
        try:
            count, repaired = doc.page_count, bool(doc.is_repaired)
        finally:
            doc.close()
        if repaired:  # evidence is what it is: traced as MuPDF reads it, and its sha256 recorded as given
            log.warning("evidence %s is a damaged PDF that MuPDF repaired; its pages are traced as MuPDF "
                        "reads them", path)
    else:
        count = _frames(path)
    sha256, size = _hashed(path)
    return Evidence(path=path, sha256=sha256, kind=kind, size=size, count=count, password=password, budget=budget)


def _hashed(path: Path) -> tuple[str, int]:
    """SHA-256 and size of the same bytes (the register records both for the chain of custody)."""
    h, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    return h.hexdigest(), size


def _frames(path: Path) -> int:
    img = pdf.open_image(path, load=False)
    with img:
        return pdf.image_frames(img, path)


def load(path: Path, password: str | None = None) -> Iterator[EvidencePage]:
    """The pages of one evidence file, one at a time (the file is checked before the first is rendered)."""
    return open_evidence(path, password).pages()
