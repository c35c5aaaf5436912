"""The evidence report as plain data: built from a `TraceResult` (its numbers taken from `to_json()`, so the
report and `trace --json` can never differ) and the register's facts about the copies it names.

Every string here is plain text: the HTML renderer escapes all of it."""

from __future__ import annotations

import getpass
import math
import re
import shlex
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from leakmark import __version__, register, tailbound
from leakmark.errors import BadRequestError
from leakmark.ledger import Copy, Document, Ledger
from leakmark.report import charts, images
from leakmark.report.texts import LANGUAGES, text
from leakmark.trace import colluders
from leakmark.trace.artifacts import overlay_copies
from leakmark.trace.decide import INCONCLUSIVE_FAP, SEPARATION
from leakmark.trace.result import TraceOptions, TraceResult
from leakmark.workspace import Workspace

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def choose_language(lang: str | None, document: Document | None, documents: list[Document]) -> str:
    """`lang` when given; else Chinese when the traced document, or any document in the workspace's register,
    has a Chinese title or 密级; else English."""
    if lang is not None:
        if lang not in LANGUAGES:
            raise BadRequestError(f"unknown report language {lang!r}: choose from {', '.join(LANGUAGES)}")
        return lang
    shown = [document] if document is not None else []
    for d in [*shown, *documents]:
        if _CJK.search(d.title) or _CJK.search(d.level):
            return "zh"
    return "en"


def probability(p: float) -> str:
    """A probability as people read it: 0.0123, 1.23 × 10⁻⁷; below what a double can hold, < 10⁻³⁰⁸."""
    if p == 0:
        return "< 10⁻³⁰⁸"
    if p >= 1e-3:
        return f"{p:.3g}"
    exp = math.floor(math.log10(p))
    mantissa = float(f"{p / 10 ** exp:.3g}")
    if mantissa >= 10:
        mantissa, exp = mantissa / 10, exp + 1
    head = "" if mantissa == 1 else f"{mantissa:g} × "
    return f"{head}10{str(exp).translate(_SUPERSCRIPT)}"


def local_and_utc(stamp: str | None) -> tuple[str, str]:
    """A stored UTC time as (local time with its offset, UTC); empty when missing."""
    if not stamp:
        return "", ""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp, stamp
    if when.tzinfo is None:
        return stamp, stamp
    return (when.astimezone().isoformat(sep=" ", timespec="seconds"),
            when.astimezone(UTC).isoformat(sep=" ", timespec="seconds"))


@dataclass
class HistoryRow:
    time: str
    event: str
    operator: str
    note: str


@dataclass
class SuspectRow:
    """One ranked copy, its numbers exactly as `to_json()` has them (`score`, `fap`, `layers`)."""

    rank: int
    copy: str
    recipient: str
    unit: str
    score: float
    fap: float
    layers: dict[str, float]
    status: str
    named: bool


@dataclass
class CopyFacts:
    """The register's entry of a copy the report is about, and its history."""

    copy: str
    rows: list[tuple[str, str]]  # (label, value)
    history: list[HistoryRow]


@dataclass
class Overlay:
    copy: str
    uri: str
    caption: str
    legend: str


@dataclass
class PageView:
    title: str
    received_uri: str
    located_uri: str = ""
    located_caption: str = ""
    aligned_uri: str = ""
    original_uri: str = ""
    original_caption: str = ""
    overlays: list[Overlay] = field(default_factory=list)


@dataclass
class EvidenceRow:
    path: str
    page: int
    sha256: str
    result: str
    detail: str


@dataclass
class EvidenceFile:
    path: str
    sha256: str
    size: str


@dataclass
class ReportModel:
    lang: str
    verdict: str  # identified | inconclusive | no-match
    verdict_label: str
    statements: list[str]  # the verdict in plain words
    notes: list[str]  # the status of the named copies, and anything unusual about them
    warning: str  # the register failed verification (only with --trust-register), else ""
    document: list[tuple[str, str]]  # (label, value); empty when no registered page was shown
    suspects: list[SuspectRow]
    layer_names: list[tuple[str, str]]  # (layer, its label) of the layers any suspect has
    threshold: float
    chart_svg: str  # SVG markup built by `charts` (its texts escaped there); "" when nothing was scored
    chart_caption: str
    bound: str
    meanings: list[str]
    copies_title: str
    copies: list[CopyFacts]
    pages: list[PageView]
    dropped: str
    evidence: list[EvidenceRow]
    files: list[EvidenceFile]
    file_findings: list[str]
    disagreements: list[str]
    custody: list[tuple[str, str]]
    command: str
    made_at: str  # local time the report was made, for the PDF's page footer
    # the trace's own event in the register (kind `trace`), once traces are recorded; None until then
    recorded_event: dict[str, Any] | None = None

    def t(self, name: str, **fields: object) -> str:
        return text(self.lang, name, **fields)


