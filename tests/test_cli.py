"""The `leakmark` command: exit codes, messages, JSON contracts (DESIGN.md §6), CSV encodings.

Errors go through `leakmark.cli.main(argv)` (the real entry point, which maps LeakmarkError to exit codes);
successful runs also through click's CliRunner on the `cli` group.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from click.testing import CliRunner
from lmtest import db_exec, db_rows, run_main, text_pdf

import leakmark
from leakmark.cli import cli, main
from leakmark.errors import EvidenceFolderError
from leakmark.ledger import Ledger
from leakmark.recipients import read_csv
from leakmark.rendering import render_page_array

REAL_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-photos"



def zero_page_pdf(path: Path) -> Path:
    """A syntactically valid PDF whose page tree is empty (PyMuPDF refuses to save one)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


@pytest.fixture(scope="module")
def encrypted_pdf(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("enc")
    plain = text_pdf(folder / "plain.pdf")
    path = folder / "secret.pdf"
    with pymupdf.open(plain) as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="pw")
    return path


# -- basics ---------------------------------------------------------------------------------------------
def test_version_and_help(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and leakmark.__version__ in out
    code, out, _ = run_main(capsys, "--help")
    assert code == 0 and "trace" in out and "issue" in out
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and f"leakmark, version {leakmark.__version__}" in r.stdout


def test_usage_error_is_exit_2(capsys, tmp_path):
    code, _, err = run_main(capsys, "trace")  # EVIDENCE is required
    assert code == 2 and "Missing argument" in err
    code, _, err = run_main(capsys, "issue", tmp_path / "x.pdf", "-r", "A", "--layers", "shift,colour",
                            "--home", tmp_path / "ws")
    assert code == 2 and "colour" in err


def test_init_creates_workspace_once(capsys, tmp_path):
    home = tmp_path / "ws"
    code, out, _ = run_main(capsys, "init", "--home", home)
    assert code == 0 and "key fingerprint" in out
    key = (home / "key").read_bytes()
    assert len(key) == 32
    code, _, _ = run_main(capsys, "init", "--home", home)
    assert code == 0 and (home / "key").read_bytes() == key  # never overwritten


# -- bad input files -------------------------------------------------------------------------------------
def _bad_input(tmp_path: Path, kind: str) -> Path:
    p = tmp_path / "x.pdf"
    if kind == "missing":
        return tmp_path / "nope.pdf"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("this is a memo typed in a text editor, not a PDF\n")
    elif kind == "corrupt":
        p.write_bytes(b"%PDF-1.4\nthe rest of the file got lost\n")
    elif kind == "zero-pages":
        zero_page_pdf(p)
    elif kind == "folder":
        p.mkdir()
    return p


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "no such file"),
    ("empty", "empty"),
    ("text", "neither a PDF"),
    ("corrupt", "not a readable PDF"),
    ("zero-pages", "no pages"),
    ("folder", "folder"),
])
def test_bad_input_file_is_exit_3(capsys, tmp_path, kind, message):
    path = _bad_input(tmp_path, kind)
    code, out, err = run_main(capsys, "issue", path, "-r", "Alice/Registry", "-o", tmp_path / "out",
                              "--home", tmp_path / "ws", "--jobs", "1")
    assert code == 3, err
    assert message in err and err.startswith("leakmark: error: ")
    assert out == ""
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "zero-pages"])
def test_bad_evidence_file_is_exit_3(capsys, issued, tmp_path, kind):
    path = _bad_input(tmp_path, kind)
    code, _, err = run_main(capsys, "trace", path, "--home", issued.ws.home)
    assert code == 3, err


def test_recipient_problems(capsys, issued, tmp_path):
    home = tmp_path / "ws"
    code, _, err = run_main(capsys, "issue", issued.source, "--recipients", tmp_path / "none.csv",
                            "-o", tmp_path / "out", "--home", home)
    assert code == 3 and "no such recipient list" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("person,unit\nAlice,Registry\n", encoding="utf-8")
    code, _, err = run_main(capsys, "issue", issued.source, "--recipients", bad, "-o", tmp_path / "out",
                            "--home", home)
    assert code == 3 and "name" in err
    code, _, err = run_main(capsys, "issue", issued.source, "-o", tmp_path / "out", "--home", home)
    assert code == 10 and "no recipients" in err
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "/Registry", "-o", tmp_path / "out",
                            "--home", home)
    assert code == 3 and "no name" in err


