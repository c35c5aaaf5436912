"""What the `leakmark` command's modules share: the --home option, text and JSON output on stdout.

Every line of text goes through `echo`, which makes control and bidi characters in names, titles, notes
and paths visible (`leakmark.safetext.terminal`); JSON goes through `emit_json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from leakmark.safetext import json_text, terminal

home_option = click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="LEAKMARK_HOME",
                           help="Workspace folder (default: $LEAKMARK_HOME, else the user data folder).")


def echo(text: str = "", err: bool = False) -> None:
    """One line of text on stdout (stderr with `err`), control and bidi characters shown as escapes."""
    click.echo(terminal(text), err=err)


def emit_json(obj: Any) -> None:
    """One JSON document on stdout, non-ASCII kept as is except DEL, C1 and bidi controls (escaped)."""
    click.echo(json_text(json.dumps(obj, ensure_ascii=False, indent=2)))
