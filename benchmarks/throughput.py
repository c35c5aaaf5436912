"""Speed: issuing and tracing, split the ways that matter, with blind-watermark beside it.

    python -m benchmarks throughput [--section issue,trace,evidence,bwm,printrun] [--quick]

Sections (each writes its own block of benchmarks/results/throughput.md; a run of some sections keeps the
other sections' last blocks). To add one, write `def section_NAME(ctx) -> list[str]` and add it to
`SECTIONS`.
- issue: the memo sample (2 A4 pages) issued to 1, 10 and 100 copies × jobs 1 and 2 × 150, 300 and 600
  dpi, each in a fresh subprocess so its peak memory (parent, and the largest worker) is its own; seconds
  per page-copy all-in (T / (copies × pages)) and pages/s.
- trace: one simulated 12-megapixel phone photo traced with 10 … 100,000 issued copies (copies beyond the 50
  really issued are synthesised ledger rows: scoring needs only copy numbers), split by stage.
- evidence: the same page photographed at 2, 12 and 48 megapixels, traced with 50 issued copies, by stage.
- printrun: 30 pages × 200 copies into one merged PDF with 1 and 2 jobs and on a Dask LocalCluster, beside
  the encode-only floor (`python -m benchmarks printrun` in a child process; its own run also measures peak
  memory at 2,000 copies).
- bwm: blind-watermark embed and extract (64 bits) on the same page at 150 and 300 dpi, against
  leakmark's per-page-copy issue cost and its trace time.
Each section's block says which command and commit measured it (throughput.stamp.json: `throughput.md#NAME`).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    RESULTS,
    ROOT,
    Results,
    Stamp,
    argument_parser,
    arguments,
    import_blind_watermark,
    log,
    script_name,
)

import_blind_watermark()  # silenced, and without its set_start_method('fork')

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, simulate, trace  # noqa: E402
from leakmark.rendering import render_page_array  # noqa: E402
from leakmark.samples import write_samples  # noqa: E402

NAME = script_name(__file__)
STAGES = ("load", "locate", "align", "measure", "decide")


@dataclass
class Ctx:
    tmp: Path
    quick: bool
    sample: Path
    cache: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- issue

def section_issue(ctx: Ctx) -> list[str]:
    copies_list = (1, 10) if ctx.quick else (1, 10, 100)
    dpis = (150, 300) if ctx.quick else (150, 300, 600)
    pages = 2
    times: dict[tuple[int, int, int], float] = {}
    lines = ["## Issue (memo sample, 2 A4 pages)", "",
             "Each run in a fresh process (imports excluded; rendering, fingerprints, marking, PDF writing and the "
             "ledger included). Peak memory: resident set of the parent, and of the largest pool worker.", "",
             "| dpi | jobs | copies | seconds | s per page-copy | page-copies/s | peak MB parent | peak MB worker |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for dpi in dpis:
        for jobs in (1, 2):
            for copies in copies_list:
                d = ctx.tmp / f"issue-{dpi}-{jobs}-{copies}"
                d.mkdir()
                # `python -c` from the checkout: spawned pool workers have no main module to re-import, and the
                # process imports only what one issue run needs (benchmarks/_issue_probe.py says why)
                code = "import sys; from benchmarks._issue_probe import main; main(*sys.argv[1:])"
                proc = subprocess.run([sys.executable, "-c", code, str(ctx.sample), str(copies), str(jobs), str(dpi),
                                       str(d)], capture_output=True, text=True, check=False, cwd=ROOT)
                if proc.returncode != 0:
                    err = proc.stderr.strip().splitlines()[-1:] or ["?"]
                    lines.append(f"| {dpi} | {jobs} | {copies} | failed: {err[0][:150]} | | | | |")
                    log(lines[-1])
                    continue
                times[(dpi, jobs, copies)] = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                per = r["seconds"] / (copies * pages)
                worker = f"{r['worker_mb']:.0f}" if jobs > 1 else "–"
                lines.append(f"| {dpi} | {jobs} | {copies} | {r['seconds']:.2f} | {per:.3f} | {1 / per:.1f} | "
                             f"{r['parent_mb']:.0f} | {worker} |")
                log(lines[-1])
    top = max(copies_list)
    marg = [f"{dpi} dpi / {jobs} job{'s' if jobs > 1 else ''}: "
            f"{(times[(dpi, jobs, top)] - times[(dpi, jobs, 1)]) / ((top - 1) * pages):.3f} s"
            for dpi in dpis for jobs in (1, 2) if (dpi, jobs, top) in times and (dpi, jobs, 1) in times]
    lines += ["", f"Marginal cost of one more page-copy, (T{top} − T1) / ({top - 1} × {pages}): "
              + "; ".join(marg) + "."]
    lines += ["", "With one page-copy per copy the fixed cost (rendering the original once, fingerprints, vault) "
              "dominates; the 100-copy rows show the marginal cost. Jobs 2 parallelises per page (the memo has 2).",
              ""]
    return lines


# ---------------------------------------------------------------------------------------------- trace

def _trace_ws(ctx: Ctx, real: int = 50) -> tuple[Workspace, object]:
    """A workspace with the memo issued to `real` copies (cached)."""
    if real not in ctx.cache:
        ws = Workspace.open(ctx.tmp / f"ws-trace-{real}")
        res = issue(ws, IssueOptions(source=ctx.sample, recipients=tuple(Recipient(f"r{i}") for i in range(real)),
                                     output_dir=ctx.tmp / f"out-trace-{real}", jobs=1))
        ctx.cache[real] = (ws, res)
    return ctx.cache[real]


def _photo(ctx: Ctx, mp: float, real: int = 50) -> Path:
    """A simulated phone photo of page 1 of copy 6 (10-copy workspace) or 18 (the others)."""
    _ws, res = _trace_ws(ctx, real)
    k = 5 if real < 18 else 17
    page = render_page_array(res.copies[k].path, 0, 300, mode="bgr")
    if mp > 20:  # a 48 MP photo of a 300-dpi rendering would only upsample it
        page = cv2.resize(page, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    ev = ctx.tmp / f"photo-{mp:g}mp-{real}.jpg"
    cv2.imwrite(str(ev), simulate.phone_photo(page, seed=5, megapixels=mp), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return ev


def _timed_trace(ws: Workspace, ev: Path, copy_no: str, repeats: int) -> tuple[float, dict, bool, float]:
    trace(ws, TraceOptions(evidence=(ev,)))  # warm-up (imports, caches)
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = trace(ws, TraceOptions(evidence=(ev,)))
        dt = time.perf_counter() - t0
        if best is None or dt < best[0]:
            ok = r.verdict == "identified" and r.suspects[0].copy.label == copy_no
            best = (dt, r.timings, ok, r.suspects[0].score if r.suspects else float("nan"))
    return best


def _stage_row(label: str, dt: float, tm: dict, ok: bool, z: float) -> str:
    return (f"| {label} | {dt:.2f} | " + " | ".join(f"{tm.get(s, 0):.3f}" for s in STAGES) +
            f" | {'yes' if ok else 'NO'} | {z:.1f} |")


def section_trace(ctx: Ctx) -> list[str]:
    from benchmarks.null_calibration import synthesise_copies

    counts = (10, 100, 1000) if ctx.quick else (10, 100, 1000, 10000, 100000)
    lines = ["## Trace by issued copies (one 12-megapixel phone photo of page 1)", "",
             "Best of 2 runs after a warm-up. 10: a workspace with 10 real copies; 100 and up: 50 real copies plus "
             "synthesised ledger rows.", "",
             "| issued copies | total s | " + " | ".join(STAGES) + " | right copy named | score |",
             "|---:|---:|" + "---:|" * len(STAGES) + "---|---:|"]
    for n in counts:
        real = 10 if n <= 10 else 50
        ws, res = _trace_ws(ctx, real)
        ev = _photo(ctx, 12.0, real)
        if n > real:
            t0 = time.perf_counter()
            synthesise_copies(ws, res.document.id, n)
            log(f"synthesised ledger rows up to {n} in {time.perf_counter() - t0:.0f}s")
        dt, tm, ok, z = _timed_trace(ws, ev, res.copies[5 if real < 18 else 17].copy_no, 2)
        lines.append(_stage_row(f"{n:,}", dt, tm, ok, z))
        log(lines[-1])
    lines.append("")
    return lines


def section_evidence(ctx: Ctx) -> list[str]:
    ws, res = _trace_ws(ctx)
    lines = ["## Trace by evidence size (phone photo of page 1; the 50-copy workspace, plus the synthesised rows "
             "if the trace section ran first)", "",
             "2 and 12 MP photos of the 300-dpi copy; the 48 MP photo is of the copy upsampled to 600 dpi (a real "
             "48 MP photo resolves more than 300 dpi).", "",
             "| megapixels | total s | " + " | ".join(STAGES) + " | right copy named | score |",
             "|---:|---:|" + "---:|" * len(STAGES) + "---|---:|"]
    for mp in ((2.0, 12.0) if ctx.quick else (2.0, 12.0, 48.0)):
        ev = _photo(ctx, mp)
        dt, tm, ok, z = _timed_trace(ws, ev, res.copies[17].copy_no, 1 if mp > 20 else 2)
        lines.append(_stage_row(f"{mp:g}", dt, tm, ok, z))
        log(lines[-1])
    lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------- blind-watermark

def section_bwm(ctx: Ctx) -> list[str]:
    from benchmarks import bwm_baseline

    lines = ["## blind-watermark beside leakmark (same memo page 1, 64-bit payload, default setting)", "",
             "| page | bwm embed s | bwm extract s | leakmark s per page-copy (100 copies, 1 job) | embed ratio | "
             "leakmark trace s (12 MP photo, 1,000 copies) |",
             "|---|---:|---:|---:|---:|---:|"]
    issue_cost = ctx.cache.get("issue_per_page_copy", {})
    trace_s = ctx.cache.get("trace_1000")
    for dpi in (150, 300):
        page = render_page_array(ctx.sample, 0, dpi, mode="bgr")
        bits = np.random.default_rng(3).integers(0, 2, bwm_baseline.BITS).astype(bool)
        t0 = time.perf_counter()
        marked = bwm_baseline.embed(page, bits, "default")
        te = time.perf_counter() - t0
        t0 = time.perf_counter()
        ok = bool(np.all(bwm_baseline.extract(marked, "default") == bits))
        tx = time.perf_counter() - t0
        ours = issue_cost.get(dpi)
        ratio = f"{te / ours:.0f}×" if ours else "–"
        lines.append(f"| {dpi} dpi ({page.shape[1]}×{page.shape[0]}) | {te:.2f} | {tx:.2f}{'' if ok else ' (BER>0)'} | "
                     f"{f'{ours:.3f}' if ours else '– (run the issue section)'} | {ratio} | "
                     f"{f'{trace_s:.2f}' if trace_s else '–'} |")
        log(lines[-1])
    lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------- print run

def section_printrun(ctx: Ctx) -> list[str]:
    """A print run (issue 5): 30 pages × 200 copies into one merged PDF with 1 and 2 jobs and on a Dask
    LocalCluster of 2 workers, beside the encode-only floor. Run as its own process (`python -m benchmarks
    printrun`), so that its pools, cluster and memory are its own."""
    from benchmarks import printrun

    pages, copies = (10, 20) if ctx.quick else (30, 200)
    out = ctx.tmp / "printrun.json"
    subprocess.run([sys.executable, "-m", "benchmarks", "printrun", "--pages", str(pages), "--copies", str(copies),
                    "--json", str(out), "--no-report"], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    r = json.loads(out.read_text())
    return [*printrun.tables(pages, copies, r["floor"], r["mark"], r["rows"]),
            "Peak memory of a 30-page × 2,000-copy run: `benchmarks/results/printrun.md`.", ""]


SECTIONS: dict[str, Callable[[Ctx], list[str]]] = {
    "issue": section_issue,
    "trace": section_trace,
    "evidence": section_evidence,
    "bwm": section_bwm,
    "printrun": section_printrun,
}


def _harvest(ctx: Ctx, name: str, block: list[str]) -> None:
    """Figures later sections quote (issue cost per page-copy at 100 copies / 1 job; 1,000-copy trace time)."""
    for line in block:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if name == "issue" and len(cells) >= 5 and cells[1] == "1" and cells[2] in ("100", "10"):
            with contextlib.suppress(ValueError):
                dpi = int(cells[0])
                if cells[2] == "100" or dpi not in ctx.cache.setdefault("issue_per_page_copy", {}):
                    ctx.cache["issue_per_page_copy"][dpi] = float(cells[4])
        if name == "trace" and cells and cells[0] == "1,000":
            ctx.cache["trace_1000"] = float(cells[1])


def _merge(path: Path, header: list[str], blocks: dict[str, list[str]]) -> tuple[str, list[str]]:
    """Keep the previous run's blocks of sections not run now; returns the text and the sections kept."""
    old: dict[str, str] = {}
    if path.exists():
        for m in re.finditer(r"<!-- section (\w+) -->\n(.*?)<!-- /section -->\n", path.read_text(encoding="utf-8"),
                             re.S):
            old[m.group(1)] = m.group(2)
    parts, kept = ["\n".join(header) + "\n"], []
    for name in SECTIONS:
        body = "\n".join(blocks[name]) + "\n" if name in blocks else old.get(name)
        if body:
            parts.append(f"<!-- section {name} -->\n{body}<!-- /section -->\n")
            kept += [] if name in blocks else [name]
    return "\n".join(parts), kept


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--section", default=",".join(SECTIONS), help=f"comma-separated, of: {', '.join(SECTIONS)}")
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    wanted = [s for s in SECTIONS if s in args.section.split(",")]
    unknown = set(args.section.split(",")) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"--section: unknown {', '.join(sorted(unknown))} (choose from {', '.join(SECTIONS)})")
    stamp = Stamp.take(NAME, argv)
    header = ["# Throughput", "",
              "The CPU was shared with other work while measured, so the figures are upper bounds. Sections not in "
              "the latest command keep their previous figures; each section says which command and commit measured "
              "it (sections from before stamps: not recorded)."]
    blocks: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="leakmark-speed-") as tmp_s:
        tmp = Path(tmp_s)
        sample = next(p for p in write_samples(tmp / "samples") if p.name == "memo-en.pdf")
        ctx = Ctx(tmp=tmp, quick=args.quick, sample=sample)
        for name in wanted:
            t0 = time.perf_counter()
            blocks[name] = SECTIONS[name](ctx)
            _harvest(ctx, name, blocks[name])
            blocks[name][1:1] = ["", stamp.oneline()]  # under the section's heading
            log(f"section {name}: {time.perf_counter() - t0:.0f}s")
    output = Results(args.results, stamp, "throughput")
    text, kept = _merge(output.path("throughput.md"), header, blocks)
    output.write_markdown("throughput.md", text, parts=blocks, carried=kept)
    print(output.path("throughput.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
