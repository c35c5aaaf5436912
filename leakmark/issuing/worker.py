"""Per-page issuing work, in two kinds of picklable job.

`prepare_page` runs once per page and run: it renders the page, finds the units (unless the vault's
are given), computes what the vault needs for a new document, and leaves the rendering in the run's
page cache. `mark_copies` runs per page and batch of copies: it loads that rendering and makes each
copy from it with one working buffer (mark, encode, put the moved boxes back), so a copy costs its moves
and its encoding only. Workers get page images, units and per-copy seeds: never the workspace key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from leakmark import fingerprint, layers, units
from leakmark._io import PRIVATE_FILE, write_error
from leakmark.layers import LayerName, blind, shift, tone
from leakmark.layers.codes import signs
from leakmark.pdf.image import PageContent, PageImage, PageOutput
from leakmark.pdf.read import render_page

JPEG_QUALITY = 92


class ToneMode(StrEnum):
    on = "on"
    off = "off"
    auto = "auto"  # on picture pages only (share of non-text ink >= tone.PICTURE_SHARE)


@dataclass(frozen=True)
class PrepJob:
    source: Path
    kind: str
    index: int
    dpi: int
    delta: int
    password: str | None
    cache: Path  # where the rendering goes (.npy): mark jobs read it from there
    known_units: dict | None = None  # the units recorded at registration, reused for later runs
    want_vault: bool = True  # compute the original's PNG and fingerprint (first registration)
    tone: ToneMode = ToneMode.off  # the tone layer's two planes beside the rendering
    blind: bool = False  # and the blind layer's (the page embedded with all bits 0 and all bits 1)
    vector: bool = False  # try to mark this page in its own content (pdf.vector); else it stays raster
    text_layer: bool = False  # a raster page keeps its text, invisible and moved as its image (pdf.vector)
    vector_forms: bool = True  # text in form XObjects may be moved by editing them (not in a merged file)


@dataclass
class PrepResult:
    index: int
    width_pt: float
    height_pt: float
    units: dict
    spans: list[dict]
    shape: tuple[int, ...]
    original_png: bytes | None = None
    fp_points: np.ndarray | None = None
    fp_descriptors: np.ndarray | None = None
    fp_sizes: np.ndarray | None = None
    outline: fingerprint.Fingerprint | None = None  # the page index's outline keypoints (`leakmark.index`)
    stats: dict = field(default_factory=dict)
    mode: str = "raster"  # "vector": the page's plan is in `vector_plan`
    mode_reason: str = ""  # why a page asked to be vector stays raster
    vector_plan: bytes | None = None  # pickled pdf.vector.PagePlan (our own, from this run's prepare)
    text_plan: bytes | None = None  # the same for a raster page's invisible text layer


@dataclass(frozen=True)
class MarkJob:
    index: int
    units: dict
    delta: int
    # per page layer, one value per copy (`Layer.material`: HMAC-derived, the key never reaches workers);
    # shift always, tone or blind (never both) where the page carries them
    material: dict[LayerName, list[bytes]]
    page_files: tuple[str, ...] | None = None  # rendering, then each layer's planes; None: arguments (Dask)
    dpi: int = 300
    vector_plan: bytes | None = None  # the page is vector: each copy is its content stream
    text_plan: bytes | None = None  # a raster page's invisible text layer, made per copy with its image


@dataclass
class MarkResult:
    index: int
    images: list[PageOutput]  # one per seed, in order


def is_colour(rgb: np.ndarray) -> bool:
    """True when any visible part of the page has colour (a red 公文 header must stay red)."""
    small = rgb[::4, ::4].astype(np.int16)
    spread = small.max(axis=2) - small.min(axis=2)
    return int((spread > 40).sum()) > 20


def encode(image: np.ndarray) -> PageImage:
    """JPEG at high quality; greyscale pages as single-channel JPEG (a third of the bytes). Colour pages
    come in OpenCV's BGR order, as the page cache keeps them, so no conversion per copy."""
    colour = image.ndim == 3
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return PageImage(buf.tobytes(), image.shape[1], image.shape[0], colour=colour)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One page per process: OpenCV's own threads would only contend. Restored afterwards, since the serial
    executor runs jobs in the caller's process."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def prepare_page(job: PrepJob) -> PrepResult:
    with _one_thread():
        return _prepare_page(job)


