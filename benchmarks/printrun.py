"""Print run: a 30-page document marked for many copies into one merged PDF, as a print room runs it.

    python -m benchmarks printrun [--pages 30] [--copies 200] [--dpi 300] [--modes jobs1,jobs2,dask]
                                  [--memory-copies 2000] [--memory-modes raster,vector] [--keep DIR]
                                  [--source PDF]

Rows: wall time and page-copies/s of `issue --merge` with 1 and 2 local jobs and on a Dask LocalCluster
of 2 workers; beside them the floor, i.e. only JPEG-encoding one page image at the same dpi (what any
tool that writes a raster copy must pay), and leakmark's own per-page-copy cost (mark + encode) in one
process. `--memory-copies N` also runs `leakmark issue` as a separate process for N copies and samples
the resident memory of its whole process tree (parent + workers, summed from /proc every 0.2 s), once per
memory mode: `raster` (page images, `issue --raster`) and `vector` (each page its own marked content over
resources shared by the whole file), with the output size per copy and `qpdf --check` of the merged file.
The throughput rows are raster runs. `--source samples/memo-en.pdf`: that document instead.
Writes benchmarks/results/printrun.md; a run without --memory-copies keeps the last peak-memory block
(each block says which command and commit measured it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pymupdf

from benchmarks.common import RESULTS, ROOT, Results, Stamp, argument_parser, arguments, script_name
from leakmark import IssueOptions, Recipient, Workspace, issue
from leakmark.issuing.worker import MarkJob, PrepJob, encode, mark_copies, prepare_page
from leakmark.layers import LayerName
from leakmark.layers.codes import page_seed
from leakmark.samples import write_samples

NAME = script_name(__file__)


def build_document(folder: Path, pages: int) -> Path:
    """A `pages`-page PDF cycling through the sample pages (memo in English, 公文 in Chinese)."""
    samples = write_samples(folder / "samples")
    out = pymupdf.open()
    srcs = [pymupdf.open(s) for s in samples]
    order = [(d, i) for d in srcs for i in range(len(d))]
    for k in range(pages):
        d, i = order[k % len(order)]
        out.insert_pdf(d, from_page=i, to_page=i)
    path = folder / f"run-{pages}p.pdf"
    out.save(path)
    return path


def floor_and_mark(source: Path, dpi: int, copies: int = 4) -> tuple[float, float]:
    """Seconds per page-copy, averaged over the document's pages encoded as the pipeline encodes them
    (colour JPEG where the page has colour, greyscale otherwise): JPEG-encode only (the floor), and
    leakmark's mark + encode from the cached rendering."""
    cache = source.parent / "floor"
    cache.mkdir(exist_ok=True)
    enc, mark = [], []
    with pymupdf.open(source) as doc:
        n = len(doc)
    for index in range(n):
        prep = prepare_page(PrepJob(source=source, kind="pdf", index=index, dpi=dpi, delta=1, password=None,
                                    cache=cache / f"page-{index}.npy", want_vault=False))
        base = np.load(cache / f"page-{index}.npy")
        t = time.perf_counter()
        for _ in range(copies):
            encode(base)
        enc.append((time.perf_counter() - t) / copies)
        job = MarkJob(index=index, units=prep.units, delta=1,
                      material={LayerName.shift: [page_seed(b"k" * 32, "D", c, "shift", index)
                                                  for c in range(copies)]},
                      page_files=(str(cache / f"page-{index}.npy"),))
        t = time.perf_counter()
        mark_copies(job)
        mark.append((time.perf_counter() - t) / copies)
    return statistics.mean(enc), statistics.mean(mark)


def run_mode(mode: str, source: Path, copies: int, tmp: Path) -> dict:
    ws = Workspace.open(tmp / f"ws-{mode}")
    people = tuple(Recipient(f"收件人{i:04d}", f"单位{i % 17}") for i in range(copies))
    merged = tmp / f"{mode}.pdf"
    kw: dict = {"jobs": 1} if mode == "jobs1" else {"jobs": 2}
    cluster = None
    if mode == "dask":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        kw = {"jobs": 2, "executor": "dask", "scheduler": cluster.scheduler_address}
    try:
        t = time.perf_counter()
        r = issue(ws, IssueOptions(source=source, recipients=people, merge=merged, separator=True, vector=False,
                                   **kw))
        wall = time.perf_counter() - t
    finally:
        if cluster is not None:
            cluster.close()
    size = merged.stat().st_size
    merged.unlink()
    pc = r.stats["page_copies"]
    return {"mode": mode, "wall": wall, "page_copies": pc, "rate": pc / wall, "bytes": size}


class TreeMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every, self.peak, self.peak_parent = pid, every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = self._tree()
            rss = {p: self._rss(p) for p in tree}
            self.peak = max(self.peak, sum(rss.values()))
            self.peak_parent = max(self.peak_parent, rss.get(self.pid, 0))
            time.sleep(self.every)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(d))
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += children.get(p, [])
        return out

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def memory_run(source: Path, copies: int, tmp: Path, jobs: int, mode: str = "raster",
               keep: Path | None = None) -> dict:
    csv = tmp / "people.csv"
    csv.write_text("name,unit\n" + "".join(f"收件人{i:05d},单位{i % 17}\n" for i in range(copies)), encoding="utf-8")
    merged = tmp / f"big-{mode}.pdf"
    cmd = [sys.executable, "-m", "leakmark", "issue", str(source), "--recipients", str(csv), "--merge", str(merged),
           "--separator", "--home", str(tmp / f"ws-mem-{mode}"), "--jobs", str(jobs), "-q",
           *(["--raster"] if mode == "raster" else [])]
    t = time.perf_counter()
    # from the checkout, so that `-m leakmark` is this tree's leakmark
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    mem = TreeMemory(proc.pid)
    _, err = proc.communicate()
    mem.stop()
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"memory run failed: {err.decode()}")
    size = merged.stat().st_size
    check = qpdf_check(merged)
    if keep is not None:  # for checks by hand: the merged file and the workspace that issued it
        keep.mkdir(parents=True, exist_ok=True)
        merged.replace(keep / merged.name)
        subprocess.run(["cp", "-r", str(tmp / f"ws-mem-{mode}"), str(keep)], check=True)
        subprocess.run(["cp", str(source), str(csv), str(keep)], check=True)
    else:
        merged.unlink()
    return {"mode": mode, "copies": copies, "wall": wall, "peak_tree": mem.peak, "peak_parent": mem.peak_parent,
            "bytes": size, "qpdf": check, "command": " ".join(cmd[1:]).replace(str(tmp), "$TMP")}


def qpdf_check(path: Path) -> str:
    """qpdf's verdict on the merged file ("ok", or its first complaint; "n/a" without qpdf)."""
    try:
        p = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    except FileNotFoundError:
        return "n/a"
    if p.returncode == 0 and "No syntax or stream encoding errors" in p.stdout:
        return "ok"
    lines = (p.stdout + p.stderr).strip().splitlines()
    return f"exit {p.returncode}" + (f": {lines[-1]}" if lines else "")


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--copies", type=int, default=200)
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--modes", default="jobs1,jobs2,dask")
    ap.add_argument("--memory-copies", type=int, default=0, help="also measure peak memory for this many copies")
    ap.add_argument("--memory-jobs", type=int, default=2)
    ap.add_argument("--memory-modes", default="raster,vector", help="raster, vector or both (comma-separated)")
    ap.add_argument("--source", type=Path, help="this PDF instead of --pages sample pages (e.g. samples/memo-en.pdf)")
    ap.add_argument("--keep", type=Path, help="keep the memory runs' merged files and workspaces here")
    ap.add_argument("--tmp", type=Path, help="scratch folder (needs room for the merged file of the memory run)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here (used by throughput.py)")
    ap.add_argument("--no-report", action="store_true", help="do not rewrite printrun.md")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.dpi != 300:
        raise SystemExit("the workspace default dpi is 300; other dpi values are measured by throughput.py")
    stamp = Stamp.take(NAME, argv)
    with tempfile.TemporaryDirectory(dir=args.tmp) as t:
        tmp = Path(t)
        if args.source is not None:
            with pymupdf.open(args.source) as doc:
                args.pages = len(doc)
            source = tmp / args.source.name
            source.write_bytes(args.source.read_bytes())
        else:
            source = build_document(tmp, args.pages)
        floor, mark = floor_and_mark(source, args.dpi)
        print(f"floor (JPEG q92 encode of one {args.dpi} dpi page): {floor * 1000:.1f} ms; mark + encode: "
              f"{mark * 1000:.1f} ms ({mark / floor:.2f}x)", file=sys.stderr)
        rows = []
        for mode in [m for m in args.modes.split(",") if m]:
            row = run_mode(mode, source, args.copies, tmp)
            print(f"{mode}: {row['wall']:.1f} s, {row['rate']:.1f} page-copies/s", file=sys.stderr)
            rows.append(row)
        memory = [memory_run(source, args.memory_copies, tmp, args.memory_jobs, m, args.keep)
                  for m in args.memory_modes.split(",") if m] if args.memory_copies else None
        for m in memory or []:
            print(f"memory, {m['mode']}: {m['peak_tree'] / 2**20:.0f} MiB peak, {m['wall']:.0f} s, "
                  f"{m['bytes'] / m['copies'] / 1024:.1f} KiB per copy, qpdf {m['qpdf']}", file=sys.stderr)
    if not args.no_report:
        write_report(Results(args.results, stamp, "printrun"), args, floor, mark, rows, memory)
    if args.json:
        args.json.write_text(json.dumps({"pages": args.pages, "copies": args.copies, "floor": floor, "mark": mark,
                                         "rows": rows, "memory": memory}))


