"""Login sessions and the login rate limit, in the server's memory: a restart logs everyone out, and no
session token is ever written to disk.

A session is a random token in an HttpOnly, SameSite=Strict cookie, with its own CSRF token that every form
and every API call that changes something must send back (`csrf` field or `X-CSRF-Token` header). Sessions
end after `IDLE` without a request or `LIFETIME` in all.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

IDLE = 30 * 60.0
LIFETIME = 12 * 3600.0
FAILURES = 5  # failed logins allowed per name and per client address within WINDOW
WINDOW = 15 * 60.0


@dataclass
class Session:
    token: str
    user: str
    role: str
    csrf: str
    created: float
    seen: float

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), str(given).encode())


@dataclass
class Sessions:
    clock: object = time.monotonic
    _by_token: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def create(self, user: str, role: str) -> Session:
        now = self._now()
        s = Session(token=secrets.token_urlsafe(32), user=user, role=role, csrf=secrets.token_urlsafe(32),
                    created=now, seen=now)
        with self._lock:
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = self._now()
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return None
            if now - s.seen > IDLE or now - s.created > LIFETIME:
                del self._by_token[token]
                return None
            s.seen = now
            return s

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)

    def drop_user(self, user: str) -> None:
        """End every session of a user (disabled, role or password changed)."""
        with self._lock:
            for t in [t for t, s in self._by_token.items() if s.user == user]:
                del self._by_token[t]


@dataclass
class LoginLimiter:
    """At most FAILURES failed logins per key (a name, a client address) within WINDOW; then refused until
    the oldest failure leaves the window. A success clears the name's failures, not the address's."""

    clock: object = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login may be tried with these keys (0: now)."""
        now, wait = self._now(), 0.0
        with self._lock:
            for k in keys:
                q = self._failures.get(k)
                while q and now - q[0] > WINDOW:
                    q.popleft()
                if q is not None and len(q) >= FAILURES:
                    wait = max(wait, WINDOW - (now - q[0]))
        return wait

    def failed(self, *keys: str) -> None:
        now = self._now()
        with self._lock:
            for k in keys:
                self._failures.setdefault(k, deque()).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
