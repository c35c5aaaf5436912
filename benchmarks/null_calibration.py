"""Null calibration: are innocent copies' scores N(0,1), out to the tails the FAP relies on?

Traces evidence no issued copy is the source of, against a workspace whose documents have many copies
(a few really issued, the rest synthesised ledger rows: an innocent copy's score needs only its codeword,
which comes from the key and the copy number), and keeps every copy's score:
- unmarked originals of the registered documents under the attacks (every page);
- pages of an unregistered document, and photos / random images that show no registered page (these
  must end `no-match` with no scores at all, unless the locator mistakes them for a registered page).
robustness.py adds the innocent copies of every marked-leak trace. `report.py` turns both into the QQ
plot, the tail table and the empirical false-accusation rate.

    python -m benchmarks robustness --quick          # runs this phase too
    python -m benchmarks null_calibration [--quick] [--candidates 20000] [--seed 1] [--results DIR]

Run alone, it issues the two samples, writes null-calibration.csv and null-scores.npz and rebuilds the
null-calibration table (with the innocent copies of the last robustness run in the same folder, if any).
Real phone photos of paper pages are taken from PHOTOS (the shared folder beside the checkout), if there.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from benchmarks import attacks as atk
from benchmarks.common import (
    RESULTS,
    Results,
    Stamp,
    argument_parser,
    arguments,
    log,
    script_name,
    write_evidence,
)
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, trace
from leakmark.rendering import render_page_array

NAME = script_name(__file__)
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-photos"
FIELDS = ["source", "document", "page", "attack", "strength", "verdict", "named", "scores", "max_score",
          "min_fap", "seconds", "detail"]
NULL_ATTACKS = ["jpeg", "rescale", "crop-corner", "rotate", "blur-gaussian", "noise-gaussian", "chat-forward",
                "ps-error-diffusion", "photocopy", "phone-perspective", "screen-dpi", "screen-photo"]
QUICK_NULL_ATTACKS = ["jpeg", "ps-error-diffusion", "phone-perspective"]


def synthesise_copies(ws: Workspace, doc_id: str, total: int) -> None:
    """Ledger rows for copies up to `total` (never marked or written: scoring needs only copy numbers),
    recorded as one finished run like any other."""
    import json

    from leakmark.ledger import Ledger, Planned, Run, now_iso

    with Ledger(ws) as ledger:
        doc = ledger.document(doc_id)
        have = ledger.copies(doc_id)
        n = total - len(have)
        if n <= 0:
            return
        run = Run(id=f"synthetic-{doc_id}-{total}", document_id=doc_id, created_at=now_iso(), created_by="benchmark",
                  state="open", options=json.dumps({"synthetic": True}), copies=n, done=0, merge_bytes=0)
        made = ledger.start_run(doc, False, run, [Planned(f"synthetic {i}") for i in range(n)], have[0].settings,
                                have[0].version)
        ledger.mark_issued(run.id, [(c.copy_no, "") for c in made])
        ledger.end_run(run.id, "finished")


def unregistered_pdf(path: Path) -> Path:
    """A two-page memo-like document that is never registered."""
    doc = pymupdf.open()
    words = ("quarterly review of the procurement schedule for the northern depot including revised "
             "delivery windows staffing levels safety inspections and the outstanding maintenance items").split()
    rng = np.random.default_rng(99)
    for p in range(2):
        page = doc.new_page()
        page.insert_text((72, 80), f"Internal note {p + 1}: depot logistics", fontname="hebo", fontsize=16)
        for i in range(36):
            line = " ".join(rng.choice(words, size=11))
            page.insert_text((72, 120 + i * 19), line, fontname="tiro", fontsize=11)
    doc.save(path)
    doc.close()
    return path


def random_images(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Images that are not documents: smooth noise 'desk' textures and random shapes."""
    out = []
    for i in range(2):
        base = cv2.resize(rng.normal(128, 50, (60, 80)).astype(np.float32), (2000, 1500),
                          interpolation=cv2.INTER_CUBIC)
        out.append((f"texture-{i}", np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)))
    img = np.full((2400, 1800, 3), 230, np.uint8)
    for _ in range(60):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        p = tuple(int(v) for v in rng.integers(0, 1800, 2))
        cv2.circle(img, p, int(rng.integers(10, 200)), c, -1)
    out.append(("shapes", img))
    return out


