"""Where the page index's first pass ranks the evidence's own page among a registered archive: each meeting
counted one, weighed by idf (`leakmark.index.FIRST_PASS_IDF`), and weighed then ranked again by where the
meetings lie (the tracer's way: `leakmark.index._placed`, its FIRST_PASS_PLACED best).

    python -m benchmarks first_pass_rank --archive DIR [--leaks memo-en:1:crop-corner:0.2,...] [--seeds 5]
                                         [--all memo-en:2,notice-zh:2] [--photos 100]

DIR is a workspace folder holding an archive of registered pages (`archive_scale --keep K` leaves one in
K/archive-N/ws); the sample documents are issued into it as `locate_recall` issues them (once). Each leak
(sample document, page from 1, attack and strength of the robustness suite) is made from a copy of the page
with `--seeds` seeds; `--all` adds every image attack and strength on those pages (one seed). Each leak's sheet is
unwarped when one is found, and its features are asked of the first pass alone (`leakmark.index._first_pass`,
every content ranked), with its FIRST_PASS_FEATURES largest descriptors (the first question) and its
QUERY_FEATURES largest (the second, asked when the first proposes nothing). Counted per way: the page within
the FIRST_PASS_KEEP handed on, within the tracer's wide question's WIDE_KEEP (asked by small evidence), ranked
first. `--photos N` adds archive_scale's N phone photos of registered archive pages (its `--registered` draw:
pages drawn with seed 5, each the issued copy's page, photo seed 1000 + page), the pages where the count loses
pages of one template and vocabulary. Writes benchmarks/results/first-pass-rank.md.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from benchmarks import archive_scale
from benchmarks import attacks as atk
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from benchmarks.locate_recall import _issued
from benchmarks.robustness import attack_evidence
from leakmark import Workspace
from leakmark import index as page_index
from leakmark.errors import LeakmarkError
from leakmark.index import vocab
from leakmark.index.segment import Segment
from leakmark.ledger import Ledger
from leakmark.samples.archive import family
from leakmark.trace import locate
from leakmark.trace.page import find_page_quad, unwarp
from leakmark.trace.tracer import WIDE_KEEP

NAME = script_name(__file__)
DEFAULT_LEAKS = "memo-en:1:crop-corner:0.2,memo-en:1:crop-band:0.2,memo-en:1:crop-centre:0.2,memo-en:1:noise-shot:0.3"
WAYS = (("counted one", False, False), ("idf", True, False), ("idf, placed", True, True))


def _rank(segs: list[Segment], rs: np.ndarray, memo: page_index._Memo, sha: str, page: int,
          points: np.ndarray | None) -> int | None:
    """The 0-based rank of (document sha256, page) among every content the first pass meets, or None."""
    for i, (seg, c) in enumerate(page_index._first_pass(segs, None, rs, memo, keep=1 << 30, points=points)):
        members = seg.members(c)
        if any(seg.sha[j].decode() == sha and int(seg.page[j]) == page for j in members):
            return i
    return None


def _photos(ledger: Ledger, count: int) -> list[tuple[int, str, int, Path]]:
    """archive_scale's `--registered` draw among the archive's pages: (archive page, document sha256, page index,
    the issued copy)."""
    pages = sum(d.pages for d in ledger.documents() if archive_scale.ARCHIVE_DOC.fullmatch(d.source_name or ""))
    return [(n, doc.sha256, page_no, Path(copy.path)) for n, doc, page_no, copy in
            archive_scale.drawn(ledger, pages, count)] if count > 0 else []


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--archive", type=Path, required=True, help="the workspace folder of a registered archive")
    ap.add_argument("--leaks", default=DEFAULT_LEAKS, help="document:page:attack:strength, comma-separated")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--all", default="", help="document:page, comma-separated: every image attack on those pages")
    ap.add_argument("--photos", type=int, default=0, help="phone photos of registered archive pages (archive_scale's)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        ws = Workspace.open(args.archive, create=False)
    except LeakmarkError as exc:
        ap.error(f"--archive {args.archive}: {exc}")
    attacks = {a.name: a for a, _s in atk.cases()}
    leaks: list[tuple[str, int, str, float, int]] = []
    try:
        for spec in (s for s in args.leaks.split(",") if s):
            doc, page, name, strength = spec.split(":")
            if name not in attacks:
                ap.error(f"--leaks: no attack {name!r} (see benchmarks/attacks.py)")
            leaks += [(doc, int(page), name, float(strength), seed) for seed in range(args.seeds)]
        for spec in (s for s in args.all.split(",") if s):
            doc, page = spec.split(":")
            leaks += [(doc, int(page), a.name, float(s), 0) for a, s in atk.cases() if a.inputs == "image"]
    except ValueError:
        ap.error("--leaks: document:page:attack:strength (e.g. memo-en:1:crop-corner:0.2); --all: document:page")
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    if leaks:
        _issued(ws, args.archive.parent / "locate-recall")
    with Ledger(ws) as ledger:
        docs = {d.source_name.removesuffix(".pdf"): d for d in ledger.documents()}
    unknown = sorted({leak[0] for leak in leaks} - docs.keys())
    if unknown or any(not 1 <= leak[1] <= docs[leak[0]].pages for leak in leaks):
        ap.error(f"no such sample document or page: {unknown or 'a page out of range'} (samples: memo-en, notice-zh)")
    with Ledger(ws) as ledger:
        copies = {name: [Path(c.path) for c in ledger.copies(d.id) if c.path] for name, d in docs.items()
                  if name in {leak[0] for leak in leaks}}
        photos = _photos(ledger, args.photos)
    index, _why = page_index.load_or_empty(ws)
    segs = index._all()
    rows, tally = [], {way: [0, 0, 0] for way, _idf, _place in WAYS}
    saved = page_index.FIRST_PASS_IDF
    with tempfile.TemporaryDirectory(prefix="leakmark-rank-") as tmp_s:
        tmp = Path(tmp_s)

        def leak(doc: str, page: int, name: str, strength: float, seed: int) -> tuple[Path, str, int, list[str]]:
            d = docs[doc]
            ev = attack_evidence(attacks[name], strength, [copies[doc][seed % len(copies[doc])]], d.pages,
                                 page - 1, 1000 + seed, tmp)
            return ev[0], d.sha256, page - 1, [doc, str(page), name, f"{strength:g}", str(seed)]

        def photo(n: int, sha: str, page_no: int, copy: Path) -> tuple[Path, str, int, list[str]]:
            ev = archive_scale._photo(copy, tmp / f"archive-{n}.jpg", seed=1000 + n, page_no=page_no)
            return ev, sha, page_no, [f"archive {n} ({family(n)})", str(page_no + 1), "phone photo", "12 MP",
                                      str(1000 + n)]

        try:
            made = [*(functools.partial(leak, *x) for x in leaks), *(functools.partial(photo, *x) for x in photos)]
            for make in made:
                path, sha, page_no, label = make()
                gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                path.unlink()
                quad = find_page_quad(gray)
                pts, desc, sizes, _ = locate.evidence_features(unwarp(gray, quad)[0] if quad is not None else gray)
                largest = np.argsort(-sizes, kind="stable")[:page_index.QUERY_FEATURES]
                voters, placed = vocab.root_sift(desc[largest]), pts[largest]
                cells = []
                for way, idf, place in WAYS:
                    page_index.FIRST_PASS_IDF = idf
                    memo = page_index._Memo()
                    r1, r2 = (_rank(segs, voters[:n], memo, sha, page_no, placed[:n] if place else None)
                              for n in (page_index.FIRST_PASS_FEATURES, page_index.QUERY_FEATURES))
                    best = min((r for r in (r1, r2) if r is not None), default=None)
                    t = tally[way]
                    t[0] += best is not None and best < page_index.FIRST_PASS_KEEP
                    t[1] += best is not None and best < WIDE_KEEP
                    t[2] += r1 == 0
                    cells.append(" / ".join("-" if r is None else str(r + 1) for r in (r1, r2)))
                rows.append(f"| {' | '.join(label)} | {len(desc):,} | " + " | ".join(cells) + " |")
                log(rows[-1])
        finally:
            page_index.FIRST_PASS_IDF = saved
    after = os.getloadavg()
    n = len(rows)
    lines = ["# Where the first pass ranks the evidence's page", "",
             f"Machine load (1/5/15-minute averages): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores.", "",
             f"Archive: {len(index):,} index pages ({args.archive}). Each leak's page ranked among every page "
             "content the first pass meets, asked with the evidence's "
             f"{page_index.FIRST_PASS_FEATURES:,} largest descriptors / its {page_index.QUERY_FEATURES:,} largest "
             "(- : not met); each meeting counted one, weighed by idf (log of contents / contents the evidence "
             f"descriptor meets), and weighed then the {page_index.FIRST_PASS_PLACED} best ranked again by the "
             "weight of their meetings one homography places (placed).", "",
             "| way | within the first pass's "
             f"{page_index.FIRST_PASS_KEEP} (either question) | within the wide question's {WIDE_KEEP} | first |",
             "|---|---:|---:|---:|"]
    for way, _idf, _place in WAYS:
        k, w, f = tally[way]
        lines.append(f"| {way} | {k}/{n} | {w}/{n} | {f}/{n} |")
    lines += ["", "| document | page | attack | strength | seed | features | counted one | idf | idf, placed |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|", *rows, ""]
    output = Results(args.results, stamp, "first-pass-rank")
    output.write_markdown("first-pass-rank.md", lines)
    log(f"{output.path('first-pass-rank.md')}")


if __name__ == "__main__":
    main()
