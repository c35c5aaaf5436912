"""`leakmark log ...`: the register's commands, thin wrappers over `leakmark.register`.

Parse, call the API, render; errors propagate to `cli.main`, which maps them to exit codes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click

from leakmark import register
from leakmark.cli_common import echo, emit_json, home_option, local_time, trust_option, untrusted_warning
from leakmark.ledger import CopyStatus, Ledger
from leakmark.ledger.traces import VERDICTS
from leakmark.workspace import Workspace


@contextlib.contextmanager
def _checked(home: Path | None, trust: bool, as_json: bool = False) -> Iterator[Ledger]:
    """The workspace's register, checked before anything is read from it (exit 7 when it fails, unless
    --trust-register: then the output says so, on stdout for text and on stderr beside JSON)."""
    with Ledger(Workspace.open(home, create=False)) as ledger:
        state = ledger.check(trust=trust)
        if not state.verified:
            echo(untrusted_warning(state), err=as_json)
        yield ledger
        if ledger.state is not None and not ledger.state.verified and state.verified:  # found while reading
            echo(untrusted_warning(ledger.state), err=as_json)


@click.group("log")
def log_group() -> None:
    """The distribution register: list, search, show, traces, return, destroy, void, export, verify, anchor."""


@log_group.command("list")
@click.option("--doc", "doc_id", help="Only this document's copies.")
@click.option("--json", "as_json", is_flag=True)
@trust_option
@home_option
def log_list(doc_id: str | None, as_json: bool, trust_register: bool, home: Path | None) -> None:
    """Documents and their issued copies."""
    with _checked(home, trust_register, as_json) as ledger:
        listing = register.list_documents(ledger, doc_id)
    if as_json:
        emit_json([entry.to_json() for entry in listing])
        return
    if not listing:
        echo("the register is empty")
    for entry in listing:
        d = entry.document
        echo(f"{d.id}  {d.title}  {d.level}" + (f"  保密期限 {d.period}" if d.period else "")
             + f"  {d.pages} pages  {len(entry.copies)} copies")
        for c in entry.copies:
            echo(f"  {c.label}  {c.recipient:<16} {c.unit:<14} {local_time(c.issued_at)}  {c.status}")


@log_group.command("search")
@click.argument("text")
@click.option("--doc", "doc_id", help="Only this document's copies.")
@click.option("--status", type=click.Choice([str(s) for s in CopyStatus]), help="Only copies with this status.")
@click.option("--json", "as_json", is_flag=True)
@trust_option
@home_option
def log_search(text: str, doc_id: str | None, status: str | None, as_json: bool, trust_register: bool,
               home: Path | None) -> None:
    """Copies by recipient, unit, note, document title or copy number (case ignored)."""
    with _checked(home, trust_register, as_json) as ledger:
        hits = register.search(ledger, text, doc_id=doc_id, status=status)
    if as_json:
        emit_json([h.to_json() for h in hits])
        return
    if not hits:
        echo(f"no copy matches {text!r}")
    for h in hits:
        c = h.copy
        echo(f"{c.ref}  {c.recipient:<16} {c.unit:<14} {local_time(c.issued_at)}  {c.status:<9} "
             f"{h.document.title}")


@log_group.command("runs")
@click.option("--json", "as_json", is_flag=True)
@trust_option
@home_option
def log_runs(as_json: bool, trust_register: bool, home: Path | None) -> None:
    """Issue runs: open (resumable), finished or abandoned, with copies done."""
    with _checked(home, trust_register, as_json) as ledger:
        runs = register.runs(ledger)
    if as_json:
        emit_json([r.to_json() for r in runs])
        return
    if not runs:
        echo("no runs yet")
    for r in runs:
        echo(f"{r.id}  {r.document_id}  {local_time(r.created_at)}  {r.state:<9} {r.done}/{r.copies} copies  "
             f"-> {r.output}")


@log_group.command("show")
@click.argument("copy_ref", metavar="COPY")
@trust_option
@home_option
def log_show(copy_ref: str, trust_register: bool, home: Path | None) -> None:
    """One copy (DOC/000123, or 000123 when unambiguous) with its history."""
    with _checked(home, trust_register) as ledger:
        detail = register.show(ledger, copy_ref)
    doc, c = detail.document, detail.copy
    echo(f"document:  {doc.id}  {doc.title}  {doc.level}" + (f"  保密期限 {doc.period}" if doc.period else ""))
    for r in detail.reclassified:
        echo(f"           reclassified {r.previous or '(no level)'} -> {r.level} on {local_time(r.ts)}"
             + (f" by {r.operator}" if r.operator else "") + f": {r.reason}")
    echo(f"copy:      {c.label}")
    echo(f"recipient: {c.recipient}" + (f" / {c.unit}" if c.unit else ""))
    echo(f"issued:    {local_time(c.issued_at)} by {c.issued_by} (run {c.run_id}, leakmark {c.version})")
    echo(f"status:    {c.status}")
    echo(f"file:      {c.path}")
    echo(f"marking:   {c.settings}")
    if detail.stamp is not None:
        echo(f"stamp:     {' / '.join(detail.stamp_lines)}  (visible on page 1 at {detail.stamp.spec.position}, "
             f"{detail.stamp.spec.size_pt:g} pt)")
    for h in detail.history:  # a trace changes no status: its line says what it found instead
        echo(f"  event {h.seq}: {local_time(h.ts)}  {'traced' if h.kind == 'trace' else h.status}"
             f"{'  ' + h.note if h.note else ''}{'  (by ' + h.operator + ')' if h.operator else ''}")


@log_group.command("traces")
@click.option("--doc", "doc_id", help="Only traces of this document.")
@click.option("--copy", "copy_ref", metavar="COPY", help="Only traces that named this copy (000123, or DOC/000123).")
@click.option("--verdict", type=click.Choice(VERDICTS), help="Only traces with this verdict.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]), metavar="DATE",
              help="Only traces recorded from this local date (and time) on.")
@click.option("--json", "as_json", is_flag=True)
@trust_option
@home_option
def log_traces(doc_id: str | None, copy_ref: str | None, verdict: str | None, since: datetime | None, as_json: bool,
               trust_register: bool, home: Path | None) -> None:
    """Recorded traces: when, who, the verdict, the copies named and the evidence files."""
    with _checked(home, trust_register, as_json) as ledger:
        events = register.traces(ledger, doc_id=doc_id, copy=copy_ref, verdict=verdict, since=since)
    if as_json:
        emit_json([e.to_json() for e in events])
        return
    if not events:
        echo("no trace recorded" + (" that matches" if doc_id or copy_ref or verdict or since else ""))
        return
    echo(f"{'event':>6}  {'time':<25}  {'operator':<12} {'verdict':<12} {'document':<16} {'named':<14} evidence")
    for e in events:
        r = e.record
        doc = (f"{r.document_id} p{','.join(map(str, r.pages))}" if r.document_id else "-")
        named = ",".join(c.label for c in r.named) or "-"
        echo(f"{e.seq:>6}  {local_time(e.ts):<25}  {r.operator:<12} {r.verdict:<12} {doc:<16} {named:<14} "
             f"{', '.join(f.name for f in r.evidence)}")


operator_option = click.option(
    "--operator", metavar="NAME",
    help="Who records it (default: the workspace config's `operator`, else the OS user).")


def _status_command(name: str, status: CopyStatus, summary: str) -> None:
    @log_group.command(name, help=summary)
    @click.argument("copy_ref", metavar="COPY")
    @click.option("--note", default="", help="Free text kept in the register.")
    @operator_option
    @home_option
    def command(copy_ref: str, note: str, operator: str | None, home: Path | None) -> None:
        c = register.set_status(Workspace.open(home, create=False), copy_ref, status, note, operator).copy
        echo(f"copy {c.document_id}/{c.label} ({c.recipient}) recorded as {c.status}")


_status_command("return", CopyStatus.returned, "Record that a copy came back.")
_status_command("destroy", CopyStatus.destroyed, "Record that a copy was destroyed.")


@log_group.command("void")
@click.argument("copy_ref", metavar="COPY")
@click.option("--reason", required=True, help="Why the copy is void (kept in the register).")
@operator_option
@home_option
def log_void(copy_ref: str, reason: str, operator: str | None, home: Path | None) -> None:
    """Void a copy issued by mistake (issued or returned): for good; its number is never reused."""
    c = register.void_copy(Workspace.open(home, create=False), copy_ref, reason, operator).copy
    echo(f"copy {c.document_id}/{c.label} ({c.recipient}) recorded as void; its number is not reused")


@log_group.command("export")
@click.option("--csv", "as_csv", is_flag=True, required=True, help="CSV (UTF-8 with BOM) on stdout.")
@click.option("--headers", type=click.Choice(list(register.HEADERS)), default="en", show_default=True,
              help="Column names: en (document_id,title,...) or zh (文件编号,标题,...); the values are the same.")
@trust_option
@home_option
def log_export(as_csv: bool, headers: str, trust_register: bool, home: Path | None) -> None:
    """The register as CSV on stdout (opens correctly in Excel and WPS), ending with the register's
    checkpoint (event count, head hash, verified)."""
    with _checked(home, trust_register, as_json=True) as ledger:
        data = register.export_csv(ledger, headers=headers)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@log_group.command("verify")
@click.option("--against", "witness", type=click.Path(dir_okay=False, path_type=Path), metavar="WITNESS",
              help="A witness file from `log anchor`: exit 7 if the register is older than it (rolled back).")
@home_option
def log_verify(witness: Path | None, home: Path | None) -> None:
    """Check the hash chain, the HMACs, every register row, the checkpoint and the head file; exit 7 at the
    first bad row (or if the register was rolled back to a state older than WITNESS)."""
    v = register.verify(Workspace.open(home, create=False), against=witness)
    echo(f"ledger OK: {v.events} events, {v.documents} documents, {v.runs} runs, {v.copies} copies "
         f"(key {v.key_fingerprint})")
    echo(f"register: {v.events} events, head {v.head}, verified")
    if v.witness is not None:
        w = v.witness
        echo(f"witness OK: the register contains event {w.count} as the witness {witness} recorded it "
             f"on {local_time(w.created_at)}" + (f" ({v.events - w.count} events since)" if v.events > w.count else ""))


@log_group.command("anchor")
@click.argument("witness", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[FILE]")
@home_option
def log_anchor(witness: Path | None, home: Path | None) -> None:
    """Verify the register and write a witness of it (event count, head hash) to FILE, or print it. Keep it
    away from the workspace: `log verify --against FILE` then detects a roll-back to any older state."""
    a = register.anchor(Workspace.open(home, create=False), witness)
    if a.path is None:
        sys.stdout.buffer.write(a.data)
        sys.stdout.flush()
        return
    w = a.witness
    echo(f"witness written to {a.path}: register at event {w.count}, head {w.head}, {w.documents} documents, "
         f"{w.copies} copies" + (f" (it held event {a.replaced.count}, which the register still contains)"
                                 if a.replaced is not None else ""))
    echo("keep it away from this workspace (another machine, removable media, the security office)")
