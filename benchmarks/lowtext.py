"""Low-text pages (a full-page photograph, a chart report page, a ruled form): each layer alone and fused,
under the leaks issue 4 names. Goal: the right copy named in >= 99 % of trials, no wrong copy ever named.

    python -m benchmarks lowtext [--copies 100] [--trials 20] [--quick] [--seed 1]
                                 [--pages photo,chart,form] [--attacks jpeg,screen-photo:2,...]
    python -m benchmarks lowtext --report-only      # rebuild lowtext.md from lowtext.csv
    python -m benchmarks lowtext --combine lowtext,lowtext-seed2   # independent runs pooled: lowtext-combined.md

One workspace; N copies of each sample page issued with the layers `leakmark issue` chooses for that
page (`--layers default`: shift, tone on picture pages, file) or the ones given (`--layers shift,blind,file`).
Per (page, attack) K trials: a random copy, the seeded attack,
ONE trace; each layer's own decision comes from that trace's per-layer score vectors
(`TraceResult.layer_scores`: one layer alone = its vector, 0 where a copy does not carry it, through
`decide.decide`), the fused one is the tracer's. The unmarked original goes through every attack too
(max(1, K/4) trials): nobody may be named. The control is the issued PDF itself (the file layer can only
speak there: a rendering or photo carries no file token).

Writes benchmarks/results/NAME.csv (one row per trace × layer), NAME.md and NAME-header.json (NAME: --name,
default lowtext), stamped in NAME.stamp.json.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import attacks as atk
from benchmarks.common import (
    RESULTS,
    Results,
    Stamp,
    argument_parser,
    arguments,
    log,
    read_csv,
    script_name,
    write_evidence,
)
from leakmark import IssueOptions, IssueResult, Recipient, TraceOptions, Workspace, issue, trace
from leakmark.issuing import LAYERS
from leakmark.rendering import render_page_array
from leakmark.samples import LOWTEXT_SAMPLES, write_lowtext_samples
from leakmark.trace.decide import decide, fuse

NAME = script_name(__file__)
PAGES = tuple(n.removesuffix(".pdf") for n in LOWTEXT_SAMPLES)
# every page layer the issuer has (blind is picked up once it is merged), and the file layer
ISSUE_LAYERS = tuple(x for x in LAYERS if x in ("shift", "tone", "blind", "file"))  # rows: each layer alone
CONTROL = "copy-pdf"  # the issued PDF itself, unattacked
# (attack name, strength): the leaks issue 4 names; phone-perspective at 0.05 is phone_photo's defaults
CASES: tuple[tuple[str, float], ...] = (
    (CONTROL, 0), ("jpeg", 30), ("rescale", 0.5), ("screen-dpi", 96), ("screen-photo", 1), ("screen-photo", 2),
    ("phone-perspective", 0.05))
THRESHOLD = 1e-6
FIELDS = ["trial", "page", "attack", "strength", "source", "layer", "copies", "truth", "verdict", "named",
          "correct", "wrong", "truth_score", "best_innocent", "seconds", "detail"]


def case_label(attack: str, strength: float) -> str:
    return attack if attack == CONTROL else f"{attack} {strength:g}"


def select_cases(spec: str) -> list[tuple[str, float]]:
    """`--attacks jpeg,screen-photo:2`: a name keeps all its strengths here, name:strength one of them."""
    if not spec:
        return list(CASES)
    chosen = []
    for item in spec.split(","):
        name, _, s = item.partition(":")
        found = [(a, x) for a, x in CASES if a == name and (not s or float(s) == x)]
        if not found:
            if name != CONTROL:
                atk.by_name(name)  # a KeyError names an attack that does not exist
            if not s:
                raise SystemExit(f"--attacks: {name} needs a strength here (name:strength)")
            found = [(name, float(s))]
        chosen += [c for c in found if c not in chosen]
    return chosen


def fused_scores(layer_scores: dict[str, np.ndarray]) -> np.ndarray:
    """The tracer's fusion (`decide.fuse`) from the per-layer vectors (NaN: the copy lacks the layer)."""
    if not layer_scores:
        return np.zeros(0)
    return fuse({name: (np.nan_to_num(v, nan=0.0), ~np.isnan(v)) for name, v in layer_scores.items()})[0]


