"""`trace`: evidence files → located pages → aligned → measured → every issued copy scored → verdict."""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from leakmark import __version__, layers, vault
from leakmark._progress import NullProgress, Progress
from leakmark.errors import BadRequestError
from leakmark.layers import CODEWORD, LayerName, blind, tone
from leakmark.layers import file as filemark
from leakmark.layers.base import MeasureContext, Measurement
from leakmark.layers.codes import sign_matrix
from leakmark.ledger import Copy, CopyStatus, Document, Ledger, RegisterState
from leakmark.pdf.read import sniff_kind
from leakmark.trace import decide, load, locate
from leakmark.trace.align import align
from leakmark.trace.decide import Verdict
from leakmark.trace.page import find_page_quad, unwarp
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

SCORED_LAYERS: tuple[str, ...] = tuple(str(x) for x in layers.ALL)


@dataclass(frozen=True)
class TraceOptions:
    evidence: tuple[Path, ...]
    doc_id: str | None = None
    threshold: float = 1e-6
    password: str | None = None
    max_suspects: int = 10
    layers: tuple[str, ...] | None = None  # score only these layers (None: every layer the copies carry)
    trust_register: bool = False  # name copies even from a register that fails verification (`register` says so)

    def validate(self) -> None:
        if not self.evidence:
            raise BadRequestError("no evidence given: pass one or more image or PDF files")
        unknown = set(self.layers or ()) - set(SCORED_LAYERS)
        if unknown:
            raise BadRequestError(f"unknown layer(s) {', '.join(sorted(unknown))}: choose from "
                                  f"{', '.join(SCORED_LAYERS)}")
        if not 0 < self.threshold < 1:
            raise BadRequestError(f"--threshold {self.threshold} must be between 0 and 1")


@dataclass
class EvidenceReport:
    path: str
    sha256: str
    page: int
    aligned: bool
    document_page: int | None = None
    detail: str = ""
    blind: dict | None = None  # what the blind mark reads: document, copy, and whether its check verifies


@dataclass
class Suspect:
    copy: Copy
    score: float
    fap: float
    layers: dict[str, float]
    status_date: str | None = None  # when the copy entered its status (`copy.status`), from the register


class FilePages(StrEnum):
    """How the pages of an evidence PDF relate to the copy whose file identifiers it carries."""

    agree = "agree"  # its pages trace to that copy (the identifiers are bound to content)
    disagree = "disagree"  # its pages trace to other copies, or show another document
    unconfirmed = "unconfirmed"  # its pages show that document but the page layers name no copy
    no_page = "no-page"  # it shows no registered page: the identifiers alone, which name no source


@dataclass
class FileIdentifier:
    """An evidence PDF carries the file identifiers (trailer /ID, XMP DocumentID) of an issued copy's file.

    On its own that says only that the file was made from that copy's file, or that the identifiers were
    copied into it; it never names the source of a capture, and it adds to a copy's score only when the
    same file's pages trace to that copy (`pages` is `agree`)."""

    path: str
    copy: Copy
    title: str
    pages: FilePages
    finding: str  # the plain-language statement, as the text output prints it
    status_date: str | None = None

    @property
    def pages_agree(self) -> bool | None:
        """True: the file's pages trace to this copy; False: to another copy or document; None: no page of
        the file names a copy (none shown, or the page layers name nobody)."""
        return {FilePages.agree: True, FilePages.disagree: False}.get(self.pages)

    def to_json(self) -> dict:
        c = self.copy
        return {"path": self.path, "document_id": c.document_id, "title": self.title, "copy_no": c.label,
                "recipient": c.recipient, "unit": c.unit, "status": str(c.status), "status_date": self.status_date,
                "pages": str(self.pages), "pages_agree": self.pages_agree, "finding": self.finding}


