"""What a trace returns: the options it takes and the typed result, with its JSON shape (`to_json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from leakmark import __version__, layers
from leakmark.errors import BadRequestError
from leakmark.ledger import Copy, Document, RecordedTrace, RegisterState
from leakmark.trace.decide import Verdict, fuse

if TYPE_CHECKING:
    from leakmark.trace.artifacts import TraceArtifacts

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
    keep_artifacts: bool = False  # keep what the evidence report shows (`TraceResult.artifacts`): images, scores

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


@dataclass(frozen=True)
class EvidenceFile:
    """One evidence file as it was hashed: the path given, its size and SHA-256 (what the register records)."""

    path: str
    size: int
    sha256: str


def score_json(score: float) -> float:
    """A score as the JSON result (and the register's trace event) gives it."""
    return round(score, 3)


def fap_json(fap: float) -> float:
    """A false-accusation probability as the JSON result (and the register's trace event) gives it."""
    return float(f"{fap:.3g}")


@dataclass
class Suspect:
    copy: Copy
    score: float
    fap: float
    layers: dict[str, float]
    status_date: str | None = None  # when the copy entered its status (`copy.status`), from the register
    found_in: FoundIn = field(default_factory=lambda: FoundIn("whole"))  # where its score was found


@dataclass(frozen=True)
class FoundIn:
    """Where on the evidence a copy's score was found (`colluders.search`)."""

    part: str  # "whole" | "rest" (without where removed copies' marks lie) | "page" | "region"
    page: int | None = None  # the document's page number (1-based)
    image: str | None = None  # the evidence image (file name, page if not the first) when two show that page
    axis: int = 0  # a region: 0 = a band of rows, 1 = of columns
    lo: int = 0  # a region: from this percent of the page's height (axis 0) or width (1)
    hi: int = 100
    removed: tuple[str, ...] = ()  # copies whose marks were removed from the evidence first

    def text(self, lang: str = "en") -> str:
        """"page 1, 0–50 % from the top, after removing the mark of copy 000003" (en) or its Chinese."""
        zh = lang == "zh"
        if self.part in ("whole", "rest"):
            where = {("whole", False): "the whole evidence", ("rest", False): "the rest of the evidence",
                     ("whole", True): "整份证据", ("rest", True): "证据其余部分"}[self.part, zh]
        else:
            where = f"第 {self.page} 页" if zh else f"page {self.page}"
            if self.image is not None:
                where += f"（见 {self.image}）" if zh else f" (in {self.image})"
            if self.part == "region":
                side = ("自上而下" if self.axis == 0 else "自左向右") if zh else (
                    "from the top" if self.axis == 0 else "from the left")
                where += f"{side} {self.lo}–{self.hi} %" if zh else f", {self.lo}–{self.hi} % {side}"
        if self.removed:
            labels = "、".join(self.removed) if zh else ", ".join(self.removed)
            where += (f"，去除第 {labels} 号分发件的标记之后" if zh else
                      f", after removing the mark of cop{'ies' if len(self.removed) > 1 else 'y'} {labels}")
        return where


@dataclass(frozen=True)
class SearchInfo:
    """How the copies were searched for (`colluders.search`): what the false-accusation bound counts."""

    parts: int  # parts of the evidence scored per round (the whole, each page, each region of a page)
    rounds: int  # rounds run (a round removes the marks of the copies that passed before it)
    whole_weight: float  # the whole evidence's share of the bound in round 1 (the rest: pages, regions, rounds)
    tests: int  # layer combinations tried per part


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
    # what the register records of the trace (set by the tracer): each evidence file once, and the threshold
    evidence_files: list[EvidenceFile] = field(default_factory=list)
    threshold: float | None = None
    # where the register recorded this trace (`leakmark.register.record_trace`); None: not recorded
    recorded: RecordedTrace | None = None
    # with `TraceOptions.keep_artifacts`: what the evidence report draws (downscaled images, every copy's score)
    artifacts: TraceArtifacts | None = None
    search: SearchInfo | None = None  # None: no copy was scored

    def whole_evidence_scores(self) -> dict[int, float]:
        """Every scored copy's score on the whole evidence in the search's first round (its layers fused as
        the verdict fuses them), by copy number: for a copy that is not a source, a draw from the null
        (N(0,1) or narrower), unlike a suspect's `score`, which is its best over the parts of the evidence."""
        if not self.layer_scores:
            return {}
        z, _ = fuse({name: (np.nan_to_num(v), ~np.isnan(v)) for name, v in self.layer_scores.items()})
        return dict(zip(self.candidate_numbers, z.tolist(), strict=True))

    def to_json(self) -> dict:
        doc = None
        if self.document is not None:
            doc = {"id": self.document.id, "title": self.document.title, "pages": self.pages}
        return {
            "verdict": self.verdict,
            "document": doc,
            "suspects": [{"copy_no": s.copy.label, "recipient": s.copy.recipient, "unit": s.copy.unit,
                          "score": score_json(s.score), "false_accusation_probability": fap_json(s.fap),
                          "layers": {k: round(v, 3) for k, v in s.layers.items()},
                          "status": str(s.copy.status), "status_date": s.status_date, "found_in": s.found_in.text()}
                         for s in self.suspects],
            "evidence": [{"path": e.path, "sha256": e.sha256, "page": e.page, "aligned": e.aligned,
                          **({"blind": e.blind} if e.blind else {})} for e in self.evidence],
            "file_identifiers": [f.to_json() for f in self.file_identifiers],
            "disagreements": list(self.disagreements),
            "leakmark_version": __version__,
            "recorded": self.recorded.to_json() if self.recorded is not None else None,
            # seconds per stage (load, index, locate, align, measure, decide): where a slow trace spent its time
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
