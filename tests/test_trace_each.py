"""`trace --each`: every evidence file (every file of a folder) traced as its own leak, the summary (text, CSV,
JSON), the exit codes, a folder without --each, and the default (all files one leak) unchanged.

The real traces run on the session's issued memo (tests/conftest.py); the batch's control flow (a stop, a bug
on one file, Ctrl-C) on a stand-in for `tracer.trace`, so that those tests take no time."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from lmtest import run_main

from leakmark import simulate
from leakmark._progress import NoteProgress, TextBar
from leakmark.cli import cli
from leakmark.errors import InputFileError, LedgerIntegrityError
from leakmark.rendering import render_page_array
from leakmark.trace import tracer
from leakmark.trace.decide import Verdict
from leakmark.trace.each import CSV_COLUMNS, Summary, plan, report_paths, trace_each
from leakmark.trace.result import EvidenceReport, TraceOptions, TraceResult

JPEG = b"\xff\xd8\xff\xe0"


@pytest.fixture(scope="module")
def leaks(issued, tmp_path_factory) -> Path:
    """A folder of mixed leaks: a simulated phone photo of copy 3's page 1, a simulated print-and-scan of copy 5's
    page 1, a page of a document never registered, and case notes (text)."""
    folder = tmp_path_factory.mktemp("leaks")
    cv2.imwrite(str(folder / "a-copy3.jpg"), simulate.phone_photo(render_page_array(issued.copy_path(3), 0, 300),
                                                                  seed=3), [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(folder / "b-copy5-scan.png"), simulate.print_scan(render_page_array(issued.copy_path(5), 0, 300),
                                                                     seed=5))
    cv2.imwrite(str(folder / "c-unregistered.png"), render_page_array(issued.samples / "notice-zh.pdf", 0, 150))
    (folder / "notes.txt").write_text("case 2026-17: three captures from the shared drive\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def batch(issued, leaks, tmp_path_factory) -> tuple[int, dict, Path]:
    """`trace LEAKS --each --json --summary S.csv`, run once for the tests that read its output (on a copy of
    the session's workspace: every trace is recorded in its register)."""
    csv_path = tmp_path_factory.mktemp("summary") / "summary.csv"
    home = tmp_path_factory.mktemp("batch-ws") / "ws"
    shutil.copytree(issued.ws.home, home)
    result = CliRunner().invoke(cli, ["trace", str(leaks), "--each", "--json", "--summary", str(csv_path),
                                      "--home", str(home)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout), csv_path


def test_each_on_a_folder_of_mixed_leaks_gives_one_result_per_file(batch, leaks):
    code, out, _ = batch
    assert code == 0  # every file traced, whatever the verdicts; the text file is skipped, not failed
    assert set(out) == {"results", "summary"}
    got = [(Path(r["file"]).name, r["status"], r["trace"]["verdict"],
            [s["copy_no"] for s in r["trace"]["suspects"] if s["false_accusation_probability"] < 1e-6])
           for r in out["results"]]
    assert got == [("a-copy3.jpg", "traced", "identified", ["000003"]),
                   ("b-copy5-scan.png", "traced", "identified", ["000005"]),
                   ("c-unregistered.png", "traced", "no-match", [])]
    for r in out["results"]:  # each is the object `trace --json` prints for that file alone
        assert set(r["trace"]) == {"verdict", "document", "suspects", "evidence", "leakmark_version",
                                   "file_identifiers", "disagreements", "register", "recorded", "timings"}
        assert r["trace"]["recorded"]["seq"] > 0  # each file's trace is its own event in the register
        assert [e["path"] for e in r["trace"]["evidence"]] == [r["file"]]
    s = out["summary"]
    assert (s["files"], s["traced"], s["failed"], s["skipped"], s["not_traced"]) == (4, 3, 0, 1, 0)
    assert s["verdicts"] == {"identified": 2, "inconclusive": 0, "no-match": 1}
    assert s["interrupted"] is False and s["stopped"] is None
    # the register as the last trace read it (each trace before it added its own event)
    assert s["register"] == out["results"][-1]["trace"]["register"]
    assert [r["trace"]["register"]["count"] for r in out["results"]] == [4, 5, 6]
    skipped = s["rows"][-1]
    assert (Path(skipped["file"]).name, skipped["status"]) == ("notes.txt", "skipped")
    assert "not a PDF" in skipped["detail"]
    first = s["rows"][0]
    assert first["named"] == [{"copy_no": "000003", "recipient": "Chen Jing", "unit": "Test lab",
                               "false_accusation_probability":
                                   out["results"][0]["trace"]["suspects"][0]["false_accusation_probability"]}]
    assert first["sha256"] == out["results"][0]["trace"]["evidence"][0]["sha256"]


def test_summary_csv_opens_in_excel_and_matches_the_json(batch):
    _, out, csv_path = batch
    data = csv_path.read_bytes()
    assert csv_path.stat().st_mode & 0o777 == 0o600  # it names recipients: private, as the copies
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel and WPS read 中文 right
    lines = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
    assert tuple(lines[0]) == CSV_COLUMNS
    rows = [dict(zip(CSV_COLUMNS, line, strict=True)) for line in lines[1:5]]
    assert [(Path(r["file"]).name, r["status"], r["verdict"], r["named_copies"]) for r in rows] == [
        ("a-copy3.jpg", "traced", "identified", "000003"), ("b-copy5-scan.png", "traced", "identified", "000005"),
        ("c-unregistered.png", "traced", "no-match", ""), ("notes.txt", "skipped", "", "")]
    for row, js in zip(rows, out["summary"]["rows"], strict=True):
        assert row["sha256"] == (js["sha256"] or "")
        assert row["document_id"] == (js["document_id"] or "") and row["pages"] == ", ".join(map(str, js["pages"]))
        assert row["named_false_accusation_probabilities"] == "; ".join(
            f"{c['false_accusation_probability']:.3g}" for c in js["named"])
    assert rows[0]["recipients"] == "Chen Jing" and rows[0]["units"] == "Test lab"
    assert lines[5] == [] and lines[6][0].startswith("register: ") and lines[6][0].endswith("verified")


def test_each_text_output_a_block_per_file_then_the_table(capsys, issued, leaks, tmp_path, ws_copy):
    """A broken image among the files: its own FAILED entry, the others traced, exit 3 at the end."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(JPEG + b"not really a photo" * 4)
    summary = tmp_path / "summary.json"
    code, out, err = run_main(capsys, "trace", broken, leaks / "a-copy3.jpg", "--each", "--summary", summary,
                              "--home", ws_copy.home)
    assert code == 3, err
    assert err == ("leakmark: error: 1 of 2 evidence files could not be traced (the summary above, also in "
                   f"{summary} says why); 1 was traced\n")
    lines = out.splitlines()
    assert lines[0] == f"[1/2] {broken}"
    assert lines[1].startswith(f"  FAILED: {broken} is not a readable image")
    assert lines[2] == f"[2/2] {leaks / 'a-copy3.jpg'}"
    assert lines[3] == (f"  verdict: identified — document {issued.result.document.id} Handling of restricted "
                        "documents, Q4, page(s) 1")
    assert lines[4].startswith("  => copy 000003 issued to Chen Jing (Test lab) is the source of this capture")
    assert "leaked it" not in out
    table = out[out.index("summary: "):].splitlines()
    assert table[0] == "summary: 2 files: 1 traced (1 identified, 0 inconclusive, 0 no-match), 1 failed, 0 skipped"
    assert table[1].split() == ["file", "verdict", "document", "page(s)", "named", "copy/ies", "FAP"]
    assert table[2].split()[:2] == [str(broken), "FAILED"]
    assert table[3].split()[:7] == [str(leaks / "a-copy3.jpg"), "identified", issued.result.document.id, "1",
                                    "000003", "Chen", "Jing"]
    assert table[4].startswith("register: ") and table[5] == f"summary written to {summary}"
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert [(Path(r["file"]).name, r["status"], r["exit_code"] if r["status"] == "failed" else r["verdict"])
            for r in written["rows"]] == [("broken.jpg", "failed", 3), ("a-copy3.jpg", "traced", "identified")]
    assert written["rows"][0]["sha256"] is not None  # the failed file's hash, for the chain of custody


def test_summary_json_file_is_the_json_outputs_summary(capsys, issued, tmp_path, ws_copy):
    folder = tmp_path / "leaks"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")  # traced so that its error says what is wrong
    (folder / "photo.jpg").write_bytes(JPEG + b"\x00" * 64)
    summary = tmp_path / "s.json"
    code, out, err = run_main(capsys, "trace", folder, "--each", "--json", "--summary", summary,
                              "--home", ws_copy.home)
    assert code == 3 and err.startswith("leakmark: error: 2 of 2 evidence files could not be traced")
    res = json.loads(out)
    assert json.loads(summary.read_text(encoding="utf-8")) == res["summary"]
    assert [(Path(r["file"]).name, r["status"], r["error"]["exit_code"]) for r in res["results"]] == [
        ("empty.png", "failed", 3), ("photo.jpg", "failed", 3)]
    assert "empty" in res["results"][0]["error"]["message"]


def test_without_each_the_files_given_are_still_one_leak(capsys, issued, leaks, ws_copy):
    code, out, err = run_main(capsys, "trace", leaks / "a-copy3.jpg", leaks / "c-unregistered.png", "--json",
                              "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    assert "results" not in res and res["verdict"] == "identified"
    assert res["suspects"][0]["copy_no"] == "000003"
    assert [Path(e["path"]).name for e in res["evidence"]] == ["a-copy3.jpg", "c-unregistered.png"]


@pytest.mark.parametrize(("args", "message"), [
    (["--summary", "s.csv"], "--summary goes with --each"),
    (["--recursive"], "--recursive goes with --each"),
    (["--each", "--summary", "s.xlsx"], "name a .csv or a .json file"),
])
def test_batch_options_are_checked_before_tracing(capsys, monkeypatch, issued, leaks, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(capsys, "trace", leaks, *args, "--home", issued.ws.home)  # refused: nothing traced
    assert code == 2 and out == "" and message in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_summary_in_a_missing_folder_is_exit_9(capsys, issued, leaks, tmp_path, ws_copy):
    code, _, err = run_main(capsys, "trace", leaks, "--each", "--summary", tmp_path / "nowhere" / "s.csv",
                            "--home", ws_copy.home)
    assert code == 9 and "does not exist" in err


# -- planning ----------------------------------------------------------------------------------------------
def test_plan_sorts_skips_hidden_and_non_evidence_and_lists_them(tmp_path):
    root = tmp_path / "case"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    for name in ("b.jpg", "a.pdf", "._a.pdf", "sub/c.png", ".git/d.png"):
        (root / name).write_bytes(b"%PDF-1.7\n" if name.endswith(".pdf") else JPEG)
    (root / "scan-with-wrong-name.txt").write_bytes(b"\x89PNG\r\n\x1a\n")  # content decides, not the name
    (root / "notes.txt").write_text("notes")
    (root / "empty.jpg").write_bytes(b"")
    given = tmp_path / "named.txt"
    given.write_text("named on its own: traced, so that its error says why")

    p = plan([root, given])
    assert [f.relative_to(tmp_path).as_posix() for f in p.files] == [
        "case/a.pdf", "case/b.jpg", "case/empty.jpg", "case/scan-with-wrong-name.txt", "named.txt"]
    assert {s.path.relative_to(tmp_path).as_posix(): s.reason.split(" (")[0] for s in p.skipped} == {
        "case/.git": "hidden", "case/._a.pdf": "hidden", "case/notes.txt": "not a PDF or a PNG/JPEG/TIFF image",
        "case/sub": "a folder"}

    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    deep = plan([root], recursive=True)
    assert [f.relative_to(tmp_path).as_posix() for f in deep.files] == [
        "case/a.pdf", "case/b.jpg", "case/empty.jpg", "case/scan-with-wrong-name.txt", "case/sub/c.png"]
    assert ("case/sub/loop", "a folder already in this batch") in [
        (s.path.relative_to(tmp_path).as_posix(), s.reason.split(" (")[0]) for s in deep.skipped]


def test_plan_traces_a_file_once_and_refuses_an_empty_folder(tmp_path):
    (tmp_path / "a.jpg").write_bytes(JPEG)
    p = plan([tmp_path, tmp_path / "a.jpg", tmp_path])
    assert p.files == (tmp_path / "a.jpg",)
    assert [s.reason.split(" (")[0] for s in p.skipped] == ["a folder already in this batch", "already in this batch"]
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "readme.txt").write_text("x")
    with pytest.raises(InputFileError, match=r"no evidence file to trace in .*none \(1 skipped: .*readme.txt"):
        plan([tmp_path / "none"])


def test_report_names_follow_the_evidence_and_never_collide(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "scan.jpg.html").write_text("an earlier batch's report")
    files = [tmp_path / "x" / "scan.jpg", tmp_path / "y" / "scan.jpg", tmp_path / "y" / "SCAN.JPG",
             tmp_path / "z" / "bad:name?.png"]
    names = [p.name for p in report_paths(files, out).values()]
    assert names == ["scan.jpg-2.html", "scan.jpg-3.html", "SCAN.JPG-4.html", "bad_name_.png.html"]


# -- the batch's control flow, on a stand-in for one trace ---------------------------------------------------
def _result(path: Path, verdict: Verdict = Verdict.no_match) -> TraceResult:
    return TraceResult(verdict=verdict, document=None, pages=[], suspects=[], named=0, candidates=0,
                       evidence=[EvidenceReport(path=str(path), sha256="ab" * 32, page=1, aligned=False)])


def _files(tmp_path: Path, *names: str) -> list[Path]:
    for name in names:
        (tmp_path / name).write_bytes(JPEG)
    return [tmp_path / n for n in names]


def test_one_files_error_is_its_entry_and_the_batch_goes_on(monkeypatch, issued, tmp_path):
    def fake(ws, options, progress=None):
        path = options.evidence[0]
        if path.name == "b.jpg":
            raise InputFileError(f"{path} is not a readable image")
        if path.name == "c.jpg":
            raise ZeroDivisionError("a bug")
        return _result(path)

    monkeypatch.setattr(tracer, "trace", fake)
    files = _files(tmp_path, "a.jpg", "b.jpg", "c.jpg", "d.jpg")
    entries = list(trace_each(issued.ws, files, TraceOptions(evidence=())))
    assert [(e.path.name, e.status, e.exit_code) for e in entries] == [
        ("a.jpg", "traced", 0), ("b.jpg", "failed", 3), ("c.jpg", "failed", 1), ("d.jpg", "traced", 0)]
    assert entries[2].error.startswith("internal error (ZeroDivisionError: a bug)")
    assert entries[1].sha256 is not None


def test_a_bug_on_one_file_makes_the_batch_exit_1(capsys, monkeypatch, issued, tmp_path, ws_copy):
    monkeypatch.setattr(tracer, "trace", lambda ws, o, progress=None: 1 / 0 if o.evidence[0].name == "a.jpg"
                        else _result(o.evidence[0]))
    code, out, err = run_main(capsys, "trace", *_files(tmp_path, "a.jpg", "b.jpg"), "--each", "--home",
                              ws_copy.home)
    assert code == 1 and "internal error is a bug" in err
    assert "[2/2]" in out and "summary: 2 files: 1 traced" in out


def test_ctrl_c_stops_cleanly_with_the_summary_of_what_was_done(capsys, monkeypatch, issued, tmp_path, ws_copy):
    calls = []

    def fake(ws, options, progress=None):
        calls.append(options.evidence[0].name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _result(options.evidence[0])

    monkeypatch.setattr(tracer, "trace", fake)
    monkeypatch.chdir(tmp_path)
    _files(tmp_path, "=cmd.jpg", "b.jpg", "c.jpg")
    code, out, err = run_main(capsys, "trace", "=cmd.jpg", "b.jpg", "c.jpg", "--each", "--summary", "s.csv",
                              "--home", ws_copy.home)
    assert code == 130 and calls == ["=cmd.jpg", "b.jpg"]
    assert err == ("leakmark: error: interrupted after 1 of 3 files; the summary above, also in s.csv lists what "
                   "was traced and what was not\n")
    assert ("summary: 3 files: 1 traced (0 identified, 0 inconclusive, 1 no-match), 0 failed, 0 skipped, 2 not "
            "traced (interrupted)") in out
    rows = list(csv.reader(io.StringIO((tmp_path / "s.csv").read_bytes()[3:].decode("utf-8"))))
    assert [r[:2] for r in rows[1:4]] == [["'=cmd.jpg", "traced"], ["b.jpg", "not-traced"], ["c.jpg", "not-traced"]]
    assert rows[-1] == ["interrupted: the files marked not-traced were not traced"]


def test_a_register_failure_stops_the_batch_after_the_summary(capsys, monkeypatch, issued, tmp_path, ws_copy):
    def fake(ws, options, progress=None):
        if options.evidence[0].name != "a.jpg":
            raise LedgerIntegrityError("the register fails verification: row 3 was edited")
        return _result(options.evidence[0])

    monkeypatch.setattr(tracer, "trace", fake)
    files = _files(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    code, out, err = run_main(capsys, "trace", *files, "--each", "--json", "--home", ws_copy.home)
    assert code == 7 and "row 3 was edited" in err
    s = json.loads(out)["summary"]
    assert [r["status"] for r in s["rows"]] == ["traced", "not-traced", "not-traced"]
    assert s["stopped"] == "the register fails verification: row 3 was edited"
    # before any file was traced it is the plain error, with nothing on stdout
    code, out, err = run_main(capsys, "trace", files[1], files[0], "--each", "--home", ws_copy.home)
    assert code == 7 and out == "" and err == "leakmark: error: the register fails verification: row 3 was edited\n"


def test_summary_counts_and_json_shape(tmp_path):
    from leakmark.trace.each import EachEntry, EachPlan

    s = Summary()
    s.add(EachEntry(tmp_path / "a.jpg", result=_result(tmp_path / "a.jpg"), sha256="ab" * 32))
    s.add(EachEntry(tmp_path / "b.jpg", error="b.jpg is empty", exit_code=3))
    s.finish(EachPlan(files=(tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"), skipped=()))
    js = s.to_json()
    assert (js["files"], js["traced"], js["failed"], js["not_traced"]) == (3, 1, 1, 1)
    assert js["rows"][1] == {"file": str(tmp_path / "b.jpg"), "status": "failed", "verdict": None,
                             "document_id": None, "title": None, "pages": [], "named": [], "best_copy": None,
                             "best_fap": None, "sha256": None, "detail": "b.jpg is empty", "exit_code": 3}


# -- progress ----------------------------------------------------------------------------------------------
def test_progress_counts_files_and_notes_a_long_files_pages():
    buf = io.StringIO()
    bar = TextBar(buf)
    bar.start(3, "files")
    pages = NoteProgress(bar, "long\x1b[2J.pdf")
    pages.start(40, "evidence pages")
    pages.advance(5)
    assert buf.getvalue().split("\r")[-1].startswith("[---")
    assert "0/3 files" in buf.getvalue().split("\r")[-1]
    assert "long\\x1b[2J.pdf: 5/40 evidence pages" in buf.getvalue().split("\r")[-1]  # a name cannot drive the terminal
    pages.finish()
    last = buf.getvalue().split("\r")[-1]
    assert "evidence pages" not in last and last.endswith(" ")  # blanks over the longer line before
    with bar.paused():
        buf.write("a result block\n")
    assert buf.getvalue().endswith("a result block\n" + "\r" + buf.getvalue().split("\r")[-1])
    bar.t0 -= 30
    bar.advance(1)
    assert " 1/3 files  " in buf.getvalue().split("\r")[-1] and " s each  ETA " in buf.getvalue().split("\r")[-1]
    single = NoteProgress(bar, "photo.jpg")
    single.start(1, "evidence pages")
    assert "photo.jpg" not in buf.getvalue()  # a one-page file: the bar alone
    bar.finish()
    assert buf.getvalue().endswith("\n")


def test_an_inconclusive_files_block_names_nobody_and_shows_how_near_it_came(issued):
    from leakmark.cli_each import _block, _cells
    from leakmark.ledger import Ledger
    from leakmark.trace.each import EachEntry, row_of
    from leakmark.trace.result import Suspect

    with Ledger(issued.ws) as ledger:
        copy2 = ledger.copies(issued.result.document.id)[1]
        doc = ledger.document(issued.result.document.id)
    result = _result(Path("crop.png"), Verdict.inconclusive)
    result.document, result.pages = doc, [1]
    result.suspects = [Suspect(copy=copy2, score=4.1, fap=3.14e-4, layers={"shift": 4.1})]
    entry = EachEntry(Path("crop.png"), result=result, sha256="ab" * 32)
    assert _block(entry, 2, 7) == [
        "[2/7] crop.png",
        f"  verdict: inconclusive — document {doc.id} Handling of restricted documents, Q4, page(s) 1",
        "  best-ranked copy 000002 (Bob Baker): false-accusation probability 0.00031, not below the threshold: "
        "nobody is named"]
    assert _cells(row_of(entry)) == ("crop.png", "inconclusive", doc.id, "1", "-", "(best 000002: 0.00031)")


def test_report_folder_gets_one_report_per_traced_file(capsys, monkeypatch, issued, tmp_path, ws_copy):
    """The report call site, with a stand-in for `leakmark.report.write_report` (tests/test_report.py tests it)."""
    from leakmark import report

    written = []
    monkeypatch.setattr(report, "write_report", lambda ws, result, options, path, **kw: written.append(
        (options.evidence, result.evidence[0].path, path)))

    def fake(ws, options, progress=None):
        if options.evidence[0].name == "bad.jpg":
            raise InputFileError("bad.jpg is not a readable image")
        return _result(options.evidence[0])

    monkeypatch.setattr(tracer, "trace", fake)
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    files = [*_files(tmp_path / "x", "scan.jpg"), *_files(tmp_path / "y", "scan.jpg", "bad.jpg")]
    code, _, err = run_main(capsys, "trace", *files, "--each", "--report", tmp_path / "reports", "--home",
                            ws_copy.home)
    assert code == 3, err
    assert written == [((files[0],), str(files[0]), tmp_path / "reports" / "scan.jpg.html"),
                       ((files[1],), str(files[1]), tmp_path / "reports" / "scan.jpg-2.html")]
