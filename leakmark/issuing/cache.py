"""A run's page cache: each page rendered once per run (and its layers' planes), read by the workers.

It lives in the workspace (`runs/RUN/`), holds a lock file so that one process at a time carries out a
run, and is removed when the run ends; caches of closed or never-recorded runs are swept an hour later.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from leakmark.errors import WorkspaceLockedError
from leakmark.workspace import Workspace

GRACE_S = 3600  # another run may be starting right now: its cache is not yet in the register


def folder(ws: Workspace, run_id: str) -> Path:
    return ws.home / "runs" / run_id


def page_file(ws: Workspace, run_id: str, index: int) -> Path:
    return folder(ws, run_id) / f"page-{index + 1:03d}.npy"


def remove(ws: Workspace, run_id: str) -> None:
    shutil.rmtree(folder(ws, run_id), ignore_errors=True)


def sweep(ws: Workspace, open_runs: set[str]) -> None:
    """Remove page caches of runs that are closed or were never recorded (a crash before the run began)."""
    root = ws.home / "runs"
    if not root.is_dir():
        return
    for d in root.iterdir():
        if d.is_dir() and d.name not in open_runs and time.time() - d.stat().st_mtime > GRACE_S:
            shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def run_lock(ws: Workspace, run_id: str) -> Iterator[Path]:
    """One process at a time carries out a run: a second `--resume` of a running run would write its
    copies twice. An advisory lock on a file in the run's page cache (POSIX; none on Windows)."""
    cache = folder(ws, run_id)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "a+") as fh:
        try:
            import fcntl
        except ImportError:
            yield cache
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise WorkspaceLockedError(f"run {run_id} is being carried out by another leakmark process; wait for "
                                       "it to finish (`leakmark log runs` shows its progress)") from None
        yield cache
