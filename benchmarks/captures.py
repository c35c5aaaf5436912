"""Several captures of one leak: do they, traced together, name a copy that one capture alone does not?

    python -m benchmarks captures [--copies 1000] [--leaks 3] [--captures 3] [--seed 1] [--results DIR]

Both samples issued to N copies (default 1,000) in a fresh workspace. Per document and case (an attack that
shows part of a page or little of its marks: a photo of a screen, a 200 % screenshot, a 20 % corner crop),
`--leaks` random copies and pages; of each, `--captures` captures: the attack with other seeds (another scroll
position or corner, other noise). Traced: each capture alone, the first k together (k = 2..K: evidence pages
that show one registered page are summed before scoring, `leakmark.trace.colluders`), and the first capture
given twice, which must score exactly as given once (the same marks never count twice). Counted per case and
k: the right copy named, a wrong copy named, the source's median score. Writes captures.md and captures.csv.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import attacks as atk
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, read_csv, script_name
from benchmarks.robustness import attack_evidence
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, trace
from leakmark.samples import write_samples

NAME = script_name(__file__)
CASES = (("screen-photo", 1), ("screen-photo", 2), ("screen-zoom", 2.0), ("crop-corner", 0.2))
FIELDS = ["document", "attack", "strength", "leak", "copy", "page", "traced", "verdict", "correct", "wrong",
          "truth_score", "truth_fap", "best_innocent", "seconds", "detail"]


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", type=int, default=1000, help="copies issued per document (default 1,000)")
    ap.add_argument("--leaks", type=int, default=3, help="random leaks per document and case")
    ap.add_argument("--captures", type=int, default=3, help="captures of each leak (at least 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.captures < 2:
        ap.error("--captures must be at least 2")
    output = Results(args.results, Stamp.take(NAME, argv), NAME)
    rows = output.csv("captures.csv", FIELDS)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="leakmark-captures-") as tmp_s:
        tmp = Path(tmp_s)
        ws = Workspace.open(tmp / "ws")
        for k in range(args.captures):
            (tmp / f"c{k}").mkdir()
        for src in write_samples(tmp / "samples"):
            t0 = time.perf_counter()
            res = issue(ws, IssueOptions(source=src, recipients=tuple(Recipient(f"r{i}") for i in range(args.copies)),
                                         output_dir=tmp / f"out-{src.stem}"))
            log(f"issued {args.copies} copies of {src.name} in {time.perf_counter() - t0:.0f}s")
            doc = res.document
            for name, strength in CASES:
                attack = atk.by_name(name)
                for leak in range(args.leaks):
                    copy = res.copies[int(rng.integers(len(res.copies)))]
                    page = int(rng.integers(doc.pages))
                    seeds = [int(s) for s in rng.integers(1 << 30, size=args.captures)]
                    shots = [attack_evidence(attack, strength, [Path(copy.path)], doc.pages, page, s,
                                             tmp / f"c{k}")[0] for k, s in enumerate(seeds)]
                    twice = shots[0].with_name("again" + shots[0].suffix)
                    twice.write_bytes(shots[0].read_bytes())
                    runs = [(f"capture {k + 1}", (shot,)) for k, shot in enumerate(shots)]
                    runs += [(f"{k} together", tuple(shots[:k])) for k in range(2, args.captures + 1)]
                    runs.append(("capture 1 twice", (shots[0], twice)))
                    for traced, evidence in runs:
                        t = time.perf_counter()
                        r = trace(ws, TraceOptions(evidence=evidence, max_suspects=args.copies))
                        named = [s.copy.label for s in r.suspects[: r.named]]
                        truth = next((s for s in r.suspects if s.copy.label == copy.copy_no), None)
                        innocent = max((s.score for s in r.suspects if s.copy.label != copy.copy_no), default=None)
                        rows.add({"document": doc.title or doc.id, "attack": name, "strength": strength,
                                  "leak": leak + 1, "copy": copy.copy_no, "page": page + 1, "traced": traced,
                                  "verdict": r.verdict, "correct": named == [copy.copy_no],
                                  "wrong": any(n != copy.copy_no for n in named),
                                  "truth_score": f"{truth.score:.3f}" if truth is not None else "-",
                                  "truth_fap": f"{truth.fap:.3g}" if truth is not None else "-",
                                  "best_innocent": f"{innocent:.2f}" if innocent is not None else "-",
                                  "seconds": f"{time.perf_counter() - t:.2f}",
                                  "detail": "; ".join(e.detail for e in r.evidence)})
                        log(f"{src.stem} {name} {strength} leak {leak + 1} p{page + 1} {traced:16s} {r.verdict:12s} "
                            f"truth={truth.score if truth is not None else float('nan'):.2f}")
                    for shot in [*shots, twice]:
                        shot.unlink()
    output.write_markdown("captures.md", report(read_csv(rows.path), args.copies, args.captures))
    log(f"done: {output.path('captures.md')}")


def report(rows: list[dict], copies: int, captures: int) -> list[str]:
    """Per document and case: how often one capture, the best of K alone, and k captures together named the
    source; wrong names; and whether the first capture given twice scored as once."""
    wrong = sum(str(r["wrong"]) == "True" for r in rows)
    lines = ["# Several captures of one leak", "",
             f"{copies:,} copies issued of each sample; per case, leaks of a random copy and page, {captures} captures "
             "of each (the attack with other seeds), traced alone and together. *named*: the right copy named, no "
             f"other. **{wrong} of {len(rows)} traces named a copy that was not the source.**", "",
             "| document | attack | strength | leaks | one capture named | best of the captures alone | "
             + " | ".join(f"{k} together named" for k in range(2, captures + 1))
             + " | median source score: one / all together | given twice: largest score change |",
             "|---|---|---:|---:|---:|---:|" + "---:|" * (captures - 1) + "---|---:|"]
    ok = (lambda r: str(r["correct"]) == "True")  # noqa: E731
    score = (lambda r: float(r["truth_score"]) if r["truth_score"] != "-" else float("nan"))  # noqa: E731
    for doc in dict.fromkeys(r["document"] for r in rows):
        for name, strength in CASES:
            case = [r for r in rows if r["document"] == doc and r["attack"] == name
                    and float(r["strength"]) == float(strength)]
            leaks = sorted({int(r["leak"]) for r in case})
            if not leaks:
                continue
            single = [r for r in case if r["traced"].startswith("capture ") and not r["traced"].endswith("twice")]
            best = sum(any(ok(r) for r in single if int(r["leak"]) == lk) for lk in leaks)
            together = [sum(ok(r) for r in case if r["traced"] == f"{k} together") for k in range(2, captures + 1)]
            once = {int(r["leak"]): score(r) for r in case if r["traced"] == "capture 1"}
            twice = [abs(score(r) - once[int(r["leak"])]) for r in case if r["traced"] == "capture 1 twice"]
            all_k = [score(r) for r in case if r["traced"] == f"{captures} together"]
            lines.append(f"| {doc} | {name} | {strength:g} | {len(leaks)} | {sum(map(ok, single))}/{len(single)} | "
                         f"{best}/{len(leaks)} | " + " | ".join(f"{n}/{len(leaks)}" for n in together)
                         + f" | {np.nanmedian([score(r) for r in single]):.2f} / {np.nanmedian(all_k):.2f} | "
                         f"{np.nanmax(twice) if twice else float('nan'):.2g} |")
    return [*lines, "", "Per trace: `captures.csv`.", ""]


if __name__ == "__main__":
    main()