@dataclass
class TraceResult:
    verdict: Verdict
    document: Document | None
    pages: list[int]
    suspects: list[Suspect]
    named: int  # how many of `suspects` (from the top) the verdict names
    evidence: list[EvidenceReport]
    candidates: int
    timings: dict[str, float] = field(default_factory=dict)
    # what each layer alone says (not in the JSON): per layer a score per candidate copy, in the order of
    # `candidate_numbers` (the ledger's), NaN where the copy does not carry the layer
    layer_scores: dict[str, np.ndarray] = field(default_factory=dict)
    candidate_numbers: list[int] = field(default_factory=list)
    # the evidence PDFs that carry an issued copy's file identifiers; never part of the verdict on their own
    file_identifiers: list[FileIdentifier] = field(default_factory=list)
    # plain statements of where the page layers and the file identifiers disagree (empty when they do not)
    disagreements: list[str] = field(default_factory=list)
    # the register the names come from: event count, head hash, verified (only with trust_register can it be
    # False); not in `to_json()` (the evidence report as 0.1.0 wrote it): the CLI adds it as "register"
    register: RegisterState | None = None

    def to_json(self) -> dict:
        doc = None
        if self.document is not None:
            doc = {"id": self.document.id, "title": self.document.title, "pages": self.pages}
        return {
            "verdict": self.verdict,
            "document": doc,
            "suspects": [{"copy_no": s.copy.label, "recipient": s.copy.recipient, "unit": s.copy.unit,
                          "score": round(s.score, 3), "false_accusation_probability": float(f"{s.fap:.3g}"),
                          "layers": {k: round(v, 3) for k, v in s.layers.items()},
                          "status": str(s.copy.status), "status_date": s.status_date} for s in self.suspects],
            "evidence": [{"path": e.path, "sha256": e.sha256, "page": e.page, "aligned": e.aligned,
                          **({"blind": e.blind} if e.blind else {})} for e in self.evidence],
            "file_identifiers": [f.to_json() for f in self.file_identifiers],
            "disagreements": list(self.disagreements),
            "leakmark_version": __version__,
        }


@dataclass
class _PageMeasure:
    doc: Document
    page: int
    values: dict[LayerName, np.ndarray]  # per codeword layer measured on the page


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
        refs = [locate.PageRef(doc_id=d.id, page=i, **vault.load_fingerprint(workspace, d.sha256, i).to_npz())
                for d in docs for i in range(d.pages)]
        by_id = {d.id: d for d in docs}
        reports: list[EvidenceReport] = []
        measures: list[_PageMeasure] = []
        copies_of = functools.cache(ledger.copies)  # once per document: it can be 100,000 rows
        measurable = functools.cache(lambda doc_id, page, name: _measurable(
            name, [c for c in copies_of(doc_id) if carries(c, name, page)]))
        blinded = functools.cache(lambda doc_id: any(blind.LAYER in c.marking.layers
                                                     for c in copies_of(doc_id)))
        key = workspace.key()
        blind_hits: set[tuple[str, int]] = set()
        for ev in pages:
            rep = EvidenceReport(path=str(ev.path), sha256=ev.sha256, page=ev.page, aligned=False)
            reports.append(rep)
            t = time.perf_counter()
            loc = _locate(ev.gray, refs)
            timings["locate"] += time.perf_counter() - t
            if loc is None:
                rep.detail = "shows no registered page"
                if _wanted(options, blind.LAYER):  # another office's copy: its blind mark still names it
                    found = _read_blind(ev.gray, None, key, rep)
                    if found is not None and found.doc_id in by_id and rep.blind and rep.blind["verified"]:
                        blind_hits.add((found.doc_id, found.copy_no))
                continue
            location, gray = loc
            doc = by_id[location.ref.doc_id]
            t = time.perf_counter()
            original = vault.load_page(workspace, doc.sha256, location.ref.page)
            try:
                aligned, valid = align(gray, location.H, original, doc.dpi, location.matched)
            except (np.linalg.LinAlgError, cv2.error) as exc:  # a degenerate match: nothing to measure
                timings["align"] += time.perf_counter() - t
                rep.detail = f"page {location.ref.page + 1} of {doc.id} matched, but could not be aligned ({exc})"
                continue
            timings["align"] += time.perf_counter() - t
            t = time.perf_counter()
            ctx = MeasureContext(aligned=aligned, valid=valid, original=original, dpi=doc.dpi,
                                 units=vault.load_units(workspace, doc.sha256, location.ref.page),
                                 delta=_delta(copies_of(doc.id)))
            wanted = [name for name in CODEWORD  # shift always: the evidence line says what was measured
                      if name == LayerName.shift
                      or (_wanted(options, name) and measurable(doc.id, location.ref.page, name))]
            measured = {name: m for name in wanted if (m := layers.get(name).measure(ctx)) is not None}
            found = None
            if blinded(doc.id) and _wanted(options, blind.LAYER):  # the evidence as it is, then aligned
                found = (_read_blind(gray, original.shape, key, rep) if gray.shape == original.shape else None) \
                    or _read_blind(aligned, None, key, rep)
                if found is not None and found.doc_id == doc.id and rep.blind and rep.blind["verified"]:
                    blind_hits.add((doc.id, found.copy_no))
            timings["measure"] += time.perf_counter() - t
            rep.aligned, rep.document_page = True, location.ref.page + 1
            rep.detail = _detail(measured) + (
                f", blind mark reads copy {found.copy_no:06d}" if found is not None else "") + rep.detail
            measures.append(_PageMeasure(doc=doc, page=location.ref.page,
                                         values={name: m.values for name, m in measured.items()}))
        t = time.perf_counter()
        result = _decide(workspace, copies_of, docs, measures, tokens, blind_hits, reports, options)
        # the status dates of the copies shown only (the register can hold 100,000s of copies)
        dates = ledger.status_dates([*(s.copy for s in result.suspects), *(f.copy for f in result.file_identifiers)])
        for s in result.suspects:
            s.status_date = dates.get((s.copy.document_id, s.copy.copy_no))
        for f in result.file_identifiers:
            f.status_date = dates.get((f.copy.document_id, f.copy.copy_no))
        timings["decide"] += time.perf_counter() - t
        result.register = ledger.state
    result.timings = dict(timings)
    return result


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


