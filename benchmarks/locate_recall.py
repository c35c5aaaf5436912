"""Is the right page found among an archive? Every robustness attack, traced against a large register.

    python -m benchmarks locate_recall --archive DIR [--trials 1] [--seed 1]

DIR is a workspace folder holding an archive of registered pages (`python -m benchmarks archive_scale --pages
1000 --keep K` leaves one in K/archive-1000/ws). The sample documents (`leakmark.samples`) are issued into it
to 3 recipients each (once: a second run reuses them); then, for every attack and strength of the robustness
suite (`benchmarks.attacks`, collusion included) and every sample document, a random copy and page is
attacked and traced against the whole register, as `leakmark trace` does: the page index proposes, the
locate step verifies. Counted: evidence whose first evidence page was located on the right document and page
(for a page mix of several pages: every evidence file on its own page), per family; and the seconds of the
index and locate stages; each miss with its evidence's share of dark pixels, and the misses whose evidence
shows nothing (a crop of blank paper) counted apart. Writes benchmarks/results/locate-recall.md.

    --pad N    trace in a copy of the workspace whose page index also holds synthetic pages (archive_scale's),
               up to N index pages, searched as registered pages would be (the issue's 10,000-page archive as
               distractors, without registering 9,000 more pages)
    --first-pass-from N   queries start with the cells' first pass from N page contents on (default: as
               shipped, leakmark.index.FIRST_PASS_FROM), to compare the two searches on the same evidence
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from benchmarks import archive_scale
from benchmarks import attacks as atk
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from benchmarks.robustness import attack_evidence
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, trace
from leakmark import index as page_index
from leakmark.errors import LeakmarkError
from leakmark.ledger import Ledger
from leakmark.samples import write_samples

NAME = script_name(__file__)
DARK, BLANK = 160, 0.001  # grey level and share of pixels below it under which evidence shows nothing


def _dark(path: Path) -> float:
    """The share of an evidence image's pixels darker than DARK (ink, lines, photos: anything on the paper)."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return float(np.mean(gray < DARK)) if gray is not None else 1.0


