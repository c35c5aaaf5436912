"""Which settings of the page index's first pass hand the right page on: every image attack, among N pages.

    python -m benchmarks first_pass [--pages 30] [--synthetic 100000] [--settings 1000:2:1,2000:8:1] [--keep DIR]

`--pages` generated one-page documents (`leakmark.samples.archive`) are indexed as registration does (300 dpi);
synthetic pages (archive_scale's: 300 descriptors each drawn from the index entries of pages that are never
registered) pad the index to `--synthetic` pages in segments of MERGE_PAGES. For every attack and strength of
the robustness suite that takes one page image (`benchmarks.attacks`), a random page is attacked, its sheet
unwarped when one is found, and its features asked of the first pass alone (`leakmark.index._first_pass`) with
each setting: FIRST_PASS_FEATURES (the evidence's largest descriptors that vote), CELL_PROBES (cells visited
by each) and FIRST_PASS_FLIPS (the buckets read in a cell). Counted per setting: the right page among the
FIRST_PASS_KEEP handed to the exact search, ranked first, and the mean seconds of a first pass. This is how the
shipped setting was chosen (leakmark/index/__init__.py); a mirror attack is asked as it is (a trace asks the
mirrored image too). Writes benchmarks/results/first-pass.md.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks import archive_scale
from benchmarks import attacks as atk
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from leakmark import fingerprint
from leakmark import index as page_index
from leakmark.index import vocab
from leakmark.index.segment import Segment
from leakmark.rendering import render_page_array
from leakmark.samples.archive import archive_page
from leakmark.trace import locate
from leakmark.trace.page import find_page_quad, unwarp

NAME = script_name(__file__)


def _segments(folder: Path, pages: int, total: int) -> tuple[list[Segment], list[np.ndarray]]:
    """The real pages' segment (their page images too) and synthetic segments up to `total` pages, written
    in `folder` (kept there: a second run with the same folder reuses them)."""
    images, real = [], []
    for n in range(pages):
        bgr = render_page_array(archive_page(n), 0, 300, mode="bgr")
        images.append(bgr)
        real.append((f"{n:064x}", 0, page_index.entry_of(fingerprint.of_page(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                                                                             300))))
    segs = [Segment.of(real)]
    pool_d, pool_w = archive_scale._pool(folder)[:2] if total > pages else (None, None)  # the pages' (no outlines)
    have = pages
    while have < total:
        count = min(page_index.MERGE_PAGES, total - have)
        path = folder / f"first-pass-{have}-{count}.npz"
        if not path.exists():
            rng = np.random.default_rng([14, have])  # synthetic index entries only, never marks
            assert pool_d is not None and pool_w is not None
            made = archive_scale._synthetic(rng, pool_d, pool_w, archive_scale.UNREGISTERED + have, count,
                                            page_index.PER_PAGE)
            with open(path, "wb") as fh:
                Segment.of(made).write(fh)
        segs.append(Segment.open(path))
        have += count
        log(f"  {have:,} index pages")
    return segs, images


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--synthetic", type=int, default=100_000, help="index pages in all, synthetic ones added")
    ap.add_argument("--settings", default="1000:2:1,2000:2:1,2000:8:1",
                    help="features:probes:flips, comma-separated (the first is compared with the others)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="keep the synthetic segments here (default: a temporary folder)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    settings = [tuple(int(v) for v in s.split(":")) for s in args.settings.split(",") if s]
    if not settings or any(len(s) != 3 or min(s[:2]) < 1 or s[2] not in (0, 1, 2) for s in settings):
        ap.error("--settings: features:probes:flips, features and probes 1 or more, flips 0, 1 or 2 (e.g. 1000:2:1)")
    if args.pages < 1:
        ap.error("--pages: at least 1 generated page")
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    rng = np.random.default_rng(args.seed)  # which page and attack seed: evidence only, never marks
    found = {s: [0, 0, 0.0] for s in settings}  # handed on, first, seconds
    cases = 0
    saved = (page_index.FIRST_PASS_FEATURES, page_index.CELL_PROBES, page_index.FIRST_PASS_FLIPS)
    with tempfile.TemporaryDirectory(prefix="leakmark-first-pass-") as tmp_s:
        folder = args.keep or Path(tmp_s)
        folder.mkdir(parents=True, exist_ok=True)
        segs, images = _segments(folder, args.pages, args.synthetic)
        sha = np.asarray(segs[0].sha)  # each generated page's content in the real pages' segment
        content_of = [int(segs[0].content[np.flatnonzero(sha == f"{n:064x}".encode())[0]]) for n in range(args.pages)]
        try:
            for a, strength in atk.cases():
                if a.inputs != "image":
                    continue
                n = int(rng.integers(args.pages))
                img = a.fn(images[n], strength, int(rng.integers(1 << 30)))
                gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
                quad = find_page_quad(gray)
                _pts, desc, sizes, _ = locate.evidence_features(unwarp(gray, quad)[0] if quad is not None else gray)
                order = np.argsort(-sizes, kind="stable")[:page_index.QUERY_FEATURES]
                rs = vocab.root_sift(desc[order])
                want = content_of[n]
                cases += 1
                line = f"{a.name:20s} {strength!s:7s} page {n:3d}"
                for s in settings:
                    page_index.FIRST_PASS_FEATURES, page_index.CELL_PROBES, page_index.FIRST_PASS_FLIPS = s
                    t0 = time.perf_counter()
                    kept = page_index._first_pass(segs, None, rs[:s[0]])
                    found[s][2] += time.perf_counter() - t0
                    rank = next((i for i, (seg, c) in enumerate(kept) if seg is segs[0] and c == want), None)
                    found[s][0] += rank is not None
                    found[s][1] += rank == 0
                    line += f" | {s}: {'-' if rank is None else rank}"
                log(line)
        finally:
            page_index.FIRST_PASS_FEATURES, page_index.CELL_PROBES, page_index.FIRST_PASS_FLIPS = saved
    after = os.getloadavg()
    lines = ["# The page index's first pass: which settings hand the right page on", "",
             f"Machine load (1/5/15-minute averages): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores.", "",
             f"{args.pages} generated pages among {args.synthetic:,} index pages (the rest synthetic: "
             "archive_scale's); "
             f"{cases} leaks: every image attack and strength of the robustness suite on a random page (seed "
             f"{args.seed}), its sheet unwarped when one is found, asked of the first pass alone. Handed on: the "
             f"page among the {page_index.FIRST_PASS_KEEP} the first pass gives the exact search.", "",
             "| largest descriptors | cells each | bits flipped | handed on | first | s per first pass |",
             "|---:|---:|---:|---:|---:|---:|"]
    for s in settings:
        h, f, t = found[s]
        lines.append(f"| {s[0]:,} | {s[1]} | {s[2]} | {h}/{cases} | {f}/{cases} | {t / max(cases, 1):.3f} |")
    output = Results(args.results, stamp, "first-pass")
    output.write_markdown("first-pass.md", [*lines, ""])
    print(output.path("first-pass.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
