"""What the benchmark scripts share: the provenance stamp every results file carries, the writer that
records it, and small helpers (argument parser, CSV log, evidence files, logging, blind-watermark import).

Stamp. A run takes one `Stamp` when it starts (`Stamp.take(NAME, argv)`): the git commit of the checkout
and whether its code (leakmark/, benchmarks/ but results/, pyproject.toml) differed from that commit, the
UTC time, the machine (CPU model, cores, RAM, OS, Python, numpy / OpenCV / PyMuPDF versions), the command
as `python -m benchmarks NAME ...` and the exact invocation (`sys.orig_argv`).

Results. Every file a run writes goes through a `Results` (or is recorded with `Results.record`): the
folder's sidecar `<group>.stamp.json` lists the runs that wrote its files, each run with its stamp and its
files (a file re-written by a later run moves to that run; a run with no files left is dropped). Markdown
files also get the stamp as two visible lines under their title. `python -m benchmarks stale` reads the
sidecars and says which results are older than the code they measure.

    {"format": "leakmark-benchmark-stamp/1",
     "runs": [{"id": "...", "script": "robustness", "commit": "5354744...", "dirty": false, "changed": [],
               "utc": "2026-12-02T10:11:12Z", "command": "python -m benchmarks robustness --quick",
               "invocation": "/work/venv/bin/python -m benchmarks robustness --quick",
               "machine": {"cpu": "AMD EPYC", "cores": 2, ...}, "machine_line": "AMD EPYC, 2 cores, ...",
               "files": ["robustness.csv", "robustness.md"], "derived_from": []}]}

A file key `name#part` is one part of a file that keeps parts from several runs (throughput.md's
sections); `derived_from` names the files (in the same folder) a run rebuilt its output from, e.g. the
tables `report` rebuilds from the CSVs of an earlier run: their runs' commits count for staleness too.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
STAMP_FORMAT = "leakmark-benchmark-stamp/1"
STAMP_SUFFIX = ".stamp.json"
UNSTAMPED = "unstamped"  # the sidecar's pseudo-run for kept parts written before stamps existed
# what "the code" is when a stamp says whether the tree was dirty (results/ is output, not code)
CODE_PATHS = ("leakmark", "benchmarks", "pyproject.toml", ":(exclude)benchmarks/results")


# ---------------------------------------------------------------------------------------------- stamp

def git(*args: str) -> str | None:
    """`git -C ROOT args` stdout without trailing blanks; None when git or the repository is missing or the
    command fails."""
    try:
        proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.rstrip() if proc.returncode == 0 else None


def machine() -> dict:
    """CPU model, cores (all and usable), RAM, OS, Python and the versions of the libraries that do the work."""
    import cv2
    import pymupdf

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        ram = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)  # MemTotal, kB → GiB
    distro = ""
    with contextlib.suppress(OSError, AttributeError):
        distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "arch": platform.machine(), "cores": os.cpu_count(), "usable_cores": usable,
            "ram_gib": ram, "os": f"{platform.system()} {platform.release()}" + (f" ({distro})" if distro else ""),
            "python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
            "pymupdf": pymupdf.__version__, "mupdf": getattr(pymupdf, "mupdf_version", None),
            # set, OpenBLAS runs that CPU's kernels instead of its own choice (the tests set Haswell, for scores
            # alike on every CPU); on an AVX-512 CPU the matrix products ran 1.2x (two threads) to 1.4x (one)
            # slower under Haswell's
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE") or None}


def machine_line(m: dict) -> str:
    cores = f"{m['cores']} cores" + (f" ({m['usable_cores']} usable)" if m.get("usable_cores") != m["cores"] else "")
    ram = f", {m['ram_gib']:g} GiB RAM" if m.get("ram_gib") else ""
    return (f"{m['cpu']}, {cores}{ram}, {m['os']}, Python {m['python']}, numpy {m['numpy']}, "
            f"OpenCV {m['opencv']}, PyMuPDF {m['pymupdf']}" + (f" (MuPDF {m['mupdf']})" if m.get("mupdf") else "")
            + (f", OPENBLAS_CORETYPE={m['openblas_coretype']}" if m.get("openblas_coretype") else ""))


@dataclass(frozen=True)
class Stamp:
    """Where a result came from: taken once when a run starts (the code that runs is the code at start)."""

    id: str
    script: str
    commit: str | None  # None: not a git checkout
    dirty: bool | None  # the code differed from `commit` (see CODE_PATHS)
    changed: list[str]  # the differing code paths (at most 20)
    utc: str  # ISO 8601, seconds, Z
    command: str  # the run as `python -m benchmarks NAME ...`: run it again with this
    invocation: str  # sys.orig_argv exactly
    machine: dict
    machine_line: str

    @classmethod
    def take(cls, script: str, argv: Iterable[str]) -> Stamp:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS) if commit else None
        changed = [line[3:] for line in status.splitlines()] if status else []
        m = machine()
        utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return cls(id=f"{utc}-{os.getpid()}", script=script, commit=commit,
                   dirty=None if status is None else bool(changed), changed=changed[:20], utc=utc,
                   command=shlex.join(["python", "-m", "benchmarks", script, *argv]),
                   invocation=shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
                   machine=m, machine_line=machine_line(m))

    @classmethod
    def from_dict(cls, d: dict) -> Stamp:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def short(self) -> str:
        if not self.commit:
            return "no git commit"
        return f"`{self.commit[:7]}`" + (" (uncommitted changes)" if self.dirty else " (clean)")

    @property
    def when(self) -> str:
        return self.utc.replace("T", " ").removesuffix("Z")[:16] + " UTC"

    def oneline(self, verb: str = "Measured") -> str:
        return f"{verb} by `{self.command}` at commit {self.short}, {self.when}."

    def markdown(self, group: str, verb: str = "Written") -> list[str]:
        """The visible stamp under a Markdown file's title (two lines, the first ending in a hard break)."""
        return [f"<!-- provenance: {group}{STAMP_SUFFIX}; `python -m benchmarks stale` -->",
                self.oneline(verb) + "  ", f"Machine: {self.machine_line}"]


