"""`trace`: evidence files → located pages → aligned → measured → every issued copy scored (`score`) → verdict.

The options and the result it returns are in `result`; they are imported from here too."""

from __future__ import annotations

import copy
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from leakmark import index as page_index
from leakmark import layers, vault
from leakmark._progress import NullProgress, Progress
from leakmark.fingerprint import FP_DPI, Fingerprint
from leakmark.layers import CODEWORD, LayerName, blind, tone
from leakmark.layers import file as filemark
from leakmark.layers.base import MeasureContext, Measurement
from leakmark.ledger import Copy, Document, Ledger
from leakmark.pdf.read import sniff_kind
from leakmark.trace import artifacts as kept
from leakmark.trace import colluders, load, locate, pdf_measure
from leakmark.trace.align import align
from leakmark.trace.decide import Verdict
from leakmark.trace.page import page_quad, unwarp
from leakmark.trace.result import SCORED_LAYERS, EvidenceFile, EvidenceReport, TraceOptions, TraceResult
from leakmark.trace.score import _decide, _PageMeasure, carries
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = ["SCORED_LAYERS", "EvidenceReport", "TraceOptions", "TraceResult", "carries", "trace"]



def trace(workspace: Workspace, options: TraceOptions, progress: Progress | None = None) -> TraceResult:
    options.validate()
    progress = progress or NullProgress()
    timings: dict[str, float] = defaultdict(float)
    t = time.perf_counter()
    files = [load.open_evidence(Path(path), options.password) for path in options.evidence]  # all checked first
    pages = _streamed(files, timings, progress)  # rendered one at a time: memory of one page, not of the file
    # an issued PDF forwarded as a file carries its copy's file identifiers: read per evidence file
    tokens = {str(Path(path)): ids for path in options.evidence
              if _wanted(options, filemark.LAYER) and sniff_kind(Path(path)) == "pdf"
              and (ids := filemark.read(Path(path), options.password))}
    timings["load"] += time.perf_counter() - t
    with Ledger(workspace) as ledger:
        ledger.check(trust=options.trust_register)  # exit 7 unless trusted; copies reads are checked from here on
        docs = [ledger.document(options.doc_id)] if options.doc_id else ledger.documents()
        t = time.perf_counter()
        refs = _candidates(workspace, docs, timings)
        timings["index"] += time.perf_counter() - t
        by_id = {d.id: d for d in docs}
        reports: list[EvidenceReport] = []
        measures: list[_PageMeasure] = []
        alternatives: list[list[_PageMeasure]] = []  # per measured page: the same page in other documents
        copies_of = functools.cache(ledger.copies)  # once per document: it can be 100,000 rows
        measurable = functools.cache(lambda doc_id, page, name: _measurable(
            name, [c for c in copies_of(doc_id) if carries(c, name, page)]))
        blinded = functools.cache(lambda doc_id: any(blind.LAYER in c.marking.layers
                                                     for c in copies_of(doc_id)))
        blind_docs = functools.cache(lambda: ledger.documents_with_layer(str(blind.LAYER)))
        key = workspace.key()
        blind_hits: set[tuple[str, int]] = set()
        keep = kept.TraceArtifacts() if options.keep_artifacts else None
        for ev in pages:
            rep = EvidenceReport(path=str(ev.path), sha256=ev.sha256, page=ev.page, aligned=False)
            reports.append(rep)
            art = kept.capture_received(keep, len(reports) - 1, ev.gray) if keep is not None else None
            t = time.perf_counter()
            queried = timings["index"]
            loc = _locate(ev.gray, refs)
            timings["locate"] += time.perf_counter() - t - (timings["index"] - queried)  # the queries: "index"
            if loc is None:
                rep.detail = "shows no registered page"
                # another office's copy, or a page too cut to locate: its blind mark still names it. The read
                # costs seconds: it is made when the register has copies with the layer, or when asked for
                if (options.layers is not None and blind.LAYER in options.layers) or (
                        _wanted(options, blind.LAYER) and blind_docs()):
                    found = _read_blind(ev.gray, None, key, rep)
                    if found is not None and found.doc_id in by_id and rep.blind and rep.blind["verified"]:
                        blind_hits.add((found.doc_id, found.copy_no))
                continue
            location, gray = loc
            doc = by_id[location.ref.doc_id]
            t = time.perf_counter()
            original = vault.load_page(workspace, doc.sha256, location.ref.page)
            if art is not None:
                kept.capture_location(art, gray, location.H, gray is not ev.gray, original.shape, doc.dpi)
            try:
                aligned, valid = align(gray, location.H, original, doc.dpi, location.matched)
            except (np.linalg.LinAlgError, cv2.error) as exc:  # a degenerate match: nothing to measure
                timings["align"] += time.perf_counter() - t
                rep.detail = f"page {location.ref.page + 1} of {doc.id} matched, but could not be aligned ({exc})"
                continue
            timings["align"] += time.perf_counter() - t
            t = time.perf_counter()
            ctx, measured, exact = _measure(workspace, doc, location.ref.page, aligned, valid, original, ev, options,
                                            copies_of, measurable)
            found = None
            twin_docs = {r.doc_id for r in location.twins}
            if (blinded(doc.id) or any(blinded(d) for d in twin_docs)) and _wanted(options, blind.LAYER):
                found = (_read_blind(gray, original.shape, key, rep) if gray.shape == original.shape else None) \
                    or _read_blind(aligned, None, key, rep)  # the evidence as it is, then aligned
                if found is not None and found.doc_id in {doc.id, *twin_docs} and rep.blind and rep.blind["verified"]:
                    blind_hits.add((found.doc_id, found.copy_no))
            # the same page in other documents (revisions): measured against each one's own units
            twins = []
            for ref in location.twins:
                tdoc = by_id[ref.doc_id]
                if tdoc.dpi != doc.dpi or not np.array_equal(vault.load_page(workspace, tdoc.sha256, ref.page),
                                                             original):
                    continue  # not the same rendering after all: it would need its own alignment
                tctx, tmeasured, _ = _measure(workspace, tdoc, ref.page, aligned, valid, original, ev, options,
                                              copies_of, measurable)
                twins.append(_page_measure(tdoc, ref.page, tctx, tmeasured))
            # a near-identical page of another document: aligned to its own original, measured on its units
            for rival in location.rivals:
                rdoc = by_id[rival.ref.doc_id]
                r_original = vault.load_page(workspace, rdoc.sha256, rival.ref.page)
                try:
                    r_aligned, r_valid = align(gray, rival.H, r_original, rdoc.dpi, rival.matched)
                except (np.linalg.LinAlgError, cv2.error):
                    continue
                rctx, rmeasured, _ = _measure(workspace, rdoc, rival.ref.page, r_aligned, r_valid, r_original, ev,
                                              options, copies_of, measurable)
                twins.append(_page_measure(rdoc, rival.ref.page, rctx, rmeasured))
            timings["measure"] += time.perf_counter() - t
            if art is not None:
                shifted = measured.get(LayerName.shift)
                kept.capture_alignment(art, doc.id, location.ref.page, aligned, valid, original, ctx.units,
                                       shifted.values if shifted is not None else None)
            rep.aligned, rep.document_page = True, location.ref.page + 1
            rep.detail = _detail(measured) + (" (words and lines read from the PDF's own text)" if exact else "") + (
                f", blind mark reads copy {found.copy_no:06d}" if found is not None else "") + rep.detail
            if twins:
                same = "the page is" if not location.rivals else "the page, or one nearly identical, is"
                rep.detail += f"; {same} in {len(twins) + 1} registered documents: " + ", ".join(
                    f"{d} page {p + 1}" for d, p in [(doc.id, location.ref.page), *((m.doc.id, m.page) for m in twins)])
            measures.append(_page_measure(doc, location.ref.page, ctx, measured))
            alternatives.append(twins)
        t = time.perf_counter()
        result = _decide_among(workspace, copies_of, docs, measures, alternatives, tokens, blind_hits, reports,
                               options)
        # the status dates of the copies shown only (the register can hold 100,000s of copies)
        dates = ledger.status_dates([*(s.copy for s in result.suspects), *(f.copy for f in result.file_identifiers)])
        for s in result.suspects:
            s.status_date = dates.get((s.copy.document_id, s.copy.copy_no))
        for f in result.file_identifiers:
            f.status_date = dates.get((f.copy.document_id, f.copy.copy_no))
        timings["decide"] += time.perf_counter() - t
        result.register = ledger.state
    result.evidence_files = [EvidenceFile(path=str(f.path), size=f.size, sha256=f.sha256) for f in files]
    result.threshold = options.threshold
    if keep is not None:
        kept.finish(keep, key, result.candidate_numbers, result.layer_scores,
                    kept.overlay_copies(result.suspects, result.named),
                    {i for i, r in enumerate(result.evidence) if r.aligned},
                    result.search.whole_weight if result.search is not None else 1.0)
        result.artifacts = keep
    result.timings = dict(timings)
    return result


