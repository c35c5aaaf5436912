"""The investigator's evidence report of a trace: one self-contained HTML file, or the same as an A4 PDF.

    from leakmark.report import write_report
    result = trace(ws, TraceOptions(evidence=(photo,), keep_artifacts=True))
    write_report(ws, result, options, Path("case-17.html"))   # or case-17.pdf

`model` gathers the facts (the numbers from `TraceResult.to_json()`, the register's entries), `html` renders
them, `pdf` lays the same markup out on A4 pages with PyMuPDF (no browser). A result traced without
`keep_artifacts` gives a report without pictures or chart.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakmark._io import atomic_write_bytes
from leakmark.errors import OutputError

if TYPE_CHECKING:
    from leakmark.report.model import ReportModel
    from leakmark.trace.result import TraceOptions, TraceResult
    from leakmark.workspace import Workspace

REPORT_MODE = 0o600  # it names recipients and shows a classified page: as private as the register


def is_pdf(path: Path) -> bool:
    return Path(path).suffix.lower() == ".pdf"


def check_target(path: Path, evidence: tuple[Path, ...] = ()) -> None:
    """Refuse, before a long trace, a report path that cannot be written (a folder, or in a missing folder) or
    that is one of the evidence files (the report would replace the evidence it hashes)."""
    path = Path(path)
    if any(path.resolve() == Path(e).resolve() for e in evidence):
        raise OutputError(f"--report {path} is an evidence file: writing the report there would replace the "
                          "evidence; choose another name")
    if path.is_dir():
        raise OutputError(f"--report {path} is a folder: give a file name, e.g. {path / 'report.html'}")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write the report {path}: the folder {path.parent} does not exist; create it "
                          "or choose another path")


def build_model(workspace: Workspace, result: TraceResult, options: TraceOptions, *, lang: str | None = None,
                operator: str | None = None, recorded_event: dict[str, Any] | None = None) -> ReportModel:
    from leakmark.report import model

    return model.build(workspace, result, options, lang=lang, operator=operator, recorded_event=recorded_event)


def render(report: ReportModel, pdf: bool = False) -> bytes:
    """The report's bytes: UTF-8 HTML, or an A4 PDF."""
    if pdf:
        from leakmark.report.pdf import render_pdf

        return render_pdf(report)
    from leakmark.report.html import render as render_html

    return render_html(report).encode("utf-8")


def write_report(workspace: Workspace, result: TraceResult, options: TraceOptions, path: Path, *,
                 lang: str | None = None, operator: str | None = None,
                 recorded_event: dict[str, Any] | None = None) -> Path:
    """Write the report of `result` to `path` (HTML, or A4 PDF when it ends in .pdf), atomically; `lang` "zh" or
    "en" (default: Chinese when the document or the workspace's register is Chinese). OutputError when it
    cannot be written. `recorded_event`: the trace's own register event, when the caller recorded one."""
    path = Path(path)
    check_target(path, options.evidence)
    report = build_model(workspace, result, options, lang=lang, operator=operator, recorded_event=recorded_event)
    atomic_write_bytes(path, render(report, pdf=is_pdf(path)), mode=REPORT_MODE)
    return path


__all__ = ["build_model", "check_target", "is_pdf", "render", "write_report"]
