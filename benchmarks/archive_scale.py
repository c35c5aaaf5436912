"""Trace time as the archive grows: N distinct registered pages, one phone photo of one of them.

    python -m benchmarks archive_scale [--pages 10,100] [--per-doc K] [--synthetic 1000,10000] [--strangers 40]
                                       [--registered 40]
                                       [--keep DIR [--reuse]]

For each N: a fresh workspace where N generated pages (`leakmark.samples.archive`: Chinese and English prose,
tables and forms, each page distinct) are registered as one-page documents, or with `--per-doc K` as documents
of K pages, each document issued to one recipient (registration is issuing's first step; a one-page document
with one worker, a longer one with every core: 20-page documents took 0.70 s a page here against 1.28 s for
one-page documents, which makes a real archive of 10,000 pages about two hours of registration; a run stopped
part-way and started again with the same --keep, --pages and --per-doc carries on after the documents already
registered (with others it stops: it would register their pages twice), and times
only the pages it registers); then a
simulated 12-megapixel phone photo of one copy's page is traced, and so is a photo of a page that is not
registered (it must answer no-match). Per N: registration time per page, the page index's size per page, the
trace's total and per-stage times (best of two runs; `index` is loading the index and the queries, `locate` the
evidence's features and the geometric verification), whether the right copy was named, and the process's peak
memory. With `--strangers N`, N more photos of unregistered pages are traced once each in the largest archive,
and in its copies padded with `--pad` (how many answered no-match, how many were located on a page of their
template, median and slowest times). With `--registered N`, N photos of registered pages (each the issued
copy's page) are traced in the largest archive: the page found and the copy named, per family.
Writes benchmarks/results/archive-scale.md (with the
machine's load: other work shares its CPU, so the times are upper bounds).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, fingerprint, issue, simulate, trace
from leakmark import index as page_index
from leakmark._io import atomic_write_bytes
from leakmark.index import Candidate, cells
from leakmark.index.segment import Entry
from leakmark.ledger import Copy, Document, Ledger
from leakmark.rendering import render_page_array
from leakmark.samples.archive import archive_page, family

NAME = script_name(__file__)
STAGES = ("load", "index", "locate", "align", "measure", "decide")
UNREGISTERED = 10_000_000  # archive page numbers from here on are never registered
POOL_FIRST, POOL_PAGES = 30_000_000, 240  # never registered either: synthetic pages' descriptors


ARCHIVE_DOC = re.compile(r"pages?-(\d{6})(?:-(\d{6}))?\.pdf")  # `_doc_name`'s names: first page, last page


def _doc_name(first: int, count: int) -> str:
    """The file of archive pages first .. first + count - 1 as one document (one page: its name before --per-doc)."""
    return f"page-{first:06d}.pdf" if count == 1 else f"pages-{first:06d}-{first + count - 1:06d}.pdf"


def _holding(docs: list[Document], n: int) -> tuple[Document, int]:
    """The registered document that holds archive page `n`, and n's index in it."""
    for d in docs:
        m = ARCHIVE_DOC.fullmatch(d.source_name or "")
        if m and int(m[1]) <= n <= int(m[2] or m[1]):
            return d, n - int(m[1])
    raise LookupError(f"no registered document holds archive page {n}")


def _register(ws: Workspace, folder: Path, first: int, count: int) -> tuple[float, object]:
    src = folder / _doc_name(first, count)
    if count == 1:
        atomic_write_bytes(src, archive_page(first))
    else:
        with pymupdf.open() as out:
            for n in range(first, first + count):
                with pymupdf.open(stream=archive_page(n), filetype="pdf") as page:
                    out.insert_pdf(page)
            atomic_write_bytes(src, out.tobytes())
    t0 = time.perf_counter()
    res = issue(ws, IssueOptions(source=src, recipients=(Recipient(f"reader {first}"),), output_dir=folder / "out",
                                 jobs=1 if count == 1 else 0))
    return time.perf_counter() - t0, res