def _page_measure(doc: Document, page: int, ctx: MeasureContext, measured: dict[LayerName, Measurement]
                  ) -> _PageMeasure:
    """A measured page for scoring: each layer's values and where its code positions lie on the page."""
    values = {name: m.values for name, m in measured.items()}
    return _PageMeasure(doc=doc, page=page, values=values, yx={
        name: colluders.positions(name, ctx.units, ctx.original.shape, ctx.dpi, len(v)) for name, v in values.items()})


def _candidates(ws: Workspace, docs: list[Document], timings: dict[str, float]) -> _IndexCandidates:
    """The pages to verify for an evidence image: the page index's best few among `docs`, their fingerprints
    read from the vault when first proposed (the time of the queries is added to timings["index"])."""
    return _IndexCandidates(ws, page_index.for_trace(ws, docs), {d.sha256: d for d in docs}, timings)


WEAK_SPATIAL = 5  # consistent index matches sparse evidence's last question asks of a page (`_IndexCandidates.weak`)
WIDE_KEEP = 256  # page contents a large index's first pass hands on for small evidence's wide question (`wide`)


class _IndexCandidates:
    """`locate.Candidates` from the page index (calling it asks the index, then its outlines' index when nothing is
    proposed); `quick(...)`: the index only (the quick questions of a mirror image and of the raw image after its
    sheet); `weak(...)`: the index only, with a lower spatial bar (a small crop of a sparse page); `wide(...)`: the
    index only, its first pass handing on WIDE_KEEP pages (small evidence that located no page beyond doubt);
    `within(doc_id, ...)`: that document's pages only, with a lower bar (locate's check of a weak location
    against the document's other pages)."""

    def __init__(self, ws: Workspace, index: page_index.PageIndex, by_sha: dict[str, Document],
                 timings: dict[str, float]) -> None:
        self.ws, self.index, self.by_sha, self.timings = ws, index, by_sha, timings
        self.sha_of = {d.id: s for s, d in by_sha.items()}
        self.fingerprint = functools.lru_cache(maxsize=64)(self._fingerprint)
        self.outline = functools.lru_cache(maxsize=16)(self._outline)
        self.image = functools.lru_cache(maxsize=4)(self._image)

    def _fingerprint(self, sha256: str, page: int) -> Fingerprint:
        return vault.load_fingerprint(self.ws, sha256, page)

    def _outline(self, sha256: str, page: int) -> tuple[np.ndarray, np.ndarray]:
        """The page's outline keypoints, made from its image in the vault (asked only when no page verifies)."""
        fp = page_index.page_outline(self.ws, sha256, page, self.by_sha[sha256].dpi)
        return fp.points, fp.descriptors

    def _image(self, sha256: str, page: int) -> np.ndarray:
        """The page's image at FP_DPI, the fingerprint's pixels (asked for a weak location: `locate._shows`)."""
        img = vault.load_page(self.ws, sha256, page)
        s = FP_DPI / self.by_sha[sha256].dpi
        return img if s == 1 else cv2.resize(img, None, fx=s, fy=s,
                                             interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)

    def __call__(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray) -> list[locate.PageRef]:
        return self._refs(lambda: self.index.query(points, descriptors, sizes))

    def quick(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray) -> list[locate.PageRef]:
        """A quick question's candidates: the page index's, its outlines' not asked and a large index's first pass
        asked once (see `locate.locate`): a mirror image, or the raw image after its sheet showed nothing, is
        asked after the image as it is was asked in full, and for an unregistered page each extra question is
        ~0.05 s of a no-match trace (measured: 2,100 registered pages, idle)."""
        return self._refs(lambda: self.index.query(points, descriptors, sizes, outline=False, once=True))

    def weak(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray) -> list[locate.PageRef]:
        """Sparse evidence's last question: the pages with at least WEAK_SPATIAL consistent matches (see
        `locate.locate`), the outlines' index not asked."""
        return self._refs(lambda: self.index.query(points, descriptors, sizes, spatial=WEAK_SPATIAL, outline=False))

    def wide(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray) -> list[locate.PageRef]:
        """Small evidence's wider question (see `locate.locate`): a large index's first pass hands WIDE_KEEP pages
        to the exact search instead of index.FIRST_PASS_KEEP, the outlines' index not asked."""
        return self._refs(lambda: self.index.query(points, descriptors, sizes, outline=False, keep=WIDE_KEEP))

    def within(self, doc_id: str, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray
               ) -> list[locate.PageRef]:
        sha = self.sha_of.get(doc_id)
        if sha is None:
            return []
        return self._refs(lambda: self.index.query(points, descriptors, sizes, within=sha,
                                                   spatial=locate.SIBLING_SPATIAL))

    def _refs(self, query: Callable[[], list[page_index.Candidate]]) -> list[locate.PageRef]:
        t = time.perf_counter()
        found = query()
        self.timings["index"] += time.perf_counter() - t
        refs = []
        for c in found:
            fp = self.fingerprint(c.sha256, c.page)
            refs.append(locate.PageRef(doc_id=self.by_sha[c.sha256].id, page=c.page, group=c.group, votes=c.votes,
                                       outline=functools.partial(self.outline, c.sha256, c.page),
                                       image=functools.partial(self.image, c.sha256, c.page),
                                       sizes=fp.sizes, **fp.to_npz()))
        return refs


