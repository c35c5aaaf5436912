"""The register as an application sees it: list, search, show, runs, set status, export, verify, anchor, and
the record of every trace (`record_trace`, `traces`).

Library calls: they never print or exit; they raise LeakmarkError subclasses (NotFoundError,
BadRequestError, LedgerIntegrityError, WorkspaceLockedError, ...) and return frozen result objects whose
`to_json()` gives the plain dicts `leakmark log ... --json` prints. Every function takes a `Workspace`
(its ledger is opened and closed around the call) or an open `Ledger` (used as it is).

Nothing is read from a register that fails verification: every function checks it first (the incremental
check, `Ledger.check`) and raises LedgerIntegrityError (exit 7). The readers take `trust_register=True` to
read it anyway; the open Ledger's `state` then says that it failed (the CLI prints that with the results).

    from leakmark.register import list_documents, verify
    for entry in list_documents(ws):
        print(entry.document.title, len(entry.copies))
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakmark import __version__
from leakmark._io import atomic_write_bytes
from leakmark.errors import BadRequestError, InputFileError, LeakmarkError, NotRecordedError, OutputError
from leakmark.ledger import (
    Copy,
    CopyStatus,
    Document,
    Ledger,
    RecordedTrace,
    RegisterState,
    Run,
    RunState,
    ScoredCopy,
    TracedFile,
    TraceEvent,
    TraceRecord,
    format_copy_no,
)
from leakmark.ledger.traces import VERDICTS
from leakmark.ledger.witness import Witness
from leakmark.pdf.stamp import Stamp
from leakmark.safetext import csv_cell
from leakmark.workspace import Workspace

if TYPE_CHECKING:
    from leakmark.trace.result import TraceResult

Source = Workspace | Ledger
TOP_SCORED = 5  # the best scored copies a trace event keeps (the named ones first)

EXPORT_COLUMNS = ("document_id", "title", "level", "copy_no", "recipient", "unit", "issued_at", "issued_by",
                  "status", "note",
                  # appended later (existing positions stay): 保密期限, and who recorded each clerk's change, when
                  "period", "returned_at", "returned_by", "returned_note", "destroyed_at", "destroyed_by",
                  "destroyed_note", "voided_at", "voided_by", "void_reason")
# `log export --headers zh`: the same columns under Chinese names (the values are the same)
EXPORT_COLUMNS_ZH = ("文件编号", "标题", "密级", "份号", "收件人", "单位", "分发时间", "分发人", "状态", "备注",
                     "保密期限", "退回时间", "退回经办人", "退回备注", "销毁时间", "销毁经办人", "销毁备注",
                     "作废时间", "作废经办人", "作废原因")
HEADERS = {"en": EXPORT_COLUMNS, "zh": EXPORT_COLUMNS_ZH}
# the statuses whose last change the export shows (date, operator, note or reason), in column order
CHANGE_STATUSES = (CopyStatus.returned, CopyStatus.destroyed, CopyStatus.void)
CSV_BOM = b"\xef\xbb\xbf"  # Excel and WPS read UTF-8 only with it


@contextlib.contextmanager
def _opened(source: Source, trust_register: bool = False, check: bool = True, write: bool = False) -> Iterator[Ledger]:
    """The open ledger, checked (once: an open Ledger already checked is used as it is)."""
    if isinstance(source, Ledger):
        if check and source.state is None:
            source.check(trust=trust_register, for_write=write)
        yield source
    else:
        with Ledger(source) as ledger:
            if check:
                ledger.check(trust=trust_register, for_write=write)
            yield ledger


# -- results ----------------------------------------------------------------------------------------------
def _copy_summary(c: Copy) -> dict[str, Any]:
    return {"copy_no": c.label, "recipient": c.recipient, "unit": c.unit, "issued_at": c.issued_at,
            "status": str(c.status)}


@dataclass(frozen=True)
class DocumentCopies:
    """A registered document and its copies (every status), in copy-number order."""

    document: Document
    copies: tuple[Copy, ...]

    def to_json(self) -> dict[str, Any]:
        d = self.document
        return {"id": d.id, "title": d.title, "level": d.level, "period": d.period, "pages": d.pages,
                "sha256": d.sha256, "copies": [_copy_summary(c) for c in self.copies]}


@dataclass(frozen=True)
class CopyEntry:
    """A copy with its document's title and 密级: one row of the export, one search hit."""

    document: Document
    copy: Copy
    # per status a clerk set (returned, destroyed, void): the last event that set it, {"at", "by", "note"}
    changes: dict[str, dict[str, str]] = field(default_factory=dict)

    def row(self) -> list[str]:
        """The values in EXPORT_COLUMNS order."""
        c, d = self.copy, self.document
        out = [c.document_id, d.title, d.level, format_copy_no(c.copy_no), c.recipient, c.unit, c.issued_at,
               c.issued_by, str(c.status), c.note, d.period]
        for status in CHANGE_STATUSES:
            ch = self.changes.get(status, {})
            out += [ch.get("at", ""), ch.get("by", ""), ch.get("note", "")]
        return out

    def to_json(self) -> dict[str, str]:
        return dict(zip(EXPORT_COLUMNS, self.row(), strict=True))


