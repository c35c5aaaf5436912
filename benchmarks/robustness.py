"""Robustness scoreboard: every attack × strength × K random copies, traced; blind-watermark beside it;
null calibration of the innocent copies' scores.

    python -m benchmarks robustness [PDF ...] [--copies 200] [--trials 3] [--quick] [--seed 1] [--key-seed TEXT]
                                    [--raster] [--render mupdf|gs]
    python -m benchmarks robustness --report-only     # rebuild the tables and plots from the CSVs

Phases, in this order so that an interrupted run still leaves balanced tables (every phase appends to its
CSV as it goes; the report is rewritten after each phase):
1. issue N copies of each sample document (and of each PDF given) into a fresh workspace;
2. null calibration (`null_calibration.py`): unmarked originals, an unregistered document and photos that
   show no registered page, traced against a second workspace with many (synthesised) copies;
3. trial 1 of every (document, attack, strength): a random copy and page (collusion: random distinct
   copies), the attack, `trace`; correct = exactly the source copies named, wrong = anyone else named;
4. the blind-watermark baseline (`bwm_baseline.py`) on the same rendered pages and the same attacks;
5. trials 2..K.
Copies are made as `issue` makes them (vector pages where the PDF allows), or as page images with
`--raster`. Every attack starts from the copy's pages rendered at 300 dpi: by MuPDF, or with `--render gs` by
Ghostscript at 600 dpi (as a printer driver rasterises a PDF) and reduced to 300 dpi.
Every trace's innocent-copy scores (all copies but the source) also go to the null calibration.
Writes benchmarks/results/robustness.md, robustness.csv, robustness-bwm.csv, robustness-*.png and the
null-calibration files, all stamped in robustness.stamp.json (`benchmarks.common`).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    RESULTS,
    Results,
    Stamp,
    argument_parser,
    arguments,
    import_blind_watermark,
    log,
    script_name,
    write_evidence,
)

import_blind_watermark()  # silenced, and without its set_start_method('fork')

import numpy as np  # noqa: E402

from benchmarks import attacks as atk  # noqa: E402
from leakmark import IssueOptions, IssueResult, Recipient, TraceOptions, Workspace, issue, trace  # noqa: E402
from leakmark.rendering import render_page_array  # noqa: E402
from leakmark.samples import write_samples  # noqa: E402

NAME = script_name(__file__)
FIELDS = ["trial", "document", "attack", "family", "strength", "copies", "page", "truth", "verdict", "named",
          "correct", "wrong", "truth_fap", "truth_score", "best_innocent", "innocent_fap", "colluder_units", "seconds",
          "detail"]


def gs_page(path: Path, page: int) -> np.ndarray:
    """Page `page` (0-based) as Ghostscript rasterises it at 600 dpi for a printer, reduced to 300 dpi (BGR)."""
    import subprocess

    import cv2

    png = subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=png16m", "-r600",
                          "-dTextAlphaBits=4", "-dGraphicsAlphaBits=4", f"-dFirstPage={page + 1}",
                          f"-dLastPage={page + 1}", "-sOutputFile=-", str(path)],
                         check=True, capture_output=True).stdout
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


RENDER = {"mupdf": lambda path, page: render_page_array(path, page, mode="bgr"), "gs": gs_page}


def attack_evidence(attack: atk.Attack, strength: float, sources: list[Path], pages: int, page: int, seed: int,
                    folder: Path, render=RENDER["mupdf"]) -> list[Path]:
    """Apply one attack to the given copies' page(s), rendered at 300 dpi as BGR (what printing, scanning
    and photographing start from); returns the evidence files."""
    if attack.inputs == "image":
        return [write_evidence(attack.fn(render(sources[0], page), strength, seed), folder, "ev")]
    if attack.inputs == "copies":
        return [write_evidence(attack.fn([render(s, page) for s in sources], strength, seed), folder, "ev")]
    by_copy = [[render(s, p) for p in range(pages)] for s in sources]
    return [write_evidence(img, folder, f"ev-{i}") for i, img in enumerate(attack.fn(by_copy, strength, seed))]


def run_case(ws: Workspace, res: IssueResult, attack: atk.Attack, strength: float, rng: np.random.Generator,
             folder: Path, render=RENDER["mupdf"]) -> tuple[dict, np.ndarray]:
    """One leak: random copy (or colluders) and page, attack, trace. Returns the row and the innocent scores."""
    pages = res.document.pages
    n = int(strength) if attack.family == "collusion" else 1
    picks = [int(i) for i in rng.choice(len(res.copies), size=n, replace=False)]
    page = int(rng.integers(pages))
    seed = int(rng.integers(1 << 30))
    used = picks[:atk.colluders_used(attack.name, n, pages)] if attack.family == "collusion" else picks
    sources = [Path(res.copies[i].path) for i in picks]
    evidence = attack_evidence(attack, strength, sources, pages, page, seed, folder, render)
    t0 = time.perf_counter()
    truth = {res.copies[i].copy_no for i in used}
    try:
        r = trace(ws, TraceOptions(evidence=tuple(evidence), max_suspects=len(res.copies)))
    except Exception as exc:  # a tracer crash is a finding: count it as a miss, keep going
        for f in evidence:
            f.unlink()
        return ({"document": res.document.title or res.document.id, "attack": attack.name,
                 "family": attack.family, "strength": strength, "copies": len(res.copies), "page": page + 1,
                 "truth": " ".join(sorted(truth)), "verdict": "error", "named": "-", "correct": False,
                 "wrong": False, "truth_fap": "-", "truth_score": "-", "best_innocent": "-", "innocent_fap": "-",
                 "colluder_units": "-",
                 "seconds": f"{time.perf_counter() - t0:.2f}", "detail": f"{type(exc).__name__}: {exc}"},
                np.zeros(0, np.float32))
    dt = time.perf_counter() - t0
    named = [s.copy.label for s in r.suspects[: r.named]]
    truth_s = [s for s in r.suspects if s.copy.label in truth]
    # the null sample: innocents' whole-evidence scores (a suspect's `score` is its best over the evidence's parts)
    whole = r.whole_evidence_scores()
    innocent = np.array([whole[s.copy.copy_no] for s in r.suspects if s.copy.label not in truth and
                         s.copy.copy_no in whole], np.float32)
    if innocent.size and not np.any(innocent):
        innocent = innocent[:0]  # nothing measured (all scores exactly 0): not a sample of the null
    row = {"document": res.document.title or res.document.id, "attack": attack.name, "family": attack.family,
           "strength": strength, "copies": len(res.copies), "page": "all" if attack.inputs == "pages" else page + 1,
           "truth": " ".join(sorted(truth)), "verdict": r.verdict, "named": " ".join(named) or "-",
           "correct": bool(named) and set(named) == truth, "wrong": any(x not in truth for x in named),
           # collusion: the worst (largest) FAP among the colluders
           "truth_fap": f"{max(s.fap for s in truth_s):.3g}" if len(truth_s) == len(truth) else "-",
           "truth_score": f"{min(s.score for s in truth_s):.2f}" if len(truth_s) == len(truth) else "-",
           "best_innocent": f"{innocent.max():.2f}" if innocent.size else "-",
           # the smallest false-accusation bound of any innocent copy, over every part and round searched
           "innocent_fap": f"{min(s.fap for s in r.suspects if s.copy.label not in truth):.3g}"
           if len(r.suspects) > len(truth_s) else "-",
           "colluder_units": _band_units(ws, res, page, [res.copies[i].copy_no for i in used])
           if attack.name == "collude-cutpaste" else "-",
           "seconds": f"{dt:.2f}",
           "detail": "; ".join(e.detail for e in r.evidence)}
    for f in evidence:
        f.unlink()
    return row, innocent


def _band_units(ws: Workspace, res: IssueResult, page: int, labels: list[str]) -> str:
    """A page cut into bands, band i from colluder i (`attacks.collude_cutpaste`): how many of the page's marked
    units (words, lines, rules, seals) lie in each colluder's band, as "000456:37 000623:0". A colluder whose
    band holds none left no mark in the evidence."""
    from leakmark import vault
    from leakmark.trace import colluders

    units = vault.load_units(ws, res.document.sha256, page)
    shape = vault.load_page(ws, res.document.sha256, page).shape
    y = colluders.positions("shift", units, shape, res.document.dpi, units.n_codes)[:, 0]
    y = np.concatenate([y[:units.n_words + units.n_lines + units.n_rules],
                        y[units.n_words + units.n_lines + units.n_rules::2]])  # a seal once, not per axis
    n = len(labels)
    cuts = [i / n for i in range(n + 1)]
    return " ".join(f"{label}:{int(((y >= cuts[i]) & (y < cuts[i + 1])).sum())}" for i, label in enumerate(labels))


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("pdfs", nargs="*", type=Path, help="more PDFs to issue and attack besides the samples")
    ap.add_argument("--copies", type=int, default=200, help="copies issued per document (default 200)")
    ap.add_argument("--trials", type=int, default=3, help="random leaks per document, attack and strength (K)")
    ap.add_argument("--quick", action="store_true", help="the quick cases only, 1 trial, 50 copies: < 5 minutes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--key-seed", help="issue under the key SHA-256(KEY_SEED), not a new random key: two commits' runs "
                    "then mark the same copies alike and compare trace by trace (a case on the threshold otherwise "
                    "flips between runs with the key)")
    ap.add_argument("--attacks", default="", help="comma-separated attack names (default: all)")
    ap.add_argument("--no-baseline", action="store_true", help="skip blind-watermark")
    ap.add_argument("--no-null", action="store_true", help="skip the null calibration phase")
    ap.add_argument("--null-candidates", type=int, default=20000,
                    help="copies per document in the null-calibration workspace (synthesised ledger rows)")
    ap.add_argument("--baseline-strengths", choices=("one", "all"), default="one",
                    help="blind-watermark on every strength, or on one per attack (the quick one, else the "
                         "middle one); its extraction takes ~5 s per 300-dpi page")
    ap.add_argument("--jobs", type=int, default=1, help="issue jobs")
    ap.add_argument("--raster", action="store_true", help="page-image copies (default: as issue makes them)")
    ap.add_argument("--render", choices=sorted(RENDER), default="mupdf",
                    help="who rasterises the copies before the attacks (gs: Ghostscript at 600 dpi, as a printer)")
    ap.add_argument("--samples", default=None,
                    help="comma-separated sample files to include (default: all; '' for none), e.g. to leave out "
                         "notice-zh.pdf, whose copies are raster in every mode (its fonts are not embedded)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    if args.quick and not any(a == "--copies" or a.startswith("--copies=") for a in argv):
        args.copies = 50
    if args.quick:
        args.trials = 1
        args.null_candidates = min(args.null_candidates, 2000)
    from benchmarks import bwm_baseline, null_calibration, report

    if args.report_only:
        report.main(["--results", str(args.results)])
        return
    stamp = Stamp.take(NAME, argv)
    output = Results(args.results, stamp, "robustness")
    out = output.folder
    header = {"command": stamp.command, "machine": stamp.machine_line, "copies": args.copies,
              "trials": args.trials, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "stamp": stamp.as_dict()}
    report.save_header(output, header)
    cases = atk.cases(quick=args.quick)
    if args.attacks:
        wanted = set(args.attacks.split(","))
        cases = [(a, s) for a, s in cases if a.name in wanted]
    ours = output.csv("robustness.csv", FIELDS)
    innocent_scores: list[np.ndarray] = []
    with tempfile.TemporaryDirectory(prefix="leakmark-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if args.key_seed is not None:  # the copies' marks the same on every run: runs compare case by case
            (tmp / "ws").mkdir()
            key = tmp / "ws" / "key"
            key.write_bytes(hashlib.sha256(args.key_seed.encode()).digest())
            key.chmod(0o600)
        ws = Workspace.open(tmp / "ws")
        samples = write_samples(tmp / "samples")
        if args.samples is not None:
            chosen = set(filter(None, args.samples.split(",")))
            samples = [p for p in samples if p.name in chosen]
        docs = [*samples, *args.pdfs]
        issued: list[IssueResult] = []
        for src in docs:
            t0 = time.perf_counter()
            people = tuple(Recipient(f"recipient {i:05d}", "bench") for i in range(args.copies))
            issued.append(issue(ws, IssueOptions(source=src, recipients=people, output_dir=tmp / f"out-{src.stem}",
                                                 jobs=args.jobs, vector=not args.raster)))
            header.setdefault("formats", []).append(f"{src.name}: {issued[-1].stats['vector_pages']} of "
                                                    f"{issued[-1].document.pages} pages vector")
            log(f"issued {args.copies} copies of {src.name} ({issued[-1].document.pages} pages) in "
                f"{time.perf_counter() - t0:.0f}s")
        header["issue"] = [(r.document.title, r.document.pages) for r in issued]
        report.save_header(output, header)
        if not args.no_null:
            null_calibration.run(docs, tmp / "null", output, quick=args.quick, candidates=args.null_candidates,
                                 seed=args.seed, log=log)
            _report(report, output, innocent_scores)
        rng = np.random.default_rng(args.seed)
        folder = tmp / "ev"
        folder.mkdir()
        for trial in range(args.trials):
            for res in issued:
                for a, s in cases:
                    row, inn = run_case(ws, res, a, s, rng, folder, RENDER[args.render])
                    row["trial"] = trial + 1
                    ours.add(row)
                    innocent_scores.append(inn)
                    log(f"t{trial + 1} {row['document'][:12]:12s} {a.name:20s} {s!s:7s} {row['verdict']:12s} "
                        f"named={row['named'][:20]:20s} truth={row['truth']} fap={row['truth_fap']} "
                        f"innocent<={row['best_innocent']} {row['seconds']}s")
            _report(report, output, innocent_scores)
            if trial == 0 and not args.no_baseline:
                bwm_cases = cases if args.baseline_strengths == "all" else atk.one_per_attack(cases)
                if args.quick:  # ~8 s per case: four keep --quick under 5 minutes
                    bwm_cases = [c for c in bwm_cases if c[0].name in bwm_baseline.QUICK]
                settings = ("default",) if args.quick else ("default", "strong")
                bwm_baseline.run(docs[1 if len(docs) > 1 else 0], bwm_cases, settings, output, seed=args.seed, log=log)
                _report(report, output, innocent_scores)
    log(f"done: {out / 'robustness.md'}")


def _report(report, output: Results, innocent_scores: list[np.ndarray]) -> None:
    """Rewrite tables and plots; a reporting bug must not end a long run (--report-only redoes it)."""
    try:
        report.write_all(output, innocent_scores)
    except Exception as exc:
        log(f"report failed ({type(exc).__name__}: {exc}); the CSVs are intact, rerun with --report-only")


if __name__ == "__main__":
    main()
