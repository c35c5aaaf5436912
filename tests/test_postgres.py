"""The register on PostgreSQL, against a real server (127.0.0.1:5432, database `test`, or LEAKMARK_TEST_POSTGRES),
each test in a schema of its own: what only a shared register has (several workstations, processes issuing at
once, an unreachable server, another key). The same operations and tampering on both backends:
test_register_backends.py."""

from __future__ import annotations

import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lmtest import concurrent_issue_worker, pg_schema, seeded_workspace

import leakmark
from leakmark import register
from leakmark.errors import LedgerIntegrityError, WorkspaceMissingError
from leakmark.ledger import Ledger

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def pg(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with pg_schema(monkeypatch) as url:
        yield url


def sql(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(statement)


def _issue(ws: leakmark.Workspace, source: Path, out: Path, names: list[str]) -> leakmark.IssueResult:
    return leakmark.issue(ws, leakmark.IssueOptions(source=source, recipients=tuple(leakmark.Recipient(n, "U")
                                                                                   for n in names),
                                                    output_dir=out, jobs=1))


def test_two_workstations_share_the_register(pg: str, tmp_path: Path, samples_dir: Path) -> None:
    a = seeded_workspace(tmp_path / "a", b"shared office key")
    _issue(a, samples_dir / "memo-en.pdf", tmp_path / "out-a", ["Alice"])
    shutil.copytree(a.home, tmp_path / "b")  # the second workstation: the same key (and vault, e.g. a share)
    (tmp_path / "b" / a.head_path.name).unlink()  # it has written nothing yet
    b = leakmark.Workspace.open(tmp_path / "b", create=False)
    assert register.verify(b).copies == 1
    for _ in range(2):
        _issue(b, samples_dir / "memo-en.pdf", tmp_path / "out-b", ["Bob"])
    # a's head file lags two transactions behind: still contained in the register, so it verifies
    assert register.verify(a).copies == 3
    assert [c.copy_no for c in register.list_documents(a)[0].copies] == [1, 2, 3]
    # a register put back to an older state than a workstation saw is caught by that workstation
    sql(pg, "DELETE FROM events WHERE seq > 2")
    with pytest.raises(LedgerIntegrityError):
        register.verify(b)


def test_another_key_is_refused(pg: str, tmp_path: Path, samples_dir: Path) -> None:
    a = seeded_workspace(tmp_path / "a", b"key one")
    _issue(a, samples_dir / "memo-en.pdf", tmp_path / "out", ["Alice"])
    other = seeded_workspace(tmp_path / "b", b"key two")
    with pytest.raises(WorkspaceMissingError):
        register.verify(other)


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKMARK_REGISTER", "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=1")
    ws = leakmark.Workspace.open(tmp_path / "ws", create=True)
    with pytest.raises(WorkspaceMissingError, match="cannot reach the PostgreSQL register") as info:
        register.verify(ws)
    assert "secret" not in info.value.message


def test_four_processes_issuing_at_once_get_distinct_numbers(pg: str, tmp_path: Path, samples_dir: Path) -> None:
    ws = seeded_workspace(tmp_path / "ws", b"pg concurrent")
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=concurrent_issue_worker,
                         args=(str(ws.home), str(samples_dir / "memo-en.pdf"), str(tmp_path / f"out{i}"),
                               [f"P{i}-{k}" for k in range(3)], barrier, queue)) for i in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(kind == "ok" for kind, _ in results), results
    numbers = [n for _kind, batch in results for n in batch]
    assert sorted(numbers) == [f"{n:06d}" for n in range(1, 13)]
    v = register.verify(ws)
    assert v.copies == 12
    with Ledger(ws) as ledger:
        ledger.check()
        assert len({c.run_id for c in ledger.copies()}) == 4


@pytest.mark.slow  # the web page on SQLite (test_server.py) and four processes on PostgreSQL (above) run by default
def test_four_clerks_issuing_at_once_through_the_server_on_postgres(pg: str, tmp_path: Path,
                                                                     samples_dir: Path) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from leakmark.server import create_app
    from leakmark.server.accounts import Accounts

    ws = seeded_workspace(tmp_path / "ws", b"pg web")
    for i in range(4):
        Accounts(ws).add(f"clerk{i}", "clerk", "correct horse battery", "admin")
    app = create_app(ws, workers=4)  # the jobs' processes inherit LEAKMARK_REGISTER
    pdf = (samples_dir / "memo-en.pdf").read_bytes()

    def one(i: int) -> list[str]:
        c = TestClient(app)
        csrf = c.post("/api/login", json={"name": f"clerk{i}", "password": "correct horse battery"}).json()["csrf"]
        job = c.post("/api/issue", files={"document": ("memo.pdf", pdf)}, data={"recipients": f"A{i}\nB{i}"},
                     headers={"X-CSRF-Token": csrf}).json()
        while job["state"] in ("queued", "running"):
            time.sleep(0.2)
            job = c.get(f"/api/jobs/{job['id']}").json()
        assert job["state"] == "done", job["error"]
        return [c["copy_no"] for c in job["result"]["copies"]]

    with ThreadPoolExecutor(4) as pool:
        numbers = sorted(n for batch in pool.map(one, range(4)) for n in batch)
    assert numbers == [f"{n:06d}" for n in range(1, 9)]
    v = register.verify(ws)
    assert v.copies == 8 and v.events > 4 + 4 * 3  # four account events, then each run's
