"""`leakmark user ...` (web accounts) and `leakmark serve` (the web page): parse, call, render."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from leakmark.cli_common import echo, emit_json, home_option
from leakmark.errors import BadRequestError
from leakmark.workspace import Workspace

ROLE_CHOICE = click.Choice(["clerk", "investigator", "auditor", "admin"])


def _password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        return str(click.prompt("password", hide_input=True, confirmation_prompt=True, err=True))
    line = sys.stdin.readline()
    if not line.strip():
        raise BadRequestError("no password on stdin: pipe it in (e.g. `leakmark user add NAME --role ROLE "
                              "< password-file`), or run the command in a terminal to be asked for it")
    return line.rstrip("\r\n")


def _operator(ws: Workspace, given: str | None) -> str:
    return ws.operator(given)


@click.group("user")
def user_group() -> None:
    """Web accounts for `leakmark serve`: clerks, investigators, auditors, admins (recorded in the register)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="clerk: issues and keeps the register; investigator: "
              "traces; auditor: reads the register and the traces; admin: everything.")
@click.option("--operator", metavar="NAME", help="Who adds the account (default: the config's operator, else the OS "
              "user), recorded in the register.")
@home_option
def user_add(name: str, role: str, operator: str | None, home: Path | None) -> None:
    """Add the web account NAME; its password is read from stdin (asked twice on a terminal)."""
    from leakmark.server.accounts import Accounts, check_name, check_password

    ws = Workspace.open(home, create=True)
    check_name(name)
    password = check_password(_password())
    account = Accounts(ws).add(name, role, password, _operator(ws, operator))
    echo(f"user {account.name} added with the role {account.role}")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@home_option
def user_list(as_json: bool, home: Path | None) -> None:
    """The web accounts and their roles."""
    from leakmark.server.accounts import Accounts

    accounts = Accounts(Workspace.open(home, create=False)).list()
    if as_json:
        emit_json([a.to_json() for a in accounts])
        return
    for a in accounts:
        echo(f"{a.name:<20} {a.role:<13} {'disabled' if a.disabled else 'enabled':<9} since {a.created_at}")
    if not accounts:
        echo("no web accounts yet: `leakmark user add NAME --role admin`")


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--operator", metavar="NAME", help="Who changes it, recorded in the register.")
@home_option
def user_role(name: str, role: str, operator: str | None, home: Path | None) -> None:
    """Give the account NAME another ROLE (its sessions end)."""
    from leakmark.server.accounts import Accounts

    ws = Workspace.open(home, create=False)
    a = Accounts(ws).set_role(name, role, _operator(ws, operator))
    echo(f"user {a.name} now has the role {a.role}")


@user_group.command("password")
@click.argument("name")
@click.option("--operator", metavar="NAME", help="Who changes it, recorded in the register.")
@home_option
def user_password(name: str, operator: str | None, home: Path | None) -> None:
    """Set the password of NAME, read from stdin (asked twice on a terminal)."""
    from leakmark.server.accounts import Accounts, check_password

    ws = Workspace.open(home, create=False)
    Accounts(ws).set_password(name, check_password(_password()), _operator(ws, operator))
    echo(f"password of {name} changed")


@user_group.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@click.option("--operator", metavar="NAME", help="Who changes it, recorded in the register.")
@home_option
def user_disable(name: str, enable: bool, operator: str | None, home: Path | None) -> None:
    """Disable the account NAME (it can no longer sign in; its sessions end), or --enable it again."""
    from leakmark.server.accounts import Accounts

    ws = Workspace.open(home, create=False)
    a = Accounts(ws).set_disabled(name, not enable, _operator(ws, operator))
    echo(f"user {a.name} {'disabled' if a.disabled else 'enabled'}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network interface of this machine).")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True, help="Jobs (issue runs, traces) run at once.")
@click.option("--secure-cookies", is_flag=True, help="Session cookies only over HTTPS (behind a TLS proxy).")
@click.option("--max-upload-mb", type=int, help="Largest upload accepted (default: the config's web.max_upload_mb, "
              "else 200).")
@home_option
def serve(host: str, port: int, workers: int, secure_cookies: bool, max_upload_mb: int | None,
          home: Path | None) -> None:
    """The web page for clerks and investigators, and its JSON API (/api/, /api/openapi.json)."""
    from leakmark.server import create_app
    from leakmark.server.accounts import Accounts

    ws = Workspace.open(home, create=True)
    app = create_app(ws, secure_cookies=secure_cookies, workers=workers, max_upload_mb=max_upload_mb)
    if not Accounts(ws).list():
        echo("no web accounts yet: add one first, e.g. `leakmark user add NAME --role admin`", err=True)
    import uvicorn

    echo(f"leakmark serving {ws.home} on http://{host}:{port}/  (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
