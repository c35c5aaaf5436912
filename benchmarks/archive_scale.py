"""Trace time as the archive grows: N distinct registered pages, one phone photo of one of them.

    python -m benchmarks archive_scale [--pages 10,100] [--keep DIR]

For each N: a fresh workspace where N generated one-page documents (`leakmark.samples.archive`: Chinese and
English prose, tables and forms, each page distinct) are issued to one recipient each (registration is
issuing's first step); then a simulated 12-megapixel phone photo of one copy's page is traced, and so is a
photo of a page that is not registered (it must answer no-match). Per N: registration time per page, the
page index's size per page, the trace's total and per-stage times (best of two runs; `index` is loading the
index and the queries, `locate` the evidence's features and the geometric verification), whether the right
copy was named, and the process's peak memory. Writes benchmarks/results/archive-scale.md (with the
machine's load: other work shares its CPU, so the times are upper bounds).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import cv2

from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, simulate, trace
from leakmark import index as page_index
from leakmark._io import atomic_write_bytes
from leakmark.rendering import render_page_array
from leakmark.samples.archive import archive_page, family

NAME = script_name(__file__)
STAGES = ("load", "index", "locate", "align", "measure", "decide")
UNREGISTERED = 10_000_000  # archive page numbers from here on are never registered


def _register(ws: Workspace, folder: Path, n: int) -> tuple[float, object]:
    src = folder / f"page-{n:06d}.pdf"
    atomic_write_bytes(src, archive_page(n))
    t0 = time.perf_counter()
    res = issue(ws, IssueOptions(source=src, recipients=(Recipient(f"reader {n}"),), output_dir=folder / "out",
                                 jobs=1))
    return time.perf_counter() - t0, res


def _photo(pdf: Path, out: Path, seed: int) -> Path:
    page = render_page_array(pdf, 0, 300, mode="bgr")
    cv2.imwrite(str(out), simulate.phone_photo(page, seed=seed, megapixels=12.0), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return out


def _timed(ws: Workspace, ev: Path) -> tuple[float, dict[str, float], object]:
    best = None
    for _ in range(2):
        t0 = time.perf_counter()
        r = trace(ws, TraceOptions(evidence=(ev,)))
        dt = time.perf_counter() - t0
        if best is None or dt < best[0]:
            best = (dt, dict(r.timings), r)
    assert best is not None
    return best


def run(pages: int, tmp: Path) -> str:
    ws = Workspace.open(tmp / "ws")
    reg = 0.0
    target = pages // 2  # the leaked page: one in the middle of the archive
    leaked = None
    for n in range(pages):
        dt, res = _register(ws, tmp, n)
        reg += dt
        if n == target:
            leaked = res
        if (n + 1) % 10 == 0:
            log(f"  {n + 1}/{pages} registered ({reg / (n + 1):.2f} s/page)")
    assert leaked is not None
    size = page_index.index_path(ws).stat().st_size
    copy = leaked.copies[0]  # type: ignore[attr-defined]
    ev = _photo(Path(copy.path), tmp / "photo.jpg", seed=pages)
    total, tm, r = _timed(ws, ev)
    ok = r.verdict == "identified" and r.suspects[0].copy.label == copy.copy_no  # type: ignore[attr-defined]
    stranger = tmp / "stranger.pdf"
    atomic_write_bytes(stranger, archive_page(UNREGISTERED + pages))
    none_total, _none_tm, none_r = _timed(ws, _photo(stranger, tmp / "stranger.jpg", seed=pages + 1))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = " | ".join(f"{tm.get(s, 0.0):.2f}" for s in STAGES)
    return (f"| {pages} | {reg / pages:.2f} | {size / pages / 1024:.1f} | {total:.2f} | {stages} | "
            f"{'yes' if ok else 'NO'} ({family(target)}) | {none_total:.2f} ({none_r.verdict}) | "  # type: ignore[attr-defined]
            f"{peak:.0f} |")


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--pages", default="10,100", help="archive sizes, comma-separated (e.g. 10,100,1000)")
    ap.add_argument("--keep", type=Path, help="keep the workspaces under this folder (default: a temporary one)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sizes = [int(p) for p in args.pages.split(",")]
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="leakmark-archive-") as tmp_s:
        base = args.keep or Path(tmp_s)
        for n in sizes:
            log(f"archive of {n} pages")
            folder = base / f"archive-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            rows.append(run(n, folder))
            log(rows[-1])
    after = os.getloadavg()
    lines = ["# Trace at archive scale", "",
             f"Machine load (1/5/15-minute averages, `uptime`): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the "
             "start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores: other work shared "
             "the CPU, so the times are upper bounds.", "",
             "N distinct one-page documents (Chinese and English prose, tables, forms) each issued to one recipient; "
             "a simulated 12-megapixel phone photo of the copy of the middle page traced (best of two runs), and a "
             "photo of a page that is not registered. Seconds; `index`: loading the page index and its queries; "
             "`locate`: the evidence's SIFT features for each attempt (unwarped sheet, raw image, mirrored when "
             "weak: 2–4 extractions) and the geometric verification of the index's candidates; peak memory of the "
             "whole run so far.", "",
             "| pages | register s/page | index KB/page | trace s | " + " | ".join(STAGES)
             + " | right copy named | unregistered page: trace s | peak MB |",
             "|---:|---:|---:|---:|" + "---:|" * len(STAGES) + "---|---:|---:|",
             *rows, ""]
    output = Results(args.results, stamp, "archive-scale")
    output.write_markdown("archive-scale.md", lines)
    print(output.path("archive-scale.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