def _prepare_page(job: PrepJob) -> PrepResult:
    page = render_page(job.source, job.kind, job.index, job.dpi, job.password)
    gray = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
    if job.known_units is not None:
        pu = units.PageUnits.from_json(job.known_units)
    elif page.rawdict is not None:
        pu = units.from_text(page.rawdict, page.matrix, gray, job.delta)
    else:
        pu = units.from_image(gray, job.delta)
    base = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2BGR) if is_colour(page.rgb) else gray
    _save_npy(job.cache, base)
    picture = round(picture_share(gray, pu), 4)
    toned = job.tone == ToneMode.on or (job.tone == ToneMode.auto and picture >= tone.PICTURE_SHARE)
    for name in (*([LayerName.tone] if toned else []), *([LayerName.blind] if job.blind else [])):
        for file, plane in zip(plane_files(job.cache, name), layers.get(name).prepare(base, gray, job.dpi),
                               strict=True):
            _save_npy(file, plane)
    result = PrepResult(index=job.index, width_pt=page.width_pt, height_pt=page.height_pt, units=pu.to_json(),
                        spans=page.spans, shape=base.shape,
                        stats={"words": pu.n_words, "lines": int((pu.lines[:, 2] > pu.lines[:, 0]).sum()),
                               "rules": pu.n_rules, "marks": pu.n_blobs, "picture": picture, "tone": toned})
    if job.vector and (toned or job.blind):
        result.mode_reason = "the page carries the tone or blind layer, which live in its pixels"
    # the PDF is read once for both plans (a page that cannot be vector gets a text layer instead)
    data = job.source.read_bytes() if job.kind == "pdf" and (job.vector or job.text_layer) else b""
    if job.vector and not (toned or job.blind):
        result.mode, result.mode_reason, result.vector_plan = _plan_vector(job, data, gray, pu)
    result.stats["mode"] = result.mode
    if job.text_layer and result.mode != "vector" and data:
        result.text_plan = _plan_text(job, data, pu)
    if job.want_vault:
        _ok, png = cv2.imencode(".png", gray)
        result.original_png = png.tobytes()
        fp = fingerprint.of_page(gray, job.dpi)
        result.fp_points, result.fp_descriptors, result.fp_sizes = fp.points, fp.descriptors, fp.sizes
        result.outline = fingerprint.outline_of_page(gray, job.dpi)  # of the gray stored: a rebuild makes the same
    return result


def _plan_vector(job: PrepJob, data: bytes, gray: np.ndarray, pu: units.PageUnits) -> tuple[str, str, bytes | None]:
    """("vector", "", plan) when the page's own content can carry the marks, else ("raster", why, None)."""
    from leakmark.pdf import vector

    if job.kind != "pdf":
        return "raster", "an image has no content to edit", None
    try:
        plan = vector.plan(data, job.index, pu, job.dpi, job.delta, job.password, forms=job.vector_forms)
        vector.verify(plan, data, job.index, gray, job.dpi, job.password)
    except vector.NotEditable as exc:
        return "raster", str(exc), None
    return "vector", "", pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)


def _plan_text(job: PrepJob, data: bytes, pu: units.PageUnits) -> bytes | None:
    """A raster page's text as an invisible layer whose glyphs move with the units of its image, so that
    making the text visible shows a marked page too; None when the text cannot be planned (then the page
    has no text layer, rather than an unmarked one)."""
    from leakmark.pdf import vector

    try:
        plan = vector.plan(data, job.index, pu, job.dpi, job.delta, job.password, text_only=True)
    except vector.NotEditable:
        return None
    return pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)