def _measure(ws: Workspace, doc: Document, page: int, aligned: np.ndarray, valid: np.ndarray, original: np.ndarray,
             ev: load.EvidencePage, options: TraceOptions, copies_of: Callable[[str], list[Copy]],
             measurable: Callable[[str, int, LayerName], bool]
             ) -> tuple[MeasureContext, dict[LayerName, Measurement], bool]:
    """Every layer the document's copies carry on the page, measured on the aligned evidence against its units;
    and whether words and lines were read from the evidence PDF's own text."""
    ctx = MeasureContext(aligned=aligned, valid=valid, original=original, dpi=doc.dpi,
                         units=vault.load_units(ws, doc.sha256, page), delta=_delta(copies_of(doc.id)))
    wanted = [name for name in CODEWORD  # shift always: the evidence line says what was measured
              if name == LayerName.shift or (_wanted(options, name) and measurable(doc.id, page, name))]
    measured = {name: m for name in wanted if (m := layers.get(name).measure(ctx)) is not None}
    exact = _from_pdf_text(ws, doc, page, ev, ctx, measured)
    return ctx, measured, exact


_RANK = {Verdict.identified: 2, Verdict.inconclusive: 1, Verdict.no_match: 0}


def _decide_among(ws: Workspace, copies_of: Callable[[str], list[Copy]], docs: list[Document],
                  measures: list[_PageMeasure], alternatives: list[list[_PageMeasure]], tokens: dict[str, set[bytes]],
                  blind_hits: set[tuple[str, int]], reports: list[EvidenceReport], options: TraceOptions
                  ) -> TraceResult:
    """The verdict; when pages are also in other documents (revisions share pages), decided for each of those
    documents in turn (its copies scored on its own units) with the FAP bound counting every document tried,
    and the strongest result kept: identified over inconclusive over no-match, then the best score."""
    choices = list(dict.fromkeys(m.doc.id for m, alts in zip(measures, alternatives, strict=True)
                                 for m in [m, *alts] if alts))
    if len(choices) < 2:
        return _decide(ws, copies_of, docs, measures, tokens, blind_hits, reports, options)
    best: TraceResult | None = None
    for doc_id in choices:
        reps = copy.deepcopy(reports)
        aligned = [r for r in reps if r.aligned]
        chosen = []
        for rep, m, alts in zip(aligned, measures, alternatives, strict=True):
            pick = next((a for a in [m, *alts] if a.doc.id == doc_id), m)
            rep.document_page = pick.page + 1
            chosen.append(pick)
        r = _decide(ws, copies_of, docs, chosen, tokens, blind_hits, reps, options, documents=len(choices))
        top = r.suspects[0].score if r.suspects else -np.inf
        if best is None or (_RANK[r.verdict], top) > (_RANK[best.verdict],
                                                      best.suspects[0].score if best.suspects else -np.inf):
            best = r
    assert best is not None
    return best


