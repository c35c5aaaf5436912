"""`trace --each`: every evidence file traced as its own leak, one result per file, and the batch's summary.

- `plan` expands the files and folders given: a folder's files in name order (its subfolders only when
  `recursive`); hidden files and files that are no evidence by their content (`pdf.read.kind_of`, the test
  `load` uses) are skipped and listed. A file named on its own is always traced (or fails on its own).
- `trace_each` traces the planned files one at a time, each as `tracer.trace` traces one leak, and yields one
  `EachEntry` per file as soon as it is done. A file that cannot be traced (unreadable, damaged, not an image,
  encrypted) becomes that file's error entry and the batch goes on; a problem of the workspace or the register
  (exit 5-8) stops it. Ctrl-C raises KeyboardInterrupt from the loop: the entries yielded so far are complete.
- `Summary` collects the entries (not the results: a long batch keeps one row per file) into the summary
  table: `to_json()`, `csv_bytes()`.

    summary = Summary()
    try:
        for entry in trace_each(ws, planned.files, TraceOptions(evidence=()), progress):
            summary.add(entry)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.finish(planned)
"""

from __future__ import annotations

import csv
import io
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakmark import __version__
from leakmark._progress import NullProgress, Progress
from leakmark.errors import EncryptedPdfError, ExitCode, InputFileError, LeakmarkError
from leakmark.ledger import RegisterState
from leakmark.pdf.read import SNIFF_BYTES, kind_of, sha256_file
from leakmark.safetext import csv_cell
from leakmark.trace.decide import Verdict
from leakmark.trace.result import TraceOptions, TraceResult

if TYPE_CHECKING:
    from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

CSV_BOM = b"\xef\xbb\xbf"  # Excel and WPS take a BOM-less CSV for the ANSI code page (GBK): 中文 would be garbled


# -- planning ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass(frozen=True)
class EachPlan:
    files: tuple[Path, ...]  # to trace, in order: each as its own leak
    skipped: tuple[Skipped, ...]  # found in a folder but not traced, with why


def plan(evidence: Sequence[Path], recursive: bool = False) -> EachPlan:
    """The files to trace from the files and folders given. InputFileError if that leaves none."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    walked: set[str] = set()
    for given in evidence:
        path = Path(given)
        if path.is_dir():
            _walk(path, recursive, files, skipped, walked)
        else:
            files.append(path)  # named by the user: traced, or an error entry that says why not
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in files:
        key = Path(os.path.realpath(path))
        if key in seen:
            skipped.append(Skipped(path, "already in this batch (given twice)"))
            continue
        seen.add(key)
        unique.append(path)
    if not unique:
        listed = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
        raise InputFileError(f"no evidence file to trace in {', '.join(str(p) for p in evidence)}"
                             + (f" ({len(skipped)} skipped: {listed})" if skipped else " (empty)")
                             + "; give PDF or PNG/JPEG/TIFF files, or the folder that holds them")
    return EachPlan(tuple(unique), tuple(skipped))


def _walk(folder: Path, recursive: bool, files: list[Path], skipped: list[Skipped], walked: set[str]) -> None:
    real = os.path.realpath(folder)
    if real in walked:  # a link back up the tree (or a folder given twice): walked once
        skipped.append(Skipped(folder, "a folder already in this batch (a link to it, or given twice)"))
        return
    walked.add(real)
    try:
        children = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InputFileError(f"{folder}: cannot list the folder ({exc.strerror}); check its permissions") from exc
    for child in children:
        if _hidden(child):
            skipped.append(Skipped(child, "hidden"))
        elif child.is_dir():
            if recursive:
                _walk(child, recursive, files, skipped, walked)
            else:
                skipped.append(Skipped(child, "a folder (add --recursive to trace the files in it too)"))
        elif not child.is_file():
            skipped.append(Skipped(child, "not a regular file"))
        elif (reason := _not_evidence(child)) is not None:
            skipped.append(Skipped(child, reason))
        else:
            files.append(child)


def _hidden(path: Path) -> bool:
    """A dot file (Unix, macOS `._` files) or, on Windows, a file with the hidden attribute (Thumbs.db)."""
    if path.name.startswith("."):
        return True
    try:
        return bool(getattr(path.lstat(), "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_HIDDEN)
    except OSError:
        return False


def _not_evidence(path: Path) -> str | None:
    """Why a folder's file is skipped, by its content; None to trace it. A file that cannot be read or is
    empty is traced, so that its error entry says what is wrong (it may be a damaged capture)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return None
    if head and kind_of(head) is None:
        return "not a PDF or a PNG/JPEG/TIFF image (by its content)"
    return None