def _detail(measured: dict[LayerName, Measurement]) -> str:
    """What was measured on a page, for the evidence line: "N words, L lines[, R rules][, M marks]
    measured[, T tone cells]"."""
    c = measured[LayerName.shift].counts
    text = f"{c['words']} words, {c['lines']} lines" + "".join(
        f", {c[k]} {k}" for k in ("rules", "marks") if c.get(k)) + " measured"
    if LayerName.tone in measured:
        text += f", {measured[LayerName.tone].counts['tone cells']} tone cells"
    return text


STRONG_LOCATION = 100  # inliers; below this the mirrored image is tried as well


def _locate(gray: np.ndarray, refs: list[locate.PageRef]) -> tuple[locate.Location, np.ndarray] | None:
    """Locate the page: for a photo the unwarped sheet first, then the raw image. When that finds nothing
    or only a weak match, the mirrored image too (front cameras and some apps save mirror images), and the
    better of the two wins."""
    found = _locate_as_is(gray, refs)
    if found is None or found[0].inliers < STRONG_LOCATION:
        mirrored = _locate_as_is(cv2.flip(gray, 1), refs)
        if mirrored is not None and (found is None or mirrored[0].inliers > found[0].inliers):
            return mirrored
    return found


def _locate_as_is(img: np.ndarray, refs: list[locate.PageRef]) -> tuple[locate.Location, np.ndarray] | None:
    """The unwarped sheet first; the raw image too when that finds nothing or only a weak match (the
    "sheet" may be a box drawn on the page, e.g. a chart's frame in a screenshot), the better one kept."""
    best = None
    quad = find_page_quad(img)
    if quad is not None:
        flat, H_raw_to_flat = unwarp(img, quad)
        loc = locate.locate(flat, refs)
        if loc is not None:
            loc.H = loc.H @ H_raw_to_flat  # raw evidence -> fingerprint
            if loc.inliers >= STRONG_LOCATION:
                return loc, img
            best = loc
    loc = locate.locate(img, refs)
    if loc is not None and (best is None or loc.inliers > best.inliers):
        best = loc
    return (best, img) if best is not None else None


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


def carries(copy: Copy, layer: str, page: int) -> bool:
    """Whether this copy carries the layer on this page (0-based), as the register records it."""
    return copy.marking.carries(layer, page)


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


def _decide(workspace: Workspace, copies_of: Callable[[str], list[Copy]], docs: list[Document],
            measures: list[_PageMeasure], tokens: dict[str, set[bytes]], blind_hits: set[tuple[str, int]],
            reports: list[EvidenceReport], options: TraceOptions) -> TraceResult:
    """The verdict from the page layers (shift, tone, blind); then the file identifiers, as their own finding.

    File identifiers (`tokens`, per evidence PDF) are bound to content: they add the `file` layer to a
    copy's score only when the same file's pages trace to that copy by the page layers alone, so they can
    strengthen that naming but never name a copy by themselves, nor a second copy beside the one the pages
    show. Where they disagree with the pages, or one file carries several copies' identifiers, the result
    says so (`disagreements`)."""
    key = workspace.key()
    pairs = [(c.document_id, c.copy_no) for d in docs for c in copies_of(d.id)] if tokens else []
    file_hits = {path: hits for path, found in tokens.items() if (hits := filemark.match(key, found, pairs))}
    # which registered documents each evidence file's pages show (located and aligned, or a verified blind mark)
    shown: dict[str, set[str]] = defaultdict(set)
    for rep, m in zip([r for r in reports if r.aligned], measures, strict=True):
        shown[rep.path].add(m.doc.id)
    for rep in reports:
        if rep.blind and rep.blind["verified"]:
            shown[rep.path].add(rep.blind["document"])
    result = _decide_pages(key, copies_of, docs, measures, file_hits, shown, blind_hits, reports, options)
    by_id = {d.id: d for d in docs}
    result.file_identifiers, result.disagreements = _file_findings(file_hits, shown, result, copies_of, by_id)
    return result


