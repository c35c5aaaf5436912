"""What a trace can keep for the evidence report (`TraceOptions(keep_artifacts=True)` → `result.artifacts`).

Only when asked: the evidence as received, where the page was found in it, the aligned evidence and the
archived original (all downscaled to at most `MAX_SIDE` pixels, for at most `MAX_PAGES` pages, so a
2,000-page evidence PDF keeps a few megabytes), the shift layer's per-unit measurement with each named
copy's agreement, and every issued copy's fused score for the chart. A normal trace keeps none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from leakmark.fingerprint import FP_DPI
from leakmark.layers import LayerName
from leakmark.layers.codes import sign_matrix
from leakmark.trace import decide
from leakmark.units import PageUnits

if TYPE_CHECKING:
    from leakmark.trace.result import Suspect

MAX_SIDE = 1000  # pixels on the longer side of every kept image
MAX_PAGES = 8  # evidence pages whose images are kept (the rest are listed by the report with their hashes)
MAX_OVERLAY_COPIES = 3  # copies whose per-unit agreement is kept (the named ones, else the best-scoring)
ZOOM_BELOW = 0.5  # a capture covering less than this share of the page is also kept close up, for the overlay
ZOOM_MARGIN = 0.04  # of the page's longer side, around the covered part


class UnitKind:
    word, line, rule, mark = 0, 1, 2, 3


def thumbnail(gray: np.ndarray, side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """`gray` reduced to at most `side` pixels on its longer side (never enlarged), and the scale used."""
    scale = min(1.0, side / max(gray.shape[:2]))
    if scale >= 1.0:
        return gray.copy(), 1.0
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


@dataclass
class PageArtifacts:
    """One evidence page. `report` is its index in `result.evidence`."""

    report: int
    received: np.ndarray  # the evidence page as received (gray, downscaled)
    # what was located: the page's outline (4 corners, in `located` pixels), on the image as located
    # (the mirror image when the capture was mirrored); None when no registered page was found
    located: np.ndarray | None = None
    outline: np.ndarray | None = None
    mirrored: bool = False
    doc_id: str = ""
    page: int = -1  # 0-based page of the document
    aligned: np.ndarray | None = None  # evidence aligned onto the original (same size as `original`)
    valid: np.ndarray | None = None  # where the aligned evidence has data
    original: np.ndarray | None = None  # the archived original's rendering, downscaled
    # a partial capture close up: the aligned evidence around the part it covers (at most MAX_SIDE), its
    # coverage, and the box ((x0, y0) in original pixels) and scale it was taken with; None for a whole page
    zoom: np.ndarray | None = None
    zoom_valid: np.ndarray | None = None
    zoom_origin: tuple[int, int] = (0, 0)
    zoom_scale: float = 1.0
    scale: float = 1.0  # original pixels -> `original`/`aligned` pixels
    # the shift layer's units on the page (boxes in original rendering pixels), their kind, what each measured
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    kinds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    values: np.ndarray | None = None  # per code position (see `units.PageUnits.n_codes`), 0 = not measured
    units: PageUnits | None = None
    # per copy number: each unit's contribution to that copy's shift score (value × its code; > 0: moved as
    # the copy's code says, < 0: against it, 0: not measured); filled by `finish`
    agreement: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class TraceArtifacts:
    pages: list[PageArtifacts] = field(default_factory=list)
    dropped: int = 0  # evidence pages beyond MAX_PAGES whose images were not kept
    # every issued copy of the traced document: its number, fused score and FAP (as the verdict computed them)
    numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    faps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tests: int = 1  # layer combinations tried per copy (the FAP counts candidates × tests)
    weight: float = 1.0  # the whole evidence's share of the bound (`colluders`): its FAP is divided by it

    def keep(self, page: PageArtifacts) -> bool:
        """Whether there is room for another page's images (MAX_PAGES); counts the ones dropped."""
        if len(self.pages) >= MAX_PAGES:
            self.dropped += 1
            return False
        self.pages.append(page)
        return True


def capture_received(artifacts: TraceArtifacts, report: int, gray: np.ndarray) -> PageArtifacts | None:
    """Keep the evidence page as received (None when MAX_PAGES are already kept)."""
    page = PageArtifacts(report=report, received=thumbnail(gray)[0])
    return page if artifacts.keep(page) else None


def capture_location(page: PageArtifacts, located: np.ndarray, H: np.ndarray, mirrored: bool,
                     original_shape: tuple[int, ...], dpi: int) -> None:
    """The page's outline on the evidence as located (`H`: located pixels -> fingerprint pixels)."""
    small, scale = thumbnail(located)
    h, w = original_shape[:2]
    f = FP_DPI / dpi
    corners = np.array([[0, 0], [w * f, 0], [w * f, h * f], [0, h * f]], np.float64)
    try:
        back = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), np.linalg.inv(H)).reshape(-1, 2)
    except np.linalg.LinAlgError:
        return
    page.located, page.outline, page.mirrored = small, (back * scale).astype(np.float32), mirrored