# -- tracing -----------------------------------------------------------------------------------------------
@dataclass
class EachEntry:
    """One file of the batch: its trace result, or why it could not be traced."""

    path: Path
    result: TraceResult | None = None
    error: str = ""  # the error's message (it says what to do)
    exit_code: int = 0  # the error's exit code: 3 bad input, 4 encrypted, 1 internal error
    sha256: str | None = None  # of the file as read (also of a file that failed, if it could be read)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "traced" if self.result is not None else "failed"

    def to_json(self) -> dict[str, Any]:
        """`{"file", "status", "trace"}` with the object `trace --json` prints (with `register`), or
        `{"file", "status": "failed", "error": {"exit_code", "message"}, "sha256"}`."""
        if self.result is None:
            return {"file": str(self.path), "status": self.status,
                    "error": {"exit_code": self.exit_code, "message": self.error}, "sha256": self.sha256}
        out = self.result.to_json()
        if self.result.register is not None:
            out["register"] = self.result.register.to_json()
        return {"file": str(self.path), "status": self.status, "trace": out}


def trace_each(workspace: Workspace, files: Sequence[Path], options: TraceOptions,
               progress: Progress | None = None, *,
               pages: Callable[[Path], Progress] | None = None) -> Iterator[EachEntry]:
    """Trace each file as its own leak with `options` (their `evidence` is not used), yielding its entry.

    `progress` counts files; `pages(path)` gives the progress of that file's pages (a long PDF)."""
    progress = progress or NullProgress()
    if files:
        replace(options, evidence=(files[0],)).validate()  # bad options fail once, before any file
    progress.start(len(files), "files")
    try:
        for path in files:
            t = time.perf_counter()
            entry = _trace_one(workspace, Path(path), options, pages(Path(path)) if pages else None)
            entry.seconds = time.perf_counter() - t
            progress.advance(1)
            yield entry
    finally:
        progress.finish()


def _trace_one(workspace: Workspace, path: Path, options: TraceOptions, progress: Progress | None) -> EachEntry:
    """The one trace call per file of a batch."""
    from leakmark.trace import tracer  # OpenCV loads with the first trace

    try:
        result = tracer.trace(workspace, replace(options, evidence=(path,)), progress=progress)
    except (InputFileError, EncryptedPdfError) as exc:  # this file's problem: the batch goes on
        return EachEntry(path, error=exc.message, exit_code=int(exc.exit_code), sha256=_sha256(path))
    except LeakmarkError:  # the workspace's or the register's: every other file would fail the same way
        raise
    except Exception as exc:  # a bug met on one file: the other files are still traced
        log.debug("tracing %s failed", path, exc_info=True)
        return EachEntry(path, error=f"internal error ({type(exc).__name__}: {exc}); run again with -v and "
                         "report the traceback", exit_code=int(ExitCode.internal_error), sha256=_sha256(path))
    sha = result.evidence[0].sha256 if result.evidence else _sha256(path)
    return EachEntry(path, result=result, sha256=sha)


def _sha256(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def report_paths(files: Sequence[Path], folder: Path, suffix: str = ".html") -> dict[Path, Path]:
    """One report file per evidence file in `folder`, named after it (`scan.jpg` → `scan.jpg.html`).

    Never two the same (case ignored, as Windows and macOS compare names) and never a file that is already
    there (an earlier batch's report is kept): `scan.jpg-2.html`, `scan.jpg-3.html`, ..."""
    from leakmark.issuing.naming import safe_name

    taken = {p.name.casefold() for p in folder.iterdir()} if folder.is_dir() else set()
    out: dict[Path, Path] = {}
    for path in files:
        stem = safe_name(Path(path).name, limit=200) or "evidence"
        name, n = f"{stem}{suffix}", 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        taken.add(name.casefold())
        out[Path(path)] = folder / name
    return out


# -- summary -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NamedCopy:
    copy_no: str
    recipient: str
    unit: str
    fap: float

    def to_json(self) -> dict[str, Any]:
        return {"copy_no": self.copy_no, "recipient": self.recipient, "unit": self.unit,
                "false_accusation_probability": self.fap}


@dataclass(frozen=True)
class SummaryRow:
    """One file's line of the summary table."""

    file: str
    status: str  # traced | failed | skipped | not-traced (the batch was stopped before it)
    verdict: str = ""  # identified | inconclusive | no-match (traced files)
    document_id: str = ""
    title: str = ""
    pages: tuple[int, ...] = ()  # the document's pages the evidence shows
    named: tuple[NamedCopy, ...] = ()  # the copies the verdict names, best first
    best_copy: str = ""  # the best-ranked copy, named or not (how near an inconclusive trace came)
    best_fap: float | None = None
    sha256: str | None = None
    detail: str = ""  # failed: the error; skipped: why; traced: disagreements and file-identifier findings
    exit_code: int = 0  # failed: the error's exit code

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "verdict": self.verdict or None,
                "document_id": self.document_id or None, "title": self.title or None, "pages": list(self.pages),
                "named": [c.to_json() for c in self.named], "best_copy": self.best_copy or None,
                "best_fap": self.best_fap, "sha256": self.sha256, "detail": self.detail,
                **({"exit_code": self.exit_code} if self.status == "failed" else {})}

    def csv_row(self) -> list[str]:
        return [self.file, self.status, self.verdict, self.document_id, self.title,
                ", ".join(map(str, self.pages)), "; ".join(c.copy_no for c in self.named),
                "; ".join(c.recipient for c in self.named), "; ".join(c.unit for c in self.named),
                "; ".join(_fap(c.fap) for c in self.named), self.best_copy,
                "" if self.best_fap is None else _fap(self.best_fap), self.sha256 or "", self.detail]