def _streamed(files: list[load.Evidence], timings: dict[str, float], progress: Progress) -> Iterator[load.EvidencePage]:
    """Every page of every evidence file, rendered when the tracer asks for it, with progress and load time."""
    progress.start(sum(f.count for f in files), "evidence pages")
    try:
        for f in files:
            pages = f.pages()
            while True:
                t = time.perf_counter()
                page = next(pages, None)
                timings["load"] += time.perf_counter() - t
                if page is None:
                    break
                yield page
                del page  # the tracer holds the one page it works on, no more
                progress.advance(1)
    finally:
        progress.finish()


@functools.lru_cache(maxsize=8)
def _original_text(folder: str, page: int) -> pdf_measure.PageText | None:
    from leakmark._mupdf import pymupdf

    source = next(Path(folder).glob("original.*"), None)
    if source is None or source.suffix.lower() != ".pdf":
        return None
    with pymupdf.open(source) as doc:
        return pdf_measure.page_text(doc.load_page(page))


def _from_pdf_text(ws: Workspace, doc: Document, page: int, ev: load.EvidencePage, ctx: MeasureContext,
                   measured: dict[LayerName, Measurement]) -> bool:
    """For a PDF page, the words' and lines' values of `shift` from its glyph positions (`pdf_measure`),
    in place of those measured on its rendering. False when the text cannot be read that way."""
    if ev.text is None or doc.kind != "pdf" or LayerName.shift not in measured:
        return False
    original = _original_text(str(ws.doc_dir(doc.sha256)), page)
    exact = pdf_measure.exact_shift(original, ev.text, ctx.units, doc.dpi, ctx.delta) if original else None
    if exact is None:
        return False
    m = measured[LayerName.shift]
    k = ctx.units.n_words + ctx.units.n_lines
    values = m.values.copy()
    values[:k] = exact[:k]
    counts = dict(m.counts)
    counts["words"] = int(np.count_nonzero(exact[:ctx.units.n_words]))
    counts["lines"] = int(np.count_nonzero(exact[ctx.units.n_words:k]))
    measured[LayerName.shift] = Measurement(values, counts)
    return True


