"""Web accounts in the register (a mixin of `store.Ledger`): adding a user, changing a role or disabling an
account is an `account` event, hash-chained and authenticated like every other, so who could issue and trace,
granted by whom and when, stays on record. Passwords are not here: their hashes live in the workspace's
accounts file (`leakmark.server.accounts`), which can be rewritten when a password changes; the register only
appends.

The event changes no view: `verify.py` replays it as a record only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from leakmark.ledger.guard import ChainGuard
from leakmark.ledger.models import now_iso

KIND = "account"
ACTIONS = ("add", "role", "disable", "enable", "password")


@dataclass(frozen=True)
class AccountEvent:
    seq: int
    ts: str
    name: str
    action: str
    role: str
    operator: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "name": self.name, "action": self.action, "role": self.role,
                "operator": self.operator}


class AccountEvents(ChainGuard):
    """Appending and reading `account` events; `store.Ledger` provides the connection and the transaction."""

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _append(self, kind: str, payload: dict, ts: str | None = None) -> int:
        raise NotImplementedError

    def record_account(self, name: str, action: str, role: str, operator: str) -> int:
        """Append one `account` event in its own transaction (the chain is checked first); its number."""
        if action not in ACTIONS:
            raise ValueError(f"unknown account action {action!r}")
        with self.transaction():
            return self._append(KIND, {"name": name, "action": action, "role": role, "operator": operator},
                                ts=now_iso())

    def account_events(self) -> list[AccountEvent]:
        """Every account event, oldest first; after `check()` each is checked against its hash and HMAC."""
        return [AccountEvent(seq=seq, ts=ts, name=p["name"], action=p["action"], role=p["role"],
                             operator=p["operator"]) for seq, ts, p in self._events_of(KIND)]
