"""Per-page issuing work: picklable job in, picklable result out.

A worker renders its page once, finds the units (unless the ledger's are given), and makes every
copy of that page from the one rendering. The parent writes the PDFs, the vault and the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from leakmark import fingerprint, pdf
from leakmark.watermark import shift, units
from leakmark.watermark.codes import signs

JPEG_QUALITY = 92


@dataclass(frozen=True)
class PageJob:
    source: Path
    kind: str
    index: int
    dpi: int
    delta: int
    password: str | None
    seeds: list[bytes]  # one per copy: HMAC-derived, the key itself never reaches workers
    known_units: dict | None = None  # the units recorded at registration, reused for later runs
    want_vault: bool = True  # compute the original's PNG and fingerprint (first registration)


@dataclass
class PageResult:
    index: int
    width_pt: float
    height_pt: float
    units: dict
    spans: list[dict]
    images: list[bytes]  # one encoded image per copy, in seed order
    original_png: bytes | None = None
    fp_points: np.ndarray | None = None
    fp_descriptors: np.ndarray | None = None
    stats: dict = field(default_factory=dict)


def is_colour(rgb: np.ndarray) -> bool:
    """True when any visible part of the page has colour (a red 公文 header must stay red)."""
    small = rgb[::4, ::4].astype(np.int16)
    spread = small.max(axis=2) - small.min(axis=2)
    return int((spread > 40).sum()) > 20


def encode(image: np.ndarray) -> bytes:
    """JPEG at high quality; greyscale pages as single-channel JPEG (a third of the bytes)."""
    if image.ndim == 3:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    else:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def run_page(job: PageJob) -> PageResult:
    cv2.setNumThreads(1)  # one page per process: OpenCV's own threads would only contend
    page = pdf.render_page(job.source, job.kind, job.index, job.dpi, job.password)
    gray = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
    if job.known_units is not None:
        pu = units.PageUnits.from_json(job.known_units)
    elif page.rawdict is not None:
        pu = units.from_text(page.rawdict, page.matrix, gray, job.delta)
    else:
        pu = units.from_image(gray, job.delta)
    base = page.rgb if is_colour(page.rgb) else gray
    images = [encode(shift.apply(base, pu, signs(seed, pu.n_codes), job.delta)) for seed in job.seeds]
    result = PageResult(index=job.index, width_pt=page.width_pt, height_pt=page.height_pt, units=pu.to_json(),
                        spans=page.spans, images=images,
                        stats={"words": pu.n_words, "lines": int((pu.lines[:, 2] > pu.lines[:, 0]).sum())})
    if job.want_vault:
        _ok, png = cv2.imencode(".png", gray)
        result.original_png = png.tobytes()
        fp = fingerprint.of_page(gray, job.dpi)
        result.fp_points, result.fp_descriptors = fp.points, fp.descriptors
    return result
