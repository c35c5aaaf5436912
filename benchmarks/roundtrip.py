"""Round trip: issue both samples to N copies, leak random copies' pages, trace, count.

    python -m benchmarks roundtrip [--copies 50] [--trials 5] [--seed 1] [--leaks jpeg-q30,...]

For every leak kind: the traced copy must be the right one with false-accusation probability < 1e-6, and
no wrong copy may ever be named. The same leak made from the unmarked original must not be `identified`.
Writes benchmarks/results/roundtrip.md and .csv.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, script_name
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, simulate, trace
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples

NAME = script_name(__file__)

LEAKS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "jpeg-q30": lambda im, s: simulate.jpeg(im, 30),
    "rescale-50%": lambda im, s: simulate.rescale(im, 0.5),
    "rotate-3deg": lambda im, s: simulate.rotate(im, 3),
    "rotate-90deg": lambda im, s: simulate.rotate(im, 90),
    "phone-photo": lambda im, s: simulate.phone_photo(im, seed=s),
    "print-scan": lambda im, s: simulate.print_scan(im, seed=s),
    "screenshot-96dpi-x0.8": lambda im, s: simulate.screenshot(im),
    "crop-40%": lambda im, s: simulate.crop(im, 0.4, seed=s),
}


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--trials", type=int, default=5, help="random (copy, page) leaks per leak kind and sample")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--leaks", default=",".join(LEAKS), help="comma-separated subset of leak kinds")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    unknown = set(args.leaks.split(",")) - set(LEAKS)
    if unknown:
        raise SystemExit(f"--leaks: unknown {', '.join(sorted(unknown))} (choose from {', '.join(LEAKS)})")
    output = Results(args.results, Stamp.take(NAME, argv), "roundtrip")
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ws = Workspace.open(tmp_path / "ws")
        for sample in write_samples(tmp_path / "samples"):
            people = tuple(Recipient(f"recipient {i:03d}", "unit") for i in range(args.copies))
            t0 = time.perf_counter()
            res = issue(ws, IssueOptions(source=sample, recipients=people, output_dir=tmp_path / sample.stem))
            print(f"{sample.name}: issued {args.copies} copies in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            for leak in args.leaks.split(","):
                attack = LEAKS[leak]
                for trial in range(args.trials):
                    k = int(rng.integers(len(res.copies)))
                    page = int(rng.integers(res.document.pages))
                    seed = int(rng.integers(1 << 30))
                    for marked in (True, False):
                        src = Path(res.copies[k].path) if marked else sample
                        img = attack(render_page_array(src, page, 300, mode="bgr"), seed)
                        ev = tmp_path / f"leak-{leak}.png"
                        cv2.imwrite(str(ev), img)
                        t0 = time.perf_counter()
                        r = trace(ws, TraceOptions(evidence=(ev,)))
                        dt = time.perf_counter() - t0
                        named = [s.copy.label for s in r.suspects[: r.named]]
                        truth = res.copies[k].copy_no if marked else None
                        rank0 = r.suspects[0] if r.suspects else None
                        truth_s = next((s for s in r.suspects if s.copy.label == truth), None)
                        best_other = max((s.score for s in r.suspects if s.copy.label != truth), default=0.0)
                        row = {"sample": sample.name, "leak": leak, "source": "copy" if marked else "original",
                               "trial": trial, "page": page + 1, "truth": truth or "-",
                               "verdict": r.verdict, "named": " ".join(named) or "-",
                               "correct": bool(marked and named == [truth]),
                               "wrong": any(n != truth for n in named),
                               "truth_fap": f"{truth_s.fap:.3g}" if truth_s else "-",
                               "truth_score": f"{truth_s.score:.2f}" if truth_s else "-",
                               "best_other_score": f"{best_other:.2f}",
                               "top_score": f"{rank0.score:.2f}" if rank0 else "-",
                               "seconds": f"{dt:.2f}",
                               "measured": r.evidence[0].detail if r.evidence else ""}
                        rows.append(row)
                        print(f"{sample.name:14s} {leak:22s} {row['source']:8s} {r.verdict:12s} "
                              f"named={row['named']:8s} "
                              f"truth={row['truth']} fap={row['truth_fap']} best-other={row['best_other_score']} "
                              f"{dt:.1f}s", file=sys.stderr)
    write(output, rows, args)


def write(output: Results, rows: list[dict], args: argparse.Namespace) -> None:
    with output.path("roundtrip.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    output.record("roundtrip.csv")
    lines = [
        "# Round trip: issue → leak → trace",
        "",
        f"Copies issued per sample: {args.copies}. Each row: {args.trials} random (copy, page) leaks.",
        "",
        "| sample | leak | marked copy: identified right / trials | wrong copy named | max FAP of the truth "
        "| min truth score | max innocent score | unmarked original identified | median s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["sample"], r["leak"]) for r in rows}, key=lambda k: (k[0], list(LEAKS).index(k[1])))
    for sample, leak in keys:
        cp = [r for r in rows if r["sample"] == sample and r["leak"] == leak and r["source"] == "copy"]
        og = [r for r in rows if r["sample"] == sample and r["leak"] == leak and r["source"] == "original"]
        faps = [float(r["truth_fap"]) for r in cp if r["truth_fap"] != "-"]
        scores = [float(r["truth_score"]) for r in cp if r["truth_score"] != "-"]
        innocent = [float(r["best_other_score"]) for r in cp + og]
        secs = sorted(float(r["seconds"]) for r in cp + og)
        lines.append(f"| {sample} | {leak} | {sum(r['correct'] for r in cp)}/{len(cp)} | "
                     f"{sum(r['wrong'] for r in cp + og)} | {f'{max(faps):.3g}' if faps else '-'} | "
                     f"{min(scores) if scores else float('nan'):.2f} | {max(innocent):.2f} | "
                     f"{sum(r['verdict'] == 'identified' for r in og)}/{len(og)} | {secs[len(secs) // 2]:.2f} |")
    total_cp = [r for r in rows if r["source"] == "copy"]
    lines += ["", f"Overall: {sum(r['correct'] for r in total_cp)}/{len(total_cp)} leaks of marked copies "
              f"identified correctly; wrong identifications: {sum(r['wrong'] for r in rows)}; unmarked originals "
              f"identified: {sum(r['verdict'] == 'identified' for r in rows if r['source'] == 'original')}.", ""]
    output.write_markdown("roundtrip.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