def _issued(ws: Workspace, folder: Path) -> list[tuple[str, list[Path], int]]:
    """The samples issued to 3 recipients each (or, when a previous run issued them, their copies)."""
    samples = write_samples(folder / "samples")
    with Ledger(ws) as ledger:  # read first: `issue` writes the register itself
        known = {d.source_name: (d.id, d.pages, [Path(c.path) for c in ledger.copies(d.id) if c.path])
                 for d in ledger.documents()}
    out: list[tuple[str, list[Path], int]] = []
    for src in samples:
        doc_id, pages, copies = known.get(src.name, ("", 0, []))
        if len(copies) >= 3:
            out.append((doc_id, copies[:3], pages))
            continue
        res = issue(ws, IssueOptions(source=src, recipients=tuple(Recipient(f"reader {i}") for i in range(3)),
                                     output_dir=folder / f"out-{src.stem}", jobs=1))
        out.append((res.document.id, [Path(c.path) for c in res.copies], res.document.pages))
    return out


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--archive", type=Path, required=True, help="the workspace folder of a registered archive")
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attacks", default="", help="comma-separated attack names (default: all)")
    ap.add_argument("--pad", type=int, default=0, help="pad a copy's index with synthetic pages up to N pages")
    ap.add_argument("--first-pass-from", type=int, help="page contents from which queries start with the first pass")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    try:
        ws = Workspace.open(args.archive, create=False)
    except LeakmarkError as exc:
        ap.error(f"--archive {args.archive}: {exc}")  # exit 2 with the message, no traceback
    if args.first_pass_from is not None:
        page_index.FIRST_PASS_FROM = args.first_pass_from
    searched: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if args.pad:
        padded = args.archive.parent / f"recall-padded-{args.pad}-outlines"  # outline index padded too
        if not padded.exists():
            shutil.copytree(args.archive, padded / "ws")
        ws = Workspace.open(padded / "ws", create=False)
        with Ledger(ws) as ledger:
            registered = ledger.documents()
        archive_scale.pad_index(ws, registered, args.archive.parent, args.pad)
        searched = archive_scale.unmasked(ws)
    cases = [(a, s) for a, s in atk.cases() if not args.attacks or a.name in args.attacks.split(",")]
    rng = np.random.default_rng(args.seed)  # which copy, page and attack seed: evidence only, never marks
    by_family: dict[str, list[int]] = {}
    misses: list[str] = []
    stage = {"index": 0.0, "locate": 0.0}
    n = blank = 0
    # `searched` only replaces the index a trace gets (issuing the samples does not trace)
    with tempfile.TemporaryDirectory(prefix="leakmark-recall-") as tmp_s, searched:
        tmp = Path(tmp_s)
        docs = _issued(ws, args.archive.parent / "locate-recall")
        with Ledger(ws) as ledger:
            pages = sum(d.pages for d in ledger.documents())
        indexed = len(page_index.load_or_empty(ws)[0])
        log(f"register: {pages} pages; index: {indexed} pages; samples: {[d[0] for d in docs]}")
        for trial in range(args.trials):
            for doc_id, copies, doc_pages in docs:
                for a, s in cases:
                    k = int(s) if a.family == "collusion" else 1
                    picks = [copies[int(i)] for i in rng.choice(len(copies), size=k, replace=False)]
                    page = int(rng.integers(doc_pages))
                    evidence = attack_evidence(a, s, picks, doc_pages, page, int(rng.integers(1 << 30)), tmp)
                    r = trace(ws, TraceOptions(evidence=tuple(evidence)))
                    want = list(range(len(evidence))) if a.inputs == "pages" else [page] * len(evidence)
                    ok = r.document is not None and r.document.id == doc_id and all(
                        e.document_page == p + 1 for e, p in zip(r.evidence, want, strict=True))
                    fam = by_family.setdefault(a.family, [0, 0])
                    fam[0] += ok
                    fam[1] += 1
                    n += 1
                    for key in stage:
                        stage[key] += r.timings.get(key, 0.0)
                    if not ok:
                        dark = [_dark(f) for f in evidence]
                        blank += max(dark) < BLANK
                        misses.append(f"{doc_id} {a.name} {s} page {page + 1}: "
                                      f"{r.document.id if r.document else '-'}; "
                                      + "; ".join(f"p{e.document_page} {e.detail}" for e in r.evidence)
                                      + f" (dark pixels {', '.join(f'{d:.3f}' for d in dark)})")
                    log(f"t{trial + 1} {doc_id} {a.name:20s} {s!s:7s} {'ok' if ok else 'MISS'} "
                        f"(index {r.timings.get('index', 0):.2f} s, locate {r.timings.get('locate', 0):.2f} s)")
                    for f in evidence:
                        f.unlink()
    after = os.getloadavg()
    found = sum(v[0] for v in by_family.values())
    lines = ["# The right page among an archive", "",
             f"Machine load (1/5/15-minute averages): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores.", "",
             f"Register: {pages} registered pages (the archive and the samples)"
             + (f"; the page index padded with synthetic pages to {indexed:,}, searched as registered pages" if
                args.pad else "")
             + f"; queries start with the cells' first pass from {page_index.FIRST_PASS_FROM:,} page contents on. "
             "Every attack and strength of the "
             f"robustness suite on every sample document ({args.trials} trial(s), a random copy and page each), "
             "traced against the whole register; found = every evidence page located on its document and page.",
             "", "| family | found | of | share |", "|---|---:|---:|---:|"]
    for fam, (ok, of) in by_family.items():
        lines.append(f"| {fam} | {ok} | {of} | {100 * ok / of:.1f} % |")
    lines += [f"| **all** | **{found}** | **{n}** | **{100 * found / max(n, 1):.1f} %** |", "",
              f"Blank evidence among the misses (every evidence image with less than {BLANK:.1%} of its pixels "
              f"darker than {DARK}: a crop of blank paper, which shows no page): {blank}; found among the rest: "
              f"{found}/{n - blank} ({100 * found / max(n - blank, 1):.1f} %).", "",
              f"Mean seconds per trace: index {stage['index'] / max(n, 1):.2f}, locate "
              f"{stage['locate'] / max(n, 1):.2f}.", ""]
    if misses:
        lines += ["## Not found", "", *(f"- {m}" for m in misses), ""]
    out = Results(args.results, stamp, "locate-recall").write_markdown("locate-recall.md", lines)
    log(f"{found}/{n} found; {out}")


if __name__ == "__main__":
    main()
