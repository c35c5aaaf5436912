"""`leakmark trace --each`: every evidence file (and every file of a folder) traced as its own leak.

Text: a short block per file as soon as it is traced, then the summary table. `--json`: one object
`{"results": [...], "summary": {...}}` at the end. `--summary PATH.csv|PATH.json` writes the summary
(atomically). Exit 0 when every file was traced, whatever the verdicts; 3 when any file could not be (1 if
that was a bug); 130 after Ctrl-C, with the summary of what was done; a workspace or register error that
stops the batch exits with its own code after the summary.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakmark._io import atomic_write_bytes
from leakmark._progress import NoteProgress, NullProgress, TextBar
from leakmark.cli_common import echo, emit_json, untrusted_warning
from leakmark.cli_trace import no_match_line, source_lines
from leakmark.errors import InputFileError, LeakmarkError, NotRecordedError, OutputError, RunInterruptedError
from leakmark.safetext import json_text

if TYPE_CHECKING:
    from leakmark.trace.each import EachEntry, Summary, SummaryRow
    from leakmark.trace.result import TraceOptions, TraceResult
    from leakmark.workspace import Workspace

SUMMARY_FORMATS = (".csv", ".json")


def check_summary_path(path: Path | None) -> None:
    """Before any tracing: a summary file leakmark can write (a batch can take hours)."""
    if path is None:
        return
    if path.suffix.lower() not in SUMMARY_FORMATS:
        raise click.BadParameter(f"{path}: name a .csv or a .json file", param_hint="--summary")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist; create it or choose "
                          "another --summary path")


ReportWriter = Callable[["Workspace", "TraceResult", "TraceOptions", Path], None]


def run_each(ws: Workspace, evidence: tuple[Path, ...], options: TraceOptions, *, recursive: bool, as_json: bool,
             summary_path: Path | None, report_dir: Path | None, bar: TextBar | NullProgress,
             operator: str | None = None, lang: str | None = None) -> None:
    from leakmark import register, report
    from leakmark.trace.each import Summary, plan, report_paths, trace_each

    planned = plan(evidence, recursive)
    report_names: dict[Path, Path] = {}
    if report_dir is not None:
        _make_folder(report_dir)
        report_names = report_paths(planned.files, report_dir)
    pages = (lambda path: NoteProgress(bar, path.name)) if isinstance(bar, TextBar) else None
    summary, results, warned = Summary(), [], False
    stopped: LeakmarkError | None = None
    n = len(planned.files)
    try:
        for i, entry in enumerate(trace_each(ws, planned.files, options, bar, pages=pages), 1):
            not_recorded: NotRecordedError | None = None
            if entry.result is not None:  # every trace is recorded; a register that cannot stops the batch
                try:
                    register.record_trace(ws, entry.result, operator=operator)
                except NotRecordedError as exc:
                    not_recorded = exc
            summary.add(entry)
            if report_dir is not None and entry.result is not None:  # one report per traced file
                r = entry.result
                report.write_report(ws, r, replace(options, evidence=(entry.path,)), report_names[entry.path],
                                    lang=lang, operator=operator,
                                    recorded_event=r.recorded.to_json() if r.recorded is not None else None)
            if as_json:
                results.append(entry.to_json())
                if not_recorded is not None:
                    raise not_recorded
                continue
            with bar.paused():
                state = entry.result.register if entry.result is not None else None
                if state is not None and not state.verified and not warned:
                    echo(untrusted_warning(state))
                    warned = True
                for line in _block(entry, i, n):
                    echo(line)
            if not_recorded is not None:
                raise not_recorded
    except KeyboardInterrupt:
        summary.interrupted = True
    except LeakmarkError as exc:  # the workspace's or the register's: every file would fail the same way
        if not summary.rows:
            raise
        stopped, summary.stopped = exc, exc.message
    summary.finish(planned)
    if summary_path is not None:
        data = summary.csv_bytes() if summary_path.suffix.lower() == ".csv" else _json_bytes(summary.to_json())
        atomic_write_bytes(summary_path, data)  # 0600, as the copies: it names recipients
    if as_json:
        emit_json({"results": results, "summary": summary.to_json()})
        if summary.register is not None and not summary.register.verified:
            echo(untrusted_warning(summary.register), err=True)
    else:
        _render_summary(summary)
        if summary_path is not None:
            echo(f"summary written to {summary_path}")
    _exit(summary, stopped, summary_path, as_json)


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--report {folder}: with --each this is the folder for one report per file, and "
                          "a file of that name exists; choose a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report folder {folder}: {exc.strerror}; choose another one") from exc


def _json_bytes(obj: Any) -> bytes:
    return (json_text(json.dumps(obj, ensure_ascii=False, indent=2)) + "\n").encode("utf-8")


def _exit(summary: Summary, stopped: LeakmarkError | None, summary_path: Path | None, as_json: bool) -> None:
    where = ("the summary" + ("" if as_json else " above") + (f", also in {summary_path}" if summary_path else ""))
    if stopped is not None:
        raise stopped
    done = summary.count("traced") + summary.count("failed")
    if summary.interrupted:
        raise RunInterruptedError(f"interrupted after {done} of {done + summary.count('not-traced')} files; "
                                  f"{where} lists what was traced and what was not")
    failed = [row for row in summary.rows if row.status == "failed"]
    if not failed:
        return
    traced = summary.count("traced")
    text = (f"{len(failed)} of {done} evidence files could not be traced ({where} says why); {traced} "
            f"{'was' if traced == 1 else 'were'} traced")
    if any(row.exit_code == 1 for row in failed):  # a bug, not the file's fault
        raise LeakmarkError(text + "; an internal error is a bug: run again with -v and report the traceback")
    raise InputFileError(text)


# -- text --------------------------------------------------------------------------------------------------
def _block(entry: EachEntry, i: int, n: int) -> list[str]:
    """A short block per file: what it shows, who the verdict names, the file findings."""
    head = f"[{i}/{n}] {entry.path}"
    r = entry.result
    if r is None:
        return [head, f"  FAILED: {entry.error}"]
    doc = (f" — document {r.document.id} {r.document.title}, page(s) {', '.join(map(str, r.pages))}"
           if r.document is not None else "")
    lines = [head, f"  verdict: {r.verdict}{doc}"]
    lines += [f"  {line}" for line in source_lines(r)]
    if r.named == 0 and r.suspects:
        best = r.suspects[0]
        lines.append(f"  best-ranked copy {best.copy.label} ({best.copy.recipient}): false-accusation probability "
                     f"{best.fap:.2g}, not below the threshold: nobody is named")
    if r.verdict == "no-match":
        if r.evidence and not any(e.aligned for e in r.evidence):
            lines.append("  it shows no registered page" if len(r.evidence) == 1
                         else f"  none of its {len(r.evidence)} pages shows a registered page")
        lines += [f"  page {e.page}: {e.detail.strip('; ')}" for e in r.evidence if e.blind]  # another office's mark
        lines.append(f"  {no_match_line(r)}")
    return lines


_HEAD = ("file", "verdict", "document", "page(s)", "named copy/ies", "FAP")


def _cells(row: SummaryRow) -> tuple[str, ...]:
    if row.status == "failed":
        return (row.file, "FAILED", row.detail)
    if row.status in ("skipped", "not-traced"):
        return (row.file, row.status, row.detail)
    named = "; ".join(f"{c.copy_no} {c.recipient}{' (' + c.unit + ')' if c.unit else ''}" for c in row.named)
    fap = "; ".join(f"{c.fap:.2g}" for c in row.named)
    if not row.named and row.best_fap is not None:
        fap = f"(best {row.best_copy}: {row.best_fap:.2g})"
    return (row.file, row.verdict, row.document_id or "-", ", ".join(map(str, row.pages)) or "-", named or "-",
            fap or "-")


def _render_summary(summary: Summary) -> None:
    v = summary.verdicts()
    echo()
    echo(f"summary: {len(summary.rows)} files: {summary.count('traced')} traced ({v['identified']} identified, "
         f"{v['inconclusive']} inconclusive, {v['no-match']} no-match), {summary.count('failed')} failed, "
         f"{summary.count('skipped')} skipped" + (f", {summary.count('not-traced')} not traced (interrupted)"
                                                   if summary.interrupted else "")
         + (f", {summary.count('not-traced')} not traced (stopped)" if summary.stopped else ""))
    if summary.register is not None and not summary.register.verified:
        echo(untrusted_warning(summary.register))
    rows = [_HEAD, *(_cells(r) for r in summary.rows)]
    # every cell but a row's last is padded: a failed or skipped row's reason runs on unpadded
    widths = [max((_width(r[k]) for r in rows if k < len(r) - 1), default=0) for k in range(len(_HEAD) - 1)]
    for r in rows:
        echo("  ".join(_pad(cell, widths[k]) if k < len(r) - 1 else cell for k, cell in enumerate(r)).rstrip())
    if summary.register is not None:
        echo(summary.register.summary())


def _width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))
