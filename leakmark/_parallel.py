"""Executors for per-page work: in this process, a local process pool, or a Dask cluster.

All three offer `submit(fn, *args) -> future` (with `.result()` and `.cancel()`), `share(index, paths)`
to hand a cached page rendering to the workers, `workers` and `close`. The local pool uses the 'spawn'
start method through its own context (never set globally, never at import): OpenCV and MuPDF keep
threads and state that a forked child must not inherit. Its workers exit when the parent process dies,
even by SIGKILL (`_exit_with_parent`): no orphan keeps rendering unmarked pages.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
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


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 0.5


def _exit_with_parent() -> None:
    """Initializer of a pool worker: end this process as soon as its parent is gone.

    On Linux the kernel does it (prctl PR_SET_PDEATHSIG with SIGKILL: also while the worker is deep in
    MuPDF or OpenCV and holds the GIL). Everywhere, a daemon thread waits on the parent's sentinel (a
    pipe that closes, or a process handle that is signalled, when the parent dies) and exits; a worker
    not started by multiprocessing polls its parent pid instead. The parent is checked once more after
    all that is set up, in case it died before."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl (musl without it, sandboxes): the thread remains
            pass
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()
            os._exit(1)
    else:
        ppid = os.getppid()

        def watch() -> None:
            while os.getppid() == ppid:
                time.sleep(PARENT_POLL_S)
            os._exit(1)
    threading.Thread(target=watch, name="leakmark-parent-watch", daemon=True).start()
    if parent is not None and not parent.is_alive():
        os._exit(1)


class ProcessExecutor(SerialExecutor):
    def __init__(self, n_jobs: int) -> None:
        self.workers = n_jobs
        self._pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_exit_with_parent)

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