def run(docs: list[Path], folder: Path, output: Results, quick: bool, candidates: int, seed: int,
        log: Callable[[str], None]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    csv_log = output.csv("null-calibration.csv", FIELDS)
    ws = Workspace.open(folder / "ws")
    rng = np.random.default_rng(seed + 1000)
    t0 = time.perf_counter()
    for src in docs:
        res = issue(ws, IssueOptions(source=src, recipients=tuple(Recipient(f"n{i}") for i in range(3)),
                                     output_dir=folder / f"out-{src.stem}", jobs=1))
        synthesise_copies(ws, res.document.id, candidates)
    log(f"null workspace: {len(docs)} documents × {candidates} copies in {time.perf_counter() - t0:.0f}s")
    names = QUICK_NULL_ATTACKS if quick else NULL_ATTACKS
    # one strength per attack (the quick one, else the middle one): breadth of attacks and pages over depth
    cases = [(a, a.quick[0] if a.quick else a.strengths[len(a.strengths) // 2])
             for a in atk.ATTACKS if a.name in names]
    scores: list[np.ndarray] = []

    def one(source: str, doc: str, page: str, attack: str, strength: object, img: np.ndarray) -> None:
        ev = write_evidence(img, folder, "null-ev")
        t = time.perf_counter()
        try:
            r = trace(ws, TraceOptions(evidence=(ev,), max_suspects=candidates))
        except Exception as exc:  # a tracer crash is a finding, not a reason to stop the benchmark
            row = {"source": source, "document": doc, "page": page, "attack": attack, "strength": strength,
                   "verdict": "error", "named": 0, "scores": 0, "max_score": "-", "min_fap": "-",
                   "seconds": f"{time.perf_counter() - t:.2f}", "detail": f"{type(exc).__name__}: {exc}"}
            csv_log.add(row)
            log(f"null {source} {doc} p{page} {attack} {strength}: ERROR {row['detail']}")
            return
        dt = time.perf_counter() - t
        z = np.array(list(r.whole_evidence_scores().values()), np.float32)  # the null sample (round 1, whole)
        degenerate = bool(z.size) and not np.any(z)  # nothing measured: all scores exactly 0, not a sample
        if not degenerate:
            scores.append(z)
        row = {"source": source, "document": doc, "page": page, "attack": attack, "strength": strength,
               "verdict": r.verdict, "named": r.named, "scores": 0 if degenerate else z.size,
               "max_score": f"{z.max():.2f}" if z.size else "-",
               "min_fap": f"{min(s.fap for s in r.suspects):.3g}" if r.suspects else "-",
               "seconds": f"{dt:.2f}", "detail": "; ".join(e.detail for e in r.evidence)}
        csv_log.add(row)
        log(f"null {source:12s} {doc[:14]:14s} p{page} {attack:18s} {strength!s:6s} {r.verdict:12s} "
            f"scores={z.size} max={row['max_score']} {dt:.1f}s")

    for src in docs:
        with pymupdf.open(src) as d:
            pages = 1 if quick else d.page_count
        for p in range(pages):
            page_img = render_page_array(src, p, mode="bgr")
            for a, s in cases:
                one("original", src.name, str(p + 1), a.name, s, a.fn(page_img, s, int(rng.integers(1 << 30))))
    unreg = unregistered_pdf(folder / "unregistered.pdf")
    for p in range(1 if quick else 2):
        page_img = render_page_array(unreg, p, mode="bgr")
        for a, s in cases[: 2 if quick else 4]:
            one("unregistered", unreg.name, str(p + 1), a.name, s, a.fn(page_img, s, int(rng.integers(1 << 30))))
    photos = sorted(q for q in PHOTOS.glob("*") if q.suffix.lower() in (".jpg", ".png", ".jpeg"))
    for q in photos[: 1 if quick else None]:
        img = cv2.imread(str(q), cv2.IMREAD_COLOR)
        if img is not None:
            one("photo", q.name, "-", "none", "-", img)
    for name, img in random_images(rng)[: 1 if quick else None]:
        one("random-image", name, "-", "none", "-", img)
    allz = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    np.savez_compressed(output.path("null-scores.npz"), scores=allz)
    output.record("null-scores.npz")
    log(f"null calibration: {allz.size} innocent scores from {len(scores)} traces")


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--quick", action="store_true", help="three attacks, one page per document, 2,000 copies")
    ap.add_argument("--candidates", type=int, default=20000, help="copies per document (synthesised ledger rows)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.quick:
        args.candidates = min(args.candidates, 2000)
    from benchmarks import report
    from leakmark.samples import write_samples

    output = Results(args.results, Stamp.take(NAME, argv), "robustness")
    with tempfile.TemporaryDirectory(prefix="leakmark-null-") as tmp_s:
        tmp = Path(tmp_s)
        run(write_samples(tmp / "samples"), tmp / "null", output, quick=args.quick, candidates=args.candidates,
            seed=args.seed, log=log)
    output.write_markdown("null-calibration.md", report.null_md(output, header={"command": output.stamp.command}))
    report.qq_plot(output)
    log(f"done: {output.path('null-calibration.md')}")
