"""A run's page cache: each page rendered once per run (and its layers' planes), read by the workers.

It lives in the workspace (`runs/RUN/`, folder 0700, files 0600: these are unmarked page images), holds a
lock file so that one process at a time carries out a run, and is removed when the run stops, however it
stops (finished, error, Ctrl-C, SIGTERM): a resume renders the pages again. Only a process killed outright
(SIGKILL, power loss) leaves one behind; the next `issue` removes every cache that no process holds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from leakmark._io import private_dir
from leakmark.errors import WorkspaceLockedError
from leakmark.workspace import Workspace

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; caches left by a killed process go after GRACE_S
    fcntl = None  # type: ignore[assignment]

GRACE_S = 3600  # without locks: another run may be starting right now
NEW_S = 60  # with locks: a cache this young may belong to a run that has not taken its lock yet


def folder(ws: Workspace, run_id: str) -> Path:
    return ws.home / "runs" / run_id


def page_file(ws: Workspace, run_id: str, index: int) -> Path:
    return folder(ws, run_id) / f"page-{index + 1:03d}.npy"


def remove(ws: Workspace, run_id: str) -> None:
    shutil.rmtree(folder(ws, run_id), ignore_errors=True)


def sweep(ws: Workspace) -> None:
    """Remove the page caches no process is using: left by a process that was killed outright."""
    root = ws.home / "runs"
    if not root.is_dir():
        return
    for d in root.iterdir():
        try:
            if not d.is_dir() or time.time() - d.stat().st_mtime < (NEW_S if fcntl is not None else GRACE_S):
                continue
        except OSError:
            continue
        if fcntl is None:
            shutil.rmtree(d, ignore_errors=True)
            continue
        try:
            fh = open(d / "lock", "a+")
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a run is using it
            shutil.rmtree(d, ignore_errors=True)


def _acquire(ws: Workspace, run_id: str) -> IO[str]:
    """The run's lock file, created 0600 in a fresh 0700 cache folder and locked; the same file that the
    path names (a sweeping process may have removed the folder between our open and our lock)."""
    cache = folder(ws, run_id)
    while True:
        private_dir(cache.parent)
        private_dir(cache)
        try:
            fh = open(os.open(cache / "lock", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+")
        except FileNotFoundError:
            continue  # removed under us: make it again
        if fcntl is None:
            return fh
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise WorkspaceLockedError(f"run {run_id} is being carried out by another leakmark process; wait "
                                       "for it to finish (`leakmark log runs` shows its progress)") from None
        try:
            same = os.fstat(fh.fileno()).st_ino == os.stat(cache / "lock").st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fh
        fh.close()


@contextlib.contextmanager
def run_lock(ws: Workspace, run_id: str) -> Iterator[Path]:
    """One process at a time carries out a run: a second `--resume` of a running run would write its
    copies twice. An advisory lock on a file in the run's page cache (POSIX; none on Windows). The cache is
    removed when the block ends, whether the run finished or stopped (still under the lock)."""
    fh = _acquire(ws, run_id)
    try:
        yield folder(ws, run_id)
    finally:
        try:
            if fcntl is not None:
                remove(ws, run_id)
        finally:
            fh.close()
            if fcntl is None:
                remove(ws, run_id)
