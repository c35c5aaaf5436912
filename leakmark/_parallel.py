"""Executors for per-page work: in this process, a local process pool, or a Dask cluster.

All three offer `submit(fn, *args) -> future` (with `.result()` and `.cancel()`), `share(index, paths)`
to hand a cached page rendering to the workers, `workers` and `close`. The local pool uses the 'spawn'
start method through its own context (never set globally, never at import): OpenCV and MuPDF keep
threads and state that a forked child must not inherit.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from leakmark.errors import BadRequestError

CONNECT_TIMEOUT = "20s"


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...
    def share(self, index: int, paths: list[Path]) -> Any: ...
    def close(self, cancel: bool) -> None: ...


class SerialExecutor:
    """Runs each job when it is submitted: `--jobs 1`, tests, and the simplest debugging."""

    workers = 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:
            fut.set_exception(exc)
        return fut

    def share(self, index: int, paths: list[Path]) -> tuple[str, ...]:
        return tuple(str(p) for p in paths)  # workers read the cached page from disk

    def close(self, cancel: bool) -> None:
        pass


class ProcessExecutor(SerialExecutor):
    def __init__(self, n_jobs: int) -> None:
        self.workers = n_jobs
        self._pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def close(self, cancel: bool) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


class DaskExecutor:
    """Jobs on a Dask distributed cluster. Each page rendering is scattered to the workers once;
    jobs carry units and per-copy seeds. The workspace key stays with the client."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BadRequestError("--executor dask needs Dask: pip install 'leakmark[dask]'") from None
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise BadRequestError(f"cannot reach the Dask scheduler at {address} ({exc}); start it with "
                                  "`dask scheduler` and its workers with `dask worker ADDRESS`") from None
        self.workers = max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._client.submit(fn, *args, pure=False)

    def share(self, index: int, paths: list[Path]) -> Any:
        import numpy as np

        return tuple(self._client.scatter([np.load(p) for p in paths], broadcast=True, hash=False))

    def close(self, cancel: bool) -> None:
        self._client.close()


def make_executor(kind: str, jobs: int, scheduler: str | None) -> Executor:
    if kind == "dask":
        return DaskExecutor(scheduler or "")
    n = jobs or default_jobs()
    return SerialExecutor() if n <= 1 else ProcessExecutor(n)
