"""What the `leakmark` command's modules share: the --home and --trust-register options, text and JSON output
on stdout, and the warning for a register that failed verification.

Every line of text goes through `echo`, which makes control and bidi characters in names, titles, notes
and paths visible (`leakmark.safetext.terminal`); JSON goes through `emit_json`. Times are stored in UTC;
text shows them in the machine's local zone with its offset (`local_time`), JSON and CSV keep the stored UTC."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakmark.safetext import json_text, terminal

if TYPE_CHECKING:
    from leakmark.ledger import RegisterState

home_option = click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="LEAKMARK_HOME",
                           help="Workspace folder (default: $LEAKMARK_HOME, else the user data folder).")


def echo(text: str = "", err: bool = False) -> None:
    """One line of text on stdout (stderr with `err`), control and bidi characters shown as escapes."""
    click.echo(terminal(text), err=err)

trust_option = click.option(
    "--trust-register", is_flag=True,
    help="Read the register even if it fails verification (the output then says it failed); without it, "
         "exit 7.")


def untrusted_warning(state: RegisterState) -> str:
    return (f"WARNING: the register FAILED verification ({state.problem}); shown only because of --trust-register: "
            "it may have been altered, rely on nothing below without checking it against a backup")


def local_time(stamp: str | None) -> str:
    """A stored UTC time (ISO 8601) in the machine's local zone with its offset, e.g. `2026-12-02 11:49:07+08:00`;
    an empty or unreadable value as it is."""
    if not stamp:
        return stamp or ""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:  # never written so by leakmark: shown as stored rather than guessed
        return stamp
    return when.astimezone().isoformat(sep=" ", timespec="seconds")


def emit_json(obj: Any) -> None:
    """One JSON document on stdout, non-ASCII kept as is except DEL, C1 and bidi controls (escaped)."""
    click.echo(json_text(json.dumps(obj, ensure_ascii=False, indent=2)))
