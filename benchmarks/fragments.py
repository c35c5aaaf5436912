"""Fragments: how small a piece of a page still names its copy among N issued copies.

    python -m benchmarks fragments [--copies 1000] [--positions 4] [--seed 1] [--results DIR]

Both samples issued to N copies (default 1,000) in a fresh workspace. Each page of a random copy is rendered at
300 dpi and cut to crops of a fraction of its area (the page's aspect ratio, 4–50 %) at random positions
(seeded), written losslessly and traced. Per crop: its page area, the text it holds (the area of the page's
word boxes inside it, cm²), the verdict. `fragments.md` gives the identification rate per crop size and per
amount of text, and the smallest amount of text that named its copy.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

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
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, trace, vault
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples

NAME = script_name(__file__)
DPI = 300
FRACTIONS = (0.04, 0.06, 0.09, 0.12, 0.18, 0.25, 0.35, 0.5)
TEXT_BINS = (0.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, float("inf"))  # cm² of word boxes
FIELDS = ["document", "page", "fraction", "copy", "x", "y", "w", "h", "page_cm2", "text_cm2", "words_inside",
          "verdict", "named", "correct", "wrong", "truth_score", "seconds", "detail"]


def text_inside(units_words: np.ndarray, scale: float, box: tuple[int, int, int, int]) -> tuple[float, int]:
    """The area (px², at DPI) of the word boxes inside `box` (clipped to it), and how many words lie wholly in it."""
    x0, y0, x1, y1 = box
    w = units_words.astype(np.float64) * scale
    ix = np.clip(np.minimum(w[:, 2], x1) - np.maximum(w[:, 0], x0), 0, None)
    iy = np.clip(np.minimum(w[:, 3], y1) - np.maximum(w[:, 1], y0), 0, None)
    whole = (w[:, 0] >= x0) & (w[:, 1] >= y0) & (w[:, 2] <= x1) & (w[:, 3] <= y1)
    return float((ix * iy).sum()), int(whole.sum())


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--copies", type=int, default=1000, help="copies issued per document (default 1,000)")
    ap.add_argument("--positions", type=int, default=4, help="random crop positions per page and size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    output = Results(args.results, Stamp.take(NAME, argv), NAME)
    rows = output.csv("fragments.csv", FIELDS)
    rng = np.random.default_rng(args.seed)
    cm2 = (2.54 / DPI) ** 2
    with tempfile.TemporaryDirectory(prefix="leakmark-fragments-") as tmp_s:
        tmp = Path(tmp_s)
        ws = Workspace.open(tmp / "ws")
        for src in write_samples(tmp / "samples"):
            t0 = time.perf_counter()
            res = issue(ws, IssueOptions(source=src, recipients=tuple(Recipient(f"r{i}") for i in range(args.copies)),
                                         output_dir=tmp / f"out-{src.stem}", jobs=1))
            log(f"issued {args.copies} copies of {src.name} in {time.perf_counter() - t0:.0f}s")
            doc = res.document
            for page in range(doc.pages):
                words = vault.load_units(ws, doc.sha256, page).words
                for fraction in FRACTIONS:
                    for _ in range(args.positions):
                        copy = res.copies[int(rng.integers(len(res.copies)))]
                        img = render_page_array(Path(copy.path), page, DPI, mode="bgr")
                        H, W = img.shape[:2]
                        h, w = round(H * fraction ** 0.5), round(W * fraction ** 0.5)
                        y, x = int(rng.integers(H - h + 1)), int(rng.integers(W - w + 1))
                        text_px, whole = text_inside(words, DPI / doc.dpi, (x, y, x + w, y + h))
                        ev = write_evidence(img[y:y + h, x:x + w], tmp, "fragment")
                        t = time.perf_counter()
                        r = trace(ws, TraceOptions(evidence=(ev,), max_suspects=3))
                        named = [s.copy.label for s in r.suspects[: r.named]]
                        truth = next((s.score for s in r.suspects if s.copy.label == copy.copy_no), None)
                        rows.add({"document": doc.title or doc.id, "page": page + 1, "fraction": fraction,
                                  "copy": copy.copy_no, "x": x, "y": y, "w": w, "h": h,
                                  "page_cm2": f"{w * h * cm2:.1f}", "text_cm2": f"{text_px * cm2:.2f}",
                                  "words_inside": whole, "verdict": r.verdict, "named": " ".join(named) or "-",
                                  "correct": named == [copy.copy_no], "wrong": any(n != copy.copy_no for n in named),
                                  "truth_score": f"{truth:.2f}" if truth is not None else "-",
                                  "seconds": f"{time.perf_counter() - t:.2f}",
                                  "detail": "; ".join(e.detail for e in r.evidence)})
                        log(f"{src.stem} p{page + 1} {fraction:.2f} text {text_px * cm2:5.1f} cm² {r.verdict:12s} "
                            f"named={' '.join(named) or '-'} truth={copy.copy_no}")
    output.write_markdown("fragments.md", report(read_csv(rows.path), args.copies))
    log(f"done: {output.path('fragments.md')}")


def report(rows: list[dict], copies: int) -> list[str]:
    """The tables: by crop size (per document), by text held, and the smallest text that named its copy."""
    ok = [r for r in rows if str(r["correct"]) == "True"]
    wrong = sum(str(r["wrong"]) == "True" for r in rows)
    lines = ["# Fragments: how small a piece of a page names its copy", "",
             f"Crops of issued copies' pages (300 dpi, lossless), {copies:,} copies issued of each document; "
             f"{len(rows)} crops traced, **{len(ok)} named their copy, {wrong} named another copy**. *Text*: the "
             "area of the page's word boxes inside the crop (cm² at print size).", "",
             "| document | crop (of the page's area) | crops | named | median text cm² |", "|---|---:|---:|---:|---:|"]
    for doc in dict.fromkeys(r["document"] for r in rows):
        for f in FRACTIONS:
            g = [r for r in rows if r["document"] == doc and float(r["fraction"]) == f]
            if g:
                n_ok = sum(str(r["correct"]) == "True" for r in g)
                lines.append(f"| {doc} | {f:.0%} | {len(g)} | {n_ok} ({n_ok / len(g):.0%}) | "
                             f"{float(np.median([float(r['text_cm2']) for r in g])):.1f} |")
    lines += ["", "| text in the crop (cm²) | crops | named |", "|---|---:|---:|"]
    for lo, hi in itertools.pairwise(TEXT_BINS):
        g = [r for r in rows if lo <= float(r["text_cm2"]) < hi]
        if g:
            n_ok = sum(str(r["correct"]) == "True" for r in g)
            label = f"≥ {lo:g}" if hi == float("inf") else f"{lo:g}–{hi:g}"
            lines.append(f"| {label} | {len(g)} | {n_ok} ({n_ok / len(g):.0%}) |")
    if ok:
        least = min(ok, key=lambda r: float(r["text_cm2"]))
        texts = sorted(float(r["text_cm2"]) for r in rows)
        above = next((t for t in texts if all(str(r["correct"]) == "True" for r in rows
                                              if float(r["text_cm2"]) >= t)), None)
        lines += ["", f"Smallest text that named its copy: {float(least['text_cm2']):.2f} cm² ({least['document']} "
                  f"page {least['page']}, {float(least['page_cm2']):.0f} cm² of page). Every crop holding "
                  + (f"≥ {above:.1f} cm² of text named its copy." if above is not None else
                     "any amount of text: none named it every time.")]
    return [*lines, "", "Per crop: `fragments.csv`.", ""]
