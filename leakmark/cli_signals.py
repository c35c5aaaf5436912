"""Ctrl-C and `kill` (SIGTERM) stop a command cleanly, and the request is never lost.

The handler raises KeyboardInterrupt, so a command blocked in a long call stops at once (the issuing loop and
`trace --each` turn it into their clean stop and resume hint). Python drops an exception raised while it runs a
finaliser or a weakref callback ("Exception ignored in ..."), and a signal can land there: the request would be
lost and the run go on to its end. So the handler also records the request, and every progress step of a command
(`_progress.TextBar.advance`, `NullProgress.advance`) calls `Stop.check`, which raises the recorded request once.
"""

from __future__ import annotations

import signal
from typing import Any


class Stop:
    """A stop request from a signal, raised where it lands and again at the next progress step if it was lost."""

    def __init__(self) -> None:
        self.pending = False

    def install(self) -> None:
        """Handle SIGINT and SIGTERM in this process (only the main thread may: elsewhere it does nothing)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(sig, self.handler)
            except ValueError:  # not the main thread (embedded use)
                return

    def handler(self, signum: int, frame: Any) -> None:
        self.pending = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal came since the last check (once: the stop's own clean-up may
        report progress)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


STOP = Stop()  # the CLI's process-wide request: `main` installs it, `cli._progress` checks it
