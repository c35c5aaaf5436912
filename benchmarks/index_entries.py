"""Which keypoints should a page's index entry keep? Hard evidence located with entries chosen several ways.

    python -m benchmarks index_entries [--pages 100] [--pad 10000] [--seeds 3] [--strategies largest,grid-4-0]
                                       [--attacks crop-band:0.5,blur-motion:15] [--keep DIR]

The page index keeps PER_PAGE keypoints a page (`leakmark.index.entry_of`: the fingerprint's largest). This
script asks whether another choice finds more of the evidence that locate-recall misses. `--pages` generated
one-page documents (`leakmark.samples.archive`, rendered at 300 dpi as registration renders) and the sample
documents (issued to 3 recipients each) are indexed in memory with each strategy; synthetic pages made from
240 unregistered generated pages' entries of the same strategy (as archive_scale makes them) pad the index to
`--pad` pages, so the first pass runs as at that size. For every attack:strength and every sample page,
`--seeds` leaks (a copy in turn, a random attack seed: the same evidence for every strategy) are located as
`leakmark trace` locates (sheet, raw image, mirror; `leakmark.trace.tracer._locate`) against the index's
proposals. Counted: evidence located on its own document and page. The share of dark pixels (< 160) of each
evidence image is printed beside a miss: 0.000 is a crop of blank paper, which shows no page at all.

Strategies (the strategy's entries also make the synthetic pages):
  largest         the PER_PAGE largest keypoints (what the index ships)
  grid-G-F        F % the largest, the rest in turn from a G × G grid over the keypoints' extent, each cell's
                  largest first (spread over the page)
  lanms-K         adaptive non-maximal suppression among the K largest: those farthest from a larger keypoint
  coarse-K        K keypoints detected on the page at 50 dpi (lines and blocks of text: what a strong blur
                  leaves) in place of K of the largest
  coarseadd-K     the same K added to the PER_PAGE largest (a larger entry)
  apart-F-K-S     the F largest, and K keypoints at 50 dpi kept apart: an index of their own (padded as the
                  fine one) asked only when the fine entries propose nothing, with S spatial inliers needed
Writes benchmarks/results/index-entries.md.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import archive_scale, locate_recall
from benchmarks import attacks as atk
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from benchmarks.robustness import attack_evidence
from leakmark import IssueOptions, Recipient, Workspace, fingerprint, issue, vault
from leakmark import index as page_index
from leakmark.fingerprint import Fingerprint
from leakmark.index import cells, vocab
from leakmark.index.segment import Entry
from leakmark.ledger import Ledger
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples
from leakmark.samples.archive import archive_page
from leakmark.trace import load, locate, tracer

NAME = script_name(__file__)
Coarse = tuple[np.ndarray, np.ndarray, np.ndarray]  # points (FP_DPI pixels), descriptors, sizes
DEFAULT_ATTACKS = ("crop-band:0.5,crop-band:0.2,blur-motion:15,noise-shot:0.3,photocopy:2,screen-dpi:72,"
                   "ps-error-diffusion:150,crop-corner:0.2,crop-centre:0.2")


def _coarse(gray300: np.ndarray) -> Coarse:
    """Keypoints of the page at `fingerprint.COARSE_DPI`, in the fingerprint's pixels (the outline registration
    makes)."""
    fp = fingerprint.outline_of_page(gray300, 300)
    assert fp.sizes is not None
    return fp.points, fp.descriptors, fp.sizes


def _spread_radius(points: np.ndarray) -> np.ndarray:
    """For keypoints in decreasing size: each one's distance to the nearest larger one (inf for the first)."""
    p = points.astype(np.float64)
    sq = (p * p).sum(1)
    r2 = np.full(len(p), np.inf)
    cols = np.arange(len(p))
    for a in range(1, len(p), 512):
        b = min(len(p), a + 512)
        d2 = sq[a:b, None] + sq[None, :b] - 2.0 * (p[a:b] @ p[:b].T)
        d2[cols[None, :b] >= cols[a:b, None]] = np.inf
        r2[a:b] = d2.min(1)
    return np.sqrt(np.maximum(r2, 0))


