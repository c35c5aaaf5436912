"""Bounded fuzzing of the input loaders: seeded mutations of a small committed corpus.

Every mutated file goes through the loaders a user's file reaches first:
`leakmark.pdf.read.inspect` (as `issue` calls it, and with `repair=True`), `render_page` (first page, 72 dpi),
`leakmark.trace.load.load` (every page, as `trace` renders evidence; and again with a tiny pixel budget, so
that the reducing decoders of `leakmark.trace.decode` run on the small seeds) and `leakmark.recipients.read_csv`.
Our typed errors (`LeakmarkError`) are the expected outcome for a damaged file; any other exception is a
crash: a bug to fix. The corpus (`benchmarks/fuzz-corpus/`, a few KB) is written by `--write-corpus`.

    python benchmarks/fuzz_loaders.py --seconds 600 --seed 1 --report benchmarks/results/fuzz-loaders.md

Mutations (deterministic for a seed): bit flips, interesting bytes and integers, deleted, inserted,
duplicated and spliced ranges, truncation, PDF tokens and numbers replaced, PNG header fields changed with
the CRC kept valid (so the decoder gets past the chunk check). A memory limit (RLIMIT_AS) keeps a loader
that tries to allocate too much a crash (MemoryError), not a swapping machine.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import logging
import os
import platform
import random
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent / "fuzz-corpus"
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
PDF_TOKENS = [b"obj", b"endobj", b"stream", b"endstream", b"xref", b"trailer", b"startxref", b"/Length",
              b"/Filter", b"/FlateDecode", b"/Kids", b"/Count", b"/MediaBox", b"/Contents", b"/Resources",
              b"/Type", b"/Page", b"/Pages", b"R", b"[", b"]", b"<<", b">>", b"%%EOF", b"-1", b"99999999",
              b"1e308", b"/Rotate", b"/UserUnit", b"/DecodeParms", b"/Predictor", b"/Width", b"/Height"]


# -- the corpus ---------------------------------------------------------------------------------------------
def write_corpus(folder: Path) -> list[Path]:
    """Small seeds for each loader: PDFs, images, recipient CSVs (fixed content, a few KB each)."""
    import cv2
    from PIL import Image

    from leakmark._mupdf import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []

    doc = pymupdf.open()
    page = doc.new_page(width=200, height=150)
    page.insert_text((20, 40), "Restricted: copy for testing", fontsize=9)
    page.draw_rect(pymupdf.Rect(20, 60, 180, 120), color=(0, 0, 0))
    page2 = doc.new_page(width=150, height=200)
    page2.set_rotation(90)
    page2.insert_text((20, 40), "第二页 密级 机密", fontsize=9, fontname="china-s")
    path = folder / "text-2pages.pdf"
    doc.save(path, garbage=4, deflate=True)
    out.append(path)
    doc = pymupdf.open()
    page = doc.new_page(width=120, height=120)
    ramp = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))
    _ok, png = cv2.imencode(".png", ramp)
    page.insert_image(pymupdf.Rect(10, 10, 110, 110), stream=png.tobytes())
    path = folder / "image-page.pdf"
    doc.save(path, garbage=4, deflate=True)
    out.append(path)
    path = folder / "uncompressed.pdf"
    doc = pymupdf.open()
    doc.new_page(width=100, height=100).insert_text((10, 50), "plain", fontsize=12)
    doc.save(path, garbage=1, deflate=False)
    out.append(path)

    rng = np.random.default_rng(0)
    page_img = np.full((48, 64), 255, np.uint8)
    page_img[10:14, 5:60] = 0
    page_img[20:24, 5:40] = rng.integers(0, 255, (4, 35), dtype=np.uint8)
    rgb = np.dstack([page_img, page_img[::-1], 255 - page_img])
    images = {"bilevel.png": Image.fromarray(page_img > 128).convert("1"), "gray.png": Image.fromarray(page_img),
              "rgb.png": Image.fromarray(rgb), "rgba.png": Image.fromarray(np.dstack([rgb, page_img])),
              "palette.png": Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
              "gray16.png": Image.fromarray(page_img.astype(np.uint16) * 257), "photo.jpg": Image.fromarray(rgb),
              "gray.tif": Image.fromarray(page_img)}
    for name, img in images.items():
        path = folder / name
        img.save(path, **({"quality": 80} if name.endswith(".jpg") else {}))
        out.append(path)
    path = folder / "interlaced.png"
    Image.fromarray(page_img).save(path, interlace=1)
    out.append(path)
    path = folder / "pages.tif"
    Image.fromarray(page_img).save(path, save_all=True, append_images=[Image.fromarray(255 - page_img)],
                                   compression="tiff_deflate")
    out.append(path)

    csvs = {"people.csv": "name,unit,copy_no,note\n张伟,办公室,,\nAlice Archer,Registry,12,first\n".encode(),
            "people-bom.csv": "\ufeffname,unit\n李娜,财务处\n".encode(),
            "people-gb18030.csv": "name,unit\n王强,技术处\n".encode("gb18030")}
    for name, data in csvs.items():
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out


# -- mutations ---------------------------------------------------------------------------------------------
def _png_fix_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC, so a mutated header gets past the CRC check to the decoder."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, i = bytearray(data[:8]), 8
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        end = i + 8 + length
        if end + 4 > len(data):
            out += data[i:]
            return bytes(out)
        body = data[i + 4:end]
        out += data[i:end] + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        i = end + 4
    out += data[i:]
    return bytes(out)


def mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
        op = rng.randrange(11)
        n = len(b)
        if n == 0:
            b += rng.randbytes(rng.randint(1, 64))
            continue
        pos = rng.randrange(n)
        if op == 0:  # bit flip
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1:  # interesting byte
            b[pos] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x25))
        elif op == 2:  # interesting integer, big-endian (PNG) or little-endian (TIFF)
            value = rng.choice(INTERESTING)
            width = rng.choice((2, 4))
            raw = (value & (2 ** (8 * width) - 1)).to_bytes(width, rng.choice(("big", "little")))
            b[pos:pos + width] = raw
        elif op == 3:  # delete a range
            del b[pos:pos + rng.randint(1, max(1, n // 8))]
        elif op == 4:  # insert random bytes
            b[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif op == 5:  # duplicate a range
            start = rng.randrange(n)
            b[pos:pos] = b[start:start + rng.randint(1, 256)]
        elif op == 6:  # truncate
            del b[rng.randrange(max(1, n // 2), n):]
        elif op == 7:  # splice from another seed
            other = rng.choice(seeds)
            if other:
                start = rng.randrange(len(other))
                b[pos:pos + rng.randint(1, 128)] = other[start:start + rng.randint(1, 128)]
        elif op == 8:  # a PDF token
            b[pos:pos] = b" " + rng.choice(PDF_TOKENS) + b" "
        elif op == 9:  # a number in the text replaced (lengths, offsets, counts, sizes)
            numbers = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?", bytes(b[max(0, pos - 4096):pos + 4096]))]
            if numbers:
                s, e = rng.choice(numbers)
                base = max(0, pos - 4096)
                b[base + s:base + e] = rng.choice((b"0", b"-1", b"2147483648", b"99999999999", b"1e30", b"0.0001",
                                                   str(rng.randint(0, 100000)).encode()))
        else:  # PNG header: width, height, depth, colour type, interlace
            if b[:8] == b"\x89PNG\r\n\x1a\n" and n > 29:
                field = rng.choice(((16, 4), (20, 4), (24, 1), (25, 1), (28, 1)))
                value = rng.choice((0, 1, 2, 3, 4, 6, 8, 16, 31, 33, 255, 4096, 65535, 1 << 20, 2**31 - 1, 2**32 - 1))
                b[field[0]:field[0] + field[1]] = (value & (2 ** (8 * field[1]) - 1)).to_bytes(field[1], "big")
    out = bytes(b)
    return _png_fix_crcs(out) if rng.random() < 0.7 else out


# -- targets -----------------------------------------------------------------------------------------------
def _targets(kind: str) -> list[tuple[str, Callable[[Path], object]]]:
    from leakmark.pdf import read
    from leakmark.recipients import read_csv
    from leakmark.trace import load

    def inspect(path: Path) -> object:
        return read.inspect(path)

    def inspect_repair_render(path: Path) -> object:
        info = read.inspect(path, repair=True)
        read.check_pages(info, 72)
        return read.render_page(path, info.kind, 0, 72, None)

    def trace_load(path: Path) -> object:
        return sum(p.gray.size for p in load.load(path))

    def trace_load_reduced(path: Path) -> object:  # a tiny pixel budget: the reducing decoders on small seeds
        return sum(p.gray.size for p in load.open_evidence(path, budget=1500).pages())

    if kind == "csv":
        return [("read_csv", read_csv)]
    return [("inspect", inspect), ("inspect+render_page", inspect_repair_render), ("trace.load", trace_load),
            ("trace.load(budget 1500 px)", trace_load_reduced)]


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang("no result within the time limit")


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost leakmark frame (else the innermost frame): one line per bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "leakmark" in f.filename and "benchmarks" not in f.filename]
    f = (ours or frames or [None])[-1]
    where = f"{Path(f.filename).name}:{f.lineno} {f.name}" if f is not None else "?"
    return f"{type(exc).__name__} at {where}"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def run(seconds: float, seed: int, max_execs: int | None, per_exec_s: int, crash_dir: Path | None,
        log: Callable[[str], None]) -> dict:
    from leakmark.errors import LeakmarkError

    logging.getLogger("leakmark").setLevel(logging.ERROR)  # "repaired by MuPDF" warnings, thousands of them
    seeds = sorted(p for p in CORPUS.iterdir() if p.is_file())
    if not seeds:
        raise SystemExit(f"no corpus in {CORPUS}: run with --write-corpus first")
    data = {p: p.read_bytes() for p in seeds}
    rng = random.Random(seed)
    execs: collections.Counter[str] = collections.Counter()
    typed: collections.Counter[str] = collections.Counter()
    crashes: dict[str, dict] = {}
    hangs = 0
    t0 = time.monotonic()
    last = t0
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory(prefix="leakmark-fuzz-") as tmp:
        n = 0
        while time.monotonic() - t0 < seconds and (max_execs is None or n < max_execs):
            src = rng.choice(seeds)
            kind = "csv" if src.suffix == ".csv" else "file"
            blob = mutate(data[src], rng, list(data.values())) if rng.random() < 0.97 else data[src]
            path = Path(tmp) / f"input{src.suffix}"
            path.write_bytes(blob)
            for name, fn in _targets(kind):
                n += 1
                execs[name] += 1
                signal.alarm(per_exec_s)
                try:
                    fn(path)
                except LeakmarkError as exc:
                    typed[type(exc).__name__] += 1
                except Hang:
                    hangs += 1
                    if crash_dir is not None:
                        crash_dir.mkdir(parents=True, exist_ok=True)
                        (crash_dir / f"hang-{n}{src.suffix}").write_bytes(blob)
                except (Exception, MemoryError, RecursionError) as exc:
                    sig = f"{name}: {_signature(exc)}"
                    entry = crashes.setdefault(sig, {"count": 0, "example": "", "message": str(exc)[:200]})
                    entry["count"] += 1
                    if crash_dir is not None and not entry["example"]:
                        crash_dir.mkdir(parents=True, exist_ok=True)
                        example = crash_dir / f"crash-{len(crashes):03d}-{src.stem}{src.suffix}"
                        example.write_bytes(blob)
                        entry["example"] = str(example)
                    if entry["count"] == 1:
                        log(f"crash: {sig}: {entry['message']}")
                finally:
                    signal.alarm(0)
            if time.monotonic() - last > 60:
                last = time.monotonic()
                log(f"{n} executions in {last - t0:.0f} s, {len(crashes)} distinct crashes, {hangs} hangs")
    return {"executions": n, "seconds": round(time.monotonic() - t0, 1), "per_target": dict(execs),
            "typed_errors": dict(typed), "crashes": crashes, "hangs": hangs, "seeds": len(seeds), "seed": seed}


def report_md(result: dict, command: str) -> str:
    lines = [
        "# Fuzzing the input loaders",
        "",
        f"- Commit: `{_git('rev-parse', '--short', 'HEAD')}`"
        f"{' (with uncommitted changes)' if _git('status', '--porcelain', '--', 'leakmark') else ''}",
        f"- Date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {_machine()}",
        f"- Command: `{command}`",
        f"- Corpus: {result['seeds']} seed files in `benchmarks/fuzz-corpus/`, seed {result['seed']}",
        f"- Executions: **{result['executions']:,}** in **{result['seconds']:,.0f} s** "
        f"({result['executions'] / max(result['seconds'], 1e-9):.1f}/s)",
        f"- Per target: {', '.join(f'{k} {v:,}' for k, v in sorted(result['per_target'].items()))}",
        f"- Typed errors (expected): {', '.join(f'{k} {v:,}' for k, v in sorted(result['typed_errors'].items()))}",
        f"- Hangs (over the per-execution limit): {result['hangs']}",
        f"- Crashes (exceptions other than LeakmarkError): **{sum(c['count'] for c in result['crashes'].values())}"
        f"** in **{len(result['crashes'])}** distinct places",
        "",
    ]
    if result["crashes"]:
        lines += ["| target: exception at | count | message |", "|---|---:|---|"]
        for sig, c in sorted(result["crashes"].items(), key=lambda kv: -kv[1]["count"]):
            lines.append(f"| {sig} | {c['count']} | {c['message'].replace('|', '/')[:120]} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    ap.add_argument("--max-execs", type=int, help="stop after this many executions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-exec", type=int, default=20, help="seconds one execution may take before it is a hang")
    ap.add_argument("--memory-gb", type=float, default=2.5, help="address-space limit of this process (RLIMIT_AS)")
    ap.add_argument("--crash-dir", type=Path, help="keep one input per distinct crash here")
    ap.add_argument("--report", type=Path, help="write the results as Markdown")
    ap.add_argument("--write-corpus", action="store_true", help="(re)write the seed corpus and exit")
    args = ap.parse_args(argv)
    if args.write_corpus:
        for p in write_corpus(CORPUS):
            print(f"{p.relative_to(CORPUS.parent)}  {p.stat().st_size} bytes")
        return 0
    if args.memory_gb and hasattr(resource, "RLIMIT_AS"):
        limit = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = run(args.seconds, args.seed, args.max_execs, args.per_exec, args.crash_dir, log)
    command = "python benchmarks/fuzz_loaders.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report_md(result, command)
    print(text)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text, encoding="utf-8")
    return 1 if result["crashes"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
