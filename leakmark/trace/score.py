"""Scoring the measured pages: every issued copy per layer, the fused score and the verdict; the file
identifiers as their own finding, bound to the pages that show their copy."""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from leakmark.layers import CODEWORD, LayerName, blind
from leakmark.layers import file as filemark
from leakmark.layers.codes import sign_matrix
from leakmark.ledger import Copy, CopyStatus, Document
from leakmark.trace import colluders, decide
from leakmark.trace.decide import Verdict
from leakmark.trace.result import (
    EvidenceReport,
    FileIdentifier,
    FilePages,
    FoundIn,
    Suspect,
    TraceOptions,
    TraceResult,
)
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class _PageMeasure:
    doc: Document
    page: int
    values: dict[LayerName, np.ndarray]  # per codeword layer measured on the page
    yx: dict[LayerName, np.ndarray] = field(default_factory=dict)  # where its code positions lie (colluders)


def _decide(workspace: Workspace, copies_of: Callable[[str], list[Copy]], docs: list[Document],
            measures: list[_PageMeasure], tokens: dict[str, set[bytes]], blind_hits: set[tuple[str, int]],
            reports: list[EvidenceReport], options: TraceOptions, documents: int = 1) -> TraceResult:
    """The verdict from the page layers (shift, tone, blind); then the file identifiers, as their own finding.

    File identifiers (`tokens`, per evidence PDF) are bound to content: they add the `file` layer to a
    copy's score only when the same file's pages trace to that copy by the page layers alone, so they can
    strengthen that naming but never name a copy by themselves, nor a second copy beside the one the pages
    show. Where they disagree with the pages, or one file carries several copies' identifiers, the result
    says so (`disagreements`).

    `documents`: how many documents the pages could be, each decided on its own (pages shared by
    revisions); the FAP bound counts every one of them."""
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
    result = _decide_pages(key, copies_of, docs, measures, file_hits, shown, blind_hits, reports, options, documents)
    by_id = {d.id: d for d in docs}
    result.file_identifiers, result.disagreements = _file_findings(file_hits, shown, result, copies_of, by_id)
    return result


def _decide_pages(key: bytes, copies_of: Callable[[str], list[Copy]], docs: list[Document],
                  measures: list[_PageMeasure], file_hits: dict[str, list[tuple[str, int]]],
                  shown: dict[str, set[str]], blind_hits: set[tuple[str, int]], reports: list[EvidenceReport],
                  options: TraceOptions, documents: int = 1) -> TraceResult:
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
    images = [_image(r) for r in reports if r.aligned]  # the evidence image each measured page came from
    pages = sorted({m.page + 1 for m in measures})
    copies = copies_of(doc_id)
    if not copies:
        return TraceResult(Verdict.no_match, doc, pages, [], 0, reports, 0)
    coded = [c for c in _coded(key, doc_id, copies, measures)
             if options.layers is None or c.layer in options.layers]
    blind_found = {n for d, n in blind_hits if d == doc_id}
    found = colluders.search(coded, _chosen(options, _exact_scores(copies, set(), blind_found)), len(copies),
                             len(measures), options.threshold, documents)
    if not found.whole:
        return TraceResult(Verdict.no_match, doc, pages, [], 0, reports, len(copies))
    # the file layer joins only for copies the page layers name from the same evidence file's own pages:
    # it can raise their score, and so lower their FAP, but it names nobody the pages did not
    bound = {copies[i].copy_no for i in found.named} & {n for path, hits in file_hits.items() if doc_id in shown[path]
                                                        for dd, n in hits if dd == doc_id}
    if bound:
        found = colluders.search(coded, _chosen(options, _exact_scores(copies, bound, blind_found)), len(copies),
                                 len(measures), options.threshold, documents)
    verdict = Verdict.identified if found.named else (
        Verdict.inconclusive if found.fap.min() < decide.INCONCLUSIVE_FAP else Verdict.no_match)
    rest = [int(i) for i in np.lexsort((-found.score, found.fap)) if i not in set(found.named)]
    top = found.named + rest[: max(0, options.max_suspects - len(found.named))]
    suspects = [Suspect(copy=copies[i], score=float(found.score[i]), fap=float(found.fap[i]), layers=found.layers(i),
                        found_in=_found_in(found, i, copies, measures, images)) for i in top]
    log.debug("traced %s: %d named over %d copies in %d round(s) (layers %s)", doc_id, len(found.named),
              len(copies), found.info.rounds, ", ".join(found.whole))
    return TraceResult(verdict, doc, pages, suspects, len(found.named), reports, len(copies),
                       layer_scores={name: np.where(has, v, np.nan) for name, (v, has) in found.whole.items()},
                       candidate_numbers=[c.copy_no for c in copies], search=found.info)


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


def _coded(key: bytes, doc_id: str, copies: list[Copy], measures: list[_PageMeasure]) -> list[colluders.Coded]:
    """Every codeword layer measured on each page, with every copy's codeword there (rows of copies that do
    not carry the layer on that page, as the ledger records it, are 0) and where each code position lies."""
    out: list[colluders.Coded] = []
    numbers = [c.copy_no for c in copies]
    for p, m in enumerate(measures):
        for name in CODEWORD:
            values = m.values.get(name)
            if values is None or not len(values) or not np.any(values):
                continue
            on_page = np.array([carries(c, name, m.page) for c in copies])
            codes = sign_matrix(key, doc_id, numbers, name, m.page, len(values)) * on_page[:, None]
            yx = m.yx.get(name)
            out.append(colluders.Coded(page=p, layer=str(name), values=values, codes=codes, carried=on_page,
                                       yx=yx if yx is not None else np.full((len(values), 2), -1.0), shows=m.page))
    return out


def _found_in(found: colluders.Finding, i: int, copies: list[Copy], measures: list[_PageMeasure],
              images: list[str]) -> FoundIn:
    """Where copy i's score was found, and whose marks had been removed from the evidence first."""
    part = found.where[i]
    removed = tuple(copies[j].label for j in found.removed[i])
    if part.page is None:  # "outside" is, as "rest", the evidence without where removed copies' marks lie
        return FoundIn("rest" if part.family == "outside" else part.family, removed=removed)
    pages = [m.page for m in measures]
    page = pages[part.page]
    image = images[part.page] if pages.count(page) > 1 else None
    lo, hi = (round(100 * b / colluders.BANDS) for b in (part.lo, part.hi))
    return FoundIn(part.family, page + 1, image, part.axis, lo, hi, removed)


def _image(rep: EvidenceReport) -> str:
    """An evidence image as the report names it: the file's name, and its page when it is not the first."""
    name = Path(rep.path).name
    return name if rep.page == 1 else f"{name} p. {rep.page}"


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


def carries(copy: Copy, layer: str, page: int) -> bool:
    """Whether this copy carries the layer on this page (0-based), as the register records it."""
    return copy.marking.carries(layer, page)
