"""Speed of vector copies against page-image (raster) copies, on the same pages.

    python -m benchmarks vector_speed [PDF ...] [--copies 100] [--jobs 1,0]

For each sample (the English memo, the Chinese notice) and each job count (0: all cores), a run of 1 copy
and a run of N copies are issued, vector (the default) and `--raster`, into a workspace where the document
is already registered. All-in page-copies/s are T(N) over N × pages; the marginal cost per page-copy is
(T(N) − T(1)) / ((N − 1) × pages), which leaves out what a run pays once (rendering every page, planning
and checking the vector pages); "nan" when T(N) − T(1) is within the noise of a loaded machine. Output bytes per
copy are listed too. Writes
benchmarks/results/vector-speed.md.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pymupdf

from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, script_name
from leakmark import IssueOptions, Recipient, Workspace, issue
from leakmark.samples import write_samples

NAME = script_name(__file__)


def _run(ws: Workspace, sample: Path, out: Path, copies: int, jobs: int, vector: bool) -> tuple[float, int, int]:
    t = time.perf_counter()
    res = issue(ws, IssueOptions(source=sample, recipients=tuple(Recipient(f"r{i}") for i in range(copies)),
                                 output_dir=out, jobs=jobs, vector=vector))
    return time.perf_counter() - t, res.stats["output_bytes"], res.stats["vector_pages"]


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--jobs", default="1,0", help="comma-separated job counts (0: all cores)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("pdfs", nargs="*", type=Path,
                    help="more PDFs besides the samples (e.g. a Chinese PDF with embedded fonts: the sample "
                         "notice's font is not embedded, so its copies are images in both modes)")
    args = ap.parse_args(argv)
    output = Results(args.results, Stamp.take(NAME, argv), "vector-speed")
    n = args.copies
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sample in [*write_samples(root / "samples"), *args.pdfs]:
            with pymupdf.open(sample) as doc:
                pages = doc.page_count
            for jobs in (int(j) for j in args.jobs.split(",")):
                for vector in (True, False):
                    ws = Workspace.open(root / f"ws-{sample.stem}-{jobs}-{vector}")
                    issue(ws, IssueOptions(source=sample, recipients=(Recipient("first"),),  # registers it
                                           output_dir=root / f"reg-{sample.stem}-{jobs}-{vector}", jobs=jobs,
                                           vector=vector))
                    t1, _, _ = _run(ws, sample, root / f"o1-{jobs}-{vector}", 1, jobs, vector)
                    tn, size, vpages = _run(ws, sample, root / f"on-{jobs}-{vector}", n, jobs, vector)
                    marginal = (tn - t1) / ((n - 1) * pages)
                    rows.append((sample.name, jobs or os.cpu_count(), "vector" if vector else "raster", vpages,
                                 n * pages / tn, 1 / marginal if marginal > 0 else float("nan"), size / n / 1024))
                    print(rows[-1], flush=True)
    lines = [f"# Vector against raster copies: {n} copies per run", "",
             f"Machine: {os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.1f}. All-in: the "
             "whole run (render, plan and check once, mark, write, register). Marginal: per page-copy beyond the "
             "first copy.", "",
             "| sample | jobs | copies | vector pages | all-in page-copies/s | marginal page-copies/s | KB per copy |",
             "|---|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {s} | {j} | {m} | {v} | {a:.1f} | {b:.1f} | {kb:.1f} |" for s, j, m, v, a, b, kb in rows]
    output.write_markdown("vector-speed.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
