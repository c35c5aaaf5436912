"""What each layer costs at issue time, per page type: the issue-4 target is that a page-copy with every
layer on costs at most 1.5× one with `shift` alone.

    python -m benchmarks layer_cost [--copies 20,220] [--pages photo,chart,form,notice-zh,memo-en]

For every one-page document (the low-text samples and page 1 of each text sample) and every layer set,
`leakmark.issue` runs in-process with one job (no pool: the machine's other core stays idle, so the
figures are not a race between processes) into a fresh workspace, twice: with the smaller and the larger
number of copies. Reported per page-copy: all-in (wall time of the larger run / its copies) and marginal
((larger - smaller) / difference in copies: what one more copy costs once the page is rendered and its
planes are made). Layer sets: shift alone; shift+tone; shift+tone+file (every layer that can go on one
page together: tone and blind exclude each other); shift+blind+file; and the default (`layers=None`:
shift, tone where the page is mostly picture, file). Writes benchmarks/results/layer-cost.md.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import pymupdf

from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, script_name
from leakmark import IssueOptions, Recipient, Workspace, issue
from leakmark.ledger import Ledger
from leakmark.samples import write_lowtext_samples, write_samples

NAME = script_name(__file__)
SETS: dict[str, tuple[str, ...] | None] = {
    "shift": ("shift",),
    "shift+tone": ("shift", "tone"),
    "shift+tone+file (all that combine)": ("shift", "tone", "file"),
    "shift+blind+file": ("shift", "blind", "file"),
    "default": None,
}


def one_page(src: Path, dst: Path) -> Path:
    with pymupdf.open(src) as doc:
        doc.select([0])
        doc.save(dst)
    return dst


def timed_issue(src: Path, layers: tuple[str, ...] | None, copies: int, root: Path) -> tuple[float, list[str]]:
    ws = Workspace.open(root / "ws")
    people = tuple(Recipient(f"recipient {i:05d}", "bench") for i in range(copies))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = issue(ws, IssueOptions(source=src, recipients=people, output_dir=root / "out", layers=layers,
                                        jobs=1))
    seconds = time.perf_counter() - t0
    with Ledger(ws) as ledger:
        chosen = [str(x) for x in ledger.copies(result.document.id)[0].marking.layers]
    return seconds, chosen


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", default="20,220", help="the smaller and the larger run (default 20,220)")
    ap.add_argument("--pages", default="photo,chart,form,notice-zh,memo-en")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    output = Results(args.results, Stamp.take(NAME, argv), "layer-cost")
    small, large = (int(x) for x in args.copies.split(","))
    wanted = args.pages.split(",")
    lines = ["# Issue cost per layer set", "",
             f"- one job, in-process; all-in = wall time of {large} copies / {large}; marginal = "
             f"(T({large}) - T({small})) / {large - small}; ratio = against `shift` alone on the same page", ""]
    with tempfile.TemporaryDirectory(prefix="leakmark-layercost-") as tmp_s:
        tmp = Path(tmp_s)
        docs = {p.stem: p for p in write_lowtext_samples(tmp / "lowtext")}
        docs.update({p.stem: one_page(p, tmp / f"{p.stem}-p1.pdf") for p in write_samples(tmp / "text")})
        lines += ["| page | layers | layers recorded | all-in ms | ratio | marginal ms | ratio |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for name in wanted:
            base_all = base_marg = None
            for k, (label, layers) in enumerate(SETS.items()):
                runs = {}
                for n in (small, large):
                    runs[n], chosen = timed_issue(docs[name], layers, n, tmp / f"{name}-{k}-{n}")
                all_in = runs[large] / large * 1e3
                marginal = (runs[large] - runs[small]) / (large - small) * 1e3
                if layers == ("shift",):
                    base_all, base_marg = all_in, marginal
                row = (f"| {name} | {label} | {','.join(chosen)} | {all_in:.1f} | {all_in / base_all:.2f} | "
                       f"{marginal:.1f} | {marginal / base_marg:.2f} |")
                print(row, flush=True)
                lines.append(row)
    print(f"wrote {output.write_markdown('layer-cost.md', lines)}")


if __name__ == "__main__":
    main()