CSV_COLUMNS = ("file", "status", "verdict", "document_id", "title", "pages", "named_copies", "recipients", "units",
               "named_false_accusation_probabilities", "best_copy", "best_false_accusation_probability", "sha256",
               "detail")


def _fap(value: float) -> str:
    return f"{value:.3g}"


def _round(value: float) -> float:
    return float(f"{value:.3g}")  # as `trace --json` rounds it


def row_of(entry: EachEntry) -> SummaryRow:
    r = entry.result
    if r is None:
        return SummaryRow(str(entry.path), "failed", sha256=entry.sha256, detail=entry.error,
                          exit_code=entry.exit_code)
    named = tuple(NamedCopy(s.copy.label, s.copy.recipient, s.copy.unit, _round(s.fap))
                  for s in r.suspects[: r.named])
    best = r.suspects[0] if r.suspects else None
    return SummaryRow(str(entry.path), "traced", verdict=str(r.verdict),
                      document_id=r.document.id if r.document else "", title=r.document.title if r.document else "",
                      pages=tuple(r.pages) if r.document else (), named=named,
                      best_copy=best.copy.label if best else "", best_fap=_round(best.fap) if best else None,
                      sha256=entry.sha256, detail="; ".join([*r.disagreements,
                                                             *(f.finding for f in r.file_identifiers)]))


@dataclass
class Summary:
    """The batch's summary table: one row per file traced, failed, skipped or not reached."""

    rows: list[SummaryRow] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C (or SIGTERM) stopped the batch
    stopped: str = ""  # the error that stopped the batch (workspace, register), if one did
    register: RegisterState | None = None  # the register the names came from (the last trace's)

    def add(self, entry: EachEntry) -> SummaryRow:
        row = row_of(entry)
        self.rows.append(row)
        if entry.result is not None and entry.result.register is not None:
            self.register = entry.result.register
        return row

    def finish(self, planned: EachPlan) -> Summary:
        """Add the files the batch did not reach (after a stop) and the skipped files."""
        done = {row.file for row in self.rows}
        self.rows += [SummaryRow(str(p), "not-traced") for p in planned.files if str(p) not in done]
        self.rows += [SummaryRow(str(s.path), "skipped", detail=s.reason) for s in planned.skipped]
        return self

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)

    def verdicts(self) -> dict[str, int]:
        return {str(v): sum(row.verdict == v for row in self.rows) for v in Verdict}

    def to_json(self) -> dict[str, Any]:
        return {"files": len(self.rows), "traced": self.count("traced"), "failed": self.count("failed"),
                "skipped": self.count("skipped"), "not_traced": self.count("not-traced"),
                "interrupted": self.interrupted, "stopped": self.stopped or None, "verdicts": self.verdicts(),
                "rows": [row.to_json() for row in self.rows],
                "register": self.register.to_json() if self.register else None, "leakmark_version": __version__}

    def csv_bytes(self) -> bytes:
        """The table as CSV, UTF-8 with a BOM (Excel and WPS then read 中文 right), cells that a spreadsheet
        would take for a formula neutralised (`safetext.csv_cell`); then a blank row and the register's
        checkpoint (and a stop), as `log export --csv` ends."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        for row in self.rows:
            w.writerow([csv_cell(v) for v in row.csv_row()])
        tail = [self.register.summary()] if self.register else []
        if self.interrupted:
            tail.append("interrupted: the files marked not-traced were not traced")
        if self.stopped:
            tail.append(f"stopped: {self.stopped}")
        if tail:
            w.writerow([])
            for line in tail:
                w.writerow([csv_cell(line)])
        return CSV_BOM + buf.getvalue().encode("utf-8")