# ---------------------------------------------------------------------------------------------- results

@dataclass
class Results:
    """A run's output folder. Files written through it (or `record`ed) are listed in `<group>.stamp.json`
    under the run's stamp; `derived_from`: files here this run's output was rebuilt from."""

    folder: Path
    stamp: Stamp
    group: str
    derived_from: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / name

    def write_markdown(self, name: str, text: str | list[str], parts: Iterable[str] = (),
                       carried: Iterable[str] = (), stamp_lines: bool = True) -> Path:
        """`text` with the stamp under its first line (the `# title`). A file that keeps parts (sections)
        from earlier runs: `parts` are the ones this run wrote, recorded as `name#part`; `carried` the ones
        kept, which keep their earlier runs (or, from before stamps, are recorded as unstamped)."""
        lines = text.split("\n") if isinstance(text, str) else list(text)
        if stamp_lines:
            at = 1 if lines and lines[0].startswith("# ") else 0
            lines[at:at] = [*([""] if at else []), *self.stamp.markdown(self.group)]
        path = self.path(name)
        path.write_text("\n".join(lines) + ("" if lines and lines[-1] == "" else "\n"), encoding="utf-8")
        self.record(name, *(f"{name}#{p}" for p in parts))
        self.record_unstamped(*(f"{name}#{p}" for p in carried))
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.path(name)
        path.write_text(text, encoding="utf-8")
        self.record(name)
        return path

    def write_json(self, name: str, obj: object) -> Path:
        return self.write_text(name, json.dumps(obj, ensure_ascii=False, indent=1))

    def csv(self, name: str, fields: list[str], fresh: bool = True) -> CsvLog:
        log = CsvLog(self.path(name), fields, fresh)
        self.record(name)
        return log

    def record(self, *names: str) -> None:
        """Put `names` (files in the folder, or `file#part`) under this run in the sidecar."""
        sidecar = self.folder / f"{self.group}{STAMP_SUFFIX}"
        data = read_sidecar(sidecar) or {"format": STAMP_FORMAT, "runs": []}
        keys = set(names)
        runs = []
        for run in data["runs"]:
            if run.get("id") != self.stamp.id:
                run["files"] = [f for f in run["files"] if f not in keys]
            if run["files"] or run.get("id") == self.stamp.id:
                runs.append(run)
        mine = next((r for r in runs if r.get("id") == self.stamp.id), None)
        if mine is None:
            mine = {**self.stamp.as_dict(), "files": [], "derived_from": sorted(self.derived_from)}
            runs.append(mine)
        mine["files"] = sorted(set(mine["files"]) | keys)
        data["runs"] = runs
        _write_sidecar(sidecar, data)


    def record_unstamped(self, *names: str) -> None:
        """Put `names` that no run in the sidecar has under the pseudo-run `unstamped` (commit unknown)."""
        sidecar = self.folder / f"{self.group}{STAMP_SUFFIX}"
        data = read_sidecar(sidecar) or {"format": STAMP_FORMAT, "runs": []}
        known = {f for run in data["runs"] for f in run["files"]}
        new = [n for n in names if n not in known]
        if not new:
            return
        run = next((r for r in data["runs"] if r.get("id") == UNSTAMPED), None)
        if run is None:
            run = {"id": UNSTAMPED, "script": self.stamp.script, "commit": None, "files": []}
            data["runs"].append(run)
        run["files"] = sorted({*run["files"], *new})
        _write_sidecar(sidecar, data)


def _write_sidecar(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_sidecar(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == STAMP_FORMAT else None


# ---------------------------------------------------------------------------------------------- helpers

def script_name(module_file: str) -> str:
    """`benchmarks/robustness.py` → `robustness`: a script's NAME, however it was started."""
    return Path(module_file).stem


def argument_parser(module_file: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser that shows the module docstring and `python -m benchmarks NAME` as the program."""
    return argparse.ArgumentParser(prog=f"python -m benchmarks {script_name(module_file)}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def arguments(argv: list[str] | None) -> list[str]:
    """The script's arguments: `argv` when called as `main(argv)`, else the command line's."""
    return list(sys.argv[1:] if argv is None else argv)


def import_blind_watermark() -> None:
    """Import blind-watermark without its side effects (the benchmarks' baseline, the tests' oracle): it prints
    a banner, and its pool.py calls `multiprocessing.set_start_method('fork')` at import, which raises once a start
    method is set (after a pool has run, and in every spawned worker) and would change it for the process."""
    import multiprocessing

    saved = multiprocessing.set_start_method
    multiprocessing.set_start_method = lambda *args, **kwargs: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import blind_watermark  # noqa: F401
    finally:
        multiprocessing.set_start_method = saved


class CsvLog:
    """Append rows to a CSV, header once, flushed per row (an interrupted run keeps what it measured)."""

    def __init__(self, path: Path, fields: list[str], fresh: bool) -> None:
        self.path, self.fields = path, fields
        if fresh or not path.exists():
            with path.open("w", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=fields).writeheader()

    def add(self, row: dict) -> None:
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.fields, extrasaction="ignore").writerow(row)


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_evidence(img: np.ndarray, folder: Path, stem: str) -> Path:
    """Lossless PNG: the attack's own output reaches the tracer unchanged."""
    import cv2

    path = folder / f"{stem}.png"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return path


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