# -- encrypted PDFs ---------------------------------------------------------------------------------------
def test_encrypted_pdf_needs_password(capsys, encrypted_pdf, tmp_path):
    args = ["issue", encrypted_pdf, "-r", "Alice/Registry", "-o", tmp_path / "out", "--home", tmp_path / "ws",
            "--jobs", "1", "-q"]
    code, _, err = run_main(capsys, *args)
    assert code == 4 and "--password" in err
    code, _, err = run_main(capsys, *args, "--password", "wrong")
    assert code == 4 and "wrong" in err
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    code, out, err = run_main(capsys, *args, "--password", "pw", "--json")
    assert code == 0, err
    res = json.loads(out)
    copy = Path(res["copies"][0]["path"])
    assert copy.is_file()
    with pymupdf.open(copy) as doc:
        assert doc.page_count == 1 and not doc.needs_pass


# -- workspace and ledger errors ---------------------------------------------------------------------
def test_trace_without_workspace_is_exit_5(capsys, tmp_path, copy3_page1):
    ev = tmp_path / "ev.png"
    cv2.imwrite(str(ev), copy3_page1)
    missing = tmp_path / "no-such-workspace"
    code, _, err = run_main(capsys, "trace", ev, "--home", missing)
    assert code == 5 and "no leakmark workspace" in err
    assert not missing.exists()  # trace never creates a workspace
    code, _, err = run_main(capsys, "log", "list", "--home", missing)
    assert code == 5


def test_key_missing_beside_ledger_is_exit_5(capsys, ws_copy):
    ws_copy.key_path.unlink()
    code, _, err = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 5 and "key" in err
    assert not ws_copy.key_path.exists()  # a new key is never made beside an existing ledger


def test_log_verify_ok(capsys, issued):
    code, out, _ = run_main(capsys, "log", "verify", "--home", issued.ws.home)
    assert code == 0 and "ledger OK: 4 events, 1 documents, 1 runs, 5 copies" in out


def test_log_verify_after_tampering_is_exit_7(capsys, issued, ws_copy):
    db_exec(ws_copy.ledger_path, "UPDATE copies SET unit='Elsewhere' WHERE copy_no=3")
    code, out, err = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 7
    assert f"copies row {issued.result.document.id}/000003" in err and "unit" in err
    assert "ledger OK" not in out


def test_log_show_return_destroy(capsys, issued, ws_copy):
    home = ws_copy.home
    code, out, _ = run_main(capsys, "log", "show", "000004", "--home", home)
    assert code == 0 and "张伟 / 办公室" in out and "status:    issued" in out
    code, out, _ = run_main(capsys, "log", "return", "000004", "--note", "back", "--home", home)
    assert code == 0 and "recorded as returned" in out
    code, out, _ = run_main(capsys, "log", "destroy", f"{issued.result.document.id}/000004", "--home", home)
    assert code == 0 and "recorded as destroyed" in out
    code, _, err = run_main(capsys, "log", "return", "000004", "--home", home)
    assert code == 10 and "destroyed" in err
    code, _, err = run_main(capsys, "log", "show", "000099", "--home", home)
    assert code == 8
    code, out, _ = run_main(capsys, "log", "show", "4", "--home", home)
    assert "returned  back" in out and "destroyed" in out
    code, out, _ = run_main(capsys, "log", "verify", "--home", home)
    assert code == 0 and "6 events" in out


def test_log_list_json_via_env_home(ws_copy):
    r = CliRunner(env={"LEAKMARK_HOME": str(ws_copy.home)}).invoke(cli, ["log", "list", "--json"])
    assert r.exit_code == 0, r.output
    docs = json.loads(r.stdout)
    assert len(docs) == 1 and docs[0]["pages"] == 2
    assert [c["copy_no"] for c in docs[0]["copies"]] == ["000001", "000002", "000003", "000004", "000005"]