def tables(pages: int, copies: int, floor: float, mark: float, rows: list[dict]) -> list[str]:
    """The floor table and the print-run rows (also the `printrun` section of throughput.py)."""
    lines = ["## Cost of one page-copy against the floor (one process)", "",
             "Averaged over the document's pages, each encoded as the pipeline encodes it (colour JPEG for the "
             "pages with the red 公文 header, greyscale otherwise); the mark includes loading the cached "
             "rendering once per job.", "",
             "| work per page | ms | × floor |", "|---|---|---|",
             f"| JPEG-encode one page image (the floor) | {floor * 1000:.1f} | 1.00 |",
             f"| leakmark: mark + encode one page-copy | {mark * 1000:.1f} | {mark / floor:.2f} |", ""]
    if rows:
        lines += [f"## Print run: {pages} pages × {copies} copies, `issue --merge --separator`", "",
                  "Wall time includes everything: rendering each page once, units, vault, ledger, the merged "
                  "file with fsync after each batch. The × floor column divides the wall time per page-copy by "
                  "one core's encode time, so with two jobs it can fall below 1.", "",
                  "| executor | wall s | page-copies | page-copies/s | s per page-copy | × floor | output |",
                  "|---|---|---|---|---|---|---|"]
        names = {"jobs1": "local, 1 job", "jobs2": "local, 2 jobs", "dask": "Dask LocalCluster, 2 workers"}
        for r in rows:
            per = r["wall"] / r["page_copies"]
            lines.append(f"| {names.get(r['mode'], r['mode'])} | {r['wall']:.1f} | {r['page_copies']} | "
                         f"{r['rate']:.1f} | {per * 1000:.1f} ms | {per / floor:.2f} | {r['bytes'] / 2**30:.2f} GiB |")
        lines.append("")
    return lines


def write_report(output: Results, args: argparse.Namespace, floor: float, mark: float, rows: list[dict],
                 memory: list[dict] | None) -> None:
    path = output.path("printrun.md")
    lines = ["# Print run: one document, many copies, one merged PDF", "",
             f"Document: {args.pages} pages ({args.source.name if args.source else 'the sample pages in turn'}), "
             f"{args.dpi} dpi, greyscale JPEG q92; "
             "merged output with a separator page per copy.", "",
             *tables(args.pages, args.copies, floor, mark, rows)]
    if memory:
        lines += [f"## Peak memory: {args.pages} pages × {memory[0]['copies']} copies", "",
                  f"{output.stamp.oneline()} The run: `{memory[0]['command']}` (the raster run adds `--raster`) as a "
                  "child process; resident memory of the process and its workers, summed, sampled every 0.2 s from "
                  "/proc (shared pages count once per process, so this overstates). Vector: each page its own "
                  "marked content, the source page's fonts and other resources written once per file.", "",
                  "| pages as | copies | page-copies | wall s | peak RSS, all processes | peak RSS, main process | "
                  "output | per copy | qpdf --check |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for m in memory:
            lines.append(f"| {m['mode']} | {m['copies']} | {m['copies'] * args.pages} | {m['wall']:.0f} | "
                         f"{m['peak_tree'] / 2**30:.2f} GiB | {m['peak_parent'] / 2**30:.2f} GiB | "
                         f"{_size(m['bytes'])} | {_size(m['bytes'] / m['copies'])} | {m['qpdf']} |")
        lines.append("")
    kept = []
    if not memory and path.exists():  # keep the last memory measurement (it takes ~20 minutes), and its stamp
        old = path.read_text(encoding="utf-8")
        if "## Peak memory" in old:
            lines += ["## Peak memory" + old.split("## Peak memory", 1)[1].rstrip("\n"), ""]
            kept = ["memory"]
    output.write_markdown("printrun.md", lines, parts=["memory"] if memory else [], carried=kept)
    print(path.read_text(encoding="utf-8"))


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


if __name__ == "__main__":
    main()