def _kept(fp: Fingerprint, strategy: str) -> np.ndarray:
    """Indices of the fingerprint's keypoints a strategy keeps (`largest`, `grid-G-F`, `lanms-K`)."""
    assert fp.sizes is not None
    n, sizes, pts = page_index.PER_PAGE, fp.sizes, fp.points
    order = np.argsort(-sizes, kind="stable")
    kind, *arg = strategy.split("-")
    if kind == "largest" or len(order) <= n:
        return np.sort(order[:n])
    if kind == "lanms":
        order = order[:int(arg[0])]
        r = _spread_radius(pts[order])
        return np.sort(order[np.argsort(-r, kind="stable")[:n]])
    g, share = int(arg[0]), int(arg[1]) / 100
    lo, hi = pts.min(0), pts.max(0) + 1e-3
    cell = (((pts[:, 1] - lo[1]) / (hi[1] - lo[1]) * g).astype(int) * g
            + ((pts[:, 0] - lo[0]) / (hi[0] - lo[0]) * g).astype(int))
    first = order[:int(n * share)]
    taken = np.zeros(len(sizes), bool)
    taken[first] = True
    rank = np.zeros(len(sizes), int)  # a keypoint's place among its cell's untaken ones, largest first
    for c in np.unique(cell):
        idx = order[cell[order] == c]
        idx = idx[~taken[idx]]
        rank[idx] = np.arange(len(idx))
    rest = np.flatnonzero(~taken)
    rest = rest[np.lexsort((-sizes[rest], rank[rest]))]
    return np.sort(np.concatenate([first, rest[:n - len(first)]]))


def entry(fp: Fingerprint, coarse: Coarse, strategy: str) -> Entry:
    """A page's entry under a strategy (see the module's docstring)."""
    kind, *arg = strategy.split("-")
    if kind == "apart":  # the fine entry (the coarse one: `only-K`)
        assert fp.sizes is not None
        keep = np.sort(np.argsort(-fp.sizes, kind="stable")[:int(arg[0])])
        points, desc = fp.points[keep].astype(np.float32), fp.descriptors[keep]
    elif kind == "only":
        cpts, cdesc, csizes = coarse
        keep = np.sort(np.argsort(-csizes, kind="stable")[:int(arg[0])])
        points, desc = cpts[keep].astype(np.float32), cdesc[keep]
    elif kind in ("coarse", "coarseadd"):
        assert fp.sizes is not None
        cpts, cdesc, csizes = coarse
        top = np.argsort(-csizes, kind="stable")[:int(arg[0])]
        fine = np.argsort(-fp.sizes, kind="stable")[:page_index.PER_PAGE - (len(top) if kind == "coarse" else 0)]
        points = np.concatenate([fp.points[fine], cpts[top]]).astype(np.float32)
        desc = np.concatenate([fp.descriptors[fine], cdesc[top]])
    else:
        keep = _kept(fp, strategy)
        points, desc = fp.points[keep].astype(np.float32), fp.descriptors[keep]
    rs = vocab.root_sift(desc)
    stored = np.clip(np.rint(rs * page_index.SCALE), 0, 255).astype(np.uint8)
    return Entry(stored, vocab.quantise_rs(rs).astype(np.uint16), points, *cells.of_stored(stored))


def _generated(first: int, count: int) -> list[tuple[Fingerprint, Coarse]]:
    out = []
    for n in range(first, first + count):
        gray = render_page_array(archive_page(n), 0, 300, mode="gray")  # as registration renders (300 dpi)
        out.append((fingerprint.of_page(gray, 300), _coarse(gray)))
    return out


def _padding(pool: list[tuple[Fingerprint, Coarse]], strategy: str, count: int) -> list[tuple[str, int, Entry]]:
    """Synthetic pages as archive_scale makes them (`_synthetic_pages`, which makes PER_PAGE descriptors a
    page), from the pool's entries of this strategy and as many descriptors a page as they have."""
    made = [entry(fp, co, strategy) for fp, co in pool]
    pool_d = np.concatenate([e.descriptors for e in made])
    pool_w = np.concatenate([e.words for e in made])
    rng = np.random.default_rng(15)  # synthetic index entries only, never marks
    return archive_scale._synthetic(rng, pool_d, pool_w, archive_scale.UNREGISTERED, count, len(made[0].descriptors))