def _decide_pages(key: bytes, copies_of: Callable[[str], list[Copy]], docs: list[Document],
                  measures: list[_PageMeasure], file_hits: dict[str, list[tuple[str, int]]],
                  shown: dict[str, set[str]], blind_hits: set[tuple[str, int]], reports: list[EvidenceReport],
                  options: TraceOptions) -> TraceResult:
    if not measures and not blind_hits:  # no registered page shown: nothing names a copy (file identifiers alone
        return TraceResult(Verdict.no_match, None, [], [], 0, reports, 0)  # never do)
    # evidence of one leak shows one document: the one most pages located to, else the blind mark's
    counts: dict[str, int] = defaultdict(int)
    for m in measures:
        counts[m.doc.id] += 1
    doc_id = max(counts, key=lambda k: counts[k]) if counts else sorted(blind_hits)[0][0]
    doc = next(d for d in docs if d.id == doc_id)
    for rep, m in zip([r for r in reports if r.aligned], measures, strict=True):
        if m.doc.id != doc_id:
            rep.aligned = False
            rep.detail = f"shows document {m.doc.id}, not {doc_id}; trace it separately"
    measures = [m for m in measures if m.doc.id == doc_id]
    pages = sorted({m.page + 1 for m in measures})
    copies = copies_of(doc_id)
    if not copies:
        return TraceResult(Verdict.no_match, doc, pages, [], 0, reports, 0)
    codeword = _codeword_scores(key, doc_id, copies, measures)
    blind_found = {n for d, n in blind_hits if d == doc_id}
    layers = _chosen(options, {**codeword, **_exact_scores(copies, set(), blind_found)})
    if not layers:
        return TraceResult(Verdict.no_match, doc, pages, [], 0, reports, len(copies))
    # Stouffer over the layers a copy carries, the best subset of them (a layer that measured nothing
    # useful does not dilute the rest), the FAP counting every subset tried
    z, tests = decide.fuse(layers)
    d = decide.decide(z, options.threshold, tests)
    # the file layer joins only for copies the page layers name from the same evidence file's own pages:
    # it can raise their score, and so lower their FAP, but it names nobody the pages did not
    bound = {copies[i].copy_no for i in d.named} & {n for path, hits in file_hits.items() if doc_id in shown[path]
                                                    for dd, n in hits if dd == doc_id}
    if bound:
        layers = _chosen(options, {**codeword, **_exact_scores(copies, bound, blind_found)})
        z, tests = decide.fuse(layers)
        d = decide.decide(z, options.threshold, tests)
    top = d.named + [i for i in d.order if i not in d.named][: max(0, options.max_suspects - len(d.named))]
    suspects = [Suspect(copy=copies[i], score=float(z[i]), fap=float(d.fap[i]),
                        layers={name: float(v[i]) for name, (v, has) in layers.items() if has[i]}) for i in top]
    log.debug("traced %s: best z %.2f over %d copies (layers %s)", doc_id, float(z.max()), len(copies),
              ", ".join(layers))
    return TraceResult(d.verdict, doc, pages, suspects, len(d.named), reports, len(copies),
                       layer_scores={name: np.where(has, v, np.nan) for name, (v, has) in layers.items()},
                       candidate_numbers=[c.copy_no for c in copies])