def build(workspace: Workspace, result: TraceResult, options: TraceOptions, *, lang: str | None = None,
          operator: str | None = None, recorded_event: dict[str, Any] | None = None) -> ReportModel:
    """The report of `result` (traced with `options`). Reads the register (checked as the trace checked it)
    for the named copies' entries and history; reads the evidence files' sizes if they are still there."""
    data = result.to_json()
    with Ledger(workspace) as ledger:
        ledger.check(trust=options.trust_register)
        documents = ledger.documents()
        language = choose_language(lang, result.document, documents)
        about = data["suspects"][: result.named] or (data["suspects"][:1] if result.verdict == "inconclusive"
                                                      else [])
        details = [register.show(ledger, f"{result.document.id}/{s['copy_no']}", trust_register=options.trust_register)
                   for s in about] if result.document is not None else []
    now = datetime.now(UTC)
    m = ReportModel(
        lang=language, verdict=str(result.verdict), verdict_label=text(language, f"verdict_{result.verdict}"),
        statements=[], notes=[], warning="", document=[], suspects=[], layer_names=[], threshold=options.threshold,
        chart_svg="", chart_caption="", bound="", meanings=[], copies_title="", copies=[], pages=[], dropped="",
        evidence=[], files=[], file_findings=[f["finding"] for f in data["file_identifiers"]],
        disagreements=list(data["disagreements"]), custody=[], command=reproduce(workspace, options),
        made_at=now.astimezone().isoformat(sep=" ", timespec="seconds"), recorded_event=recorded_event)
    _verdict(m, result, data, options)
    _document(m, result)
    _suspects(m, result, data)
    _scores(m, result, options)
    _copies(m, details, result)
    _pages(m, result)
    _evidence(m, result, data)
    _custody(m, workspace, result, options, now, operator)
    return m


def _who(lang: str, recipient: str, unit: str) -> str:
    if not unit:
        return recipient
    return f"{recipient}（{unit}）" if lang == "zh" else f"{recipient} ({unit})"


def _status(lang: str, status: str, date: str | None) -> str:
    key = f"st_{status}"
    name = text(lang, key) if key in _STATUS_KEYS else status
    return text(lang, "st_on", status=name, date=local_and_utc(date)[0]) if date else name


_STATUS_KEYS = {"st_issued", "st_returned", "st_destroyed", "st_void", "st_reserved"}


def _verdict(m: ReportModel, result: TraceResult, data: dict, options: TraceOptions) -> None:
    t, lang = m.t, m.lang
    state = result.register
    if state is not None and not state.verified:
        m.warning = t("register_failed", problem=state.problem)
    threshold = probability(options.threshold)
    named = data["suspects"][: result.named]
    for s, suspect in zip(named, result.suspects, strict=False):
        made = s["status"] in ("reserved", "void")
        key = ("source_made" if made else "source_issued") + ("_one_of" if len(named) > 1 else "")
        m.statements.append(t(key, copy=s["copy_no"], who=_who(lang, s["recipient"], s["unit"])))
        m.statements.append(t("source_fap", fap=probability(s["false_accusation_probability"]), threshold=threshold))
        if suspect.found_in.part != "whole" or suspect.found_in.removed:  # a colluder found on part of the evidence
            m.statements.append(t("source_where", where=suspect.found_in.text(lang)))
        m.notes.append(t("status_line", copy=s["copy_no"], status=_status(lang, s["status"], s["status_date"])))
        if s["status"] != "issued":
            m.notes.append(t("status_note", copy=s["copy_no"], status=_status(lang, s["status"], s["status_date"])))
    if len(named) > 1:
        m.statements.append(t("collusion", n=len(named)))
    if result.verdict == "identified":
        m.notes.append(t("caution"))
    elif result.verdict == "inconclusive":
        best = data["suspects"][0]
        close = best["false_accusation_probability"] < options.threshold
        who = _who(lang, best["recipient"], best["unit"])
        m.statements.append(t("inconclusive_best", copy=best["copy_no"], who=who,
                              fap=probability(best["false_accusation_probability"]), threshold=threshold,
                              why=t("inconclusive_close") if close else ""))
        for s in data["suspects"][1:3]:
            if s["false_accusation_probability"] < INCONCLUSIVE_FAP:
                m.statements.append(t("inconclusive_also", copy=s["copy_no"], who=_who(lang, s["recipient"], s["unit"]),
                                      fap=probability(s["false_accusation_probability"])))
        m.statements.append(t("inconclusive_next"))
    else:
        pages = ", ".join(map(str, result.pages))
        if result.document is None:
            m.statements.append(t("nomatch_nopage"))
        elif not data["suspects"]:
            m.statements.append(t("nomatch_nocopies", pages=pages, title=result.document.title))
        else:
            m.statements.append(t("nomatch_page", pages=pages, title=result.document.title,
                                  fap=probability(data["suspects"][0]["false_accusation_probability"])))