def picture_share(gray: np.ndarray, pu: units.PageUnits) -> float:
    """The share of the page covered by ink that is not text (photos, charts, rules, stamps, shading): where
    the shift layer has nothing to move and the tone layer has something to carry."""
    ink = gray < 230
    for boxes in (pu.lines, pu.words):
        for x0, y0, x1, y1 in boxes.tolist():
            if x1 > x0:
                ink[max(0, y0 - 4):y1 + 4, max(0, x0 - 4):x1 + 4] = False
    return float(ink.mean())


def plane_files(cache: Path, layer: LayerName) -> tuple[Path, Path]:
    """Where a layer's two planes go beside the page rendering (tone: plus, minus; blind: bits 0, 1)."""
    return cache.with_suffix(f".{layer}-0.npy"), cache.with_suffix(f".{layer}-1.npy")


def layer_files(cache: Path, page_layers: tuple[LayerName, ...]) -> list[Path]:
    """The rendering and the planes of the page's layers, in the order `mark_copies` takes them."""
    return [cache, *(f for name in (LayerName.tone, LayerName.blind) if name in page_layers
                     for f in plane_files(cache, name))]


def mark_copies(job: MarkJob, arrays: tuple[np.ndarray, ...] | None = None) -> MarkResult:
    with _one_thread():
        result = _mark_copies(job, arrays)
    if job.text_plan is not None:
        plan = pickle.loads(job.text_plan)  # made by this run's prepare_page, never read from outside
        seeds = job.material[LayerName.shift]
        result.images = [dataclasses.replace(img, text=plan.content(signs(seed, plan.units.n_codes)))
                         if isinstance(img, PageImage) else img for img, seed in zip(result.images, seeds, strict=True)]
    return result


def _mark_copies(job: MarkJob, arrays: tuple[np.ndarray, ...] | None) -> MarkResult:
    if job.vector_plan is not None:
        plan = pickle.loads(job.vector_plan)  # made by this run's prepare_page, never read from outside
        seeds = job.material[LayerName.shift]
        codes = [signs(s, plan.units.n_codes) for s in seeds]
        return MarkResult(index=job.index, images=[PageContent(plan.content(c), tuple(plan.form_contents(c).items()))
                                                   for c in codes])
    arrays = tuple(np.load(f) for f in job.page_files or ()) if arrays is None else arrays
    base = arrays[0]
    pu = units.PageUnits.from_json(job.units)
    images: list[PageOutput] = []
    seeds = job.material[LayerName.shift]
    if LayerName.blind in job.material:  # (never with tone: see issuing.IssueOptions.validate)
        zero, one = arrays[-2], arrays[-1]
        marked = base.copy()
        work = base.copy()
        for seed, packed in zip(seeds, job.material[LayerName.blind], strict=True):
            blind.apply(zero, one, np.unpackbits(np.frombuffer(packed, np.uint8)), out=marked)
            work[:] = marked
            shift.apply(marked, pu, signs(seed, pu.n_codes), job.delta, out=work)
            images.append(encode(work))
        return MarkResult(index=job.index, images=images)
    if LayerName.tone not in job.material:  # shift only: mark, encode, put the moved boxes back
        work = base.copy()
        for seed in seeds:
            shift.apply(base, pu, signs(seed, pu.n_codes), job.delta, out=work)
            images.append(encode(work))
            shift.restore(work, base, pu, job.delta)
        return MarkResult(index=job.index, images=images)
    plus, minus = arrays[1], arrays[2]
    n = tone.n_cells(base.shape, job.dpi)
    painter = tone.Painter(plus, minus, job.dpi)
    toned = minus.copy()  # the page with the current copy's tone; `work` is that, shifted
    work = minus.copy()
    for seed, tseed in zip(seeds, job.material[LayerName.tone], strict=True):
        painter.paint(signs(tseed, n), toned, work)
        shift.apply(toned, pu, signs(seed, pu.n_codes), job.delta, out=work)  # words move with their tone
        images.append(encode(work))
        shift.restore(work, toned, pu, job.delta)
    return MarkResult(index=job.index, images=images)


def _save_npy(path: Path, array: np.ndarray) -> None:
    """Into the run's page cache: private (0600: an unmarked page), atomic, a full disk as OutputError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
