"""Web accounts: name, role and an argon2 password hash, in the workspace's `accounts.json` (0600, replaced
atomically under `accounts.lock`). Every change is also an `account` event in the register (who added whom
with which role), so the register shows who could issue and trace; the hashes stay out of the register,
which only appends.

Roles (`PERMISSIONS` says what each may do): a clerk issues and keeps the register, an investigator traces,
an auditor reads the register and the traces, an admin does everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from leakmark._io import atomic_write_bytes, write_error
from leakmark.errors import BadRequestError, LedgerIntegrityError, NotFoundError
from leakmark.ledger import Ledger
from leakmark.ledger.models import now_iso
from leakmark.workspace import Workspace

ROLES = ("clerk", "investigator", "auditor", "admin")
# what each action needs; `trace_reports` also goes to clerks when the workspace config says
# {"web": {"clerks_read_traces": true}}
PERMISSIONS: dict[str, frozenset[str]] = {
    "issue": frozenset({"clerk", "admin"}),
    "status": frozenset({"clerk", "admin"}),  # return, destroy, void
    "register": frozenset(ROLES),  # read documents and copies, the register's verification
    "export": frozenset({"clerk", "auditor", "admin"}),
    "trace": frozenset({"investigator", "admin"}),
    "trace_reports": frozenset({"investigator", "auditor", "admin"}),
}
MIN_PASSWORD = 10
_NAME = re.compile(r"^[^\x00-\x1f\x7f/\\<>\"'&\s][^\x00-\x1f\x7f/\\<>\"'&]{0,62}[^\x00-\x1f\x7f/\\<>\"'&\s]?$")
FORMAT = 1


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # the [server] extra is not installed
        raise BadRequestError("web accounts need the server extra: pip install 'leakmark[server]'") from exc
    return PasswordHasher()


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created_at: str
    disabled: bool = False

    def may(self, action: str, clerks_read_traces: bool = False) -> bool:
        if self.disabled:
            return False
        if action == "trace_reports" and clerks_read_traces and self.role == "clerk":
            return True
        return self.role in PERMISSIONS[action]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "created_at": self.created_at, "disabled": self.disabled}


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise BadRequestError(f"the user name {name!r} is not allowed: 1 to 64 characters, no spaces at either end, "
                              "no control characters and none of / \\ < > \" ' &")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequestError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequestError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return password


class Accounts:
    """The workspace's web accounts. Reads take no lock (the file is replaced atomically)."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.path = workspace.home / "accounts.json"
        self._dummy: str | None = None  # a hash verified for unknown names: a login takes as long either way

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise LedgerIntegrityError(f"the accounts file {self.path} cannot be read ({exc}); restore it from "
                                       "backup or remove it and add the accounts again (`leakmark user add`)") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("users"), dict):
            raise LedgerIntegrityError(f"the accounts file {self.path} is not a leakmark accounts file of format "
                                       f"{FORMAT}; restore it from backup")
        return dict(data["users"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # Windows: one server per workspace
            yield
            return
        try:
            fd = os.open(self.ws.home / "accounts.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise write_error(self.ws.home / "accounts.lock", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        atomic_write_bytes(self.path, json.dumps({"format": FORMAT, "users": users}, ensure_ascii=False,
                                                 indent=1, sort_keys=True).encode())

    @staticmethod
    def _account(name: str, row: dict[str, Any]) -> Account:
        return Account(name=name, role=row["role"], created_at=row["created_at"], disabled=bool(row.get("disabled")))

    def list(self) -> list[Account]:
        return [self._account(n, r) for n, r in sorted(self._read().items())]

    def get(self, name: str) -> Account | None:
        row = self._read().get(name)
        return self._account(name, row) if row is not None else None

    def _change(self, name: str, action: str, operator: str, change: Any) -> Account:
        """Apply `change(users)` to the file and record the event; the file is put back if the register
        refuses (a register that fails verification records nothing, and then nothing changes)."""
        with self._locked():
            users = self._read()
            before = json.loads(json.dumps(users))
            change(users)
            with Ledger(self.ws) as ledger:
                ledger.check(for_write=True)
                self._write(users)
                try:
                    ledger.record_account(name, action, users[name]["role"], operator)
                except BaseException:
                    self._write(before)
                    raise
        return self._account(name, users[name])

    def add(self, name: str, role: str, password: str, operator: str) -> Account:
        name, role = check_name(name), check_role(role)
        digest = _hasher().hash(check_password(password))

        def change(users: dict[str, dict[str, Any]]) -> None:
            if name in users:
                raise BadRequestError(f"the user {name!r} exists already (`leakmark user role` changes a role, "
                                      "`leakmark user password` a password)")
            users[name] = {"role": role, "hash": digest, "created_at": now_iso(), "disabled": False}

        return self._change(name, "add", operator, change)

    def _existing(self, users: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
        if name not in users:
            raise NotFoundError(f"no user {name!r} (`leakmark user list` shows them)")
        return users[name]

    def set_role(self, name: str, role: str, operator: str) -> Account:
        role = check_role(role)
        return self._change(name, "role", operator, lambda users: self._existing(users, name).update(role=role))

    def set_password(self, name: str, password: str, operator: str) -> Account:
        digest = _hasher().hash(check_password(password))
        return self._change(name, "password", operator,
                            lambda users: self._existing(users, name).update(hash=digest))

    def set_disabled(self, name: str, disabled: bool, operator: str) -> Account:
        return self._change(name, "disable" if disabled else "enable", operator,
                            lambda users: self._existing(users, name).update(disabled=disabled))

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account if the password is right and the account enabled; None otherwise (same work either way)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _hasher()
        row = self._read().get(name)
        if self._dummy is None:
            self._dummy = hasher.hash("not a password of anyone's")
        try:
            hasher.verify(row["hash"] if row is not None else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.get("disabled"):
            return None
        return self._account(name, row)