def _document(m: ReportModel, result: TraceResult) -> None:
    d = result.document
    if d is None:
        return
    t = m.t
    m.document = [(t("doc_title"), d.title), (t("doc_id"), d.id)]
    if d.level:
        m.document.append((t("doc_level"), d.level))
    if d.period:
        m.document.append((t("doc_period"), d.period))
    m.document += [(t("doc_pages"), t("of_pages", pages=", ".join(map(str, result.pages)), total=d.pages)),
                   (t("doc_copies"), str(result.candidates)), (t("doc_sha"), d.sha256)]


def _suspects(m: ReportModel, result: TraceResult, data: dict) -> None:
    seen: list[str] = []
    for i, s in enumerate(data["suspects"]):
        m.suspects.append(SuspectRow(rank=i + 1, copy=s["copy_no"], recipient=s["recipient"], unit=s["unit"],
                                     score=s["score"], fap=s["false_accusation_probability"], layers=s["layers"],
                                     status=_status(m.lang, s["status"], s["status_date"]), named=i < result.named))
        seen += [k for k in s["layers"] if k not in seen]
    m.layer_names = [(k, m.t(f"layer_{k}") if f"layer_{k}" in _LAYER_KEYS else k) for k in seen]


_LAYER_KEYS = {"layer_shift", "layer_tone", "layer_blind", "layer_file"}


def _scores(m: ReportModel, result: TraceResult, options: TraceOptions) -> None:
    t = m.t
    art = result.artifacts
    tests = art.tests if art is not None else max(1, 2 ** len(result.layer_scores) - 1)
    n = result.candidates
    m.bound = t("bound", n=n, tests=tests) if n else t("bound_none")
    if n and result.search is not None:
        m.bound += " " + t("bound_parts", weight=f"{100 * result.search.whole_weight:.0f}",
                           parts=result.search.parts, rounds=colluders.MAX_ROUNDS)
    m.meanings = [t("meaning_identified", threshold=probability(options.threshold), sep=f"{SEPARATION:g}"),
                  t("meaning_inconclusive"), t("meaning_nomatch")]
    if art is None or not len(art.scores):
        return
    trials = len(art.scores) * art.tests / art.weight
    index = {int(c): i for i, c in enumerate(art.numbers.tolist())}
    labels = {s.copy.copy_no: s.copy.label for s in result.suspects}
    named = {s.copy.copy_no for s in result.suspects[: result.named]}
    marks = {index[n]: charts.Mark(label=labels[n], named=n in named)
             for n in overlay_copies(result.suspects, result.named) if n in index}
    m.chart_svg = charts.score_chart(
        art.scores, marks, threshold_score=tailbound.score_for(min(options.threshold / trials, 0.5)),
        inconclusive_score=tailbound.score_for(min(INCONCLUSIVE_FAP / trials, 0.5)),
        axis_label=t("chart_axis"), count_label=t("chart_copies"),
        threshold_label=f"{probability(options.threshold)}")
    m.chart_caption = t("chart_caption", n=len(art.scores), threshold=probability(options.threshold))


def _copies(m: ReportModel, details: list[register.CopyDetail], result: TraceResult) -> None:
    t, lang = m.t, m.lang
    m.copies_title = t("sec_register") if result.named else t("sec_register_best")
    for d in details:
        c: Copy = d.copy
        rows = [(t("reg_copy"), f"{c.document_id}/{c.label}"), (t("reg_recipient"), c.recipient),
                (t("reg_unit"), c.unit or "—"), (t("reg_issued_at"), local_and_utc(c.issued_at)[0]),
                (t("reg_issued_by"), c.issued_by or "—"), (t("reg_status"), _status(lang, str(c.status), None)),
                (t("reg_run"), c.run_id)]
        if c.note:
            rows.append((t("reg_note"), c.note))
        history = [HistoryRow(time=local_and_utc(h.ts)[0], event=_event(lang, h.kind, h.status),
                              operator=h.operator or "—", note=h.note) for h in d.history]
        m.copies.append(CopyFacts(copy=c.label, rows=rows, history=history))


def _event(lang: str, kind: str, status: str) -> str:
    if kind == "status":
        return text(lang, "ev_status", status=_status(lang, status, None))
    key = f"ev_{kind}"
    return text(lang, key) if key in {"ev_run", "ev_issued", "ev_issue", "ev_void", "ev_run_end"} else kind