# -- issue --json ---------------------------------------------------------------------------------------
def test_issue_json_contract(ws_copy, issued, tmp_path):
    out_dir = tmp_path / "out"
    r = CliRunner().invoke(cli, ["issue", str(issued.source), "-r", "Frank Fisher/Finance", "-r", "Grace",
                                 "-o", str(out_dir), "--home", str(ws_copy.home), "--jobs", "1", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)  # exactly one JSON object, nothing else on stdout
    assert set(res) == {"document", "run", "copies", "merged", "summary"}
    assert set(res["document"]) == {"id", "title", "sha256", "pages"}
    assert res["document"] == {"id": issued.result.document.id, "title": "Handling of restricted documents, Q4",
                               "sha256": hashlib.sha256(issued.source.read_bytes()).hexdigest(), "pages": 2}
    assert isinstance(res["run"], str) and res["run"]
    assert [set(c) for c in res["copies"]] == [{"copy_no", "recipient", "unit", "path"}] * 2
    assert [(c["copy_no"], c["recipient"], c["unit"]) for c in res["copies"]] == [
        ("000006", "Frank Fisher", "Finance"), ("000007", "Grace", "")]
    for c in res["copies"]:
        assert Path(c["path"]).is_file() and Path(c["path"]).parent == out_dir


def test_issue_json_via_main_has_nothing_else_on_stdout(capsys, tmp_path):
    src = text_pdf(tmp_path / "small.pdf")
    code, out, err = run_main(capsys, "issue", src, "-r", "Alice/Registry", "-o", tmp_path / "out",
                              "--home", tmp_path / "ws", "--jobs", "1", "--json", "--title", "Small one")
    assert code == 0, err
    res = json.loads(out)
    assert res["document"]["title"] == "Small one" and res["copies"][0]["copy_no"] == "000001"


def test_issue_with_two_jobs(capsys, ws_copy, issued, tmp_path):
    """The one test that starts a process pool."""
    code, out, err = run_main(capsys, "issue", issued.source, "-r", "Frank", "-r", "Grace", "-o", tmp_path / "out",
                              "--home", ws_copy.home, "--jobs", "2", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert [c["copy_no"] for c in res["copies"]] == ["000006", "000007"]
    for c in res["copies"]:
        with pymupdf.open(c["path"]) as doc:
            assert doc.page_count == 2
    with Ledger(ws_copy) as ledger:
        assert ledger.verify().copies == 7


def test_issue_human_output(capsys, ws_copy, issued, tmp_path):
    code, out, err = run_main(capsys, "issue", issued.source, "-r", "王芳/财务处", "-o", tmp_path / "out",
                              "--home", ws_copy.home, "--jobs", "1", "-q")
    assert code == 0, err
    assert f"document {issued.result.document.id}" in out and "000006  王芳 / 财务处  ->" in out
    assert (tmp_path / "out" / "memo-en-000006-王芳.pdf").is_file()


def test_long_chinese_names_do_not_crash(capsys, ws_copy, issued, tmp_path):
    src = tmp_path / (("关于开展涉密载体专项清查工作的通知" * 4)[:60] + ".pdf")
    shutil.copyfile(issued.source, src)
    code, _, err = run_main(capsys, "issue", src, "-r", "某市保密工作委员会办公室综合处处长/办公室",
                            "-o", tmp_path / "out", "--home", ws_copy.home, "--jobs", "1", "-q")
    assert code == 0, err


# -- recipients CSV encodings ---------------------------------------------------------------------------
CSV_TEXT = "name,unit,note\n王芳,财务处,第一份\nJohn Smith,Registry,\n李娜,\"技术处, 二科\",\n"
EXPECTED = [("王芳", "财务处"), ("John Smith", "Registry"), ("李娜", "技术处, 二科")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_recipients_csv_encodings(ws_copy, issued, tmp_path, encoding):
    path = tmp_path / "people.csv"
    data = CSV_TEXT.encode(encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # the file really is not UTF-8
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    path.write_bytes(data)
    people = read_csv(path)
    assert [(p.name, p.unit) for p in people] == EXPECTED
    assert people[0].note == "第一份"
    r = CliRunner().invoke(cli, ["issue", str(issued.source), "--recipients", str(path), "-o", str(tmp_path / "out"),
                                 "--home", str(ws_copy.home), "--jobs", "1", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert [(c["recipient"], c["unit"]) for c in res["copies"]] == EXPECTED
    assert Path(res["copies"][0]["path"]).name == "memo-en-000006-王芳.pdf"
    with Ledger(ws_copy) as ledger:
        assert [c.recipient for c in ledger.copies()][5:] == ["王芳", "John Smith", "李娜"]


def test_recipients_csv_with_copy_numbers(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Name,Unit,copy_no\nA,U,7\nB,U,\n", encoding="utf-8")
    assert [(p.name, p.copy_no) for p in read_csv(path)] == [("A", 7), ("B", None)]
    path.write_text("name,unit,copy_no\nA,U,seven\n", encoding="utf-8")
    with pytest.raises(leakmark.LeakmarkError, match="line 2"):
        read_csv(path)


# -- log export --csv ----------------------------------------------------------------------------------
def _head(ws: leakmark.Workspace) -> str:
    return db_rows(ws.ledger_path, "SELECT hash FROM events ORDER BY seq DESC LIMIT 1")[0][0]


def test_log_export_csv(issued):
    r = CliRunner().invoke(cli, ["log", "export", "--csv", "--home", str(issued.ws.home)])
    assert r.exit_code == 0, r.output
    raw = r.stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    header = rows[0]
    for col in ("document_id", "title", "copy_no", "recipient", "unit", "issued_at", "status"):
        assert col in header
    assert header[:2] == ["document_id", "title"]
    assert header.index("copy_no") < header.index("recipient") < header.index("unit") < header.index("issued_at") \
        < header.index("status")
    end = rows.index([])  # the rows, a blank row, then the register's checkpoint in one cell
    body = [dict(zip(header, row, strict=True)) for row in rows[1:end]]
    assert rows[end + 1:] == [[f"register: 4 events, head {_head(issued.ws)}, verified"]]
    assert [b["copy_no"] for b in body] == ["000001", "000002", "000003", "000004", "000005"]
    assert body[3]["recipient"] == "张伟" and body[3]["unit"] == "办公室"
    assert {b["status"] for b in body} == {"issued"}
    assert {b["title"] for b in body} == {"Handling of restricted documents, Q4"}


def test_log_export_csv_via_main(capsysbinary, issued):
    with pytest.raises(SystemExit) as info:
        main(["log", "export", "--csv", "--home", str(issued.ws.home)])
    out, err = capsysbinary.readouterr()
    assert info.value.code == 0 and err == b""
    assert out.startswith(b"\xef\xbb\xbfdocument_id,title,")
    assert "张伟".encode() in out


# -- trace -------------------------------------------------------------------------------------------------
def test_a_folder_as_evidence_says_to_trace_each_file(capsys, issued, copy3_page1, tmp_path):
    folder = tmp_path / "leaks"
    folder.mkdir()
    cv2.imwrite(str(folder / "leak.png"), copy3_page1)
    code, out, err = run_main(capsys, "trace", folder, "--home", issued.ws.home)
    assert code == 3 and out == ""
    assert err == (f"leakmark: error: {folder} is a folder: trace every file in it as a separate leak with --each, "
                   "or name the files of one leak\n")
    with pytest.raises(EvidenceFolderError):  # the API's own type (an InputFileError)
        leakmark.trace(issued.ws, leakmark.TraceOptions(evidence=(folder / "leak.png", folder)))


# (a trace is recorded in the register: tests that trace through the CLI work on a copy of the workspace)
def test_trace_layers_option(capsys, ws_copy, copy3_page1, tmp_path):
    ev = tmp_path / "leak.jpg"
    assert cv2.imwrite(str(ev), copy3_page1, [cv2.IMWRITE_JPEG_QUALITY, 85])
    code, out, err = run_main(capsys, "trace", ev, "--json", "--layers", "shift", "--home", ws_copy.home)
    assert code == 0, err
    assert set(json.loads(out)["suspects"][0]["layers"]) == {"shift"}
    code, _, err = run_main(capsys, "trace", ev, "--layers", "colour", "--home", ws_copy.home)
    assert code == 2 and "unknown layer" in err and "Traceback" not in err


def test_trace_json_contract(capsys, issued, ws_copy, copy3_page1, tmp_path):
    ev = tmp_path / "leak.jpg"
    assert cv2.imwrite(str(ev), copy3_page1, [cv2.IMWRITE_JPEG_QUALITY, 85])
    before = _head(ws_copy)
    code, out, err = run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    assert set(res) == {"verdict", "document", "suspects", "evidence", "leakmark_version", "file_identifiers",
                        "disagreements", "register", "recorded", "timings"}
    assert {"load", "index", "locate", "align", "measure", "decide"} <= set(res["timings"])
    assert all(isinstance(v, float) and v >= 0 for v in res["timings"].values())
    assert res["file_identifiers"] == [] and res["disagreements"] == []  # an image has no file identifiers
    assert res["register"] == {"count": 4, "head": before, "verified": True}  # the register the names came from
    assert res["recorded"] == {"seq": 5, "head": _head(ws_copy), "ts": res["recorded"]["ts"]}  # and the trace's event
    assert res["recorded"]["ts"].endswith("+00:00")
    assert res["verdict"] == "identified"
    assert res["leakmark_version"] == leakmark.__version__
    assert res["document"] == {"id": issued.result.document.id, "title": "Handling of restricted documents, Q4",
                               "pages": [1]}
    assert res["suspects"], res
    for s in res["suspects"]:
        assert set(s) == {"copy_no", "recipient", "unit", "score", "false_accusation_probability", "layers",
                          "status", "status_date", "found_in"}
        assert s["status"] == "issued" and s["status_date"]
        assert isinstance(s["score"], float) and 0 <= s["false_accusation_probability"] <= 1
        assert set(s["layers"]) == {"shift"}
    best = res["suspects"][0]
    assert (best["copy_no"], best["recipient"], best["unit"]) == ("000003", "Chen Jing", "Test lab")
    assert best["false_accusation_probability"] < 1e-6
    assert [s["score"] for s in res["suspects"]] == sorted((s["score"] for s in res["suspects"]), reverse=True)
    assert all(s["false_accusation_probability"] > 1e-2 for s in res["suspects"][1:]), res["suspects"]
    assert res["evidence"] == [{"path": str(ev), "sha256": hashlib.sha256(ev.read_bytes()).hexdigest(), "page": 1,
                                "aligned": True}]


def test_trace_human_output_names_the_copy(capsys, ws_copy, copy3_page1, tmp_path):
    ev = tmp_path / "leak.png"
    cv2.imwrite(str(ev), copy3_page1)
    code, out, _ = run_main(capsys, "trace", ev, "--home", ws_copy.home)
    assert code == 0
    assert "verdict: identified" in out
    assert "=> copy 000003 issued to Chen Jing (Test lab) is the source of this capture" in out
    assert "leaked it" not in out
    assert out.splitlines()[-1] == f"trace recorded: register event 5, head {_head(ws_copy)}"


def test_trace_random_noise_is_no_match(capsys, ws_copy, tmp_path):
    ev = tmp_path / "noise.png"
    rng = np.random.default_rng(1234)
    cv2.imwrite(str(ev), rng.integers(0, 256, (1200, 900), dtype=np.uint8))
    code, out, err = run_main(capsys, "trace", ev, "--json", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    assert res["verdict"] == "no-match" and res["suspects"] == []
    assert res["evidence"][0]["aligned"] is False
    code, out, _ = run_main(capsys, "trace", ev, "--home", ws_copy.home)
    assert code == 0 and "verdict: no-match" in out


def _real_photos() -> list:
    if not REAL_PHOTOS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{REAL_PHOTOS} not available"))]
    photos = sorted(p for p in REAL_PHOTOS.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return photos or [pytest.param(None, marks=pytest.mark.skip(reason="no real photos"))]


@pytest.mark.parametrize("photo", _real_photos(), ids=lambda p: getattr(p, "name", "none"))
def test_trace_real_unmarked_photo_is_no_match(capsys, ws_copy, photo):
    code, out, err = run_main(capsys, "trace", photo, "--json", "--home", ws_copy.home)
    assert code == 0, err
    assert json.loads(out)["verdict"] == "no-match"


def test_trace_bad_threshold_is_exit_10(capsys, issued, copy3_page1, tmp_path):
    ev = tmp_path / "ev.png"
    cv2.imwrite(str(ev), copy3_page1[:200, :200])
    code, _, err = run_main(capsys, "trace", ev, "--threshold", "0", "--home", issued.ws.home)
    assert code == 10 and "threshold" in err
    code, _, err = run_main(capsys, "trace", ev, "--doc", "Dnothere", "--home", issued.ws.home)
    assert code == 8


def test_trace_issued_pdf_itself(capsys, issued, ws_copy):
    """A forwarded copy PDF is evidence too: both pages are rendered and traced together."""
    code, out, err = run_main(capsys, "trace", issued.copy_path(5), "--json", "--home", ws_copy.home)
    assert code == 0, err
    res = json.loads(out)
    assert res["verdict"] == "identified" and res["document"]["pages"] == [1, 2]
    assert res["suspects"][0]["copy_no"] == "000005"


def test_render_helper_matches_page_size(issued):
    img = render_page_array(issued.source, 0, 300)
    assert img.dtype == np.uint8 and img.shape[1] == 2480 and abs(img.shape[0] - 3508) <= 1  # A4 at 300 dpi


def test_wrong_size_key_is_exit_5(capsys, ws_copy):
    ws_copy.key_path.write_bytes(b"short")
    code, _, err = run_main(capsys, "log", "list", "--home", ws_copy.home)
    assert code == 5 and "5 bytes" in err


def test_interrupted_issue_exits_130_and_resumes(capsys, monkeypatch, ws_copy, issued, tmp_path):
    from leakmark.pdf import copy as lm_pdf

    real, calls = lm_pdf.write_pdf_copy, []

    def interrupted(text_layer, images, out, *token):
        calls.append(out)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(text_layer, images, out, *token)

    monkeypatch.setattr(lm_pdf, "write_pdf_copy", interrupted)
    (events_before,) = db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM events")[0]
    code, _, err = run_main(capsys, "issue", issued.source, "-r", "Frank", "-r", "Grace", "-o", tmp_path / "out",
                            "--home", ws_copy.home, "--jobs", "1", "-q")
    assert code == 130 and "interrupted" in err and "leakmark issue --resume" in err
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written is kept
    assert db_rows(ws_copy.ledger_path, "SELECT COUNT(*) FROM events")[0][0] == events_before + 1  # the run
    assert db_rows(ws_copy.ledger_path, "SELECT copy_no, status FROM copies WHERE copy_no > 5") == [
        (6, "reserved"), (7, "reserved")]
    monkeypatch.setattr(lm_pdf, "write_pdf_copy", real)
    code, out, _ = run_main(capsys, "log", "runs", "--home", ws_copy.home)
    assert code == 0 and "open" in out and "0/2 copies" in out
    code, out, _ = run_main(capsys, "issue", "--resume", "last", "--home", ws_copy.home, "--jobs", "1", "-q")
    assert code == 0 and "000006  Frank" in out and "000007  Grace" in out and "done: 2 copies" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["memo-en-000006-Frank.pdf",
                                                                     "memo-en-000007-Grace.pdf"]
    code, out, _ = run_main(capsys, "log", "verify", "--home", ws_copy.home)
    assert code == 0
    code, _, err = run_main(capsys, "issue", "--resume", "last", "--home", ws_copy.home)
    assert code == 8 and "no unfinished run" in err


def test_recipient_option_parsing():
    from leakmark.recipients import parse_option

    assert parse_option(" 张伟 / 办公室 ") == leakmark.Recipient("张伟", "办公室")
    assert parse_option("Alice") == leakmark.Recipient("Alice", "")
    assert parse_option("Bob/Finance/Payroll").unit == "Finance/Payroll"
