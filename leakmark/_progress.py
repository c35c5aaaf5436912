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
    """`[#####-----] 12/50 copies  31.0 page-copies/s  ETA 12s`, redrawn in place on stderr.

    With `scale` (pages per copy) the rate is in page-copies; `done` at start (copies made before a
    resume) counts for the total, not for the rate. The CLI uses it only when stderr is a terminal.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.total, self.done, self.base, self.what, self.t0, self.scale = 0, 0, 0, "", 0.0, 1

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        self.total, self.done, self.base, self.what, self.scale = total, done, done, what, scale
        self.t0 = time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def finish(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        fill = int(frac * self.width)
        elapsed = time.monotonic() - self.t0
        rate = (self.done - self.base) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        unit = "page-copies/s" if self.scale > 1 else "/s"
        self.stream.write(f"\r[{'#' * fill}{'-' * (self.width - fill)}] {self.done}/{self.total} {self.what}"
                          f"  {rate * self.scale:.1f} {unit}  ETA {_hms(eta)} ")
        self.stream.flush()


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