def _detail(measured: dict[LayerName, Measurement]) -> str:
    """What was measured on a page, for the evidence line: "N words, L lines[, R rules][, M marks]
    measured[, T tone cells]"."""
    c = measured[LayerName.shift].counts
    text = f"{c['words']} words, {c['lines']} lines" + "".join(
        f", {c[k]} {k}" for k in ("rules", "marks") if c.get(k)) + " measured"
    if LayerName.tone in measured:
        text += f", {measured[LayerName.tone].counts['tone cells']} tone cells"
    return text


Refs = list[locate.PageRef] | locate.Candidates
STRONG_LOCATION = locate.STRONG  # inliers; below this the mirrored image is tried as well (unless `locate.settled`)
SURE_SHEET = 2 * locate.STRONG  # a sheet that may be part of the page: below this, the raw image is tried too
SMALL_SHEET = 0.35  # share of the image: a sheet smaller than this may be a box drawn on the page (`partial`)


def _locate(gray: np.ndarray, refs: Refs) -> tuple[locate.Location, np.ndarray] | None:
    """Locate the page: for a photo the unwarped sheet first, then the raw image. When that finds nothing
    or only a weak match, the mirrored image too (front cameras and some apps save mirror images), and the
    better of the two wins."""
    as_is = _View.of(gray)
    found = _locate_view(as_is, refs)
    if found is None or not locate.settled(found[0]):
        # of a mirror image with a whole sheet, the sheet only: its raw image is asked as is for a "sheet" that is
        # a box drawn on the page, and a mirror image that is also such a box is not worth a question more for
        # every unregistered page (~0.2 s); a sheet that may be part of the page (`partial`) still gives way
        mirrored = _locate_view(as_is.mirror(), refs, quick=True, raw=as_is.partial)
        if mirrored is not None and (found is None or mirrored[0].inliers > found[0].inliers):
            return mirrored
    return found


