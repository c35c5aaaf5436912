"""Print runs: merged output with separators, the streamed PDF writer, kill-and-resume, Dask, progress."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from lmtest import db_rows

import leakmark
from leakmark import TraceOptions, trace
from leakmark._progress import NullProgress, TextBar
from leakmark.cli_signals import Stop
from leakmark.ledger import Ledger
from leakmark.pdf.stream import PageImage, StreamingPdf
from leakmark.rendering import page_array, render_page_array


def _people(n: int, prefix: str = "R") -> tuple[leakmark.Recipient, ...]:
    return tuple(leakmark.Recipient(f"{prefix}{i:03d}", "Unit") for i in range(n))


def _trace_page(ws: leakmark.Workspace, pdf_path: Path, page: int, tmp: Path) -> leakmark.TraceResult:
    """Render one page of an issued file to a PNG, as a scan would be, and trace it."""
    img = render_page_array(pdf_path, page, 300)
    png = tmp / f"evidence-{pdf_path.stem}-{page}.png"
    cv2.imwrite(str(png), img)
    return trace(ws, TraceOptions(evidence=(png,)))


def _page_ranges(ws: leakmark.Workspace, run_id: str) -> list[tuple[int, int, int]]:
    rows = db_rows(ws.ledger_path, "SELECT copy_no, path FROM copies WHERE run_id=? ORDER BY copy_no", (run_id,))
    out = []
    for n, path in rows:
        a, b = path.rpartition("#pages=")[2].split("-")
        out.append((n, int(a), int(b)))
    return out


# -- the streamed PDF writer ------------------------------------------------------------------------------
def _jpeg(text: str) -> PageImage:
    g = np.full((220, 170), 255, np.uint8)
    cv2.putText(g, text, (10, 110), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    return PageImage(cv2.imencode(".jpg", g)[1].tobytes(), 170, 220)


def test_streamed_pdf_resumes_from_the_committed_length(tmp_path):
    final = tmp_path / "run.pdf"
    w = StreamingPdf(final)
    for i in range(300):  # more than one page-tree node
        w.add_page(612, 792, _jpeg(str(i)))
    committed = w.commit()
    for _ in range(7):  # written but never recorded: a crash before the ledger transaction
        w.add_page(612, 792, _jpeg("lost"))
    w.commit()
    w.close()
    with open(final.with_name("run.pdf.part.idx"), "ab") as fh:
        fh.write(b"\x01\x02\x03")  # a torn index record
    w = StreamingPdf(final, committed=committed)
    assert w.pages == 300
    gray = np.full((100, 80), 255, np.uint8)
    gray[40:60, 10:70] = 0
    w.add_page(300, 400, PageImage.bilevel_from(gray))
    w.finish(title="测试 run")
    assert not final.with_name("run.pdf.part").exists() and not final.with_name("run.pdf.part.idx").exists()
    pymupdf.TOOLS.mupdf_warnings()  # clear
    with pymupdf.open(final) as doc:
        assert len(doc) == 301 and doc.metadata["title"] == "测试 run"
        assert doc[300].rect == pymupdf.Rect(0, 0, 300, 400)
        img = page_array(doc[300], 72)
        assert img[:30].min() > 200 and img[165:235, 50:250].max() < 60  # the black bar, where it belongs
    assert pymupdf.TOOLS.mupdf_warnings() == ""  # no repair needed: the xref is exact


def test_streamed_pdf_refuses_a_part_shorter_than_the_ledger(tmp_path):
    final = tmp_path / "run.pdf"
    w = StreamingPdf(final)
    w.add_page(612, 792, _jpeg("x"))
    n = w.commit()
    w.close()
    with pytest.raises(leakmark.errors.OutputError, match="cannot be completed"):
        StreamingPdf(final, committed=n + 1000)


# -- merged runs ------------------------------------------------------------------------------------------
def test_merged_run_with_separators_traces_to_each_copy(issued, ws_copy, tmp_path):
    merged = tmp_path / "print" / "run.pdf"
    r = leakmark.issue(ws_copy, leakmark.IssueOptions(
        source=issued.source, recipients=_people(4), merge=merged, separator=True, jobs=1, batch=3))
    assert r.merged == merged and merged.is_file()
    assert not list((tmp_path / "print").glob("*.part*"))
    assert r.stats["copies"] == 4 and r.stats["page_copies"] == 8 and r.stats["output_bytes"] == merged.stat().st_size
    with pymupdf.open(merged) as doc:
        assert len(doc) == 4 * 3
        sep = doc[0].get_images(full=True)[0]
        assert sep[4] == 1  # the separator is a 1-bit image
    assert _page_ranges(ws_copy, r.run) == [(6, 2, 3), (7, 5, 6), (8, 8, 9), (9, 11, 12)]
    t = _trace_page(ws_copy, merged, 8, tmp_path)  # 0-based 8 = page 9: copy 000008, its page 2
    assert t.verdict == "identified" and t.suspects[0].copy.copy_no == 8 and t.pages == [2]
    with Ledger(ws_copy) as ledger:
        assert ledger.verify().runs == 2


def test_separator_needs_merge_and_merge_target_must_be_new(issued, ws_copy, tmp_path):
    with pytest.raises(leakmark.errors.BadRequestError, match="--separator needs --merge"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(1), separator=True))
    target = tmp_path / "run.pdf"
    target.write_bytes(b"keep me")
    with pytest.raises(leakmark.errors.OutputError, match="already exists"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(1), merge=target))
    assert target.read_bytes() == b"keep me"


def test_full_disk_in_a_merged_run_then_resume(issued, ws_copy, tmp_path, monkeypatch):
    import errno

    real = StreamingPdf._write_object
    calls = []

    def filling(self, num, body, stream, role):
        calls.append(num)
        if len(calls) == 20:  # in the middle of the second batch of 3 copies (3 objects per page)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, num, body, stream, role)

    monkeypatch.setattr(StreamingPdf, "_write_object", filling)
    merged = tmp_path / "run.pdf"
    with pytest.raises(leakmark.errors.OutputError, match="No space left on device") as info:
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(7), merge=merged,
                                                      jobs=1, batch=3))
    assert "3 of 7 copies issued" in info.value.message and info.value.exit_code == 9
    monkeypatch.undo()
    r = leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    assert r.stats["made_now"] == 4
    assert [(a, b) for _, a, b in _page_ranges(ws_copy, r.run)] == [(2 * i + 1, 2 * i + 2) for i in range(7)]
    with pymupdf.open(merged) as doc:
        assert len(doc) == 14


# -- a real process killed mid-run ----------------------------------------------------------------------
def _start_issue(ws: leakmark.Workspace, source: Path, n: int, *extra: str) -> subprocess.Popen:
    csv = ws.home.parent / "people.csv"
    csv.write_text("name,unit\n" + "".join(f"P{i:03d},Unit {i % 7}\n" for i in range(n)), encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "leakmark", "issue", str(source), "--recipients", str(csv),
                             "--home", str(ws.home), "--jobs", "1", "--batch", "1", "-q", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())


def _wait_for_issued(ws: leakmark.Workspace, proc: subprocess.Popen, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before it could be stopped: {proc.stderr.read().decode()}"
        try:
            done = db_rows(ws.ledger_path, "SELECT COALESCE(SUM(done), 0) FROM runs WHERE state='open'")[0][0]
        except Exception:  # the ledger is being created
            done = 0
        if done >= at_least:
            return done
        time.sleep(0.01)
    raise AssertionError("the run made no progress in 120 s")


def test_kill_9_mid_run_then_resume_gives_every_copy_exactly_once(issued, ws_copy, tmp_path):
    n = 40
    merged = tmp_path / "print" / "run.pdf"
    proc = _start_issue(ws_copy, issued.source, n, "--merge", str(merged), "--separator")
    _wait_for_issued(ws_copy, proc, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with Ledger(ws_copy) as ledger:
        run = ledger.run("last")
        assert 3 <= run.done < n and run.state == "open"
        ledger.verify()
    assert not merged.exists() and merged.with_name("run.pdf.part").exists()

    r = leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    assert r.run == run.id and r.stats["made_now"] == n - run.done
    with Ledger(ws_copy) as ledger:
        assert ledger.run(run.id).state == "finished"
        rep = ledger.verify()
        copies = ledger.run_copies(run.id)
    assert rep.runs == 2
    numbers = [c.copy_no for c in copies]
    assert numbers == list(range(6, 6 + n)) and {c.status for c in copies} == {"issued"}  # every 份号 once
    ranges = _page_ranges(ws_copy, run.id)
    assert [(a, b) for _, a, b in ranges] == [(3 * i + 2, 3 * i + 3) for i in range(n)]  # in order, no gap
    with pymupdf.open(merged) as doc:
        assert len(doc) == 3 * n
    for copy_no in (6 + run.done - 1, 6 + n - 1):  # one made before the kill, one after the resume
        _, first, _ = next(x for x in ranges if x[0] == copy_no)
        t = _trace_page(ws_copy, merged, first - 1, tmp_path)
        assert t.verdict == "identified" and t.suspects[0].copy.copy_no == copy_no


def test_a_running_run_cannot_be_resumed_twice(issued, ws_copy, tmp_path):
    proc = _start_issue(ws_copy, issued.source, 40, "-o", str(tmp_path / "out"))
    try:
        _wait_for_issued(ws_copy, proc, 1)
        with pytest.raises(leakmark.errors.WorkspaceLockedError, match="another leakmark process"):
            leakmark.resume(ws_copy, "last", leakmark.RunSettings(jobs=1))
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_sigterm_stops_cleanly_and_resume_finishes_per_copy_files(issued, ws_copy, tmp_path, sig):
    n = 30
    out = tmp_path / "out"
    proc = _start_issue(ws_copy, issued.source, n, "-o", str(out))
    _wait_for_issued(ws_copy, proc, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "leakmark issue --resume" in err.decode() and "Traceback" not in err.decode()
    with Ledger(ws_copy) as ledger:
        run = ledger.run("last")
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == run.done and not [f for f in files if f.startswith(".")]  # only recorded copies exist

    proc = subprocess.run([sys.executable, "-m", "leakmark", "issue", "--resume", run.id, "--home", str(ws_copy.home),
                           "--jobs", "1", "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"done: {n} copies" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(f"memo-en-{i:06d}-P{i - 6:03d}.pdf"
                                                         for i in range(6, 6 + n))
    proc = subprocess.run([sys.executable, "-m", "leakmark", "log", "verify", "--home", str(ws_copy.home)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "2 runs, 35 copies" in proc.stdout


def test_a_stop_request_lost_in_a_finaliser_still_stops_the_run_at_the_next_copy(issued, ws_copy, tmp_path,
                                                                                  monkeypatch):
    # Python drops an exception raised in a finaliser or weakref callback; a signal landing there raised
    # KeyboardInterrupt into nothing and the run went on to its end (seen once in three runs of the test above)
    stop, dropped = Stop(), []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: dropped.append(u.exc_type))  # Python's drop, not pytest's

    class Finaliser:
        def __del__(self) -> None:
            stop.handler(signal.SIGTERM, None)  # the signal, landing where its exception is dropped

    class LosesTheSignalAtTheFirstCopy(NullProgress):
        def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
            self.what = what

        def advance(self, n: int = 1) -> None:
            if self.what == "copies" and not dropped:
                Finaliser()
            super().advance(n)

    with pytest.raises(leakmark.errors.RunInterruptedError, match="leakmark issue --resume"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(6), jobs=1, batch=1,
                                                      output_dir=tmp_path / "out"),
                       LosesTheSignalAtTheFirstCopy(stop=stop.check))
    with Ledger(ws_copy) as ledger:
        run = ledger.run("last")
    assert dropped == [KeyboardInterrupt] and (run.state, run.done, run.copies) == ("open", 1, 6)
    assert not stop.pending  # raised once: the run's own clean-up is not interrupted again


# -- Dask ------------------------------------------------------------------------------------------------
def test_dask_local_cluster_marks_without_the_key(issued, ws_copy, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    from leakmark import _parallel

    key = ws_copy.key()
    sent: list[bytes] = []
    real_submit = _parallel.DaskExecutor.submit

    def spy(self, fn, *args):
        sent.append(cloudpickle.dumps(args))
        return real_submit(self, fn, *args)

    monkeypatch.setattr(_parallel.DaskExecutor, "submit", spy)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        merged = tmp_path / "dask-run.pdf"
        r = leakmark.issue(ws_copy, leakmark.IssueOptions(
            source=issued.source, recipients=_people(5), merge=merged, executor="dask",
            scheduler=cl.scheduler_address, jobs=1, batch=2))
    assert r.stats["executor"] == "dask" and r.stats["jobs"] == 2
    assert sent and all(key not in blob for blob in sent)  # workers get seeds and pages, never the key
    with pymupdf.open(merged) as doc:
        assert len(doc) == 10
    t = _trace_page(ws_copy, merged, 6, tmp_path)  # copy 000009, page 1
    assert t.verdict == "identified" and t.suspects[0].copy.copy_no == 9


def test_dask_without_a_reachable_scheduler_is_a_clear_error(issued, ws_copy, monkeypatch):
    pytest.importorskip("distributed")
    from leakmark import _parallel

    monkeypatch.setattr(_parallel, "CONNECT_TIMEOUT", "2s")
    (events,) = db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM events")[0]
    with pytest.raises(leakmark.errors.BadRequestError, match="cannot reach the Dask scheduler"):
        leakmark.issue(ws_copy, leakmark.IssueOptions(source=issued.source, recipients=_people(1), executor="dask",
                                                      scheduler="tcp://127.0.0.1:9", jobs=1))
    assert db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM events")[0][0] == events  # checked before reserving


# -- progress --------------------------------------------------------------------------------------------
def test_progress_shows_copies_rate_and_eta(monkeypatch):
    clock = iter([100.0, 100.0, 102.0])  # start, its first draw, the draw after advance
    monkeypatch.setattr("leakmark._progress.time.monotonic", lambda: next(clock))
    buf = io.StringIO()
    bar = TextBar(buf)
    bar.start(10, "copies", scale=30, done=4)  # 4 copies made before a resume
    bar.advance(2)  # 2 copies in 2 s: 30 page-copies/s, 4 copies left: 4 s
    last = buf.getvalue().split("\r")[-1]
    assert "6/10 copies" in last and "30.0 page-copies/s" in last and "ETA 4s" in last