def _pages(m: ReportModel, result: TraceResult) -> None:
    art = result.artifacts
    if art is None:
        return
    t = m.t
    named = {s.copy.copy_no for s in result.suspects[: result.named]}
    labels = {s.copy.copy_no: s.copy.label for s in result.suspects}
    for p in art.pages:
        ev = result.evidence[p.report]
        view = PageView(title=f"{ev.path} — {t('ev_page')} {ev.page}", received_uri=images.data_uri(p.received, True))
        if p.located is not None and p.outline is not None:
            view.located_uri = images.data_uri(images.outlined(p.located, p.outline), True)
            view.located_caption = t("ev_mirrored") if p.mirrored else t("ev_located")
        else:
            view.located_caption = t("ev_not_found")
        if p.aligned is not None and p.original is not None:
            view.aligned_uri = images.data_uri(images.aligned_view(p.aligned, p.valid), True)
            view.original_uri = images.data_uri(p.original)
            view.original_caption = t("ev_original", page=p.page + 1)
            if p.zoom is not None:  # a partial capture: drawn close up
                base, valid = p.zoom, p.zoom_valid
                boxes = (p.boxes - np.array(p.zoom_origin * 2, np.float32)) * p.zoom_scale
            else:
                base, valid, boxes = p.aligned, p.valid, p.boxes * p.scale
            for number, contrib in p.agreement.items():
                img, agree, measured = images.overlay(base, valid, boxes, p.kinds, contrib)
                label = labels.get(number, f"{number:06d}")
                caption = t("ev_overlay", copy=label) + ("" if number in named else " " + t("ev_overlay_best"))
                pct = f"{100 * agree / measured:.0f} %" if measured else "—"
                view.overlays.append(Overlay(copy=label, uri=images.data_uri(img), caption=caption,
                                             legend=t("ev_overlay_legend", copy=label, agree=agree, measured=measured,
                                                      pct=pct)))
        m.pages.append(view)
    if art.dropped:
        m.dropped = t("ev_dropped", n=art.dropped)


def _evidence(m: ReportModel, result: TraceResult, data: dict) -> None:
    t = m.t
    seen: dict[str, str] = {}
    for rep, e in zip(result.evidence, data["evidence"], strict=True):
        seen.setdefault(e["path"], e["sha256"])
        found = t("ev_aligned", page=rep.document_page) if e["aligned"] else t("ev_not_aligned")
        m.evidence.append(EvidenceRow(path=e["path"], page=e["page"], sha256=e["sha256"], result=found,
                                      detail=rep.detail))
    for path, sha in seen.items():
        try:
            size = f"{Path(path).stat().st_size:,}"
        except OSError:
            size = "—"
        m.files.append(EvidenceFile(path=path, sha256=sha, size=size))


def _custody(m: ReportModel, workspace: Workspace, result: TraceResult, options: TraceOptions, now: datetime,
             operator: str | None) -> None:
    t = m.t
    state = result.register
    try:
        host = socket.gethostname()
    except OSError:
        host = "—"
    try:
        who = workspace.operator(operator)
    except Exception:  # no user database entry
        who = getpass.getuser() if operator is None else operator
    m.custody = [
        (t("cu_time_local"), now.astimezone().isoformat(sep=" ", timespec="seconds")),
        (t("cu_time_utc"), now.isoformat(sep=" ", timespec="seconds")),
        (t("cu_operator"), who), (t("cu_host"), host), (t("cu_version"), __version__),
        (t("cu_key"), workspace.key_fingerprint()),
    ]
    if state is not None:
        m.custody += [(t("cu_head"), state.head), (t("cu_events"), str(state.count)),
                      (t("cu_verified"), t("cu_verified_ok") if state.verified
                       else t("cu_verified_failed", problem=state.problem))]
    m.custody.append((t("cu_threshold"), f"{options.threshold:g}"))
    if m.recorded_event is not None:
        m.custody.append((t("cu_recorded"), ", ".join(f"{k} {v}" for k, v in m.recorded_event.items())))


def reproduce(workspace: Workspace, options: TraceOptions) -> str:
    """The command that traces the same evidence against the same workspace with the same settings (absolute
    paths; a password is never written: it shows as a placeholder)."""
    args = ["leakmark", "trace", *(str(Path(p).resolve()) for p in options.evidence), "--home",
            str(workspace.home.resolve()), "--threshold", f"{options.threshold:g}"]
    if options.doc_id:
        args += ["--doc", options.doc_id]
    if options.layers:
        args += ["--layers", ",".join(options.layers)]
    if options.trust_register:
        args.append("--trust-register")
    command = shlex.join(args)
    if options.password is not None:
        command += " --password '<the password>'"
    return command


__all__ = ["ReportModel", "build", "choose_language", "probability", "reproduce"]
