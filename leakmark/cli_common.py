"""What the `leakmark` command's modules share: the --home option and JSON output on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

home_option = click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="LEAKMARK_HOME",
                           help="Workspace folder (default: $LEAKMARK_HOME, else the user data folder).")


def emit_json(obj: Any) -> None:
    """One JSON document on stdout, non-ASCII kept as is."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))
