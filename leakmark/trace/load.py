"""Load evidence: images (JPEG, PNG, TIFF, multi-page TIFF) and PDFs (each page rendered)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageOps

from leakmark._mupdf import pymupdf
from leakmark.pdf import read as pdf

EVIDENCE_DPI = 300  # PDF evidence is rendered at the usual issue resolution


@dataclass
class EvidencePage:
    path: Path
    sha256: str
    page: int  # 1-based page of the evidence file
    gray: np.ndarray  # uint8


def load(path: Path, password: str | None = None) -> list[EvidencePage]:
    path = Path(path)
    kind = pdf.sniff_kind(path)
    digest = pdf.sha256_file(path)
    out: list[EvidencePage] = []
    if kind == "pdf":
        doc = pdf.open_pdf(path, password)
        try:
            for i, page in enumerate(doc.pages()):
                pix = page.get_pixmap(dpi=EVIDENCE_DPI, colorspace=pymupdf.csGRAY, alpha=False)
                gray = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).copy()
                out.append(EvidencePage(path=path, sha256=digest, page=i + 1, gray=gray))
        finally:
            doc.close()
        return out
    img = pdf.open_image(path)
    for i in range(getattr(img, "n_frames", 1)):
        img.seek(i)
        frame = ImageOps.exif_transpose(img.convert("L"))  # phone photos carry their rotation in EXIF
        out.append(EvidencePage(path=path, sha256=digest, page=i + 1, gray=np.asarray(frame, dtype=np.uint8).copy()))
    return out