def _chosen(options: TraceOptions, layers: dict[str, tuple[np.ndarray, np.ndarray]]
            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Only the layers `--layers` asks for (e.g. what the tone layer alone says)."""
    return layers if options.layers is None else {k: v for k, v in layers.items() if k in options.layers}


def _file_findings(file_hits: dict[str, list[tuple[str, int]]], shown: dict[str, set[str]], result: TraceResult,
                   copies_of: Callable[[str], list[Copy]], by_id: dict[str, Document]
                   ) -> tuple[list[FileIdentifier], list[str]]:
    """Each evidence file's identifiers as their own finding, how its pages relate to them, and every
    disagreement between the two, in words."""
    found: list[FileIdentifier] = []
    disagreements: list[str] = []
    named = result.suspects[: result.named]
    named_nos = {s.copy.copy_no for s in named}
    traced = result.document.id if result.document is not None else None
    index = functools.cache(lambda doc_id: {c.copy_no: c for c in copies_of(doc_id)})
    for path, hits in file_hits.items():
        for doc_id, n in hits:
            copy = index(doc_id)[n]
            whose = f"copy {copy.label}'s file (document {doc_id}, {_for(copy)})"
            here = shown.get(path, set())
            if not here:
                pages = FilePages.no_page
                tail = ("; it shows no registered page, so this says only that the file was made from that copy's "
                        "file or that its identifiers were copied into it, not that the copy is the source of a "
                        "capture")
            elif doc_id not in here:
                pages = FilePages.disagree
                other = ", ".join(sorted(here))
                tail = f"; but its pages show document {other}, not {doc_id}"
                disagreements.append(f"page layers and file identifiers disagree: the pages of {path} show document "
                                     f"{other}, but the file carries the identifiers of copy {copy.label} of "
                                     f"document {doc_id}")
            elif doc_id == traced and n in named_nos:
                pages = FilePages.agree
                tail = "; its pages trace to the same copy"
            elif doc_id == traced and named:
                pages = FilePages.disagree
                labels = ", ".join(s.copy.label for s in named)
                tail = f"; but the pages trace to copy {labels}, not to this one"
                disagreements.append(f"page layers and file identifiers disagree: the pages trace to copy {labels}, "
                                     f"but {path} carries the identifiers of copy {copy.label}'s file")
            else:
                pages = FilePages.unconfirmed
                tail = "; its pages show this document but the page layers name no copy, so they do not confirm it"
            found.append(FileIdentifier(path=path, copy=copy, title=by_id[doc_id].title, pages=pages,
                                        finding=f"{path}: this file carries the identifiers of {whose}{tail}"))
        if len(hits) > 1:
            labels = ", ".join(f"{d}/{n:06d}" for d, n in hits)
            disagreements.append(f"{path} carries the identifiers of {len(hits)} copies' files ({labels}): they "
                                 "were copied from another file or altered; at most one of them is its own")
    return found, disagreements


def _for(copy: Copy) -> str:
    """`issued to NAME (UNIT)`; `made for` a copy never recorded as issued (reserved, void)."""
    verb = "made for" if copy.status in (CopyStatus.reserved, CopyStatus.void) else "issued to"
    return f"{verb} {copy.recipient}" + (f" ({copy.unit})" if copy.unit else "")


def _codeword_scores(key: bytes, doc_id: str, copies: list[Copy], measures: list[_PageMeasure]
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per codeword layer that measured something: a score per copy on the N(0,1)-or-narrower null scale,
    and which copies carry that layer on the measured pages (the ledger records each copy's layers)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    numbers = [c.copy_no for c in copies]
    for name in CODEWORD:
        total = np.zeros(len(copies))
        norm2 = np.zeros(len(copies))  # per copy: a copy counts only the pages that carry the layer
        for m in measures:  # pages combine as one long codeword: sum of dot products over the joint norm
            values = m.values.get(name)
            if values is None or not len(values):
                continue
            on_page = np.array([carries(c, name, m.page) for c in copies])
            codes = sign_matrix(key, doc_id, numbers, name, m.page, len(values))
            total += (codes @ values.astype(np.float32)) * on_page
            norm2 += float(np.dot(values, values)) * on_page
        if norm2.any():
            out[name] = (total / np.sqrt(np.maximum(norm2, 1e-12)), norm2 > 0)
    return out


def _exact_scores(copies: list[Copy], file_hits: set[int], blind_hits: set[int]
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The exact reads (file identifiers, blind payload) as layer scores: the match score for the copies
    found, 0 for the others that carry the layer. Tokens of other files (any PDF has an /ID) and payloads
    that fail the check match nothing and do not count as measured."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    numbers = [c.copy_no for c in copies]
    for name, found, score in ((filemark.LAYER, file_hits, decide.exact_score(filemark.MATCH_BITS)),
                               (blind.LAYER, blind_hits, decide.exact_score(blind.MATCH_BITS))):
        if found:
            carried = np.array([name in c.marking.layers for c in copies])
            out[name] = (np.array([score if n in found else 0.0 for n in numbers]),
                         carried | np.isin(numbers, list(found)))
    return out