@dataclass(frozen=True)
class HistoryEntry:
    """One event in a copy's life: reserved by its run, issued, returned, destroyed, or void."""

    seq: int
    ts: str
    kind: str  # the event kind: run | issued | status | void | run_end | trace (| issue, in early registers)
    status: str  # the copy's status after the event (a trace changes none)
    note: str  # the clerk's note, the reason a copy is void, or what a trace that named it found
    operator: str = ""  # who recorded it ("" for status events written before operators were recorded)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "status": self.status, "note": self.note,
                "operator": self.operator}


@dataclass(frozen=True)
class Reclassification:
    """A change of a document's 密级 (a `reclassify` event)."""

    seq: int
    ts: str
    previous: str
    level: str
    reason: str
    operator: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "previous": self.previous, "level": self.level,
                "reason": self.reason, "operator": self.operator}


@dataclass(frozen=True)
class CopyDetail:
    """One copy with its document and its history, oldest event first (the recorded traces that named it among
    them: kind `trace`; `traces(copy=...)` gives them in full)."""

    document: Document
    copy: Copy
    history: tuple[HistoryEntry, ...]
    reclassified: tuple[Reclassification, ...] = ()  # the document's changes of 密级, oldest first
    stamp: Stamp | None = None  # the visible stamp its run printed on page 1 (None: none, or a copy before runs)

    @property
    def stamp_lines(self) -> list[str]:
        """The text the copy's stamp shows, line by line (empty without a stamp)."""
        return [] if self.stamp is None else self.stamp.lines(self.copy.label, self.copy.unit)

    def to_json(self) -> dict[str, Any]:
        d, c = self.document, self.copy
        st = self.stamp
        return {"document": {"id": d.id, "title": d.title, "level": d.level, "period": d.period,
                             "reclassified": [r.to_json() for r in self.reclassified]},
                "copy": {"document_id": c.document_id, "copy_no": c.label, "recipient": c.recipient,
                         "unit": c.unit, "note": c.note, "issued_at": c.issued_at, "issued_by": c.issued_by,
                         "status": str(c.status), "run_id": c.run_id, "version": c.version, "path": c.path,
                         "settings": c.settings,
                         "stamp": None if st is None else {"position": st.spec.position, "size_pt": st.spec.size_pt,
                                                           "lines": self.stamp_lines}},
                "history": [h.to_json() for h in self.history]}


@dataclass(frozen=True)
class StatusChange:
    """A recorded status change: the copy as it is now."""

    copy: Copy

    def to_json(self) -> dict[str, Any]:
        c = self.copy
        return {"document_id": c.document_id, "copy_no": c.label, "recipient": c.recipient, "unit": c.unit,
                "status": str(c.status)}


@dataclass(frozen=True)
class RunInfo:
    """An issue run: open (resumable), finished or abandoned, and how far it got."""

    id: str
    document_id: str
    created_at: str
    created_by: str
    state: RunState | str
    copies: int
    done: int
    output: str | None  # the merged file, else the output folder

    @classmethod
    def of(cls, run: Run) -> RunInfo:
        o = run.record
        return cls(id=run.id, document_id=run.document_id, created_at=run.created_at, created_by=run.created_by,
                   state=run.state, copies=run.copies, done=run.done, output=o.merge or o.output_dir)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "document_id": self.document_id, "created_at": self.created_at,
                "by": self.created_by, "state": str(self.state), "copies": self.copies, "done": self.done,
                "output": self.output}


@dataclass(frozen=True)
class Verification:
    """A register that passed verification: what it holds, which key vouches for it, its head, and the
    witness it was checked against (if any)."""

    events: int
    documents: int
    runs: int
    copies: int
    key_fingerprint: str
    head: str = ""
    witness: Witness | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"events": self.events, "documents": self.documents, "runs": self.runs,
                               "copies": self.copies, "key_fingerprint": self.key_fingerprint, "head": self.head}
        if self.witness is not None:
            out["witness"] = self.witness.to_json()
        return out


