"""Progress as a small protocol: a text bar on stderr, or nothing.

The library takes any object with `start`, `advance` and `finish`; the CLI passes a bar when stderr
is a terminal and the user did not ask for --quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, total: int, what: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, what: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class TextBar:
    """`[#####-----] 12/50 page-copies  3.1/s  ETA 12s` redrawn in place on a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.total, self.done, self.what, self.t0 = 0, 0, "", 0.0

    def start(self, total: int, what: str) -> None:
        self.total, self.done, self.what, self.t0 = total, 0, what, time.monotonic()
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
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        self.stream.write(f"\r[{'#' * fill}{'-' * (self.width - fill)}] {self.done}/{self.total} {self.what}"
                          f"  {rate:.1f}/s  ETA {eta:.0f}s ")
        self.stream.flush()