def make_evidence(attack: str, strength: float, pdf: Path, seed: int, folder: Path) -> Path:
    if attack == CONTROL:
        return pdf
    return write_evidence(atk.by_name(attack).fn(render_page_array(pdf, 0, mode="bgr"), strength, seed), folder, "ev")


def trace_rows(ws: Workspace, evidence: Path, truth: int | None, n_copies: int) -> tuple[list[dict], float]:
    """One trace; a row for the fused decision and one per issued layer (truth None: the unmarked original)."""
    t0 = time.perf_counter()
    try:
        r = trace(ws, TraceOptions(evidence=(evidence,), max_suspects=n_copies, threshold=THRESHOLD))
    except Exception as exc:  # a crash is a finding: a miss for every layer
        dt = time.perf_counter() - t0
        return [{"layer": name, "verdict": "error", "named": "-", "correct": False, "wrong": False,
                 "truth_score": "-", "best_innocent": "-", "seconds": f"{dt:.2f}",
                 "detail": f"{type(exc).__name__}: {exc}"} for name in ("fused", *ISSUE_LAYERS)], dt
    dt = time.perf_counter() - t0
    numbers = np.array(r.candidate_numbers, dtype=np.int64)
    detail = "; ".join(e.detail for e in r.evidence)
    rows = []
    for name in ("fused", *ISSUE_LAYERS):
        if name == "fused":
            z = fused_scores(r.layer_scores)
            verdict = r.verdict
            named = [int(s.copy.copy_no) for s in r.suspects[:r.named]]
        elif name in r.layer_scores:
            z = r.layer_scores[name]
            d = decide(np.nan_to_num(z, nan=0.0), THRESHOLD,
                       weight=r.search.whole_weight if r.search is not None else 1.0)
            verdict, named = d.verdict, [int(numbers[i]) for i in d.named]
        else:  # the layer measured nothing on this evidence (e.g. the file layer on an image)
            z, verdict, named = np.zeros(0), "no-match", []
        truth_score, best_innocent = "-", "-"
        if z.size:
            innocent = z[numbers != truth] if truth is not None else z
            innocent = innocent[~np.isnan(innocent)]
            if truth is not None and not np.isnan(z[numbers == truth]).all():
                truth_score = f"{float(np.nanmax(z[numbers == truth])):.2f}"
            best_innocent = f"{float(innocent.max()):.2f}" if innocent.size else "-"
        rows.append({"layer": name, "verdict": verdict, "named": " ".join(f"{n:06d}" for n in named) or "-",
                     "correct": truth is not None and named == [truth],
                     "wrong": any(n != truth for n in named), "truth_score": truth_score,
                     "best_innocent": best_innocent, "seconds": f"{dt:.2f}", "detail": detail})
    return rows, dt


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", type=int, default=100, help="copies issued per page document (default 100)")
    ap.add_argument("--trials", type=int, default=20, help="random leaks per page and attack (K)")
    ap.add_argument("--quick", action="store_true", help="3 trials per page and attack")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, from {','.join(PAGES)}")
    ap.add_argument("--attacks", default="", help="comma-separated name or name:strength (default: "
                    + ", ".join(f"{a}:{s:g}" for a, s in CASES) + ")")
    ap.add_argument("--jobs", type=int, default=1, help="issue jobs")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--report-only", action="store_true", help="rebuild lowtext.md from lowtext.csv")
    ap.add_argument("--layers", default="default",
                    help="issue layers: `default` (what `leakmark issue` chooses per page) or e.g. shift,blind,file")
    ap.add_argument("--name", default="lowtext", help="result files NAME.md / NAME.csv / NAME-header.json")
    ap.add_argument("--combine", default="", help="comma-separated run names (independent seeds) to pool into "
                    "lowtext-combined.md: one run of 20 trials (360 leaks) cannot show a 95 %% lower bound >= 99 %%")
    args = ap.parse_args(argv)
    stamp = Stamp.take(NAME, argv)
    if args.combine:
        names = [n for n in args.combine.split(",") if n]
        write_combined(Results(args.results, stamp, "lowtext-combined", derived_from=[f"{n}.csv" for n in names]),
                       names)
        return
    if args.quick:
        args.trials = 3
    if args.report_only:
        write_report(Results(args.results, stamp, args.name, derived_from=[f"{args.name}.csv",
                                                                           f"{args.name}-header.json"]), args.name)
        return
    output = Results(args.results, stamp, args.name)
    out = output.folder
    chosen = None if args.layers == "default" else tuple(x for x in args.layers.split(",") if x)
    pages = [p for p in args.pages.split(",") if p]
    unknown = set(pages) - set(PAGES)
    if unknown:
        raise SystemExit(f"--pages: unknown {', '.join(sorted(unknown))} (choose from {', '.join(PAGES)})")
    cases = select_cases(args.attacks)
    header = {"command": stamp.command, "machine": stamp.machine_line, "copies": args.copies, "trials": args.trials,
              "null_trials": max(1, args.trials // 4), "layers": list(ISSUE_LAYERS),
              "issued_with": args.layers, "seed": args.seed,
              "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "stamp": stamp.as_dict()}
    csvlog = output.csv(f"{args.name}.csv", FIELDS)
    with tempfile.TemporaryDirectory(prefix="leakmark-lowtext-") as tmp_s:
        tmp = Path(tmp_s)
        ws = Workspace.open(tmp / "ws")
        sources = write_lowtext_samples(tmp / "samples", tuple(pages))
        issued: dict[str, IssueResult] = {}
        for src in sources:
            t0 = time.perf_counter()
            people = tuple(Recipient(f"recipient {i:05d}", "bench") for i in range(args.copies))
            issued[src.stem] = issue(ws, IssueOptions(source=src, recipients=people, layers=chosen,
                                                      output_dir=tmp / f"out-{src.stem}", jobs=args.jobs))
            log(f"issued {args.copies} copies of {src.name} in {time.perf_counter() - t0:.0f}s")
        output.write_json(f"{args.name}-header.json", header)
        originals = {s.stem: s for s in sources}
        rng = np.random.default_rng(args.seed)
        folder = tmp / "ev"
        folder.mkdir()
        times: list[float] = []
        for trial in range(args.trials):
            for page in pages:
                res = issued[page]
                for attack, strength in cases:
                    jobs = [("copy", int(rng.integers(len(res.copies))))]
                    if trial < header["null_trials"]:
                        jobs.append(("original", -1))
                    for source, pick in jobs:
                        seed = int(rng.integers(1 << 30))
                        pdf = Path(res.copies[pick].path) if source == "copy" else originals[page]
                        truth = int(res.copies[pick].copy_no) if source == "copy" else None
                        ev = make_evidence(attack, strength, pdf, seed, folder)
                        rows, dt = trace_rows(ws, ev, truth, len(res.copies))
                        times.append(dt)
                        if ev != pdf:
                            ev.unlink()
                        base = {"trial": trial + 1, "page": page, "attack": attack, "strength": strength,
                                "source": source, "copies": len(res.copies),
                                "truth": f"{truth:06d}" if truth is not None else "-"}
                        for row in rows:
                            csvlog.add({**base, **row})
                        f = rows[0]
                        log(f"t{trial + 1} {page:5s} {case_label(attack, strength):22s} {source:8s} "
                            f"{f['verdict']:12s} named={f['named'][:14]:14s} truth={base['truth']} "
                            + " ".join(f"{r['layer']}={r['truth_score'] if source == 'copy' else r['best_innocent']}"
                                       for r in rows) + f" {dt:.1f}s")
            write_report(output, args.name)
    log(f"done: {out / f'{args.name}.md'}; median trace {np.median(times):.1f}s")


# ---------------------------------------------------------------------------------------------- report

def wilson_lower(k: int, n: int, z: float = 1.96) -> float:
    """95 % Wilson score lower bound of a rate k/n."""
    if n == 0:
        return 0.0
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))  # 0/n: not a rounding "-0.0"


