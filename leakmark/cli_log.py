"""`leakmark log ...`: the register's commands, thin wrappers over `leakmark.register`.

Parse, call the API, render; errors propagate to `cli.main`, which maps them to exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from leakmark import register
from leakmark.cli_common import echo, emit_json, home_option
from leakmark.ledger import CopyStatus
from leakmark.workspace import Workspace


@click.group("log")
def log_group() -> None:
    """The distribution register: list, show, return, destroy, export, verify."""


@log_group.command("list")
@click.option("--doc", "doc_id", help="Only this document's copies.")
@click.option("--json", "as_json", is_flag=True)
@home_option
def log_list(doc_id: str | None, as_json: bool, home: Path | None) -> None:
    """Documents and their issued copies."""
    listing = register.list_documents(Workspace.open(home, create=False), doc_id)
    if as_json:
        emit_json([entry.to_json() for entry in listing])
        return
    if not listing:
        echo("the register is empty")
    for entry in listing:
        d = entry.document
        echo(f"{d.id}  {d.title}  {d.level}  {d.pages} pages  {len(entry.copies)} copies")
        for c in entry.copies:
            echo(f"  {c.label}  {c.recipient:<16} {c.unit:<14} {c.issued_at}  {c.status}")


@log_group.command("runs")
@click.option("--json", "as_json", is_flag=True)
@home_option
def log_runs(as_json: bool, home: Path | None) -> None:
    """Issue runs: open (resumable), finished or abandoned, with copies done."""
    runs = register.runs(Workspace.open(home, create=False))
    if as_json:
        emit_json([r.to_json() for r in runs])
        return
    if not runs:
        echo("no runs yet")
    for r in runs:
        echo(f"{r.id}  {r.document_id}  {r.created_at}  {r.state:<9} {r.done}/{r.copies} copies  "
             f"-> {r.output}")


@log_group.command("show")
@click.argument("copy_ref", metavar="COPY")
@home_option
def log_show(copy_ref: str, home: Path | None) -> None:
    """One copy (DOC/000123, or 000123 when unambiguous) with its history."""
    detail = register.show(Workspace.open(home, create=False), copy_ref)
    doc, c = detail.document, detail.copy
    echo(f"document:  {doc.id}  {doc.title}  {doc.level}")
    echo(f"copy:      {c.label}")
    echo(f"recipient: {c.recipient}" + (f" / {c.unit}" if c.unit else ""))
    echo(f"issued:    {c.issued_at} by {c.issued_by} (run {c.run_id}, leakmark {c.version})")
    echo(f"status:    {c.status}")
    echo(f"file:      {c.path}")
    echo(f"marking:   {c.settings}")
    for h in detail.history:
        echo(f"  event {h.seq}: {h.ts}  {h.status}{'  ' + h.note if h.note else ''}")


def _status_command(name: str, status: CopyStatus, summary: str) -> None:
    @log_group.command(name, help=summary)
    @click.argument("copy_ref", metavar="COPY")
    @click.option("--note", default="", help="Free text kept in the register.")
    @home_option
    def command(copy_ref: str, note: str, home: Path | None) -> None:
        c = register.set_status(Workspace.open(home, create=False), copy_ref, status, note).copy
        echo(f"copy {c.document_id}/{c.label} ({c.recipient}) recorded as {c.status}")


_status_command("return", CopyStatus.returned, "Record that a copy came back.")
_status_command("destroy", CopyStatus.destroyed, "Record that a copy was destroyed.")


@log_group.command("export")
@click.option("--csv", "as_csv", is_flag=True, required=True, help="CSV (UTF-8 with BOM) on stdout.")
@home_option
def log_export(as_csv: bool, home: Path | None) -> None:
    """The register as CSV on stdout (opens correctly in Excel and WPS)."""
    data = register.export_csv(Workspace.open(home, create=False))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@log_group.command("verify")
@home_option
def log_verify(home: Path | None) -> None:
    """Check the hash chain, the HMACs and every register row; exit 7 at the first bad row."""
    v = register.verify(Workspace.open(home, create=False))
    echo(f"ledger OK: {v.events} events, {v.documents} documents, {v.runs} runs, {v.copies} copies "
         f"(key {v.key_fingerprint})")
