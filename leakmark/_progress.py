"""Progress as a small protocol: a text bar on stderr, or nothing.

The library takes any object with `start`, `advance` and `finish`; the CLI passes a bar when stderr
is a terminal and the user did not ask for --quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class TextBar:
    """`[#####-----] 12/50 copies  31.0 page-copies/s  ETA 12s` on stderr.

    On a terminal the line is redrawn in place; otherwise (a log file, an overnight job under nohup) a
    plain line is written every `every` seconds. With `scale` (pages per copy) the rate is in page-copies.
    `done` at start (copies made before a resume) counts for the total, not for the rate.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 28, every: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self.total, self.done, self.what, self.t0, self.scale = 0, 0, "", 0.0, 1
        self.base, self.last = 0, 0.0

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        self.total, self.done, self.base, self.what, self.scale = total, done, done, what, scale
        self.t0 = self.last = time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        if self.live:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.live and not force and now - self.last < self.every:
            return
        self.last = now
        frac = self.done / self.total if self.total else 1.0
        fill = int(frac * self.width)
        elapsed = now - self.t0
        made = self.done - self.base
        rate = made / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        unit = "page-copies/s" if self.scale > 1 else "/s"
        line = (f"[{'#' * fill}{'-' * (self.width - fill)}] {self.done}/{self.total} {self.what}"
                f"  {rate * self.scale:.1f} {unit}  ETA {_hms(eta)} ")
        self.stream.write(f"\r{line}" if self.live else f"{line}\n")
        self.stream.flush()


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
