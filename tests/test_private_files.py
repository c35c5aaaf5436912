"""Issue 13, finding 7: private files (register, key, vault, page caches 0600, folders 0700), no page cache
left behind by a failed run, no worker process left behind by a killed parent."""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lmtest import text_pdf

import leakmark
from leakmark.errors import RunInterruptedError
from leakmark.issuing import cache
from leakmark.issuing import run as run_module
from leakmark.ledger import Ledger

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and processes")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _loose(home: Path) -> list[str]:
    """Everything under `home` that group or others could read, enter or write."""
    found = [home, *home.rglob("*")]
    return [f"{p.relative_to(home.parent)} {oct(_mode(p))}" for p in found if _mode(p) & 0o077]


@pytest.fixture
def permissive_umask():
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_workspace_and_its_register_vault_and_caches_are_private(tmp_path, permissive_umask, monkeypatch):
    home = tmp_path / "ws"
    ws = leakmark.Workspace.open(home)
    seen: dict[str, list[str]] = {}
    real = run_module._carry_out

    def look(ws_, ledger, *args, **kwargs):  # mid-run: the page cache and the register's -wal/-shm exist now
        seen["during"] = _loose(home)
        seen["files"] = sorted(p.name for p in home.rglob("*"))
        return real(ws_, ledger, *args, **kwargs)

    monkeypatch.setattr(run_module, "_carry_out", look)
    leakmark.issue(ws, leakmark.IssueOptions(source=text_pdf(tmp_path / "doc.pdf", lines=12),
                                             recipients=(leakmark.Recipient("A", "U"),), output_dir=tmp_path / "out",
                                             jobs=1))
    assert {"ledger.sqlite-wal", "ledger.sqlite-shm", "page-001.npy", "lock", "original.pdf"} <= set(seen["files"])
    assert seen["during"] == []
    with Ledger(ws):
        assert _loose(home) == []
    assert _mode(home) == 0o700 and _mode(ws.ledger_path) == 0o600


def test_an_existing_workspace_is_tightened_on_open_without_failing_on_files_it_cannot_change(ws_copy):
    home = ws_copy.home
    for p in [home, *home.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    foreign = home / "ledger.head"
    if os.geteuid() == 0:
        os.chown(foreign, 65534, 65534)  # owned by someone else: left as it is, and no error
    leakmark.Workspace.open(home, create=False)
    assert _loose(home) == ([f"{home.name}/ledger.head 0o644"] if os.geteuid() == 0 else [])
    folders = [p for p in home.rglob("*") if p.is_dir()]
    assert home / "index" / "outline" in folders and {_mode(p) for p in folders} == {0o700}  # still searchable


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_failed_run_leaves_no_page_cache(issued, ws_copy, tmp_path, monkeypatch, stop):
    def boom(*args, **kwargs):
        raise stop("stopped in the middle of marking")

    monkeypatch.setattr(run_module, "mark_copies", boom)
    expected = RunInterruptedError if stop is KeyboardInterrupt else RuntimeError
    with pytest.raises(expected):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("X"),),
                                                      output_dir=tmp_path / "out", jobs=1))
    with Ledger(ws_copy) as ledger:
        assert ledger.run("last").state == "open"  # resumable: the resume renders the pages again
    runs = ws_copy.home / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    monkeypatch.undo()
    r = leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    assert r.stats["made_now"] == 1 and list(runs.iterdir()) == []


def test_page_caches_left_by_a_killed_process_go_at_the_next_run_but_not_those_in_use(issued, ws_copy, tmp_path):
    runs = ws_copy.home / "runs"
    old = time.time() - 2 * cache.NEW_S
    killed, busy = runs / "20260101T000000Z-dead00", runs / "20260101T000000Z-busy00"
    for d in (killed, busy):
        d.mkdir(parents=True)
        (d / "page-001.npy").write_bytes(b"unmarked page")
        (d / "lock").touch()
    with open(busy / "lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run carried out by another process right now
        for d in (killed, busy):
            os.utime(d, (old, old))
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=(leakmark.Recipient("Y"),),
                                                      output_dir=tmp_path / "out", jobs=1))
        assert not killed.exists() and (busy / "page-001.npy").exists()


def _children(pid: int) -> dict[int, str]:
    """Processes whose parent is `pid` (Linux /proc), with their command lines."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_exit_when_the_parent_is_killed(issued, ws_copy, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text("name,unit\n" + "".join(f"P{i:03d},U\n" for i in range(400)), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "leakmark", "issue", str(issued.source), "--recipients", str(csv),
                             "--home", str(ws_copy.home), "-o", str(tmp_path / "out"), "--jobs", "2", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = {p: c for p, c in _children(proc.pid).items() if "multiprocessing" in c and
                       "resource_tracker" not in c}
            if len(workers) == 2:
                break
            time.sleep(0.05)
        assert len(workers) == 2 and proc.poll() is None, "the pool did not start while the run was going on"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.05)
        survivors = [p for p in workers if _alive(p)]
        assert survivors == [], f"worker processes {survivors} outlived their parent"
    finally:
        for p in workers:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
