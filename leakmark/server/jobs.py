"""Long work (issue runs, traces) outside the request: a job runs in a process of its own, at most `workers`
at once; its state and progress are kept in ``HOME/server/jobs/ID/job.json`` (replaced atomically), so a
browser that closes loses nothing and the page shows the job again when it comes back.

A job still queued or running when the server stopped is `interrupted` when it starts again: an issue run
keeps its reserved numbers in the register, and `resume` finishes it with the same numbers and marks
(`leakmark.issuing.resume`); a trace is simply run again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leakmark._io import atomic_write_bytes, private_dir
from leakmark.errors import LeakmarkError
from leakmark.ledger.models import now_iso
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "interrupted")
_SAVE_EVERY = 0.5  # seconds between progress writes


@dataclass
class Job:
    id: str
    kind: str  # "issue" or "trace"
    user: str
    title: str  # what the lists show: the document's or the evidence's file name
    state: str = "queued"
    created_at: str = ""
    finished_at: str = ""
    total: int = 0
    done: int = 0
    what: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # what the job needs to run again (paths inside its folder)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("params")
        return out


class JobProgress:
    """The library's progress protocol, kept in the job's file (written at most every _SAVE_EVERY seconds)."""

    def __init__(self, store: JobStore, job: Job) -> None:
        self.store, self.job, self._saved = store, job, 0.0

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        self.job.total, self.job.done, self.job.what = total, done, what
        self.store.save(self.job)

    def advance(self, n: int = 1) -> None:
        self.job.done += n
        if time.monotonic() - self._saved > _SAVE_EVERY:
            self._saved = time.monotonic()
            self.store.save(self.job)

    def finish(self) -> None:
        self.store.save(self.job)


class JobStore:
    """The jobs' files: ``ROOT/ID/job.json`` and whatever the job keeps beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        private_dir(root)

    def folder(self, job: Job) -> Path:
        return self.root / job.id

    def load(self, job_id: str) -> Job:
        return Job(**json.loads((self.root / job_id / "job.json").read_text(encoding="utf-8")))

    def save(self, job: Job) -> None:
        try:
            atomic_write_bytes(self.folder(job) / "job.json",
                               json.dumps(asdict(job), ensure_ascii=False, indent=1).encode())
        except LeakmarkError as exc:  # the job goes on; its page shows the last state saved
            log.warning("cannot save job %s: %s", job.id, exc.message)


Work = Callable[[Workspace, JobStore, Job, JobProgress], dict[str, Any]]


def _child(home: str, root: str, job_id: str, work: Work) -> None:
    """A job's own process: MuPDF and OpenCV are not made for several documents at once in one process's
    threads, so every job runs alone in a process of its own (which ends with the server: `_exit_with_parent`);
    it writes its progress and result to its file, where the server reads them."""
    from leakmark._parallel import _exit_with_parent

    _exit_with_parent()
    store = JobStore(Path(root))
    job = store.load(job_id)
    try:
        job.result = work(Workspace.open(Path(home), create=False), store, job, JobProgress(store, job))
        job.state = "done"
    except LeakmarkError as exc:
        job.state, job.error = "failed", exc.message
    except Exception as exc:  # a bug: the job says so, the server goes on
        log.exception("job %s failed", job.id)
        job.state, job.error = "failed", f"internal error ({type(exc).__name__}: {exc}); see the server log"
    job.finished_at = now_iso()
    store.save(job)


class Jobs:
    """The server's jobs: at most `workers` run at once, each in its own process (`_child`)."""

    def __init__(self, workspace: Workspace, root: Path, workers: int = 2) -> None:
        self.ws = workspace
        self.store = JobStore(root)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="leakmark-job")
        self._closing = False
        for f in sorted(root.glob("*/job.json")):
            try:
                job = self.store.load(f.parent.name)
            except (OSError, ValueError, TypeError) as exc:
                log.warning("job file %s is unreadable (%s); skipped", f, exc)
                continue
            if job.state in ("queued", "running"):
                job.state, job.error = "interrupted", "the server stopped while this job ran"
                self.store.save(job)
            self._jobs[job.id] = job

    def folder(self, job: Job) -> Path:
        return self.store.folder(job)

    def save(self, job: Job) -> None:
        self.store.save(job)

    def new(self, kind: str, user: str, title: str, params: dict[str, Any] | None = None) -> Job:
        job = Job(id=time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(4), kind=kind, user=user, title=title,
                  created_at=now_iso(), params=dict(params or {}))
        private_dir(self.folder(job))
        with self._lock:
            self._jobs[job.id] = job
        self.save(job)
        return job

    def discard(self, job: Job) -> None:
        """Forget a job that never started (its upload was refused) and remove its folder."""
        import shutil

        with self._lock:
            self._jobs.pop(job.id, None)
        shutil.rmtree(self.folder(job), ignore_errors=True)

    def start(self, job: Job, work: Work) -> None:
        """Queue the job: `work(workspace, store, job, progress)` runs in a process of its own; its dict becomes
        the job's result. `work` must be a module-level function (it is pickled for the process)."""
        self._pool.submit(self._run, job, work)

    def _run(self, job: Job, work: Work) -> None:
        if self._closing:
            return
        job.state, job.error = "running", ""
        self.save(job)
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=_child, args=(str(self.ws.home), str(self.store.root), job.id, work),
                           name=f"leakmark-job-{job.id}")
        proc.start()
        proc.join()
        try:
            done = self.store.load(job.id)
        except (OSError, ValueError, TypeError):
            done = job
        if done.state in ("queued", "running"):  # the process died without saying how it ended
            done.state = "interrupted" if self._closing else "failed"
            done.error = f"the job's process ended unexpectedly (exit code {proc.exitcode}); see the server log"
            done.finished_at = now_iso()
            self.save(done)
        with self._lock:
            self._jobs[job.id] = done

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None and job.state == "running":  # its process writes the progress
            with contextlib.suppress(OSError, ValueError, TypeError):
                job = self.store.load(job_id)
        return job

    def all(self) -> list[Job]:
        with self._lock:
            ids = list(self._jobs)
        jobs = [j for j in (self.get(i) for i in ids) if j is not None]
        return sorted(jobs, key=lambda j: j.id, reverse=True)

    def close(self) -> None:
        self._closing = True
        self._pool.shutdown(wait=False, cancel_futures=True)
