"""Issue 13, finding 8: damaged PDFs, degenerate and huge sizes, a full disk, and evidence streamed a page at
a time with bounded memory."""

from __future__ import annotations

import json
import re
import resource
import sqlite3
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import weakref
import zlib
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from lmtest import run_main
from PIL import Image

import leakmark
from leakmark.errors import InputFileError
from leakmark.ledger import Ledger
from leakmark.ledger import store as ledger_store
from leakmark.trace import decode, load, tracer


def truncated_pdf(source: Path, path: Path) -> Path:
    """The sample cut short at 90 %: MuPDF opens it only by repairing its cross-reference table."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.9)])
    return path


def bilevel_png(path: Path, side: int) -> Path:
    """A side × side 1-bit PNG written a row at a time (the test never holds the image): white, with rows of
    'text' in the middle."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row_bytes = (side + 7) // 8
    white = np.full(row_bytes, 255, np.uint8)
    text = white.copy()
    text[row_bytes // 10: row_bytes * 9 // 10: 3] = 0
    z = zlib.compressobj(9)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)))
        buf = bytearray()
        for y in range(side):
            row = text if (y // 40) % 3 == 0 and side // 10 < y < side * 9 // 10 else white
            buf += b"\x00" + row.tobytes()
            if len(buf) > 1 << 22:
                fh.write(chunk(b"IDAT", z.compress(bytes(buf))))
                buf.clear()
        fh.write(chunk(b"IDAT", z.compress(bytes(buf)) + z.flush()) + chunk(b"IEND", b""))
    return path


# -- damaged PDFs ------------------------------------------------------------------------------------------
def test_a_pdf_mupdf_had_to_repair_is_refused_unless_repair(issued, ws_copy, tmp_path, capsys, caplog):
    bad = truncated_pdf(issued.samples / "notice-zh.pdf", tmp_path / "truncated.pdf")
    code, out, err = run_main(capsys, "issue", bad, "-r", "A/U", "--home", ws_copy.home, "-o", tmp_path / "out")
    assert code == 3 and "is damaged" in err and "--repair" in err and "repair it" in err.lower()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []

    code, out, err = run_main(capsys, "issue", bad, "-r", "A/U", "--home", ws_copy.home, "-o", tmp_path / "out",
                              "--repair", "--jobs", "1", "--json")
    assert code == 0, err
    assert "damaged and was repaired by MuPDF" in caplog.text  # a warning: on stderr in a real run (below)
    result = json.loads(out)
    with Ledger(ws_copy) as ledger:
        assert ledger.run(result["run"]).record.repaired is True
        assert ledger.runs()[0].record.repaired is False  # other runs' records unchanged
        ledger.verify()
    proc = subprocess.run([sys.executable, "-m", "leakmark", "issue", str(bad), "-r", "B", "--repair", "-q",
                           "--home", str(ws_copy.home), "-o", str(tmp_path / "out2"), "--jobs", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "leakmark: WARNING:" in proc.stderr and "repaired by MuPDF" in proc.stderr


# -- degenerate sizes ---------------------------------------------------------------------------------------
def test_a_one_pixel_image_is_a_typed_error_for_issue_and_trace(issued, ws_copy, tmp_path, capsys):
    dot = tmp_path / "dot.png"
    Image.new("L", (1, 1), 255).save(dot)
    for args in (("issue", dot, "-r", "A", "-o", tmp_path / "out"), ("trace", dot)):
        code, _, err = run_main(capsys, *args, "--home", ws_copy.home)
        assert code == 3 and "1 × 1 pixels: too small" in err, err


def test_a_five_metre_page_is_a_typed_error_that_suggests_a_dpi(ws_copy, tmp_path, capsys):
    doc = pymupdf.open()
    page = doc.new_page(width=5000 / 25.4 * 72, height=5000 / 25.4 * 72)
    page.insert_text((100, 100), "a very large poster " * 10, fontsize=40)
    doc.save(tmp_path / "poster.pdf", no_new_id=True)
    code, _, err = run_main(capsys, "issue", tmp_path / "poster.pdf", "-r", "A", "--home", ws_copy.home,
                            "-o", tmp_path / "out")
    assert code == 3 and "5000 × 5000 mm" in err and "megapixels" in err and "--dpi 101 or lower" in err, err
    speck = pymupdf.open()
    speck.new_page(width=2, height=2)
    speck.save(tmp_path / "speck.pdf", no_new_id=True)
    code, _, err = run_main(capsys, "issue", tmp_path / "speck.pdf", "-r", "A", "--home", ws_copy.home,
                            "-o", tmp_path / "out")
    assert code == 3 and "too small to carry a mark" in err, err


# -- a full disk ------------------------------------------------------------------------------------------
def test_a_full_disk_under_the_register_is_exit_9_and_the_register_is_unchanged(issued, ws_copy, tmp_path,
                                                                              capsys, monkeypatch):
    real_connect = sqlite3.connect

    def full_disk_connect(*args, **kwargs):  # SQLite's own SQLITE_FULL: no page may be added to the file
        con = real_connect(*args, **kwargs)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {pages}")
        return con

    with Ledger(ws_copy) as ledger:
        before = ledger.verify().events
    monkeypatch.setattr(ledger_store.sqlite3, "connect", full_disk_connect)
    big = tmp_path / "people.csv"
    big.write_text("name,unit,note\n" + "".join(f"P{i},U,{'x' * 200}\n" for i in range(300)), encoding="utf-8")
    code, _, err = run_main(capsys, "issue", issued.source, "--recipients", big, "--home", ws_copy.home,
                            "-o", tmp_path / "out", "--jobs", "1")
    assert code == 9 and "cannot write the ledger" in err and "free space" in err, err
    monkeypatch.undo()
    with Ledger(ws_copy) as ledger:
        assert ledger.verify().events == before


def test_sqlite_disk_full_inside_a_transaction_is_an_output_error(ws_copy, monkeypatch):
    with Ledger(ws_copy) as ledger:
        with pytest.raises(leakmark.errors.OutputError, match="free space"), ledger.transaction():
            raise sqlite3.OperationalError("database or disk is full")
        assert not ledger.db.in_transaction


# -- evidence images over the pixel budget ---------------------------------------------------------------
def _png_variants(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(7)
    base = (rng.random((203, 157)) * 255).astype(np.uint8)
    base[:, :50] = 255
    rgb = np.dstack([base, base[::-1], 255 - base])
    images = {"1": Image.fromarray(base > 128).convert("1"), "L": Image.fromarray(base),
              "LA": Image.fromarray(np.dstack([base, 255 - base]), "LA"), "RGB": Image.fromarray(rgb),
              "RGBA": Image.fromarray(np.dstack([rgb, base])),
              "P": Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=200),
              "I16": Image.fromarray(base.astype(np.uint16) * 257)}
    paths = []
    for name, img in images.items():
        paths.append(tmp_path / f"{name}.png")
        img.save(paths[-1])
    cv2.imwrite(str(tmp_path / "cv-paeth.png"), base, [cv2.IMWRITE_PNG_STRATEGY, 0])
    return [*paths, tmp_path / "cv-paeth.png"]


@pytest.mark.parametrize("band_bytes", [1, 8 * 2**20])
def test_big_pngs_are_reduced_while_decoded_as_pillow_would_reduce_them(tmp_path, monkeypatch, band_bytes):
    monkeypatch.setattr(decode, "BAND_BYTES", band_bytes)  # 1: one block row per band, every band boundary
    for path in _png_variants(tmp_path):
        ref = Image.open(path)
        gray = Image.fromarray((np.asarray(ref).astype(np.uint32) >> 8).astype(np.uint8)) \
            if ref.mode.startswith("I") else ref.convert("L")
        for f in (2, 3, 7):
            budget = -(-157 // f) * -(-203 // f)
            assert decode._png_streamable(Image.open(path)) is not None
            got = next(decode.gray_frames(path, budget))
            want = np.asarray(gray.reduce(f)).astype(int)
            assert got.shape == want.shape and np.abs(got - want).max() <= 1, (path.name, f)  # edge blocks: rounding


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    page = np.full((4000, 3000), 255, np.uint8)
    cv2.putText(page, "EVIDENCE", (200, 2000), cv2.FONT_HERSHEY_SIMPLEX, 20, 0, 40)
    cv2.imwrite(str(tmp_path / "big.jpg"), page)
    ev = load.open_evidence(tmp_path / "big.jpg", budget=1_000_000)
    (only,) = list(ev.pages())
    assert only.gray.size <= 1_000_000 and only.gray.shape[0] > only.gray.shape[1]


# the child's own peak: ru_maxrss is kept across fork and exec, so a child of a pytest process that had grown
# past 500 MB (the whole suite in one process) reported the parent's peak as its own
_PEAK_KB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"


def _rlimited(code: str, limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
                          preexec_fn=cap, timeout=600)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS")
def test_a_28000_pixel_square_bilevel_png_loads_in_bounded_memory(tmp_path):
    png = bilevel_png(tmp_path / "huge.png", 28000)
    proc = _rlimited(f"""
        from leakmark.trace import load
        (page,) = list(load.load({str(png)!r}))
        print(page.gray.shape[0], page.gray.shape[1], {_PEAK_KB})
    """, 1_200_000_000, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    h, w, peak_kb = map(int, proc.stdout.split())
    assert (h, w) == (7000, 7000) and h * w <= decode.MAX_EVIDENCE_PIXELS
    assert peak_kb < 500_000, f"peak {peak_kb / 1e3:.0f} MB"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS")
def test_tracing_a_28000_pixel_square_bilevel_png_stays_under_2_gb(ws_copy, tmp_path):
    png = bilevel_png(tmp_path / "huge.png", 28000)
    proc = _rlimited(f"""
        import sys
        from leakmark.cli import main
        try:
            main(["trace", {str(png)!r}, "--home", {str(ws_copy.home)!r}, "--json"])
        except SystemExit as exc:
            print("exit", exc.code, {_PEAK_KB}, file=sys.stderr)
    """, 3_000_000_000, tmp_path)
    *_, word, code, peak_kb = proc.stderr.split()
    assert word == "exit" and code in ("0", "None"), proc.stderr[-2000:]
    assert json.loads(proc.stdout)["verdict"] == "no-match"
    assert int(peak_kb) < 2_000_000


# -- evidence PDFs streamed a page at a time ---------------------------------------------------------------
def many_page_pdf(path: Path, pages: int, side_pt: float = 100) -> Path:
    doc = pymupdf.open()
    for i in range(pages):
        page = doc.new_page(width=side_pt, height=side_pt)
        page.insert_text((10, 50), f"p{i + 1}", fontsize=20)
    doc.save(path, no_new_id=True)
    doc.close()
    return path


def test_a_2000_page_evidence_pdf_is_rendered_one_page_at_a_time(tmp_path):
    pdf = many_page_pdf(tmp_path / "many.pdf", 2000)
    one_page = 417 * 417  # 100 pt at 300 dpi
    tracemalloc.start()
    try:
        n = 0
        for page in load.load(pdf):
            n += 1
            assert page.gray.shape == (417, 417)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 2000
    assert peak < 20 * one_page, f"peak {peak / 1e6:.1f} MB for pages of {one_page / 1e6:.2f} MB"


class _Count:
    def __init__(self) -> None:
        self.total, self.done, self.finished = 0, 0, 0

    def start(self, total: int, what: str, scale: int = 1, done: int = 0) -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.done += n

    def finish(self) -> None:
        self.finished += 1


def test_the_tracer_holds_one_evidence_page_at_a_time_and_reports_progress(issued, tmp_path, monkeypatch):
    pdf = many_page_pdf(tmp_path / "many.pdf", 120)
    alive: list[weakref.ref] = []
    most = [0]
    real_render = load.Evidence._render

    def render(self, doc, i):
        gray = real_render(self, doc, i)
        alive.append(weakref.ref(gray))
        return gray

    def locate(gray, refs):
        most[0] = max(most[0], sum(r() is not None for r in alive))
        return None  # nothing to locate on these pages: the test is about memory, not about finding them

    monkeypatch.setattr(load.Evidence, "_render", render)
    monkeypatch.setattr(tracer, "_locate", locate)
    progress = _Count()
    result = tracer.trace(issued.ws, tracer.TraceOptions(evidence=(pdf,), layers=("shift",)), progress=progress)
    assert len(result.evidence) == 120 and result.verdict == "no-match"
    assert most[0] <= 2, f"{most[0]} evidence pages were held at once"
    assert (progress.total, progress.done, progress.finished) == (120, 120, 1)


def test_every_evidence_file_is_checked_before_any_page_is_traced(issued, tmp_path):
    pdf = many_page_pdf(tmp_path / "few.pdf", 3)
    with pytest.raises(InputFileError, match="no such file"):
        tracer.trace(issued.ws, tracer.TraceOptions(evidence=(pdf, tmp_path / "missing.png")))


def test_the_loader_fuzzer_runs_clean_on_its_corpus(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_loaders.py"
    proc = subprocess.run([sys.executable, str(script), "--max-execs", "300", "--seconds", "120", "--seed", "3",
                           "--report", str(tmp_path / "fuzz.md")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (tmp_path / "fuzz.md").read_text(encoding="utf-8")
    assert re.search(r"Executions: \*\*30[0-3]\*\*", report) and "**0** in **0** distinct places" in report