@dataclass
class _View:
    """The evidence image as it is or mirrored: the image (what the tracer aligns), its features, and those of
    the sheet of paper unwarped from it with the homography image -> sheet (None when no sheet is seen)."""

    img: np.ndarray
    features: locate.Features
    sheet: locate.Features | None = None
    to_sheet: np.ndarray | None = None
    # the sheet may be only part of the page: chosen by the paper test over a larger quadrilateral (page.page_quad),
    # or covering less than SMALL_SHEET of the image (a box drawn on the page; a photo's sheet covers 0.6-0.77)
    partial: bool = False

    @classmethod
    def of(cls, gray: np.ndarray) -> _View:
        found = page_quad(gray)
        refused: set[tuple[str, int]] = set()  # the sheet's refusals hold for the raw image too
        if found is None:
            return cls(gray, locate.Features.of_image(gray, refused))
        flat, to_sheet = unwarp(gray, found[0])
        partial = found[1] or cv2.contourArea(found[0].astype(np.float32)) < SMALL_SHEET * gray.size
        # a whole sheet is the page at a scale locate can tell, and is verified first with its larger keypoints
        sheet = locate.Features.of_image(flat, refused, whole_sheet=not partial)
        return cls(gray, locate.Features.of_image(gray, refused), sheet, to_sheet, partial)

    def mirror(self) -> _View:
        """The mirror image (flipped left to right): its sheet and features are this view's mirrored, with no
        detection or extraction of their own (the mirrored attempt costs an index query or two, no more)."""
        img = cv2.flip(self.img, 1)
        refused: set[tuple[str, int]] = set()  # what the image as it is refused may agree mirrored
        if self.sheet is None or self.to_sheet is None:
            return _View(img, self.features.mirror(refused))
        to_sheet = _flip(self.sheet.width) @ self.to_sheet @ _flip(self.features.width)
        return _View(img, self.features.mirror(refused), self.sheet.mirror(refused), to_sheet, self.partial)


