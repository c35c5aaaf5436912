"""Progress as a small protocol: a text bar on stderr, or nothing.

The library takes any object with `start`, `advance` and `finish`; the CLI passes a bar when stderr
is a terminal and the user did not ask for --quiet.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

from leakmark.safetext import terminal


class Progress(Protocol):
    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    """No display; `stop` (e.g. `cli_signals.Stop.check`) is called at each step and may raise to stop the work."""

    def __init__(self, stop: Callable[[], None] | None = None) -> None:
        self.stop = stop

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        if self.stop is not None:
            self.stop()

    def finish(self) -> None:
        pass

    @contextmanager
    def paused(self) -> Iterator[None]:
        yield


class TextBar:
    """`[#####-----] 12/50 copies  31.0 page-copies/s  ETA 12s`, redrawn in place on stderr.

    With `scale` (pages per copy) the rate is in page-copies; `done` at start (copies made before a
    resume) counts for the total, not for the rate. The CLI uses it only when stderr is a terminal.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 28, stop: Callable[[], None] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.stop = stop  # as NullProgress's
        self.width = width
        self.total, self.done, self.base, self.what, self.t0, self.scale = 0, 0, 0, "", 0.0, 1
        self.detail, self.shown = "", 0  # the note after the bar (`note`); the drawn line's length

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        self.total, self.done, self.base, self.what, self.scale = total, done, done, what, scale
        self.t0 = time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        if self.stop is not None:
            self.stop()
        self.done += n
        self._draw()

    def finish(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
        self.shown = 0

    def note(self, text: str) -> None:
        """Show `text` after the bar (e.g. the pages of the file in work), redrawn now; "" removes it."""
        self.detail = text
        self._draw()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Erase the bar while the caller writes whole lines (to stdout or stderr), then draw it again below."""
        self.stream.write("\r" + " " * self.shown + "\r")
        self.stream.flush()
        self.shown = 0
        try:
            yield
        finally:
            self._draw()

    def _draw(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        fill = int(frac * self.width)
        elapsed = time.monotonic() - self.t0
        rate = (self.done - self.base) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        unit = "page-copies/s" if self.scale > 1 else "/s"
        # under one a second (a trace of a file takes seconds): the time each takes, not "0.0 /s"
        speed = f"{1 / rate:.1f} s each" if 0 < rate < 1 and self.scale == 1 else f"{rate * self.scale:.1f} {unit}"
        line = (f"[{'#' * fill}{'-' * (self.width - fill)}] {self.done}/{self.total} {self.what}"
                f"  {speed}  ETA {_hms(eta)} " + (f" {self.detail} " if self.detail else ""))
        self.stream.write("\r" + line + " " * max(0, self.shown - len(line)))  # blanks over a longer last line
        self.stream.flush()
        self.shown = len(line)


class NoteProgress:
    """The progress of a step inside one item of a bar's work, shown as the bar's note: `label: page 3/40`.

    A step of one unit (a photo's single page) shows nothing: the bar itself is progress enough."""

    def __init__(self, bar: TextBar, label: str = "") -> None:
        self.bar, self.label, self.total, self.done, self.what = bar, terminal(label), 0, 0, ""

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        self.total, self.done, self.what = total, done, what
        self._show()

    def advance(self, n: int = 1) -> None:
        if self.bar.stop is not None:  # a long file's pages: stop between them
            self.bar.stop()
        self.done += n
        self._show()

    def finish(self) -> None:
        self.bar.note("")

    def _show(self) -> None:
        if self.total > 1:
            self.bar.note(f"{self.label + ': ' if self.label else ''}{self.done}/{self.total} {self.what}")


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
