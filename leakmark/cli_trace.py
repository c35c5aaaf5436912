"""Text lines of a trace result that the single trace (`cli.render_trace`) and each file of a batch
(`cli_each`) both print: which copy is the source of the capture, with its status, and the file findings.

Wording rule (DESIGN.md §4): "copy 000123 issued to X is the source of this capture", never "X leaked it"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leakmark.cli_common import local_time

if TYPE_CHECKING:  # the command's --help must not load NumPy
    from leakmark.trace.result import TraceResult


def status_text(status: str, date: str | None) -> str:
    """`issued on DATE`, `returned on DATE`, `destroyed on DATE`, `void on DATE`, `reserved on DATE`."""
    return f"{status} on {local_time(date)}" if date else str(status)


def source_lines(result: TraceResult) -> list[str]:
    """The named copies (`=> copy ... is the source of this capture`, a `note:` for a copy not issued), the
    file-identifier findings and the disagreements (`!!`)."""
    lines = []
    if result.named > 1:
        lines.append(f"=> {result.named} copies named: this capture was assembled from several copies (collusion)")
    for s in result.suspects[: result.named]:
        c = s.copy
        never = str(c.status) in ("reserved", "void")  # a number whose copy was never recorded as issued
        role = "the source" if result.named == 1 else "a source"
        found = f", found in {s.found_in.text()}" if s.found_in.part != "whole" or s.found_in.removed else ""
        lines.append(f"=> copy {c.label} {'made for' if never else 'issued to'} {c.recipient}"
                     f"{' (' + c.unit + ')' if c.unit else ''} is {role} of this capture "
                     f"(false-accusation probability {s.fap:.2g}{found}); status: "
                     f"{status_text(c.status, s.status_date)}")
        if str(c.status) != "issued":
            lines.append(f"   note: copy {c.label} is recorded as {status_text(c.status, s.status_date)}"
                         f"{' and was never recorded as issued' if never else ''}, yet this capture carries its "
                         "marks")
    for f in result.file_identifiers:
        lines.append(f"file: {f.finding}")
        lines.append(f"      copy {f.copy.label} status: {status_text(f.copy.status, f.status_date)}")
    lines += [f"!! {text}" for text in result.disagreements]
    return lines


def no_match_line(result: TraceResult) -> str:
    return ("no issued copy is indicated by the pages of this evidence; its file identifiers (above) say only "
            "which copy's file it was made from, not the source of a capture" if result.file_identifiers
            else "no issued copy is indicated by this evidence")