class _Proposals:
    """`locate.Candidates` over an in-memory index, as the tracer's (`tracer._IndexCandidates`)."""

    def __init__(self, index: page_index.PageIndex, ids: dict[str, str], fps: Callable[[str, int], Fingerprint]
                 ) -> None:
        self.index, self.ids, self.fps = index, ids, fps
        self.sha_of = {i: s for s, i in ids.items()}

    coarse: page_index.PageIndex | None = None  # asked when the index proposes nothing (`apart-F-K-S`)
    spatial = page_index.SPATIAL
    asked = proposed = 0  # coarse questions, and those that proposed something

    def __call__(self, pts: np.ndarray, desc: np.ndarray, sizes: np.ndarray) -> list[locate.PageRef]:
        found = self.index.query(pts, desc, sizes)
        if not found and self.coarse is not None:
            found = self.coarse.query(pts, desc, sizes, spatial=self.spatial)
            self.asked += 1
            self.proposed += bool(found)
        return self._refs(found)

    def within(self, doc_id: str, pts: np.ndarray, desc: np.ndarray, sizes: np.ndarray) -> list[locate.PageRef]:
        return self._refs(self.index.query(pts, desc, sizes, within=self.sha_of.get(doc_id, doc_id),
                                           spatial=locate.SIBLING_SPATIAL))

    def _refs(self, found: list[page_index.Candidate]) -> list[locate.PageRef]:
        return [locate.PageRef(doc_id=self.ids.get(c.sha256, c.sha256), page=c.page, group=c.group, votes=c.votes,
                               **self.fps(c.sha256, c.page).to_npz()) for c in found]


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--pages", type=int, default=100, help="generated pages indexed besides the samples")
    ap.add_argument("--pad", type=int, default=10_000, help="index pages in all, synthetic ones added (0: none)")
    ap.add_argument("--seeds", type=int, default=3, help="leaks per attack and sample page")
    ap.add_argument("--strategies", default="largest,grid-4-0,lanms-600,coarse-60,coarseadd-60")
    ap.add_argument("--attacks", default=DEFAULT_ATTACKS, help="attack:strength, comma-separated")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="keep the samples' workspace and the page caches here")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.pages < 0 or args.pad < 0 or args.seeds < 1:
        ap.error("--pages and --pad: 0 or more; --seeds: 1 or more")
    by_name = {a.name: a for a in atk.ATTACKS}
    cases = [(by_name.get(name), float(s)) for name, s in (c.split(":") for c in args.attacks.split(",") if c)]
    if not cases or any(a is None for a, _ in cases):
        ap.error(f"--attacks: attack:strength of {', '.join(by_name)}")
    strategies = [s for s in args.strategies.split(",") if s]
    for s in strategies:
        if not re.fullmatch(r"largest|grid-[1-9][0-9]*-(100|[1-9]?[0-9])|(lanms|coarse|coarseadd)-[1-9][0-9]*"
                            r"|apart-[1-9][0-9]*-[1-9][0-9]*-[1-9][0-9]*", s):
            ap.error(f"--strategies: {s!r} is not largest, grid-G-F, lanms-K, coarse-K, coarseadd-K or "
                     "apart-F-K-S")
    stamp = Stamp.take(NAME, argv)
    load_avg = os.getloadavg()
    rng = np.random.default_rng(args.seed)  # which copy's attack seed: evidence only, never marks
    with tempfile.TemporaryDirectory(prefix="leakmark-entries-") as tmp_s:
        folder = args.keep or Path(tmp_s)
        folder.mkdir(parents=True, exist_ok=True)
        ws = Workspace.open(folder / "ws", create=True)
        with Ledger(ws) as ledger:
            issued = {d.source_name: d for d in ledger.documents()}
        for src in write_samples(folder / "samples"):
            if src.name not in issued:
                issue(ws, IssueOptions(source=src, recipients=tuple(Recipient(f"reader {i}") for i in range(3)),
                                       output_dir=folder / f"out-{src.stem}", jobs=1))
        with Ledger(ws) as ledger:
            docs = [(d, [Path(c.path) for c in ledger.copies(d.id) if c.path]) for d in ledger.documents()]
        pages: dict[tuple[str, int], tuple[Fingerprint, Coarse]] = {}
        for d, _ in docs:
            for p in range(d.pages):
                gray = render_page_array(folder / "samples" / d.source_name, p, 300, mode="gray")
                pages[(d.sha256, p)] = (vault.load_fingerprint(ws, d.sha256, p), _coarse(gray))
        log(f"{args.pages} generated pages")
        for n, made in enumerate(_generated(0, args.pages)):
            pages[(f"{n:064x}", 0)] = made
        pool = _generated(archive_scale.POOL_FIRST, archive_scale.POOL_PAGES) if args.pad > len(pages) else []
        evidence = []
        (folder / "ev").mkdir(exist_ok=True)
        for a, strength in cases:
            assert a is not None
            for d, copies in docs:
                for p in range(d.pages):
                    for s in range(args.seeds):
                        f = attack_evidence(a, strength, [copies[s % len(copies)]], d.pages, p,
                                            int(rng.integers(1 << 30)), folder / "ev")
                        gray = next(iter(load.load(f[0]))).gray
                        evidence.append((f"{d.source_name} {a.name} {strength:g} page {p + 1} seed {s}", d.id, p,
                                         gray, float(np.mean(gray < locate_recall.DARK))))
        log(f"{len(evidence)} evidence images")
        ids = {d.sha256: d.id for d, _ in docs}
        rows, misses = [], []
        for strategy in strategies:
            keys = list(pages)
            entries = [entry(fp, co, strategy) for fp, co in pages.values()]
            pad = _padding(pool, strategy, args.pad - len(keys)) if pool else []
            index = page_index.PageIndex([k[0] for k in keys] + [s for s, _, _ in pad],
                                         [k[1] for k in keys] + [p for _, p, _ in pad],
                                         entries + [e for _, _, e in pad])
            proposals = _Proposals(index, ids, functools.lru_cache(maxsize=64)(lambda s, p: pages[(s, p)][0]))
            if strategy.startswith("apart-"):
                _, _, k, spatial = strategy.split("-")
                c_entries = [entry(fp, co, f"only-{k}") for fp, co in pages.values()]
                c_pad = _padding(pool, f"only-{k}", args.pad - len(keys)) if pool else []
                proposals.coarse = page_index.PageIndex(
                    [k[0] for k in keys] + [s for s, _, _ in c_pad], [k[1] for k in keys] + [p for _, p, _ in c_pad],
                    c_entries + [e for _, _, e in c_pad])
                proposals.spatial = int(spatial)
            found = 0
            for label, doc_id, page, gray, ink in evidence:
                got = tracer._locate(gray, proposals)
                if got is not None and got[0].ref.doc_id == doc_id and got[0].ref.page == page:
                    found += 1
                else:
                    misses.append(f"- {strategy}: {label} (dark pixels {ink:.3f})")
            per = int(np.mean([len(e.descriptors) for e in entries]))
            if proposals.coarse is not None:
                per += int(np.mean([len(e.descriptors) for _, _, e in proposals.coarse.pages()]))
            rows.append(f"| {strategy} | {per} | {found} | {len(evidence)} | {found / len(evidence):.1%} | "
                        f"{proposals.asked} / {proposals.proposed} |")
            log(rows[-1])
    after = os.getloadavg()
    lines = ["# Which keypoints a page's index entry keeps", "",
             f"Machine load (1/5/15-minute averages): {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f} at the "
             f"start, {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores.", "",
             f"The sample documents and {args.pages} generated pages indexed with each strategy, padded with "
             f"synthetic pages to {max(args.pad, len(pages)):,} (the first pass runs from "
             f"{page_index.FIRST_PASS_FROM:,} on); {len(evidence)} evidence images: {args.seeds} leak(s) of every "
             f"sample page for each of {args.attacks} (seed {args.seed}); found = located on its own document and "
             "page as a trace locates.", "",
             "| strategy | entries a page | found | of | share | coarse asked / proposed |",
             "|---|---:|---:|---:|---:|---:|", *rows, "",
             "## Not found", "", *misses, ""]
    output = Results(args.results, stamp, "index-entries")
    output.write_markdown("index-entries.md", lines)
    print(output.path("index-entries.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