def _floats(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r[key] not in ("-", "")]


def _truthy(v: str) -> bool:
    return v == "True"


def write_combined(output: Results, names: list[str]) -> None:
    """The fused verdicts of several independent runs (own seed, own workspace and key) pooled."""
    out = output.folder
    rows = [r for n in names for r in read_csv(out / f"{n}.csv") if r["layer"] == "fused"]
    leaks = [r for r in rows if r["source"] == "copy" and r["attack"] != CONTROL]
    right = sum(_truthy(r["correct"]) for r in leaks)
    wrong = sum(_truthy(r["wrong"]) for r in rows)
    nulls = [r for r in rows if r["source"] == "original"]
    named_null = sum(r["named"] != "-" for r in nulls)
    lines = [f"# Low-text pages, runs pooled: {', '.join(names)}", "",
             "Each run: its own seed, workspace and key; see each run's .md for its command and machine.", "",
             "| page | attack | right/n | wrong |", "|---|---|---|---|"]
    by: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in leaks:
        by[(r["page"], case_label(r["attack"], float(r["strength"])))].append(r)
    for (page, case), rs in sorted(by.items()):
        lines.append(f"| {page} | {case} | {sum(_truthy(r['correct']) for r in rs)}/{len(rs)} | "
                     f"{sum(_truthy(r['wrong']) for r in rs)} |")
    lb = wilson_lower(right, len(leaks))
    lines += ["", f"**Fused: {right}/{len(leaks)} right = {100 * right / max(1, len(leaks)):.2f} % (95 % Wilson lower "
              f"bound {100 * lb:.2f} %), {wrong} wrong; unmarked originals named someone {named_null}/{len(nulls)} "
              f"times.** Goal (right >= 99 % with the lower bound, no wrong, no original named): "
              + ("met." if lb >= 0.99 and not wrong and not named_null else "not met."), "",
              "Misses: " + ("; ".join(f"{r['page']} {case_label(r['attack'], float(r['strength']))}: {r['verdict']}, "
                                      f"truth z {r['truth_score']} ({r['detail']})"
                                      for r in leaks if not _truthy(r["correct"])) or "none"), ""]
    output.write_markdown("lowtext-combined.md", lines)
    print("\n".join(lines))