@dataclass(frozen=True)
class Anchor:
    """A witness of the register (`log anchor`): its JSON file's bytes, and where they were written."""

    witness: Witness
    data: bytes
    path: Path | None  # None: not written (the CLI prints it)
    replaced: Witness | None = None  # the older witness the file held, which the register extends


# -- queries ----------------------------------------------------------------------------------------------
def list_documents(source: Source, doc_id: str | None = None, *,
                   trust_register: bool = False) -> tuple[DocumentCopies, ...]:
    """Every document (or only `doc_id`; NotFoundError if unknown) with its copies."""
    with _opened(source, trust_register) as ledger:
        docs = [ledger.document(doc_id)] if doc_id else ledger.documents()
        return tuple(DocumentCopies(d, tuple(ledger.copies(d.id))) for d in docs)


def search(source: Source, text: str = "", *, doc_id: str | None = None,
           status: CopyStatus | str | None = None, trust_register: bool = False) -> tuple[CopyEntry, ...]:
    """Copies whose recipient, unit, note, document title or reference (`DOCUMENT/000123`) contains `text`,
    ignoring case; a `text` of digits is a copy number (`12` and `000012` find 000012, not every reference with
    a 12 in its document id) or part of a name, unit, note or title; only `doc_id`'s copies and only those
    with `status` when given. In document, then copy-number order."""
    wanted = _status(status) if status is not None else None
    needle = text.strip().casefold()
    number = int(needle) if needle.isdigit() else None
    with _opened(source, trust_register) as ledger:
        if doc_id:
            ledger.document(doc_id)  # NotFoundError for an unknown document
        entries = _entries(ledger, ledger.copies(doc_id))
    return tuple(e for e in entries
                 if (wanted is None or e.copy.status == wanted)
                 and (e.copy.copy_no == number
                      or any(needle in s.casefold() for s in (e.copy.recipient, e.copy.unit, e.copy.note,
                                                              e.document.title, "" if number else e.copy.ref))))


def show(source: Source, ref: str, *, trust_register: bool = False) -> CopyDetail:
    """One copy (`DOCUMENT/000123`, or `000123` / `123` when only one document has it) with its history."""
    with _opened(source, trust_register) as ledger:
        c = ledger.find_copy(ref)
        doc = ledger.document(c.document_id)
        history = tuple(HistoryEntry(**h) for h in ledger.history(c))
        reclassified = tuple(Reclassification(**r) for r in ledger.reclassifications(doc.id))
        stamp = ledger.run(c.run_id).record.stamp if c.run_id else None
    return CopyDetail(document=doc, copy=c, history=history, reclassified=reclassified, stamp=stamp)


def runs(source: Source, *, trust_register: bool = False) -> tuple[RunInfo, ...]:
    """Every issue run, oldest first (each run's copies are checked too: it counts them)."""
    with _opened(source, trust_register) as ledger:
        ledger.check_copies()
        return tuple(RunInfo.of(r) for r in ledger.runs())


# -- status -----------------------------------------------------------------------------------------------
def set_status(source: Source, ref: str, status: CopyStatus | str, note: str = "",
               operator: str | None = None) -> StatusChange:
    """Record a clerk's status for an issued copy: `issued`, `returned` or `destroyed`; `operator` is who
    records it (default: the workspace config's `operator`, else the OS user).

    `reserved` belongs to runs and `void` to `void_copy`: BadRequestError, as for a copy never issued, void
    or already destroyed."""
    with _opened(source, write=True) as ledger:
        return StatusChange(ledger.set_status(ref, status, note, ledger.ws.operator(operator)))


def return_copy(source: Source, ref: str, note: str = "", operator: str | None = None) -> StatusChange:
    """Record that a copy came back."""
    return set_status(source, ref, CopyStatus.returned, note, operator)


def destroy_copy(source: Source, ref: str, note: str = "", operator: str | None = None) -> StatusChange:
    """Record that a copy was destroyed."""
    return set_status(source, ref, CopyStatus.destroyed, note, operator)


def void_copy(source: Source, ref: str, reason: str, operator: str | None = None) -> StatusChange:
    """Void a copy issued by mistake (an issued or returned copy; `reason` required): a `void` event, the
    copy's status becomes `void` for good and its number is never given to another copy. BadRequestError
    for an empty reason or a copy reserved, void or destroyed."""
    with _opened(source, write=True) as ledger:
        return StatusChange(ledger.void_copy(ref, reason, ledger.ws.operator(operator)))


