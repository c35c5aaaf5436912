"""Bent pages: phone photos with strong lens distortion and curled paper, traced with and without the bend.

    python -m benchmarks geometry [--copies 1000] [--trials 6] [--cases ATTACK:STRENGTH,...] [--name geometry]

Both sample documents are issued to N recipients in a temporary workspace; for each phone attack below and
each trial, a random copy and page is photographed (benchmarks.attacks, as the robustness benchmark does) and
traced twice: as shipped, where the alignment may bend the page (`leakmark.trace.align._bend`: a cubic field
beyond the homography, kept when it is large enough to matter and raises the correlation), and with the bend
turned off (the page-wide homography alone, as before). Per case: exactly the source named, a wrong copy
named, the source's score (median, lowest), the highest innocent score on the whole evidence, and how often
the bend was taken. Writes benchmarks/results/geometry.md (--name: another file, e.g. for --cases other than
the phone's, to check that the bend costs the other families nothing).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import attacks as atk
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from benchmarks.robustness import attack_evidence
from leakmark import IssueOptions, IssueResult, Recipient, TraceOptions, Workspace, issue, trace
from leakmark.samples import write_samples
from leakmark.trace import align

NAME = script_name(__file__)
CASES = [("phone-lens", 0.15), ("phone-curl", 0.02), ("phone-lens", 0.05), ("phone-curl", 0.01),
         ("phone-perspective", 0.05)]


def _traced(ws: Workspace, res: IssueResult, evidence: list[Path], truth: str, bend: bool) -> dict[str, object]:
    taken = []
    real = align._bend

    def counted(*a: object, **k: object) -> object:
        field = real(*a, **k)  # type: ignore[arg-type]
        taken.append(field is not None)
        return field
    gain = align.BEND_GAIN
    align._bend = counted  # type: ignore[assignment]
    align.BEND_GAIN = gain if bend else float("inf")
    try:
        r = trace(ws, TraceOptions(evidence=tuple(evidence), max_suspects=len(res.copies)))
    finally:
        align._bend, align.BEND_GAIN = real, gain
    named = [s.copy.label for s in r.suspects[:r.named]]
    whole = r.whole_evidence_scores()
    innocent = [whole[s.copy.copy_no] for s in r.suspects if s.copy.label != truth and s.copy.copy_no in whole]
    return {"right": named == [truth], "wrong": any(n != truth for n in named),
            "score": next((s.score for s in r.suspects if s.copy.label == truth), 0.0),
            "innocent": max(innocent, default=0.0), "bent": any(taken)}


def _row(got: dict[bool, list[dict[str, object]]]) -> str:
    """A case's columns from its traces with (True) and without (False) the bend."""
    def col(bend: bool, key: str) -> list[float]:
        return [float(g[key]) for g in got[bend]]  # type: ignore[arg-type]

    def score(bend: bool) -> str:
        return f"{statistics.median(col(bend, 'score')):.2f} ({min(col(bend, 'score')):.2f})"
    return (f"{int(sum(col(True, 'right')))} / {int(sum(col(False, 'right')))} of {len(got[True])} | "
            f"{int(sum(col(True, 'wrong')))} / {int(sum(col(False, 'wrong')))} | {score(True)} | {score(False)} | "
            f"{max(col(True, 'innocent')):.2f} / {max(col(False, 'innocent')):.2f} | {int(sum(col(True, 'bent')))}")


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", type=int, default=1000)
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", default="", help="attack:strength pairs, comma-separated (default: the phone's)")
    ap.add_argument("--name", default="geometry", help="results file name, without .md")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    cases = [(c.split(":")[0], float(c.split(":")[1])) for c in args.cases.split(",") if c] or CASES
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    rng = np.random.default_rng(args.seed)  # which copy, page and attack seed: evidence only, never marks
    rows = []
    with tempfile.TemporaryDirectory(prefix="leakmark-geometry-") as tmp_s:
        tmp = Path(tmp_s)
        ws = Workspace.open(tmp / "ws")
        for src in write_samples(tmp / "samples"):
            log(f"issuing {src.name} to {args.copies}")
            res = issue(ws, IssueOptions(source=src, recipients=tuple(Recipient(f"reader {i}")
                                                                      for i in range(args.copies)),
                                         output_dir=tmp / f"out-{src.stem}"))
            for name, strength in cases:
                got: dict[bool, list[dict[str, object]]] = {True: [], False: []}
                for _ in range(args.trials):
                    i = int(rng.integers(len(res.copies)))
                    page = int(rng.integers(res.document.pages))
                    evidence = attack_evidence(atk.by_name(name), strength, [Path(res.copies[i].path)],
                                               res.document.pages, page, int(rng.integers(1 << 30)), tmp)
                    for bend in (True, False):
                        got[bend].append(_traced(ws, res, evidence, res.copies[i].copy_no, bend))
                    for f in evidence:
                        f.unlink()
                    log(f"{src.stem} {name} {strength} page {page + 1}: score {got[True][-1]['score']:.2f} bent "
                        f"({'taken' if got[True][-1]['bent'] else 'not taken'}), {got[False][-1]['score']:.2f} "
                        "homography only")
                rows.append((src.stem, name, strength, got))
    after = os.getloadavg()
    title = "lens distortion and curl" if not args.cases else "other attacks"
    lines = [f"# Bent pages: {title}, with and without the bend", "",
             f"Machine load (1/5/15-minute averages): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores.", "",
             f"Both sample documents issued to {args.copies:,} recipients; per case {args.trials} leaks (a random "
             "copy and page each), each traced with the bend (as shipped) and with the page-wide homography alone."
             " *right*: exactly the source named; *wrong*: a copy that is not the source named; *score*: the "
             "source's, median (lowest); *innocent*: the highest innocent score on the whole evidence; *bent*: "
             f"leaks where the bend was taken (it needs strain >= {align.BEND_STRAIN} and a correlation gain >= "
             f"{align.BEND_GAIN}).", "",
             "| document | attack | strength | right: bend / homography | wrong | score: bend | score: homography "
             "| innocent: bend / homography | bent |",
             "|---|---|---:|---|---|---|---|---|---:|"]
    for doc, name, strength, got in rows:
        lines.append(f"| {doc} | {name} | {strength} | {_row(got)} |")
    lines.append("")
    out = Results(args.results, stamp, args.name).write_markdown(f"{args.name}.md", lines)
    log(f"written {out}")


if __name__ == "__main__":
    main()