def write_report(output: Results, name: str = "lowtext") -> None:
    out = output.folder
    rows = read_csv(out / f"{name}.csv")
    hp = out / f"{name}-header.json"
    header = json.loads(hp.read_text(encoding="utf-8")) if hp.exists() else {}
    layers = ["fused", *[x for x in header.get("layers", ISSUE_LAYERS)]]
    by: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by[(r["page"], r["source"], case_label(r["attack"], float(r["strength"])), r["layer"])].append(r)
    pages = list(dict.fromkeys(r["page"] for r in rows))
    cases = list(dict.fromkeys(case_label(r["attack"], float(r["strength"])) for r in rows))
    traces = {(r["trial"], r["page"], r["attack"], r["strength"], r["source"]): float(r["seconds"]) for r in rows}
    secs = np.array(list(traces.values())) if traces else np.zeros(1)
    lines = ["# Low-text pages: each layer alone and fused", "",
             "Pages with little or no text (a full-page colour photograph, a chart report page, a ruled form with "
             "a seal), generated by `leakmark.samples.write_lowtext_samples`. Goal (issue 4): the right copy "
             "named in ≥ 99 % of trials under JPEG q30, rescale 50 %, a 96-dpi screenshot, a photo of a screen "
             "and a phone photo of paper, and no wrong copy ever named.", "",
             *([] if header.get("command") == output.stamp.command else  # a rebuild: where the rows came from
               [f"- measured by: `{header.get('command', '?')}`" + (
                   f" at commit `{header['stamp']['commit'][:7]}`" if (header.get("stamp") or {}).get("commit")
                   else " (commit not recorded)"), f"- machine: {header.get('machine', '?')}"]),
             f"- started: {header.get('started', '?')}",
             f"- {header.get('copies', '?')} copies per page issued with layers "
             f"{header.get('issued_with', ', '.join(header.get('layers', [])))}; "
             f"{header.get('trials', '?')} trials per page and attack (a random copy), "
             f"{header.get('null_trials', '?')} of the unmarked original; FAP threshold {THRESHOLD:g}",
             f"- one trace per trial ({len(traces)} traces): median {np.median(secs):.1f} s, mean "
             f"{np.mean(secs):.1f} s, max {np.max(secs):.1f} s per trace; every layer's own decision comes from the "
             "same trace's per-layer score vector",
             "- `copy-pdf` is the issued PDF itself (the control, and the only evidence the file layer can speak "
             "on); `screen-photo 1/2` a phone photo of a monitor (2: angled, farther); `phone-perspective 0.05` "
             "is `phone_photo` with its default settings (phone photo of the paper page)", "",
             "Cells: right/n (exactly the source named), wrong (any other copy named); z̃ the median score of the "
             "source copy; inn the largest innocent copy's score over all trials.", ""]
    for page in pages:
        lines += [f"## {page}", ""]
        head = ["attack"] + [f"{x} right/n, wrong" for x in layers] + [f"{x} z̃ / inn" for x in layers]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for case in cases:
            cells, zs = [case], []
            for x in layers:
                rs = by.get((page, "copy", case, x), [])
                if not rs:
                    cells.append("-")
                    zs.append("-")
                    continue
                right = sum(_truthy(r["correct"]) for r in rs)
                wrong = sum(_truthy(r["wrong"]) for r in rs)
                cells.append(f"{right}/{len(rs)}, {wrong}" + (" ⚠" if wrong else ""))
                tz, inn = _floats(rs, "truth_score"), _floats(rs, "best_innocent")
                zs.append(f"{np.median(tz):.1f} / {max(inn):.1f}" if tz and inn else
                          (f"{np.median(tz):.1f} / -" if tz else "-"))
            lines.append("| " + " | ".join(cells + zs) + " |")
        lines += ["", f"Unmarked original of {page} (nobody may be named): named nobody k/n, largest score", ""]
        head = ["attack", *layers]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for case in cases:
            cells = [case]
            for x in layers:
                rs = by.get((page, "original", case, x), [])
                if not rs:
                    cells.append("-")
                    continue
                nobody = sum(r["named"] == "-" for r in rs)
                inn = _floats(rs, "best_innocent")
                cells.append(f"{nobody}/{len(rs)}" + (f", {max(inn):.1f}" if inn else ", -")
                             + (" ⚠" if nobody < len(rs) else ""))
            lines.append("| " + " | ".join(cells) + " |")
        details = [r for r in rows if r["page"] == page and r["layer"] == "fused" and r["source"] == "copy"
                   and not _truthy(r["correct"])]
        if details:
            lines += ["", "Misses (fused): " + "; ".join(
                f"{case_label(r['attack'], float(r['strength']))} t{r['trial']}: {r['verdict']}, truth z "
                f"{r['truth_score']} ({r['detail']})" for r in details[:12])
                + (f"; … {len(details) - 12} more" if len(details) > 12 else "")]
        lines.append("")
    lines += ["## Summary", "",
              "Over all pages and the attacks (the `copy-pdf` control left out): right rate with its 95 % Wilson "
              "lower bound, wrong identifications, and how often the unmarked original named anyone (all cases).",
              ""]
    for x in layers:
        rs = [r for r in rows if r["layer"] == x and r["source"] == "copy" and r["attack"] != CONTROL]
        nulls = [r for r in rows if r["layer"] == x and r["source"] == "original"]
        control = [r for r in rows if r["layer"] == x and r["source"] == "copy" and r["attack"] == CONTROL]
        n = len(rs)
        right = sum(_truthy(r["correct"]) for r in rs)
        wrong = sum(_truthy(r["wrong"]) for r in rs)
        named_null = sum(r["named"] != "-" for r in nulls)
        rate = right / n if n else 0.0
        met = "meets" if n and wilson_lower(right, n) >= 0.99 and not wrong and not named_null else "does not meet"
        per_page = ", ".join(f"{p} {sum(_truthy(r['correct']) for r in rs if r['page'] == p)}/"
                             f"{sum(r['page'] == p for r in rs)}" for p in pages)
        note = " (an image carries no file token: this layer speaks only on the PDF itself)" if x == "file" else ""
        lines.append(f"- **{x}**: {right}/{n} right = {100 * rate:.1f} % (95 % lower bound "
                     f"{100 * wilson_lower(right, n):.1f} %; {per_page}), {wrong} wrong; unmarked original named "
                     f"someone {named_null}/{len(nulls)} times; control {CONTROL} "
                     f"{sum(_truthy(r['correct']) for r in control)}/{len(control)}; {met} the goal (lower bound "
                     f"≥ 99 %, no wrong){note}")
    lines.append("")
    output.write_markdown(f"{name}.md", lines)


if __name__ == "__main__":
    main()