def _flip(width: int) -> np.ndarray:
    """The homography of flipping an image `width` pixels wide left to right (its own inverse)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _locate_view(view: _View, refs: Refs, quick: bool = False, raw: bool = True
                 ) -> tuple[locate.Location, np.ndarray] | None:
    """The unwarped sheet first; the raw image too when that finds nothing or only a weak match (the "sheet" may
    be a box drawn on the page, e.g. a chart's frame in a screenshot), the better one kept. Not `raw`: the
    sheet's answer stands (an image without a sheet is always asked as it is)."""
    best = None
    if view.sheet is not None and view.to_sheet is not None:
        loc = locate.locate(view.sheet, refs, quick)
        if loc is not None:
            loc.H = loc.H @ view.to_sheet  # raw evidence -> fingerprint
            # a sheet chosen by the paper test over a larger quadrilateral may be part of the page: under a
            # strong shadow only the lit part is bright, and its 163 inliers (against 661 for the whole page,
            # which the larger one held) were kept. A small "sheet" may be a box drawn on the page: a 30 % band
            # of the memo's page 1 took its table's frame (0.17 of the image) for the sheet, located it with 167
            # inliers on the table's rows and a homography 4 % too tall, and 17 of its 58 words were measured;
            # the band itself verifies with 494 inliers
            if (loc.inliers >= SURE_SHEET) if view.partial else locate.settled(loc):
                # a whole sheet's weak location that its print settles is the page (`locate.settled`)
                return loc, view.img
            best = loc
        elif view.sheet.refused and not view.partial:
            # the sheet (the whole sheet of paper) was located on a page whose print it does not show
            # (`locate._checked`): a photo of an unregistered page of a registered page's template. The raw
            # image shows that same sheet; asking it proposed another page of the template, which cost a full
            # extraction, a verification and a check more (measured: 1.5-2 s of an 8 s no-match on one core)
            return None
        if not raw:
            return (best, view.img) if best is not None else None
    # after the sheet showed no page, the whole image is asked quickly first (it shows a page only when the
    # "sheet" was a box drawn on it, and a screenshot's page is found at the small size)
    after_sheet = view.sheet is not None and best is None
    loc = locate.locate(view.features, refs, quick or after_sheet, confirm=after_sheet and not view.partial)
    if loc is not None and (best is None or loc.inliers > best.inliers):
        best = loc
    return (best, view.img) if best is not None else None


def _read_blind(image: np.ndarray, shape: tuple[int, ...] | None, key: bytes,
                rep: EvidenceReport) -> blind.BlindRead | None:
    """The blind payload, keyless; recorded on the evidence report with whether this workspace's key
    verifies its check (it does only for copies issued here, and nobody can forge it without the key)."""
    found = blind.read(image, shape=(shape[0], shape[1]) if shape else None)
    if found is None:
        return None
    ok = blind.verify(key, found)
    rep.blind = {"document": found.doc_id, "copy_no": f"{found.copy_no:06d}", "verified": ok}
    if not ok:
        rep.detail += (f"; its blind mark reads document {found.doc_id}, copy {found.copy_no:06d}, but the check "
                       "does not verify with this workspace's key: issued by another office (ask them), or forged")
    return found


def _wanted(options: TraceOptions, layer: str) -> bool:
    return options.layers is None or layer in options.layers


def _measurable(name: LayerName, copies: list[Copy]) -> bool:
    """Whether any of these copies (those carrying the layer on the page) carries it in a version this release
    measures; only tone records a version."""
    if name != tone.LAYER:
        return bool(copies)
    versions = {t.version if (t := c.marking.tone) is not None else None for c in copies
                if tone.LAYER in c.marking.layers}
    if versions - {tone.VERSION}:
        log.warning("copies with tone layer %s cannot be measured by this release (it measures %s); their "
                    "tone layer is left out", ", ".join(sorted(str(v) for v in versions - {tone.VERSION})),
                    tone.VERSION)
    return tone.VERSION in versions


def _delta(copies: list[Copy]) -> float:
    """The shift amplitude the copies were marked with (recorded per copy in the ledger)."""
    return float(copies[0].marking.shift.delta_px) if copies else 1.0


