"""Issue 13, finding 6: safe output. Names are stored as given; the CSV export neutralises what a
spreadsheet would run as a formula, and text on the terminal shows control and bidi characters as escapes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lmtest import text_pdf

import leakmark
from leakmark import register
from leakmark.cli import cli, main

# (name, unit) as a recipient list might carry them, and what each must look like in the export
NASTY = (
    ("=cmd|' /C calc'!A0", "Registry"),
    ("@SUM(1+1)", '+HYPERLINK("http://evil")'),
    ("-2+3", "\tTabbed unit"),
    ("\rReturn first", "=1+1"),
    ("\uff1dSUM(1)", "Full-width"),
    ("Eve\x1b[2J\x1b[1;1HEvans", "ESC\x1b]0;title\x07unit"),
    ("Line\nBreak", "Carriage\rReturn"),
    ("abc\u202edcba", "\u2066isolated\u2069"),
    ("C1\x9bcontrol", "plain"),
    ("Ordinary Name", "Ordinary unit"),
)
FORMULA = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u2069", "\r", "\t")


@pytest.fixture(scope="module")
def nasty_ws(tmp_path_factory):
    """A one-page document issued to recipients with formula-like and control-character names, fixed key."""
    root = tmp_path_factory.mktemp("nasty")
    (root / "ws").mkdir()
    (root / "ws" / "key").write_bytes(hashlib.sha256(b"leakmark safe-output test").digest())
    (root / "ws" / "key").chmod(0o600)
    ws = leakmark.Workspace.open(root / "ws")
    src = text_pdf(root / "memo.pdf", lines=30)
    result = leakmark.issue(ws, leakmark.IssueOptions(
        source=src, recipients=tuple(leakmark.Recipient(n, u) for n, u in NASTY), output_dir=root / "out",
        title="=HYPERLINK(\"x\") memo", jobs=1))
    return ws, result


def _no_raw_controls(text: str) -> None:
    for ch in RAW:
        assert ch not in text, repr(ch)


# -- the helpers -------------------------------------------------------------------------------------------
def _neutral(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA) else cell


def test_csv_cell_neutralises_formula_starts():
    from leakmark.safetext import csv_cell

    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\uff1d1", "\uff0b1", "\uff0d1", "\uff20x"):
        assert csv_cell(bad) == "'" + bad
    for ok in ("", "Alice", "张伟", "a=1", " =1", "000003", "2026-01-01T00:00:00+00:00"):
        assert csv_cell(ok) == ok


def test_terminal_shows_controls_and_bidi_as_escapes():
    from leakmark.safetext import terminal

    assert terminal("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert terminal("l1\nl2\rl3\tl4\x00\x7f\x9b") == "l1\\nl2\\rl3\\tl4\\x00\\x7f\\x9b"
    assert terminal("x\u202ey\u202a\u2066\u2069\u200f\u2028") == "x\\u202ey\\u202a\\u2066\\u2069\\u200f\\u2028"
    assert terminal("张伟 / 办公室 C:\\path") == "张伟 / 办公室 C:\\path"
    assert terminal(3) == "3"


def test_json_text_escapes_what_json_dumps_leaves_raw():
    from leakmark.safetext import json_text

    value = {"name": "a\u202eb\x9bc\x1bd\x7f张"}
    dumped = json_text(json.dumps(value, ensure_ascii=False))
    _no_raw_controls(dumped)
    assert "\x7f" not in dumped and "张" in dumped and json.loads(dumped) == value


# -- the CSV export ----------------------------------------------------------------------------------------
def test_export_csv_neutralises_formulas_and_the_register_keeps_names(nasty_ws):
    ws, _ = nasty_ws
    r = CliRunner().invoke(cli, ["log", "export", "--csv", "--home", str(ws.home)])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout_bytes[3:].decode("utf-8"), newline="")))
    end = rows.index([])  # the copies end at the blank row; the register line follows it
    assert len(rows) == end + 2 and rows[end + 1][0].startswith("register: ")
    header, body = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:end]]
    assert [(b["recipient"], b["unit"]) for b in body] == [(_neutral(n), _neutral(u)) for n, u in NASTY]
    assert body[0]["recipient"] == "'=cmd|' /C calc'!A0" and body[1]["unit"] == "'+HYPERLINK(\"http://evil\")"
    assert body[1]["recipient"] == "'@SUM(1+1)" and body[2]["recipient"] == "'-2+3"
    assert body[2]["unit"] == "'\tTabbed unit" and body[3]["recipient"] == "'\rReturn first"
    assert body[9]["recipient"] == "Ordinary Name" and {b["title"] for b in body} == {"'=HYPERLINK(\"x\") memo"}
    assert header[0] == "document_id" and all(not v.startswith(("=", "+", "-", "@")) for b in body for v in b.values())
    # the register, its JSON and the API keep every name exactly as given
    [entry] = register.list_documents(ws)
    assert [(c.recipient, c.unit) for c in entry.copies] == list(NASTY)
    assert entry.document.title == "=HYPERLINK(\"x\") memo"
    listed = json.loads(CliRunner().invoke(cli, ["log", "list", "--json", "--home", str(ws.home)]).stdout)
    assert [(c["recipient"], c["unit"]) for c in listed[0]["copies"]] == list(NASTY)


# -- the terminal ------------------------------------------------------------------------------------------
def test_log_list_and_show_escape_controls(nasty_ws):
    ws, result = nasty_ws
    r = CliRunner().invoke(cli, ["log", "list", "--home", str(ws.home)])
    assert r.exit_code == 0, r.output
    _no_raw_controls(r.stdout)
    lines = r.stdout.splitlines()
    assert len(lines) == 1 + len(NASTY)  # a newline in a name makes no line of its own
    assert "Eve\\x1b[2J\\x1b[1;1HEvans" in lines[6] and "ESC\\x1b]0;title\\x07unit" in lines[6]
    assert "Line\\nBreak" in lines[7] and "Carriage\\rReturn" in lines[7]
    assert "abc\\u202edcba" in lines[8] and "\\u2066isolated\\u2069" in lines[8] and "C1\\x9bcontrol" in lines[9]
    r = CliRunner().invoke(cli, ["log", "show", f"{result.document.id}/000006", "--home", str(ws.home)])
    assert r.exit_code == 0, r.output
    _no_raw_controls(r.stdout)
    assert "recipient: Eve\\x1b[2J\\x1b[1;1HEvans / ESC\\x1b]0;title\\x07unit" in r.stdout
    # JSON: the same values, with nothing a terminal acts on
    r = CliRunner().invoke(cli, ["log", "list", "--json", "--home", str(ws.home)])
    _no_raw_controls(r.stdout)


def test_trace_text_escapes_the_names(nasty_ws):
    ws, result = nasty_ws
    r = CliRunner().invoke(cli, ["trace", result.copies[7].path, "--home", str(ws.home)])
    assert r.exit_code == 0, r.output
    _no_raw_controls(r.stdout)
    assert "=> copy 000008 issued to abc\\u202edcba (\\u2066isolated\\u2069) is the source of this capture" \
        in r.stdout


def test_issue_output_and_errors_escape_the_names(nasty_ws, tmp_path, capsys):
    ws = leakmark.Workspace.open(Path(shutil.copytree(nasty_ws[0].home, tmp_path / "ws")), create=False)
    src = tmp_path / "memo.pdf"
    text_pdf(src, lines=30)
    r = CliRunner().invoke(cli, ["issue", str(src), "-r", "Mallory\x1b[2J/\u202eUnit", "-o", str(tmp_path / "o"),
                                 "--jobs", "1", "--quiet", "--home", str(ws.home)])
    assert r.exit_code == 0, r.output
    _no_raw_controls(r.stdout)
    assert "Mallory\\x1b[2J / \\u202eUnit" in r.stdout
    with pytest.raises(SystemExit) as info:
        main(["trace", str(tmp_path / "gone\x1b[2J\u202e.png"), "--home", str(ws.home)])
    out, err = capsys.readouterr()
    assert info.value.code == 3
    _no_raw_controls(out + err)
    assert "gone\\x1b[2J\\u202e.png" in err


def test_copy_file_names_carry_no_controls_or_bidi_marks():
    """A U+202E in a recipient's name would make `...-A‮fdp.exe` display as `...-Aexe.pdf` in a file manager."""
    from leakmark.issuing.naming import copy_file_name

    name = copy_file_name("memo", 4, "Mallory\u202efdp.exe\x1b[2J\x85\u2066x")
    assert name == "memo-000004-Mallory_fdp.exe_[2J_x.pdf"
    assert copy_file_name("通知", 1, "王芳/技术处") == "通知-000001-王芳_技术处.pdf"