# -- traces -----------------------------------------------------------------------------------------------
def record_trace(source: Source, result: TraceResult, operator: str | None = None) -> RecordedTrace:
    """Record a trace in the register: one `trace` event with the evidence files (name, path, size, SHA-256),
    the verdict, the document and pages, the named and the best scored copies, the threshold, the layers
    scored, the register the names came from, and who (`operator`: default the workspace config's
    `operator`, else the OS user), where (host), with which leakmark and key (fingerprint); the event's time
    is the UTC time it was recorded. Returns its event number and the register's head after it; sets
    `result.recorded` too.

    The register is written in one transaction after the chain is checked (as for every write). If it
    cannot be (locked, read-only, failing verification), NotRecordedError: its message says the trace was
    NOT recorded and why, and its exit code is the cause's (6, 9, 7); the result itself stands."""
    try:
        with _opened(source, check=False) as ledger:
            ws = ledger.ws
            record = _trace_record(result, ws.operator(operator), ws.key_fingerprint())
            recorded = ledger.record_trace(record)
    except LeakmarkError as exc:
        raise NotRecordedError(exc) from exc
    result.recorded = recorded
    return recorded


def traces(source: Source, *, doc_id: str | None = None, copy: str | None = None, verdict: str | None = None,
           since: datetime | None = None, trust_register: bool = False) -> tuple[TraceEvent, ...]:
    """The recorded traces, oldest first: only those of document `doc_id`, only those that named `copy`
    (`DOCUMENT/000123`, or `000123` / `123` when only one document has it; with `doc_id` that document's),
    only those with `verdict`, only those recorded at or after `since` (a naive datetime is local time).
    NotFoundError for an unknown document or copy, BadRequestError for an unknown verdict."""
    if verdict is not None and verdict not in VERDICTS:
        raise BadRequestError(f"unknown verdict {verdict!r} (choose from {', '.join(VERDICTS)})")
    with _opened(source, trust_register) as ledger:
        if doc_id:
            ledger.document(doc_id)  # NotFoundError for an unknown document
        named = ledger.find_copy(f"{doc_id}/{copy}" if doc_id and "/" not in copy else copy) if copy else None
        events = ledger.trace_events()
    start = since.astimezone() if since is not None else None  # naive: local time
    return tuple(e for e in events
                 if (doc_id is None or e.record.document_id == doc_id)
                 and (named is None or e.record.names(named.document_id, named.copy_no))
                 and (verdict is None or e.record.verdict == verdict)
                 and (start is None or _recorded_at(e) >= start))


def _recorded_at(event: TraceEvent) -> datetime:
    when = datetime.fromisoformat(event.ts)
    return when if when.tzinfo is not None else when.astimezone()


def _trace_record(result: TraceResult, operator: str, fingerprint: str) -> TraceRecord:
    """What the register keeps of a trace result (scores and probabilities rounded as its JSON gives them)."""
    from leakmark.trace.result import fap_json, score_json

    doc_id = result.document.id if result.document is not None else None

    def scored(i: int) -> ScoredCopy:
        s = result.suspects[i]
        return ScoredCopy(document_id=s.copy.document_id, copy_no=s.copy.copy_no, score=score_json(s.score),
                          fap=fap_json(s.fap))

    return TraceRecord(
        verdict=str(result.verdict), document_id=doc_id, pages=tuple(result.pages),
        named=tuple(scored(i) for i in range(result.named)),
        top=tuple(scored(i) for i in range(min(len(result.suspects), max(TOP_SCORED, result.named)))),
        candidates=result.candidates, threshold=float(result.threshold or 0.0), layers=tuple(result.layer_scores),
        evidence=tuple(TracedFile(name=Path(f.path).name, path=f.path, size=f.size, sha256=f.sha256)
                       for f in result.evidence_files),
        register=result.register or RegisterState(count=0, head="", verified=False, problem="not checked"),
        operator=operator, host=_host(), version=__version__, key_fingerprint=fingerprint)


def _host() -> str:
    import socket  # here: only a trace being recorded needs it (the `log` commands start faster)

    try:
        return socket.gethostname()
    except OSError:
        return ""


# -- export and verification ------------------------------------------------------------------------------
def export_rows(source: Source, *, trust_register: bool = False) -> tuple[CopyEntry, ...]:
    """Every copy of every document, in document-id then copy-number order."""
    with _opened(source, trust_register) as ledger:
        return tuple(_entries(ledger, ledger.copies()))