def _photo(pdf: Path, out: Path, seed: int, page_no: int = 0) -> Path:
    page = render_page_array(pdf, page_no, 300, mode="bgr")
    cv2.imwrite(str(out), simulate.phone_photo(page, seed=seed, megapixels=12.0), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return out


def _timed(ws: Workspace, ev: Path) -> tuple[float, dict[str, float], object]:
    best = None
    for _ in range(2):
        t0 = time.perf_counter()
        r = trace(ws, TraceOptions(evidence=(ev,)))
        dt = time.perf_counter() - t0
        if best is None or dt < best[0]:
            best = (dt, dict(r.timings), r)
    assert best is not None
    return best


def run(pages: int, tmp: Path, reuse: bool, per_doc: int = 1) -> str:
    ws = Workspace.open(tmp / "ws")
    reg = 0.0
    target = pages // 2  # the leaked page: one in the middle of the archive
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    if reuse and sum(d.pages for d in docs) >= pages:  # registered by an earlier run
        # untimed: an index of another format (an earlier release's) made again, as the first trace would
        page_index.for_trace(ws, docs)
        return _traced_registered(ws, tmp, pages, target, None)
    leaked = None
    earlier = {d.source_name for d in docs}
    planned = {_doc_name(first, min(per_doc, pages - first)) for first in range(0, pages, per_doc)}
    stray = sorted(n for n in earlier if n and ARCHIVE_DOC.fullmatch(n) and n not in planned)
    if stray:  # resumed with another --per-doc or --pages: its documents would register those pages again
        raise SystemExit(f"{tmp / 'ws'} holds archive documents this run would not make ({', '.join(stray[:3])}"
                         f"{', …' if len(stray) > 3 else ''}): resume with the --pages and --per-doc of the run "
                         "that registered them, or use another --keep")
    new = 0  # pages this run registered: a run stopped part-way is resumed after the documents it registered
    for first in range(0, pages, per_doc):
        count = min(per_doc, pages - first)
        if _doc_name(first, count) in earlier:
            continue
        dt, res = _register(ws, tmp, first, count)
        reg += dt
        new += count
        if first <= target < first + count:
            leaked = res
        done = first + count
        step = 10 if per_doc == 1 else 100
        if done // step > first // step or done == pages:
            log(f"  {done}/{pages} registered ({reg / new:.2f} s/page)")
    if leaked is None:  # the leaked page's document was registered by the run this one resumed
        return _traced_registered(ws, tmp, pages, target, reg / new if new else None)
    copy = leaked.copies[0]  # type: ignore[attr-defined]
    return _traced(ws, tmp, pages, target, Path(copy.path), copy.copy_no, reg / new, page_no=target % per_doc)


def _traced_registered(ws: Workspace, tmp: Path, pages: int, target: int, reg: float | None) -> str:
    """`_traced` for a target page registered by an earlier run: its document and copy read from the register."""
    with Ledger(ws) as ledger:
        leaked, page_no = _holding(ledger.documents(), target)
        copy = next(c for c in ledger.copies(leaked.id) if c.path)
    return _traced(ws, tmp, pages, target, Path(copy.path), copy.label, reg, page_no=page_no)


def _traced(ws: Workspace, tmp: Path, pages: int, target: int, copy: Path, copy_no: str, reg: float | None,
            seed: int | None = None, page_no: int = 0, indexed: int | None = None) -> str:
    """The table's row: the photo of the copy's page `page_no` (and of an unregistered page) traced in `ws`, an
    archive of `pages` pages (its index may hold more: a kept archive grown since, which the row shows and
    divides by); the photos are made with `seed` (default: `pages`) and written to `tmp`; `reg`: seconds per page
    to register (None: an archive reused from an earlier run)."""
    seed = pages if seed is None else seed
    size = page_index.index_size(ws)
    if indexed is None:  # the index holds every registered page: an archive kept and grown since, too
        with Ledger(ws) as ledger:
            indexed = sum(d.pages for d in ledger.documents())
    ev = _photo(copy, tmp / "photo.jpg", seed=seed, page_no=page_no)
    total, tm, r = _timed(ws, ev)
    ok = r.verdict == "identified" and r.suspects[0].copy.label == copy_no  # type: ignore[attr-defined]
    stranger = tmp / "stranger.pdf"
    atomic_write_bytes(stranger, archive_page(UNREGISTERED + seed))
    none_total, _none_tm, none_r = _timed(ws, _photo(stranger, tmp / "stranger.jpg", seed=seed + 1))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = " | ".join(f"{tm.get(s, 0.0):.2f}" for s in STAGES)
    label = f"{pages}" if indexed == pages else f"{pages} ({indexed} indexed)"
    return (f"| {label} | {'reused' if reg is None else f'{reg:.2f}'} | {size / indexed / 1024:.1f} | {total:.2f} | "
            f"{stages} | {'yes' if ok else 'NO'} ({family(target)}) | {none_total:.2f} ({none_r.verdict}) | "  # type: ignore[attr-defined]
            f"{peak:.0f} |")


def drawn(ledger: Ledger, pages: int, count: int) -> list[tuple[int, Document, int, Copy]]:
    """`count` of the archive's first `pages` pages drawn at random (seed 5): each with the registered document that
    holds it, its index there and the document's issued copy (`--registered`; `first_pass_rank --photos`)."""
    docs = ledger.documents()
    held = [(int(n), *_holding(docs, int(n)))
            for n in np.random.default_rng(5).choice(pages, size=min(count, pages), replace=False)]
    copies = {i: next(c for c in ledger.copies(i) if c.path) for i in {d.id for _, d, _ in held}}
    return [(n, doc, page_no, copies[doc.id]) for n, doc, page_no in held]


def registered(tmp: Path, pages: int, count: int) -> list[str]:
    """The report's section on `count` photos of registered pages (archive pages drawn at random, seed 5; photo seed
    1000 + page), each of the issued copy's page, traced once in the archive of `pages` pages: whether the page
    is found, the copy named, and how long it took, per family (the table's one registered photo is one page)."""
    if count <= 0:
        return []
    ws = Workspace.open(tmp / "ws", create=False)
    with Ledger(ws) as ledger:
        held = drawn(ledger, pages, count)
    rows, by_family, misses = [], {}, []
    for i, (n, doc, page_no, copy) in enumerate(held, 1):
        ev = _photo(Path(copy.path), tmp / f"registered-{n}.jpg", seed=1000 + n, page_no=page_no)
        t0 = time.perf_counter()
        r = trace(ws, TraceOptions(evidence=(ev,)))
        dt = time.perf_counter() - t0
        found = r.document is not None and r.document.id == doc.id and r.evidence[0].document_page == page_no + 1
        named = r.verdict == "identified" and r.suspects[0].copy.label == copy.label
        fam = by_family.setdefault(family(n), [0, 0, 0])
        fam[0] += found
        fam[1] += named
        fam[2] += 1
        rows.append(dt)
        if not (found and named):
            misses.append(f"- archive page {n} ({family(n)}; page {page_no + 1} of {doc.source_name}): {r.verdict}, "
                          f"{'page found' if found else 'page not found'}; {r.evidence[0].detail}")
        log(f"  registered page {i}/{len(held)} ({n}, {family(n)}): {dt:.2f} s, {r.verdict}"
            f"{'' if found else ', page not found'}")
        ev.unlink()
    secs = np.array(rows)
    table = [f"| {f} | {v[0]} | {v[1]} | {v[2]} |" for f, v in sorted(by_family.items())]
    total = [sum(v[k] for v in by_family.values()) for k in range(3)]
    return ["## Photos of registered pages", "",
            f"{len(held)} phone photos of registered archive pages (drawn at random, seed 5; each the issued copy's "
            f"page, photo seed 1000 + page), each traced once among the {pages} registered pages: the page found "
            "(its document and page located) and the copy named (identified, the right copy first).", "",
            "| family | page found | copy named | photos |", "|---|---:|---:|---:|", *table,
            f"| **all** | **{total[0]}** | **{total[1]}** | **{total[2]}** |", "",
            f"Trace seconds: median {np.median(secs):.2f}, 90th percentile {np.percentile(secs, 90):.2f}, max "
            f"{secs.max():.2f}.", "", *(["Not found or not named:", "", *misses, ""] if misses else [])]


def strangers(tmp: Path, pages: int, count: int, padded_to: list[int] | None = None) -> list[str]:
    """The report's section on `count` photos of unregistered pages (archive pages UNREGISTERED + k, photo seed k),
    each traced once in the archive of `pages` pages, and again in each of its padded copies (`padded_to`: the
    index padded with synthetic pages to that many, searched as registered pages: `unmasked`): the no-match
    target holds for every page or it does not (a page of a registered page's template can be located on it;
    `leakmark.trace.agreement`)."""
    if count <= 0:
        return []
    photos = []
    for k in range(1, count + 1):
        pdf = tmp / f"unregistered-{k}.pdf"
        atomic_write_bytes(pdf, archive_page(UNREGISTERED + k))
        photos.append((k, _photo(pdf, tmp / f"unregistered-{k}.jpg", seed=k)))
    table = []
    for total in [None, *(padded_to or [])]:
        folder = tmp if total is None else tmp / f"padded-{total}-pool3"
        ws = Workspace.open(folder / "ws", create=False)
        rows = []
        with contextlib.nullcontext() if total is None else unmasked(ws):
            for k, ev in photos:
                t0 = time.perf_counter()
                r = trace(ws, TraceOptions(evidence=(ev,)))
                rows.append((k, time.perf_counter() - t0, r))
                log(f"  unregistered page {k}/{count}{'' if total is None else f' (index of {total:,})'}: "
                    f"{rows[-1][1]:.2f} s, {r.verdict}")
        secs = np.array([dt for _, dt, _ in rows])
        slow = [f"{k} ({family(UNREGISTERED + k)}, {dt:.2f} s{', located' if r.evidence[0].aligned else ''})"
                for k, dt, r in rows if dt > 2.0]
        index = f"{pages:,}" if total is None else f"{total:,} ({pages:,} registered)"
        table.append(f"| {index} | {count} | {sum(r.verdict == 'no-match' for _, _, r in rows)} | "
                     f"{sum(bool(r.evidence[0].aligned) for _, _, r in rows)} | {np.median(secs):.2f} | "
                     f"{np.percentile(secs, 90):.2f} | {secs.max():.2f} | {', '.join(slow) or '-'} |")
    return ["## Photos of unregistered pages", "",
            f"{count} phone photos of unregistered archive pages (`UNREGISTERED + k`, photo seed k, k = 1..{count}), "
            f"each traced once among the {pages} registered pages (and in the index padded with synthetic pages, "
            "where asked). Located: the tracer aligned and measured it on a registered page (a page of its "
            "template) before answering.", "",
            "| index pages | photos | no-match | located | median s | 90th percentile s | max s | over 2 s |",
            "|---|---:|---:|---:|---:|---:|---:|---|", *table, ""]


def synthetic(tmp: Path, pages: int, sizes: list[int]) -> tuple[list[str], tuple[float, float]]:
    """The page index alone with N entries: the real archive's in `tmp`, the rest synthetic pages of 300
    descriptors drawn from the index entries of generated pages that are not registered (`_pool`), each with a
    little noise and its visual word, placed at random on an A4 page (the words as skewed as real pages', no
    real page behind them). The synthetic pages are written as segment files of MERGE_PAGES pages (as
    registrations leave them) and memory-mapped, as a trace opens them. Per N: the time to open the index, the
    query time for the phone photo (the first, then the best of three), whether the photo's page still comes
    first, and the memory the query added to the process; and what the noise would change of the synthetic
    descriptors' cells and signatures (`_cell_moves`)."""
    from leakmark.index import PageIndex
    from leakmark.index.segment import Segment
    from leakmark.trace import locate
    from leakmark.trace.page import find_page_quad, unwarp

    if not sizes:  # nothing asked: not even the pool (a minute of extraction)
        return [], (0.0, 0.0)
    ws = Workspace.open(tmp / "ws", create=False)
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    real = page_index.for_trace(ws, docs)
    shown, shown_page = _holding(docs, pages // 2)  # the photo's page
    target = (shown.sha256, shown_page)
    img = cv2.imread(str(tmp / "photo.jpg"), cv2.IMREAD_GRAYSCALE)
    quad = find_page_quad(img)
    pts, desc, sz, _ = locate.evidence_features(unwarp(img, quad)[0] if quad is not None else img)
    other = cv2.imread(str(tmp / "stranger.jpg"), cv2.IMREAD_GRAYSCALE)  # the unregistered page's photo
    other_quad = find_page_quad(other)
    o_pts, o_desc, o_sz, _ = locate.evidence_features(unwarp(other, other_quad)[0] if other_quad is not None
                                                      else other)
    rng = np.random.default_rng(14)  # synthetic evidence only, never marks
    pool = _pool(tmp)
    folder = tmp / "synthetic"
    folder.mkdir(exist_ok=True)
    made: list[Path] = []
    made_outlines: list[Path] = []
    have = len(real)
    rows = []
    assert real.outline is not None
    for n in sizes:
        while have < n:  # segment files of synthetic pages and of their outlines, up to N pages in all
            count = min(page_index.MERGE_PAGES, n - have)
            pages_, outlines = _synthetic_pages(rng, pool, have, count)
            for to, what, name in ((made, pages_, "synthetic"), (made_outlines, outlines, "synthetic-outline")):
                path = folder / f"{name}-{have}.npz"
                with open(path, "wb") as fh:
                    Segment.of(what).write(fh)
                to.append(path)
            have += count
            log(f"  {have:,} index pages")
        t0 = time.perf_counter()
        index = PageIndex(segments=[*real.segments, *(Segment.open(p) for p in made)])
        index.outline = PageIndex(segments=[*real.outline.segments, *(Segment.open(p) for p in made_outlines)])
        opened = time.perf_counter() - t0
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        found = index.query(pts, desc, sz)
        first = time.perf_counter() - t0
        grown = _rss_mb() - rss0
        best = min(_time(lambda idx=index: idx.query(pts, desc, sz)) for _ in range(3))
        proposed = index.query(o_pts, o_desc, o_sz)  # nothing, as a trace would find
        none = min(_time(lambda idx=index: idx.query(o_pts, o_desc, o_sz)) for _ in range(3))
        rank = next((k for k, c in enumerate(found) if (c.sha256, c.page) == target), None)
        size = sum(p.stat().st_size for p in [*made, *made_outlines]) + page_index.index_size(ws)
        rows.append(f"| {n:,} | {size / n / 1024:.1f} | {len(index.segments)} | {opened:.2f} | {first:.2f} | "
                    f"{best:.3f} | {'first' if rank == 0 else 'NOT first' if rank else 'not found'} | {grown:.0f} | "
                    f"{none:.3f} ({'nothing' if not proposed else f'{len(proposed)} pages'}) |")
        log(rows[-1])
    return rows, _cell_moves(pool[0])


Pool = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # entries' descriptors, words; outlines' the same


def _pool(tmp: Path) -> Pool:
    """Descriptors for synthetic pages, with their visual words: the index entries (a page's largest keypoints,
    as registration keeps them) of POOL_PAGES generated pages that are never registered, and their outline
    entries, made once and kept in `tmp`. Real pages' descriptors, so that the synthetic pages' words are as
    skewed as real pages' (descriptors turned over or rotated, as earlier runs used, crowd a few words and make
    queries slower than real pages do); none is a registered page's."""
    cached = tmp / f"synthetic-pool-{POOL_PAGES}-outlines.npz"
    if cached.exists():
        with np.load(cached) as z:
            return z["descriptors"], z["words"], z["outline_descriptors"], z["outline_words"]
    made: list[list[np.ndarray]] = [[], [], [], []]
    for n in range(POOL_FIRST, POOL_FIRST + POOL_PAGES):
        gray = render_page_array(archive_page(n), 0, 300, mode="gray")  # as registration renders (300 dpi)
        e = page_index.entry_of(fingerprint.of_page(gray, 300))
        o = page_index.entry_of(fingerprint.outline_of_page(gray, 300), page_index.OUTLINE_PER_PAGE)
        for to, a in zip(made, (e.descriptors, e.words, o.descriptors, o.words), strict=True):
            to.append(a)
    pool_d, pool_w, out_d, out_w = (np.concatenate(a) for a in made)
    with open(cached, "wb") as fh:
        np.savez(fh, descriptors=pool_d, words=pool_w, outline_descriptors=out_d, outline_words=out_w)
    return pool_d, pool_w, out_d, out_w


def _synthetic_pages(rng: np.random.Generator, pool: Pool, start: int, count: int
                     ) -> tuple[list[tuple[str, int, Entry]], list[tuple[str, int, Entry]]]:
    """`count` synthetic one-page documents (sha256 = their number in hex) drawn from the pool: their entries
    (PER_PAGE descriptors) and outline entries (OUTLINE_PER_PAGE)."""
    return (_synthetic(rng, pool[0], pool[1], start, count, page_index.PER_PAGE),
            _synthetic(rng, pool[2], pool[3], start, count, page_index.OUTLINE_PER_PAGE))


def _synthetic(rng: np.random.Generator, pool_d: np.ndarray, pool_w: np.ndarray, start: int, count: int,
               per_page: int) -> list[tuple[str, int, Entry]]:
    pool_c, pool_s = _pool_cells(pool_d)
    pages = []
    for i in range(start, start + count):
        pick = rng.integers(0, len(pool_d), per_page)
        where = (rng.random((per_page, 2)) * (1240, 1754)).astype(np.float32)
        # a little noise: no two synthetic descriptors are the same (real pages' never are), none leaves its word;
        # each keeps its pool descriptor's cell and signature (computing them for 300 million descriptors would
        # take hours here; `_cell_moves` says how much the noise would change them)
        noise = rng.integers(-2, 3, (per_page, 128))
        desc = np.clip(pool_d[pick].astype(np.int16) + noise, 0, 255).astype(np.uint8)
        pages.append((f"{i:064x}", 0, Entry(desc, pool_w[pick], where, pool_c[pick], pool_s[pick])))
    return pages


@functools.cache
def _pool_cells_of(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    return cells.of_stored(np.frombuffer(raw, np.uint8).reshape(-1, 128))


def _pool_cells(pool_d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pool descriptors' cells and signatures."""
    return _pool_cells_of(pool_d.tobytes())


def _cell_moves(pool_d: np.ndarray, seed: int = 16, n: int = 30_000) -> tuple[float, float]:
    """What the synthetic descriptors' noise would change of their pool descriptor's cell and signature (which
    they keep): the share that would move to another cell, and the mean signature bits that would differ."""
    rng = np.random.default_rng(seed)  # synthetic evidence only, never marks
    pick = rng.integers(0, len(pool_d), n)
    noisy = np.clip(pool_d[pick].astype(np.int16) + rng.integers(-2, 3, (n, 128)), 0, 255).astype(np.uint8)
    cell, sig = cells.of_stored(noisy)
    pool_c, pool_s = _pool_cells(pool_d)
    same = cell == pool_c[pick]
    return float(np.mean(~same)), float(np.mean(np.bitwise_count(sig[same] ^ pool_s[pick][same])))


def padded(tmp: Path, pages: int, total: int) -> str:
    """The archive's traces again in a copy of its workspace whose page index also holds synthetic pages, up
    to `total` index pages: the trace as it would run with that many registered pages, but for the register's
    size (the synthetic pages are in no register; `_unmasked` makes the index search them as registered
    pages, and the tracer gets the registered candidates only)."""
    import shutil

    folder = tmp / f"padded-{total}-pool3"  # pool3: `_pool` of unregistered pages, outlines padded too
    if not folder.exists():
        shutil.copytree(tmp / "ws", folder / "ws")
    ws = Workspace.open(folder / "ws", create=False)
    with Ledger(ws) as ledger:
        docs = ledger.documents()
        leaked, page_no = _holding(docs, pages // 2)
        copy = next(c for c in ledger.copies(leaked.id) if c.path)
    pad_index(ws, docs, tmp, total)
    # the same photos as the archive's own row, with the synthetic pages competing as registered ones would
    with unmasked(ws):
        # the index's entries are `total` pages, the register's fewer: the row is labelled and divided by the index
        row = _traced(ws, folder, total, pages // 2, Path(copy.path), copy.label, None, seed=pages, page_no=page_no,
                      indexed=total)
    registered = sum(d.pages for d in docs)  # not len(real): a reused padded index holds the synthetic pages too
    return row.replace(f"| {total} |", f"| {total:,} ({registered:,} registered) |", 1)


def pad_index(ws: Workspace, docs: list[Document], pool_dir: Path, total: int) -> None:
    """Add synthetic pages to the workspace's index (the registered ones indexed first) until it holds `total`
    pages; the pool of descriptors is made (once) in `pool_dir`."""
    page_index.for_trace(ws, docs)  # the registered pages indexed
    have = len(page_index.load_or_empty(ws)[0])  # and the synthetic ones an earlier run added
    if have < total:
        rng = np.random.default_rng(15)  # synthetic index entries only, never marks
        pool = _pool(pool_dir)
        for start in range(have, total, page_index.MERGE_PAGES):
            count = min(page_index.MERGE_PAGES, total - start)
            page_index.add_pages(ws, *_synthetic_pages(rng, pool, start, count))
            log(f"  {start + count:,} index pages")


@contextlib.contextmanager
def unmasked(ws: Workspace) -> Iterator[None]:
    """Traces in `ws` query its whole index as if every page in it were registered. The tracer asks the index
    for the registered documents' pages only, so synthetic pages would be masked out of the matching and the
    spatial checks: a query would cost less than with that many registered pages (0.38 s against 0.84 s for
    the same index unmasked, measured at 10,000 pages). Here every page votes and is checked; the candidates
    the tracer gets are the registered ones among those proposed (a synthetic page proposed stands for a
    registered page that fails verification; the few ms of that verification are not counted)."""
    real = page_index.for_trace

    class Whole:
        def __init__(self, index: page_index.PageIndex, shas: set[str]) -> None:
            self.index, self.shas = index, shas

        def query(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray, **how: Any
                  ) -> list[Candidate]:
            return [c for c in self.index.query(points, descriptors, sizes, **how) if c.sha256 in self.shas]

    def whole(w: Workspace, docs: list[Document]) -> Whole:
        # the index as the tracer gets it (documents it lacked added), its segments (and its outline index's)
        # searched without the mask
        got = real(w, docs)
        index = page_index.PageIndex(segments=got._all())
        index.outline = None if got.outline is None else page_index.PageIndex(segments=got.outline._all())
        return Whole(index, {d.sha256 for d in docs})

    page_index.for_trace = whole  # type: ignore[assignment]
    try:
        yield
    finally:
        page_index.for_trace = real


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--pages", default="10,100", help="archive sizes, comma-separated (e.g. 10,100,1000)")
    ap.add_argument("--per-doc", type=int, default=1,
                    help="pages per registered document (default 1; e.g. 20 registers a large archive faster)")
    ap.add_argument("--synthetic", default="",
                    help="index sizes with synthetic entries added to the largest real archive (e.g. 1000,10000)")
    ap.add_argument("--keep", type=Path, help="keep the workspaces under this folder (default: a temporary one)")
    ap.add_argument("--pad", default="",
                    help="trace again with the largest archive's index padded with synthetic pages (e.g. 10000)")
    ap.add_argument("--reuse", action="store_true",
                    help="trace in the archives an earlier run kept in --keep (registration not timed again)")
    ap.add_argument("--strangers", type=int, default=0,
                    help="also trace photos of this many unregistered pages in the largest archive, and in its "
                         "padded copies (e.g. 40)")
    ap.add_argument("--registered", type=int, default=0,
                    help="also trace photos of this many registered pages of the largest archive, drawn at random "
                         "(e.g. 40): the page found and the copy named, per family")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sizes = [int(p) for p in args.pages.split(",")]
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="leakmark-archive-") as tmp_s:
        base = args.keep or Path(tmp_s)
        for n in sizes:
            log(f"archive of {n} pages")
            folder = base / f"archive-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            rows.append(run(n, folder, args.reuse and args.keep is not None, args.per_doc))
            log(rows[-1])
        for total in (int(n) for n in args.pad.split(",") if n):
            log(f"archive of {sizes[-1]} pages, index padded to {total:,}")
            rows.append(padded(base / f"archive-{sizes[-1]}", sizes[-1], total))
            log(rows[-1])
        synth, moves = synthetic(base / f"archive-{sizes[-1]}", sizes[-1],
                                 [int(n) for n in args.synthetic.split(",") if n])
        unregistered = strangers(base / f"archive-{sizes[-1]}", sizes[-1], args.strangers,
                                 [int(n) for n in args.pad.split(",") if n])
        known = registered(base / f"archive-{sizes[-1]}", sizes[-1], args.registered)
    after = os.getloadavg()
    lines = ["# Trace at archive scale", "",
             f"Machine load (1/5/15-minute averages, `uptime`): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the "
             "start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores: other work shared "
             "the CPU, so the times are upper bounds.", "",
             f"N distinct pages (Chinese and English prose, tables, forms) registered as documents of {args.per_doc} "
             f"page{'s' if args.per_doc > 1 else ''}, each issued to one recipient; "
             "a simulated 12-megapixel phone photo of the copy of the middle page traced (best of two runs), and a "
             "photo of a page that is not registered. Seconds; `index`: loading the page index and its queries; "
             "`locate`: the evidence's SIFT features (the unwarped sheet at 2,400 px; the raw image at 1,200 px "
             "first when the sheet shows nothing; the mirror image's are these mirrored, not extracted) and the "
             "geometric verification of the index's candidates; the padded rows' synthetic pages are queried as "
             "registered pages would be (`unmasked`); peak memory of the whole run so far.", "",
             "| pages | register s/page | index KB/page | trace s | " + " | ".join(STAGES)
             + " | right copy named | unregistered page: trace s | peak MB |",
             "|---:|---:|---:|---:|" + "---:|" * len(STAGES) + "---|---:|---:|",
             *rows, ""]
    if synth:
        lines += ["## The index alone, with synthetic pages", "",
                  f"The {sizes[-1]} real pages' entries and synthetic ones up to N (300 descriptors each, drawn from "
                  f"the index entries of {POOL_PAGES} generated pages that are not registered, with a little noise, "
                  "placed at random on an A4 page: words as skewed as real pages'; each keeps its pool descriptor's "
                  "cell and signature for the first pass (computing them for every synthetic descriptor would take "
                  f"hours here; the noise would move {moves[0]:.1%} of them to another cell and change "
                  f"{moves[1]:.1f} of 64 signature bits of the others), "
                  f"in segment files of up to {page_index.MERGE_PAGES:,} pages, memory-mapped; the same photo's "
                  "features queried. Open: reading the segments' headers; query: the first (from the disk or the "
                  "page cache), then the best of three; memory: what the first query added to the process "
                  f"(mapped pages it read included). From {page_index.FIRST_PASS_FROM:,} page contents on, a query "
                  f"starts with the cells' first pass, which hands {page_index.FIRST_PASS_KEEP} contents to the "
                  "exact search (`leakmark.index._first_pass`).", "",
                  "The last column: the query of the unregistered page's photo (best of three), which the first "
                  "pass asks twice (its 1,000 largest descriptors, then all 2,000: `leakmark.index`).", "",
                  "| index pages | KB/page | segments | open s | first query s | query s | photo's page | MB | "
                  "unregistered page: query s |",
                  "|---:|---:|---:|---:|---:|---:|---|---:|---:|", *synth, ""]
    lines += unregistered + known
    output = Results(args.results, stamp, "archive-scale")
    output.write_markdown("archive-scale.md", lines)
    print(output.path("archive-scale.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
