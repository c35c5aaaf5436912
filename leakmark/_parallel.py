"""Serial and process-pool executors for per-page work.

The pool uses the 'spawn' start method through its own context (never set globally, never at import):
OpenCV and MuPDF keep threads and state that a forked child must not inherit.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def run(func: Callable[[J], R], jobs: Iterable[J], n_jobs: int) -> Iterator[R]:
    """Yield results as they complete (not in order). n_jobs <= 1 runs in this process."""
    items = list(jobs)
    if n_jobs <= 1 or len(items) <= 1:
        for item in items:
            yield func(item)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(n_jobs, len(items)), mp_context=ctx) as pool:
        pending = {pool.submit(func, item) for item in items}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