def capture_alignment(page: PageArtifacts, doc_id: str, index: int, aligned: np.ndarray, valid: np.ndarray,
                      original: np.ndarray, units: PageUnits, shift_values: np.ndarray | None) -> None:
    """The aligned evidence beside the original, and the shift layer's per-unit measurement."""
    page.doc_id, page.page = doc_id, index
    page.original, page.scale = thumbnail(original)
    page.aligned = cv2.resize(aligned, page.original.shape[::-1], interpolation=cv2.INTER_AREA)
    page.valid = cv2.resize(valid.astype(np.uint8), page.original.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    if valid.any() and valid.mean() < ZOOM_BELOW:
        h, w = valid.shape
        ys, xs = np.nonzero(valid)
        pad = round(ZOOM_MARGIN * max(h, w))
        y0, y1 = max(0, int(ys.min()) - pad), min(h, int(ys.max()) + 1 + pad)
        x0, x1 = max(0, int(xs.min()) - pad), min(w, int(xs.max()) + 1 + pad)
        page.zoom, page.zoom_scale = thumbnail(aligned[y0:y1, x0:x1])
        page.zoom_valid = cv2.resize(valid[y0:y1, x0:x1].astype(np.uint8), page.zoom.shape[::-1],
                                     interpolation=cv2.INTER_NEAREST) > 0
        page.zoom_origin = (x0, y0)
    page.units = units
    page.values = None if shift_values is None else shift_values.astype(np.float32)
    boxes = [units.words, units.lines, units.rules, units.blobs]
    page.boxes = np.concatenate([b.reshape(-1, 4) for b in boxes]).astype(np.float32)
    page.kinds = np.concatenate([np.full(len(b), k, np.int8) for k, b in enumerate(boxes)])


def overlay_copies(suspects: list[Suspect], named: int) -> list[int]:
    """Whose per-unit agreement the report draws: the named copies; else every copy in the inconclusive band
    (evidence pasted from several copies shows which parts follow which), else the best-scoring one."""
    if named:
        return [s.copy.copy_no for s in suspects[:named]][:MAX_OVERLAY_COPIES]
    suggestive = [s.copy.copy_no for s in suspects if s.fap < decide.INCONCLUSIVE_FAP]
    return (suggestive or [s.copy.copy_no for s in suspects[:1]])[:MAX_OVERLAY_COPIES]


def finish(artifacts: TraceArtifacts, key: bytes, result_numbers: list[int], layer_scores: dict[str, np.ndarray],
           shown: list[int], aligned_reports: set[int], weight: float = 1.0) -> None:
    """After the verdict: every copy's fused score and FAP on the whole evidence (recomputed from the per-layer
    scores exactly as the verdict's first round fused them, the bound divided by the whole evidence's `weight`),
    and per kept page each shown copy's per-unit agreement with its shift code.

    `shown`: the copy numbers whose agreement is drawn (`overlay_copies`);
    `aligned_reports`: the evidence pages the verdict used (a page of another document is not drawn)."""
    if layer_scores:
        layers = {name: (np.nan_to_num(v), ~np.isnan(v)) for name, v in layer_scores.items()}
        z, tests = decide.fuse(layers)
        artifacts.numbers = np.asarray(result_numbers, np.int64)
        artifacts.scores = z
        artifacts.faps = np.minimum(1.0, decide.fap(z, len(z) * tests) / weight)
        artifacts.tests, artifacts.weight = tests, weight
    for page in artifacts.pages:
        if page.report not in aligned_reports:
            page.aligned = page.values = page.zoom = None
            continue
        if page.values is None or page.units is None or not shown:
            continue
        u = page.units
        codes = sign_matrix(key, page.doc_id, shown[:MAX_OVERLAY_COPIES], LayerName.shift, page.page, u.n_codes)
        for number, code in zip(shown, codes, strict=False):
            page.agreement[number] = _per_unit(page.values * code, u)


def _per_unit(contrib: np.ndarray, u: PageUnits) -> np.ndarray:
    """Per code position contributions summed per unit, in `boxes` order (a mark has an x and a y position)."""
    n, m, k = u.n_words, u.n_lines, u.n_rules
    marks = contrib[n + m + k:].reshape(-1, 2).sum(axis=1) if u.n_blobs else np.zeros(0, np.float32)
    return np.concatenate([contrib[:n + m + k], marks]).astype(np.float32)