def csv_bytes(rows: Iterable[CopyEntry], headers: str = "en") -> bytes:
    """The rows as CSV with a header of EXPORT_COLUMNS (`headers="zh"`: EXPORT_COLUMNS_ZH), UTF-8 with BOM
    (opens correctly in Excel and WPS).

    A cell a spreadsheet would take for a formula (`=cmd|...`, `@SUM(...)`, `+HYPERLINK(...)`) starts with
    a `'` (`leakmark.safetext.csv_cell`); the register and the JSON keep the value as it was given."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(_headers(headers))
    for entry in rows:
        w.writerow([csv_cell(v) for v in entry.row()])
    return CSV_BOM + buf.getvalue().encode("utf-8")


def export_csv(source: Source, *, trust_register: bool = False, headers: str = "en") -> bytes:
    """The whole register as `leakmark log export --csv` writes it: the rows, then a blank row and one cell
    with the register's checkpoint (`register: N events, head H, verified`, or that it FAILED verification).
    `headers`: "en" (EXPORT_COLUMNS) or "zh" (EXPORT_COLUMNS_ZH); BadRequestError for anything else."""
    _headers(headers)  # an unknown language is refused before the register is opened
    with _opened(source, trust_register) as ledger:
        rows = export_rows(ledger)
        assert ledger.state is not None
        return csv_bytes(rows, headers) + register_footer(ledger.state)


def register_footer(state: RegisterState) -> bytes:
    """The export's last lines: a blank row, then the register's checkpoint in one cell."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([])
    w.writerow([state.summary()])
    return buf.getvalue().encode("utf-8")


def verify(source: Source, against: Path | None = None) -> Verification:
    """Replay the chain and check every row, the checkpoint, the head file, every view digest and the vault's
    reservation records (LedgerIntegrityError at the first bad one); with `against`, also that the register
    contains the state that witness file recorded (a register rolled back to an older state fails)."""
    with _opened(source, check=False) as ledger:
        rep = ledger.verify()
        seen = ledger.verify_against(against) if against is not None else None
        state = ledger.check()  # a register written before checkpoints gets its first one here
        fingerprint = ledger.ws.key_fingerprint()
    return Verification(events=rep.events, documents=rep.documents, runs=rep.runs, copies=rep.copies,
                        key_fingerprint=fingerprint, head=state.head, witness=seen)


def anchor(source: Source, path: Path | None = None) -> Anchor:
    """Verify the register in full and make a witness of it (its event count and head hash, authenticated),
    to keep away from the workspace; `log verify --against` it later detects a roll-back to anything older.

    With `path` the witness is written there; a file already there must be an older witness of this
    register, which the register must still contain (so an anchor never replaces a witness with an older
    state); anything else there is an OutputError."""
    with _opened(source, check=False) as ledger:
        rep = ledger.verify()
        replaced = None
        if path is not None and path.exists():
            try:
                replaced = ledger.verify_against(path)
            except InputFileError:
                raise OutputError(f"{path} exists and is not a witness of this register; choose another file "
                                  "name") from None
        w = ledger.make_witness(rep)
        data = w.to_bytes(ledger.ws.key())
    if path is not None:
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise OutputError(f"cannot write the witness {path}: {exc.strerror}") from exc
    return Anchor(witness=w, data=data, path=path, replaced=replaced)


# -- helpers ----------------------------------------------------------------------------------------------
def _entries(ledger: Ledger, copies: list[Copy]) -> list[CopyEntry]:
    docs = {d.id: d for d in ledger.documents()}
    changes = ledger.status_records()
    abandoned = ledger.abandoned_runs() if any(c.status == CopyStatus.void for c in copies) else {}
    out = []
    for c in copies:
        mine = changes.get((c.document_id, c.copy_no), {})
        if c.status == CopyStatus.void and CopyStatus.void not in mine and c.run_id in abandoned:
            mine = {**mine, CopyStatus.void: abandoned[c.run_id]}  # voided by abandoning its run
        out.append(CopyEntry(document=docs[c.document_id], copy=c, changes=mine))
    return out


def _headers(language: str) -> tuple[str, ...]:
    try:
        return HEADERS[language]
    except KeyError:
        raise BadRequestError(f"unknown header language {language!r} (choose from {', '.join(HEADERS)})") from None


def _status(value: CopyStatus | str) -> CopyStatus:
    try:
        return CopyStatus(value)
    except ValueError:
        raise BadRequestError(f"unknown status {str(value)!r} (choose from {', '.join(CopyStatus)})") from None
