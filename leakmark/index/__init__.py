"""The page index: which registered pages an evidence image may show, without matching it against every page.

Each registered page is kept as a compact set of descriptors: the RootSIFT descriptors of its fingerprint's
`PER_PAGE` largest keypoints, one byte per value, with their positions (with the first pass's codes, about
45.8 KB a page; its outline entry, below, 3.8 KB more: 49.6 KB, measured on 120 generated pages). Large keypoints
span several characters or a stretch of a table's rules, so they tell apart pages in the same font and
layout, and they survive a screenshot at a third of the fingerprint's resolution; the many small ones
(strokes of a character) are on every page and say little. Measured on 36 generated archive pages, 12 of
them each photographed, screenshot and cropped to 40 % (unwarped and raw: 72 queries): a tf-idf bag of
visual words over every feature ranked the right page first 27 times; these descriptors 70 times, and 72 with
the spatial check below.

A query matches each evidence descriptor on every page separately (an inverted file over the visual words of
`vocab`: only the descriptors filed under the query's `PROBES` nearest words are compared): its nearest descriptor
on a page counts when it passes Lowe's ratio test within that page and is not much farther than its nearest anywhere
(`SLACK`; each stored descriptor once). Votes are counted per page, and the pages whose matches one homography
explains (`SPATIAL` inliers) are kept: a page that is not registered proposes (almost) nothing. `locate` then
verifies only those pages with their full fingerprints. Pages with the same descriptors (a page shared by two
documents, e.g. a revision) are one content: they are candidates together, so every document that contains the page
is verified (also when they lie in different segments). That exact search's cost grows with the descriptors filed
under its words, so linearly with the archive (0.74 s at 10,000 pages, 10.9 s at 100,000:
benchmarks/results/archive-scale.md). From FIRST_PASS_FROM page contents on, a query starts with a first pass over
finer cells (`cells`: 2**20 cells, each stored descriptor with a 64-bit signature, filed in its cell by the
signature's first 8 bits): the FIRST_PASS_KEEP contents whose descriptors most evidence descriptors meet there go to
the exact search, and only their descriptors are read. A meeting weighs log(contents / contents that evidence
descriptor meets) (FIRST_PASS_IDF): among 1,075 registered pages in the same fonts and vocabulary, the memo's page 1
as a 20 % crop or under shot noise 0.3 was the first pass's first in 4 of 12 leaks and at worst 38th with each
meeting counted one, first in 9 and at worst 10th weighed; one leak per image attack of the memo's and the notice's
page 2 (232): the first question ranked 22 better, none worse; the second (all 2,000, asked when the first proposes
nothing) 9 better and 15 second instead of first (each of those 15 was first in the first question). Weighed
counts still crowd a page out among pages of its template and vocabulary (among 10,000 real pages, 6 of 100 registered
photos' pages were the first pass's 163rd-461st: lost), so the FIRST_PASS_PLACED best are ranked again by the weight
of their meetings that one homography places on the page (`_placed`; each posting names its descriptor's row, so
its position is read): chance meetings lie anywhere, the page's fall into place. The first pass
asks with the evidence's FIRST_PASS_FEATURES largest descriptors, each in its CELL_PROBES nearest cells, reading the
buckets within FIRST_PASS_FLIPS bit of its signature; when the pages it hands on propose nothing, or only pages with
fewer than SURE × SPATIAL consistent matches (what chance gives a page: 15-40 seen), it asks again with all
QUERY_FEATURES, and both questions' candidates are proposed. Measured (each meeting counted one, before the idf) on
116 single-copy attacks of 30 generated pages among 100,000 synthetic ones (the page among the 64 handed on / ranked
first): 105 / 79 with every cell's postings read by the 2,000 largest in 8 cells each (5 times slower); 106 / 81
with the 2,000 in 2 cells; 109 / 105 with the 1,000 largest in 2 cells (the stored descriptors are a page's largest:
the evidence's small ones mostly meet other pages), 106 / 104 with 700. The 1,000 lose 3 that the 2,000 keep (a
photocopy, a halftone, a 72-dpi screenshot: their largest keypoints are specks or their page's are small there):
hence the second question, which a photo of an unregistered page always asks. The exact search checks spatially the
SHORTLIST contents with the most matches and every one the first pass handed on (FIRST_PASS_CHECKED: a noisy photo's
page can have fewer matches than pages whose matches are chance). 64 contents handed on and checked lost sharp phone
photos of registered pages among 2,000 real ones (English prose, one template and vocabulary: 5 of 43 photos, their
page the first pass's 65th-128th while a page of chance matches reached SPATIAL); 128 found all 43 first (a question
0.56 -> 0.81 s on average, measured beside other work; a registered photo's trace 0.1-0.2 s slower, idle:
`benchmarks/archive_scale --registered`). A quick question (`once`, after the image was asked in full) keeps
ONCE_KEEP. Opening the index reads no descriptors.

Outlines: a page of dense Chinese text has no large keypoints (the notice's page 2: its fingerprint's 99th
size percentile is 4.1 px at 150 dpi), and a strong blur (15 px of motion at 300 dpi) erases every one its entry
keeps. Each page also has an outline entry: the OUTLINE_PER_PAGE largest keypoints of the page at 50 dpi (lines
and blocks of text: `fingerprint.outline_of_page`), in an index of their own (``HOME/index/outline/``), asked
only when the page index proposes nothing, so that they never compete with the fine entries (put in place of
60 of a page's largest they found the blurred page and lost a noisy photo's; 260 fine entries and 40 outline
ones lost crops and noisy photos that 300 keep: benchmarks/index_entries). 24 of them proposed each of 15
blurred sample pages first, as 40 did (20: 12 of 15), and verification (`locate`) keeps out what they propose
of a page that is not registered. Segment format 5 stores positions as float16 and no inverse norms, which
pays for the outline entries within 50 KB a page; format 6 stores each page's descriptors together, format 7
a fence over the first pass's buckets (`segment`).

On disk: ``HOME/index/``, segment files (`segment`: pages and their descriptors filed by word, memory-mapped
when read, so a trace neither loads nor files the index) and ``manifest.json`` naming them with the format and
the vocabulary's sha256, replaced atomically (temp + rename): the commit of every change. A registration
writes a segment of its pages and merges the newest segments while they are of similar size (`_tiered`: a page
is rewritten about log2(pages) times in the index's life, never the whole index at each registration);
writers take turns under ``index/lock``. The vault is the truth: `rebuild` makes the index again from the
vault's fingerprints, and `for_trace` adds any registered document the index lacks (a crash between the vault
write and the index write, a workspace from before the index) and makes again an index that is damaged or of
another format, saying so in the log.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from leakmark import fingerprint, vault
from leakmark._io import atomic_write_bytes, private_dir
from leakmark._parallel import default_jobs
from leakmark._progress import NullProgress, Progress
from leakmark.errors import OutputError
from leakmark.fingerprint import Fingerprint
from leakmark.index import cells, vocab
from leakmark.index.segment import FORMAT, UPGRADES, Entry, Segment, SegmentError, inverse_norms
from leakmark.ledger import Document, Ledger
from leakmark.ledger.checkpoint import RegisterLock
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

PER_PAGE = 300  # descriptors kept per page
SCALE = 512  # RootSIFT values (at most ~0.35) × SCALE fit a byte
PROBES = 3  # words searched per evidence descriptor
RATIO = 0.8  # Lowe's ratio test, as in locate
TOP_K = 5  # distinct page contents proposed at most per query
SHORTLIST = 20  # contents with the most votes checked spatially
FIRST_PASS_CHECKED = 128  # the first pass's best contents, checked spatially whatever their votes (`_proposed`)
SPATIAL = 15  # matches one homography explains that a candidate needs (other pages: up to ~14 seen, the page: 25+)
CHECK_THREADS = 4  # threads the spatial checks run on at most, one a usable core (`_consistent_all`)
_GATE = 5  # USAC inliers below SPATIAL - _GATE: not worth RANSAC's count (see _consistent)
SLACK = 0.8  # a page's nearest descriptor counts when it is at most 1 / SLACK times as far as the nearest of all
QUERY_FEATURES = 2000  # evidence descriptors searched, the largest
MERGE_PAGES = 50_000  # segments are merged up to this many pages (a merge holds its segment in memory)
FIRST_PASS_FROM = 2_000  # page contents from which a query starts with the cells' first pass (`_first_pass`)
CELL_PROBES = 2  # cells visited per evidence descriptor in the first pass
FIRST_PASS_KEEP = 128  # page contents the first pass hands to the exact search (and checks: FIRST_PASS_CHECKED)
ONCE_KEEP = 64  # and for a question asked `once` (a quick one: the image was asked in full before)
SURE = 3  # the first pass's question is asked again unless a page has this many times `spatial` consistent matches
SECOND_GROUPS = 1 << 36  # added to the second question's candidates' groups: never equal to the first's
FIRST_PASS_FEATURES = 1000  # the evidence's largest descriptors that vote in the first pass (then all of them)
FIRST_PASS_IDF = True  # the first pass weighs each evidence descriptor by how few contents it meets (`_first_pass`)
FIRST_PASS_FLIPS = 1  # a cell's buckets read: signature bits (of cells.SUB_BITS) that may differ from the query's
FIRST_PASS_PLACED = 512  # the first pass's best contents ranked again by where their meetings lie (`_placed`)
OUTLINE_PER_PAGE = 24  # keypoints of the page's outline (`fingerprint.outline_of_page`) in its outline entry
OUTLINE_SPATIAL = 8  # matches one homography explains that an outline candidate needs (the page is verified after)
OUTLINE_GROUPS = 1 << 40  # added to an outline candidate's group: never equal to a fine candidate's
_SEGMENT_NAME = re.compile(r"seg-[0-9a-f]{24}\.npz")


class IndexFileError(Exception):
    """The index file is unreadable, damaged, or of another format or vocabulary (the message says which)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the page index {path} {reason}")


@dataclass(frozen=True)
class Candidate:
    sha256: str  # the document's vault folder
    page: int  # 0-based
    votes: int  # matched descriptors that one homography maps onto the page
    group: int  # candidates with the same group show the same page content (revisions)


def entry_of(fp: Fingerprint, per_page: int = PER_PAGE) -> Entry:
    """A page's index entry from its fingerprint (which must have its keypoint sizes): the `per_page` largest
    keypoints. Its outline entry is `entry_of(outline_of_page(...), OUTLINE_PER_PAGE)`."""
    if fp.sizes is None:
        raise ValueError("the fingerprint has no keypoint sizes")
    keep = np.sort(np.argsort(-fp.sizes, kind="stable")[:per_page])  # the largest; ties by detection order
    rs = vocab.root_sift(fp.descriptors[keep])
    stored = np.clip(np.rint(rs * SCALE), 0, 255).astype(np.uint8)
    return Entry(stored, vocab.quantise_rs(rs).astype(np.uint16), fp.points[keep].astype(np.float32),
                 *cells.of_stored(stored))


class PageIndex:
    """Index segments (memory-mapped files, or made in memory from pages added) queried as one."""

    def __init__(self, sha: list[str] | None = None, page: list[int] | None = None,
                 entries: list[Entry] | None = None, segments: list[Segment] | None = None) -> None:
        self.segments: list[Segment] = list(segments or [])
        self._added: list[tuple[str, int, Entry]] = list(zip(sha or [], page or [], entries or [], strict=True))
        self._docs = {s.decode() for seg in self.segments for s in seg.documents()} | {s for s, _p, _e in self._added}
        self._only: frozenset[str] | None = None
        self._allowed: list[np.ndarray] | None = None  # per segment, the contents `only` lets through
        self._made: Segment | None = None  # the pages added, as a segment (made at the first query)
        self.outline: PageIndex | None = None  # the pages' outline entries, asked when these propose nothing

    def __len__(self) -> int:
        return sum(seg.entries for seg in self.segments) + len(self._added)

    @property
    def documents(self) -> frozenset[str]:
        return frozenset(self._docs)

    def _all(self) -> list[Segment]:
        if self._added and self._made is None:
            self._made = Segment.of(self._added)
        return self.segments + ([self._made] if self._made is not None else [])

    def pages(self) -> list[tuple[str, int, Entry]]:
        """Every page with its entry, in (sha256, page) order (descriptors of stored pages in word order)."""
        out = []
        for seg in self._all():
            made: dict[int, Entry] = {}
            for s, p, c in zip(seg.sha, seg.page, seg.content, strict=True):
                out.append((s.decode(), int(p), made.get(int(c)) or made.setdefault(int(c), seg.entry(int(c)))))
        return sorted(out, key=lambda t: (t[0], t[1]))

    @property
    def sha(self) -> list[str]:
        return [s for s, _p, _e in (self._added if not self.segments else self.pages())]

    @property
    def page(self) -> list[int]:
        return [p for _s, p, _e in (self._added if not self.segments else self.pages())]

    @property
    def entries(self) -> list[Entry]:
        return [e for _s, _p, e in (self._added if not self.segments else self.pages())]

    def add(self, sha256: str, pages: Iterable[Entry]) -> None:
        """Add a document's pages (page order); a document already present is left as it is."""
        if sha256 in self._docs:
            return
        self._added += [(sha256, i, e) for i, e in enumerate(pages)]
        self._docs.add(sha256)
        self._made = self._allowed = None

    def only(self, documents: set[str]) -> PageIndex:
        """The same index answering with these documents' pages only (as an index of only those would)."""
        view = PageIndex(segments=self._all())
        view._docs = self._docs & documents
        view._only = frozenset(documents)
        view.outline = None if self.outline is None else self.outline.only(documents)
        return view

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PageIndex) and self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable: not a dict key

    # -- one file --------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The index as one segment file: the same pages give the same bytes, however they were added."""
        return Segment.merged(self._all()).to_bytes()

    def save(self, path: Path) -> None:
        private_dir(path.parent)
        atomic_write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> PageIndex:
        """The index in one segment file; IndexFileError when it cannot be used as it is (damaged, other
        format)."""
        try:
            return cls(segments=[Segment.open(path)])
        except SegmentError as exc:
            raise IndexFileError(path, str(exc)) from exc
        except OSError as exc:
            raise IndexFileError(path, f"cannot be read ({exc.strerror or exc})") from exc

    # -- query -------------------------------------------------------------------------------------------
    def query(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray | None = None,
              k: int = TOP_K, within: str | None = None, spatial: int = SPATIAL, outline: bool = True,
              once: bool = False, keep: int | None = None) -> list[Candidate]:
        """The pages the evidence's SIFT features (positions, descriptors) most likely show, best first: the
        pages of the top `k` distinct page contents whose matches fit one homography with `spatial` inliers or
        more, each with every entry that has the same content. With the keypoints' `sizes`, only the
        QUERY_FEATURES largest are searched (the stored ones are a page's largest too). `within` (a document's
        sha256): only that document's pages vote and are proposed (each still with the other documents that
        hold the same content), so that its pages' descriptors compete with each other only.

        When nothing is proposed, the `outline` index is asked (not `within` a document): a strong blur erases
        the small keypoints of a page of dense text, which may be all its entry keeps, and leaves its lines and
        blocks. Kept apart, the outline's descriptors never compete with the fine ones (measured: put in place
        of 60 of a page's largest, they found a blurred page and lost a noisy photo's; benchmarks/index_entries).
        Its candidates need OUTLINE_SPATIAL matches only: they are verified against the whole fingerprint.
        `outline=False`: not asked (the tracer's quick questions: a mirror image, the raw image after its sheet).
        `once`: a large index's first pass asks with the FIRST_PASS_FEATURES largest descriptors only, not again
        with all of them when that proposes nothing or little (a quick question: the image as it is was asked in full).
        `keep`: the first pass hands on (and the exact search checks) this many contents, not FIRST_PASS_KEEP
        (the tracer's wide question of small evidence; a small index's exact search reads every page anyway)."""
        memo = _Memo()
        out = self._query(points, descriptors, sizes, k, within, spatial, memo, once, keep)
        if not out and outline and within is None and self.outline is not None:
            out = [Candidate(c.sha256, c.page, c.votes, c.group + OUTLINE_GROUPS)
                   for c in self.outline._query(points, descriptors, sizes, k, None, OUTLINE_SPATIAL, memo)]
        return out

    def _query(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray | None, k: int,
               within: str | None, spatial: int, memo: _Memo, once: bool = False, keep: int | None = None
               ) -> list[Candidate]:
        segs = self._all()
        if not len(self) or not len(descriptors):
            return []
        if sizes is not None and len(descriptors) > QUERY_FEATURES:
            largest = np.argsort(-sizes, kind="stable")[:QUERY_FEATURES]
            points, descriptors, sizes = points[largest], descriptors[largest], sizes[largest]
        if self._only is not None and self._allowed is None:  # once per view: a trace asks up to four times
            self._allowed = [_allowed(seg, self._only) for seg in segs]
        allowed = self._allowed
        if within is not None:
            allowed = [_allowed(seg, frozenset({within})) for seg in segs]
        if sum(seg.contents for seg in segs) < FIRST_PASS_FROM:
            return self._proposed(segs, segs, allowed, points, descriptors, k, spatial, memo)
        # a large index: its likeliest pages only, asked with the largest descriptors first, then with all of
        # them when those propose nothing (a photocopy's or a noisy photo's largest keypoints are often specks)
        by_size = np.arange(len(descriptors)) if sizes is None else np.argsort(-sizes, kind="stable")
        voters, placed = descriptors[by_size], points[by_size]
        if keep is None:
            keep, checked = (ONCE_KEEP, ONCE_KEEP) if once else (FIRST_PASS_KEEP, FIRST_PASS_CHECKED)
        else:
            checked = max(FIRST_PASS_CHECKED, keep)  # a wider one's: all
        out: list[Candidate] = []
        searched: set[bytes] = set()
        for i, n in enumerate((FIRST_PASS_FEATURES,) if once else (FIRST_PASS_FEATURES, QUERY_FEATURES)):
            # the second question's exact search reads only the contents the first did not, so its candidates are
            # other contents than the first's: their groups are kept apart
            kept = [(seg, c) for seg, c in _first_pass(segs, allowed, vocab.root_sift(voters[:n]), memo, keep,
                                                        placed[:n]) if bytes(seg.key[c]) not in searched]
            searched |= {bytes(seg.key[c]) for seg, c in kept}
            out += [Candidate(c.sha256, c.page, c.votes, c.group + i * SECOND_GROUPS)
                    for c in self._proposed(segs, [Segment.subset(kept)], None, points, descriptors, k, spatial,
                                            memo, checked=checked)]  # allowed: the subset holds those only
            # asked again when the first proposed nothing, or only pages as few matches fit as chance gives one
            # (SURE): a sharp photo of a registered page among 2,000 real ones was not among the first pass's 1,024
            # best with its 1,000 largest descriptors and was found by the second with 77 votes, while the first
            # had proposed a page of chance matches (15 votes) that the print check then refused; and a photo of
            # archive page 703 among 2,080 was answered by a chance page of 30 (the second question: its page, 76),
            # while unregistered pages' photos met chance pages of up to 40: hence 3 × `spatial`, not 2
            if (out and max(c.votes for c in out) >= SURE * spatial) or len(voters) <= n:
                break
        return sorted(out, key=lambda c: -c.votes)  # stable: equal counts keep the first question's first

    def _proposed(self, segs: list[Segment], searched: list[Segment], allowed: list[np.ndarray] | None,
                  points: np.ndarray, descriptors: np.ndarray, k: int, spatial: int, memo: _Memo, checked: int = 0
                  ) -> list[Candidate]:
        """The exact search over `searched` (the index's segments, or the first pass's shortlist of them, best
        first): the SHORTLIST contents with the most matches are checked spatially, and the `checked` first
        ones of `searched` too. Many of a page's matches may not fit one homography: a noisy photo's or a
        photographed screen's matches on the page shown (measured: 37 and 20 of them consistent, the first
        pass's best) were fewer than those of 20 other pages, most of whose matches were chance; another noisy
        photo's page was the first pass's 31st (39 consistent matches). A check costs ~0.1 ms, ~5-10 ms where
        RANSAC counts (`_consistent`); they run on every core (`_consistent_all`)."""
        search = _Search(searched, allowed)
        query_of, stored = search.matches(descriptors, memo)
        owner, where = search.owner_and_points(stored)
        votes = np.bincount(owner, minlength=search.contents)
        shortlist = np.argsort(-votes, kind="stable")[:SHORTLIST]
        if checked:
            shortlist = np.r_[shortlist, np.setdiff1d(np.arange(min(checked, search.contents)), shortlist)]
        tested = [int(g) for g in shortlist if votes[g] >= spatial]
        pairs = []
        for g in tested:
            mine = owner == g
            pairs.append((points[query_of[mine]], where[mine]))
        scored = [(n, g) for n, g in zip(_consistent_all(pairs, spatial), tested, strict=True) if n >= spatial]
        scored.sort(key=lambda t: -t[0])  # stable: equal counts keep the order of their votes
        out: list[Candidate] = []
        seen: set[bytes] = set()
        for n, g in scored:
            s = int(np.searchsorted(search.cbase, g, side="right")) - 1
            key = bytes(searched[s].key[g - search.cbase[s]])
            if key in seen:  # the same content in two segments: one candidate group
                continue
            seen.add(key)
            if len(seen) > k:
                break
            out += [Candidate(sha, page, n, g) for sha, page in _members(segs, key, self._only)]
        return out


class _Memo:
    """What a query computed of the evidence's descriptors (their nearest words and cells), kept for the outline
    index's question, which asks with the same descriptors (the words are most of a small index's query time)."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, bytes], tuple[np.ndarray, ...]] = {}
        self._cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (vectors, cells, signatures) made

    def get(self, what: str, of: np.ndarray, make: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        key = (what, of.tobytes())  # the bytes themselves: equal keys are equal descriptors
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def cells(self, rs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`cells.nearest(rs, CELL_PROBES)`, kept; where `rs` extends vectors asked before (the first pass's second
        question: all the voters after the largest), only the new rows are computed (a row's cells do not depend
        on the others': the same bits, checked with OpenBLAS for several splits)."""
        n, cell, sig = 0, np.zeros((0, CELL_PROBES), np.uint32), np.zeros((0, CELL_PROBES), np.uint64)
        for head, c, s in self._cells:  # the longest computed prefix (the whole of `rs` when asked before)
            if n < len(head) <= len(rs) and np.array_equal(rs[:len(head)], head):
                n, cell, sig = len(head), c, s
        if n < len(rs):
            more = cells.nearest(rs[n:], CELL_PROBES)
            cell, sig = np.concatenate((cell, more[0])), np.concatenate((sig, more[1]))
            self._cells.append((rs, cell, sig))
        return cell, sig


def _first_pass(segs: list[Segment], allowed: list[np.ndarray] | None, rs: np.ndarray, memo: _Memo | None = None,
                keep: int | None = None, points: np.ndarray | None = None) -> list[tuple[Segment, int]]:
    """The `keep` page contents (segment, content) that the most evidence descriptors meet in the
    cells, best first: each evidence descriptor visits its CELL_PROBES nearest cells and counts once for each
    content with a stored descriptor there whose signature is within `cells.HAMMING` bits of its own, weighed
    (FIRST_PASS_IDF) by log(contents in `segs` / contents it meets), whatever `allowed` lets through. In each
    cell only the buckets whose signature bits differ from its own in at most FIRST_PASS_FLIPS are read
    (`cells.bucket`): their postings (bucket, content and row, signature: 16 bytes each), not the index's
    descriptors. With the evidence descriptors' `points`, the FIRST_PASS_PLACED best are ranked again by where
    their meetings lie (`_placed`). `keep` defaults to FIRST_PASS_KEEP."""
    keep = FIRST_PASS_KEEP if keep is None else keep
    probe_cell, probe_sig = (memo or _Memo()).cells(rs)
    needle = cells.probed(probe_cell, probe_sig, FIRST_PASS_FLIPS)  # (n, CELL_PROBES, buckets)
    who = np.broadcast_to(np.arange(len(rs), dtype=np.int64)[:, None, None], needle.shape).ravel()
    sig = np.broadcast_to(probe_sig[:, :, None], needle.shape).ravel()
    needle = needle.ravel()
    order = np.argsort(needle, kind="stable")  # sorted needles: each binary search starts where the last ended
    needle, who, sig = needle[order], who[order], sig[order]
    # per segment: its (evidence descriptor, content, stored descriptor's row) meetings
    met: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    for s, seg in enumerate(segs):
        lo, hi = seg.bucket_range(needle)
        n = hi - lo
        hit = n > 0
        lo, n = lo[hit], n[hit]
        if not len(n):
            continue
        rows = np.repeat(lo - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(int(n.sum()))
        apart = np.bitwise_count(np.asarray(seg.cellsig[rows]) ^ np.repeat(sig[hit], n))
        near = apart <= cells.HAMMING
        owner, row = seg.posted(rows[near])
        pair = np.repeat(who[hit], n)[near] * seg.contents + owner
        # an evidence descriptor counts once a content, met at its nearest signature there (HAMMING < 16)
        by = np.argsort((pair << 4) | apart[near])  # (np.unique hashes: several times slower here)
        pair, row = pair[by], row[by]
        first = np.ones(len(pair), bool)
        first[1:] = pair[1:] != pair[:-1]
        met.append((s, *np.divmod(pair[first], seg.contents), row[first]))
    weight = np.ones(len(rs))
    if FIRST_PASS_IDF and met:
        # how many page contents each evidence descriptor meets: a glyph or word shape on every page of the
        # archive's fonts says little about which page this is, one met on a few pages says much (idf)
        df = sum(np.bincount(q, minlength=len(rs)) for _s, q, _c, _r in met)
        weight = np.log(sum(seg.contents for seg in segs) / np.maximum(df, 1))
    scores: list[np.ndarray] = []
    where: list[tuple[int, int]] = []
    wide = max(keep, FIRST_PASS_PLACED) if points is not None else keep
    for s, q, c, _r in met:
        seg = segs[s]
        votes = np.bincount(c, weights=weight[q], minlength=seg.contents)
        if allowed is not None:
            votes[~allowed[s]] = 0.0
        top = np.flatnonzero(votes > 0)
        if len(top) > wide:
            top = top[np.argpartition(-votes[top], wide)[:wide]]
        scores.append(votes[top])
        where += [(s, int(c)) for c in top]
    if not where:
        return []
    all_scores = np.concatenate(scores)
    best = np.lexsort((np.arange(len(all_scores)), -all_scores))[:wide]  # ties: segment order
    if points is not None:
        placed = _placed(segs, met, weight, points, [where[i] for i in best[:FIRST_PASS_PLACED]])
        best = np.r_[best[:FIRST_PASS_PLACED][np.lexsort((-all_scores[best[:FIRST_PASS_PLACED]], -placed))],
                     best[FIRST_PASS_PLACED:]]
    out: list[tuple[Segment, int]] = []
    keys: set[bytes] = set()
    for i in best:
        s, c = where[i]
        key = bytes(segs[s].key[c])
        if key not in keys:  # the same content in two segments: read once
            keys.add(key)
            out.append((segs[s], c))
    return out[:keep]


def _placed(segs: list[Segment], met: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]], weight: np.ndarray,
            points: np.ndarray, contents: list[tuple[int, int]]) -> np.ndarray:
    """For each of these (segment, content): the weight of its meetings that one homography places where they
    lie on the page (USAC, as `_consistent`'s first estimate). Counted meetings are mostly chance on a page the
    evidence does not show, scattered over it; on the page shown they fall into place (a page of the same
    template places its shared rules and headings, with less weight: those meet many pages). Among 10,000 real
    pages the count put the pages of 6 of 100 registered photos 163rd-461st, below pages of their template and
    vocabulary. Among 2,000 real pages, 100 photos of registered pages (`benchmarks/first_pass_rank --photos`,
    results in archive-2000-epyc/placed-rank-9db43d7/): the page first 87 times placed against 68 weighed only,
    asked with the 1,000 largest descriptors; 93 against 62 with 2,000, the worst 19th against 94th; none ranked
    worse. 20 crops and noisy photos of the memo's page 1: 5 better, one worse (a 20 % band, 108th -> 116th)."""
    if not contents:
        return np.zeros(0)
    wanted = {s: np.zeros(segs[s].contents, bool) for s, _c in contents}
    for s, one in contents:
        wanted[s][one] = True
    groups: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for s, q, met_c, r in met:
        if s not in wanted:
            continue
        pick = np.flatnonzero(wanted[s][met_c])
        pick = pick[np.argsort(met_c[pick], kind="stable")]
        cs = met_c[pick]
        cut = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1], True])
        for a, b in itertools.pairwise(cut):
            groups[(s, int(cs[a]))] = (q[pick[a:b]], r[pick[a:b]])

    def score(sc: tuple[int, int]) -> float:
        q, r = groups.get(sc, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        if len(q) < 4:
            return 0.0
        src = points[q].astype(np.float32)
        dst = np.asarray(segs[sc[0]].points[r], np.float32)
        _h, mask = cv2.findHomography(src, dst, cv2.USAC_FAST, 8.0, maxIters=500, confidence=0.995)
        return 0.0 if mask is None else float(weight[q][mask.ravel().astype(bool)].sum())

    # one thread: the estimates are small (~40 µs each here), and threads, a task each or a share each, took longer
    # (48 and 26 ms against 22 for an unregistered page's photo's two questions among 2,000 pages, 2 cores)
    return np.array([score(sc) for sc in contents])


def _allowed(seg: Segment, documents: frozenset[str]) -> np.ndarray:
    """Which of the segment's contents a page of these documents shows."""
    mask = np.zeros(seg.contents, bool)
    mine = np.isin(np.asarray(seg.sha), np.array(sorted(documents), dtype="S64"))
    mask[np.asarray(seg.content)[mine]] = True
    return mask


def _members(segs: list[Segment], key: bytes, only: frozenset[str] | None) -> list[tuple[str, int]]:
    """Every page, in any segment, that shows the content with this key (sha256 and page order)."""
    out = set()
    for seg in segs:
        c = seg.find(key)
        if c is not None:
            out |= {(seg.sha[i].decode(), int(seg.page[i])) for i in seg.members(c)}
    return sorted(p for p in out if only is None or p[0] in only)


def _consistent_all(pairs: list[tuple[np.ndarray, np.ndarray]], spatial: int) -> list[int]:
    """`_consistent` of each (evidence points, page points) pair, in order, on every core: OpenCV's homography
    estimators release the GIL and draw their samples from a generator of their own, so the counts are those of
    one call after the other (checked on 4,894 checks of 20 photos), and on two cores the spatial checks of an
    unregistered page's photo (~1,000 RANSAC counts over 20 photos, ~9 ms each here) take half the time."""
    threads = min(CHECK_THREADS, default_jobs(), len(pairs))  # the cores usable now, not at import
    if threads < 2:
        return [_consistent(src, dst, spatial) for src, dst in pairs]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leakmark-check") as ex:
        return list(ex.map(lambda pair: _consistent(pair[0], pair[1], spatial), pairs))


def _consistent(src: np.ndarray, dst: np.ndarray, spatial: int = SPATIAL) -> int:
    """How many of these matches (evidence pixels -> page pixels) one homography explains (RANSAC, 8 px on the
    page: large keypoints are placed less precisely than small ones). USAC's fast estimate comes first: on a
    page the evidence does not show, RANSAC never stops early and its 500 iterations cost ~5 ms, 0.4 s over a
    no-match trace's four queries; USAC takes ~0.1 ms and finds at most a few inliers fewer than RANSAC
    (measured: 4), so RANSAC counts only the candidates where USAC comes within _GATE of `spatial`."""
    if len(src) < 4:
        return 0
    src, dst = src.astype(np.float32), dst.astype(np.float32)
    H, mask = cv2.findHomography(src, dst, cv2.USAC_FAST, 8.0, maxIters=500, confidence=0.995)
    if H is None or mask is None or int(mask.sum()) < spatial - _GATE:
        return 0
    H, mask = cv2.findHomography(src, dst, cv2.RANSAC, 8.0, maxIters=500, confidence=0.995)
    return 0 if H is None or mask is None else int(mask.sum())


class _Search:
    """Segments searched as one inverted file: contents and stored descriptors numbered across segments (a
    segment's after the previous one's)."""

    def __init__(self, segments: list[Segment], allowed: list[np.ndarray] | None) -> None:
        self.segments, self.allowed = segments, allowed
        self.cbase = np.cumsum([0] + [s.contents for s in segments])
        self.dbase = np.cumsum([0] + [s.size for s in segments])
        self.contents = int(self.cbase[-1])

    def owner_and_points(self, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The content (numbered across segments) and page position of these stored descriptors (positions in
        the segments' inverted files, numbered across segments)."""
        owner = np.zeros(len(stored), np.int64)
        where = np.zeros((len(stored), 2), np.float32)
        seg_of = np.searchsorted(self.dbase, stored, side="right") - 1
        for s, seg in enumerate(self.segments):
            mine = np.flatnonzero(seg_of == s)
            rows = np.asarray(seg.byword[stored[mine] - self.dbase[s]], np.int64)
            owner[mine] = seg.owner_of(rows) + self.cbase[s]
            where[mine] = seg.points[rows]
        return owner, where

    def filed(self, words: np.ndarray) -> _Filed:
        """The stored descriptors filed under these words (ascending), read at once: word by word, each word's
        segment by segment (a content's descriptors lie in one segment, so each page is one block of rows)."""
        lo = np.stack([np.asarray(seg.start)[words] for seg in self.segments], axis=1)  # (words, segments)
        hi = np.stack([np.asarray(seg.start)[words + 1] for seg in self.segments], axis=1)
        n = (hi - lo).ravel()
        total = int(n.sum())
        place = np.repeat(np.cumsum(n) - n, n)  # where each range starts in the output
        local = np.repeat(lo.ravel(), n) + np.arange(total) - place  # position in its segment's file
        seg_of = np.repeat(np.tile(np.arange(len(self.segments)), len(words)), n)
        desc = np.empty((total, 128), np.uint8)
        own = np.empty(total, np.int64)
        ok = np.ones(total, bool)
        for s, seg in enumerate(self.segments):
            mine = seg_of == s if len(self.segments) > 1 else slice(None)
            rows = np.asarray(seg.byword[local[mine]], np.int64)
            desc[mine] = seg.descriptors[rows]
            own_s = seg.owner_of(rows)
            own[mine] = own_s + self.cbase[s]
            if self.allowed is not None:
                ok[mine] = self.allowed[s][own_s]
        cut = np.concatenate(([0], np.cumsum((hi - lo).sum(axis=1))))
        return _Filed(desc, inverse_norms(desc), own, local + self.dbase[seg_of], ok, cut)

    def matches(self, descriptors: np.ndarray, memo: _Memo) -> tuple[np.ndarray, np.ndarray]:
        """(evidence descriptor, stored descriptor) pairs. Each evidence descriptor is matched on every page
        separately: its nearest descriptor there, where it passes Lowe's ratio test against the second nearest
        on that page and is not much farther than its nearest on any page (SLACK). One nearest for the whole
        archive would lose the page shown to pages in the same font and layout, whose descriptors come a little
        nearer once the evidence is scaled or noisy; a ratio test against every page would refuse the matches
        of near-identical pages (a revision, pages that differ in a figure per line). Each stored descriptor is
        taken once (by its closest evidence descriptor)."""
        q = vocab.root_sift(descriptors)
        (probes,) = memo.get("words", q, lambda: (vocab.nearest_words(q, PROBES),))
        by_word = np.argsort(probes.ravel(), kind="stable")
        flat = probes.ravel()[by_word]
        cut = np.searchsorted(flat, np.arange(vocab.WORDS + 1))
        words = np.flatnonzero(np.diff(cut))
        f = self.filed(words)
        # each page's block of rows within its word: where blocks start, their sizes, each row's block
        new = np.ones(len(f.own), bool)
        new[1:] = f.own[1:] != f.own[:-1]
        new[f.cut[:-1][f.cut[:-1] < len(new)]] = True
        block = np.cumsum(new) - 1  # numbered across words
        bstart = np.flatnonzero(new)
        bcut = np.searchsorted(bstart, f.cut)  # each word's blocks
        scored = []
        best = np.full(len(q), -np.inf, np.float32)  # each evidence descriptor's nearest on any page
        for k, w in enumerate(words):
            lo, hi = int(f.cut[k]), int(f.cut[k + 1])
            if hi == lo:
                continue
            qi = by_word[cut[w]:cut[w + 1]] // PROBES  # distinct: a descriptor's probed words are distinct
            sims = (q[qi] @ f.desc[lo:hi].astype(np.float32).T) * f.inv[lo:hi]  # cosine (rows normalised here)
            ok = f.ok[lo:hi]
            best[qi] = np.maximum(best[qi], (sims if self.allowed is None else np.where(ok, sims, -np.inf)).max(1))
            scored.append((k, qi, sims))
        # A (descriptor, page) pair farther than its nearest anywhere / (SLACK × RATIO) neither counts (SLACK)
        # nor decides the ratio test of a pair that counts (that pair is nearer than nearest / SLACK, so within
        # RATIO of it anyway): dropped here, which leaves a small fraction of the pairs to sort, the same result.
        reach = np.sqrt(np.maximum(2 - 2 * best, 0)) / (SLACK * RATIO)
        floor = (1 - reach * reach / 2) - 1e-6  # as a cosine, a little below (rounding)
        rows, cols, s1s, s2s = [], [], [], []
        for k, qi, sims in scored:
            lo, hi = int(f.cut[k]), int(f.cut[k + 1])
            b0 = int(bcut[k])
            starts = bstart[b0:bcut[k + 1]] - lo
            mine = block[lo:hi] - b0  # each row's block within the word
            m1 = np.maximum.reduceat(sims, starts, axis=1)  # per query and page: the nearest and the second
            top = sims >= m1[:, mine]
            m2 = np.maximum.reduceat(np.where(top, -1.0, sims), starts, axis=1)
            r, c = np.nonzero(top & f.ok[lo:hi] & (sims >= floor[qi][:, None]))
            if not len(r):
                continue
            b = mine[c]
            rows.append(qi[r])
            cols.append(c + lo)
            s1s.append(m1[r, b])
            s2s.append(m2[r, b])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        row, col, s1, s2 = (np.concatenate(a) for a in (rows, cols, s1s, s2s))
        # one per query and page within a word (ties at the nearest): consecutive, as nonzero lists them
        first = np.ones(len(row), bool)
        first[1:] = (row[1:] != row[:-1]) | (block[col[1:]] != block[col[:-1]])
        row, col, s1, s2 = row[first], col[first], s1[first], s2[first]
        page, arg_all = f.own[col], f.arg[col]
        # the same query and page from several probed words: the nearest wins, the others are seconds (grouped
        # by one integer key: a stable argsort of it is several times faster than a lexsort of three keys)
        order = np.argsort(row * self.contents + page, kind="stable")
        row, page, s1, s2, arg_all = row[order], page[order], s1[order], s2[order], arg_all[order]
        starts = np.flatnonzero(np.r_[True, (row[1:] != row[:-1]) | (page[1:] != page[:-1])])
        group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(row)]))
        top = np.flatnonzero(s1 >= np.maximum.reduceat(s1, starts)[group])
        head = top[np.r_[True, group[top[1:]] != group[top[:-1]]]]  # each group's first nearest
        rest = np.ones(len(row), bool)
        rest[head] = False
        second = np.maximum.reduceat(np.where(rest, np.maximum(s1, s2), s2), starts)
        row, page, s1, arg_all = row[head], page[head], s1[head], arg_all[head]
        d1 = np.sqrt(np.maximum(2 - 2 * s1, 0))
        d2 = np.where(second > -1, np.sqrt(np.maximum(2 - 2 * second, 0)), np.inf)
        nearest = np.full(len(q), np.inf, np.float32)
        np.minimum.at(nearest, row, d1)
        good = np.flatnonzero((d1 < RATIO * d2) & (SLACK * d1 <= nearest[row]))
        # a stored descriptor counts once, however many evidence features chose it (hubs: repeated structures):
        # the nearest, in one stable sort by (stored descriptor, distance) packed in one integer (a non-negative
        # float32's bits order as its value does)
        key = (arg_all[good].astype(np.int64) << 32) | d1[good].astype(np.float32).view(np.uint32).astype(np.int64)
        good = good[np.argsort(key, kind="stable")]
        good = good[np.r_[True, arg_all[good][1:] != arg_all[good][:-1]]]
        return row[good].astype(np.int64), arg_all[good].astype(np.int64)


@dataclass(frozen=True)
class _Filed:
    """The stored descriptors of a query's probed words, word by word: uint8 rows, inverse norms, contents
    (numbered across segments), stored numbers (across segments), which may be proposed, and each word's
    slice (cut[k]:cut[k + 1] for the k-th word)."""

    desc: np.ndarray
    inv: np.ndarray
    own: np.ndarray
    arg: np.ndarray
    ok: np.ndarray
    cut: np.ndarray


# -- the workspace's index --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Store:
    """One of the workspace's two indexes, each its own manifest and segments: the pages' entries (in index/)
    and their outline entries (in index/outline/). Both are written under index/lock, the pages' first."""

    sub: str

    def folder(self, ws: Workspace) -> Path:
        return index_dir(ws) / self.sub if self.sub else index_dir(ws)

    def manifest(self, ws: Workspace) -> Path:
        return self.folder(ws) / "manifest.json"


PAGES, OUTLINES = _Store(""), _Store("outline")


def index_dir(ws: Workspace) -> Path:
    return ws.home / "index"


def index_path(ws: Workspace) -> Path:
    """The manifest: which segment files make the index (replaced atomically: the commit of every change)."""
    return PAGES.manifest(ws)


def index_size(ws: Workspace) -> int:
    """Bytes on disk: the manifests and the segments they name, of the pages' index and the outlines' (0 when
    there is no index)."""
    total = 0
    for store in (PAGES, OUTLINES):
        try:
            names = _read_manifest(store.manifest(ws))
        except IndexFileError:
            continue
        total += sum((store.folder(ws) / n).stat().st_size for n in [*names, "manifest.json"])
    return total


def _lock(ws: Workspace) -> RegisterLock:
    """Writers of the index take turns (two registrations at once would each drop the other's segment)."""
    return RegisterLock(index_dir(ws) / "lock", timeout=120.0, locked=lambda: OutputError(
        "another leakmark process has been writing the page index for two minutes; try again when it is done"))


def load_or_empty(ws: Workspace, store: _Store = PAGES) -> tuple[PageIndex, str | None]:
    """The workspace's index (empty when there is none yet), and why it was dropped (None when it was not);
    `store=OUTLINES`: the outline entries' index."""
    path = store.manifest(ws)
    if not path.exists():
        legacy = index_dir(ws) / "pages.npz"
        return PageIndex(), (f"the page index {legacy} has format 1; this release reads format {FORMAT}"
                             if legacy.exists() and store is PAGES else None)
    try:
        names = _read_manifest(path)
        segments = []
        for name in names:
            try:
                segments.append(Segment.open(store.folder(ws) / name))
            except SegmentError as exc:
                raise IndexFileError(store.folder(ws) / name, str(exc)) from exc
            except OSError as exc:
                raise IndexFileError(store.folder(ws) / name, f"cannot be read ({exc.strerror or exc})") from exc
        return PageIndex(segments=segments), None
    except IndexFileError as exc:
        return PageIndex(), str(exc)


def _read_manifest(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IndexFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise IndexFileError(path, "is damaged (not an index file)") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("segments"), list):
        raise IndexFileError(path, "is damaged (not an index file)")
    if meta.get("format") != FORMAT:
        raise IndexFileError(path, f"has format {meta.get('format')}; this release reads format {FORMAT}")
    if meta.get("vocabulary") != vocab.digest():
        raise IndexFileError(path, "was made with another vocabulary")
    names = meta["segments"]
    if not all(isinstance(n, str) and _SEGMENT_NAME.fullmatch(n) for n in names):
        raise IndexFileError(path, "is damaged (it names files that are not segments)")
    return names


def _commit(ws: Workspace, segments: list[Segment], store: _Store = PAGES) -> list[Segment]:
    """Write the segments not yet on disk, then the manifest naming them (atomically: readers see the old
    index or the new one), then remove the files no manifest names any more. Under the lock."""
    folder = private_dir(store.folder(ws))
    segments = [_written(ws, seg, store) for seg in segments]
    names = [seg.file_name or "" for seg in segments]
    meta = {"format": FORMAT, "vocabulary": vocab.digest(), "segments": names}
    atomic_write_bytes(store.manifest(ws), json.dumps(meta, indent=1).encode())
    for old in folder.iterdir():  # segments replaced by a merge, an index of another format; readers that
        if old.name not in names and (_SEGMENT_NAME.fullmatch(old.name) or old.name == "pages.npz"):  # mapped them
            old.unlink(missing_ok=True)  # keep them until they close (POSIX)
    return segments


def _written(ws: Workspace, seg: Segment, store: _Store = PAGES) -> Segment:
    """The segment in its file in the index folder (written now unless it was read from there or written
    before), opened memory-mapped: a segment made in memory is not held in memory once written. Under the
    lock (a commit removes the segment files its manifest does not name)."""
    if seg.file_name is not None:
        return seg
    data = seg.to_bytes()
    name = f"seg-{hashlib.sha256(data).hexdigest()[:24]}.npz"
    path = private_dir(store.folder(ws)) / name
    atomic_write_bytes(path, data)  # also over a damaged file of that name
    del data
    try:
        return Segment.open(path)
    except (SegmentError, OSError) as exc:  # written a moment ago: a disk that returns other bytes
        raise OutputError(f"cannot read back the page index segment {path} just written ({exc})") from exc


def _tiered(segments: list[Segment]) -> list[Segment]:
    """Merge the newest segments while the newest is at least half the size of the one before it (so that
    the sizes fall geometrically: a page is rewritten about log2(pages) times over the index's life, and a
    query reads a few segments), never beyond MERGE_PAGES pages (a merge holds its segment in memory)."""
    segments = list(segments)
    while (len(segments) >= 2 and 2 * segments[-1].entries >= segments[-2].entries
           and segments[-1].entries + segments[-2].entries <= MERGE_PAGES):
        segments[-2:] = [Segment.merged(segments[-2:])]
    return segments


Pages = list[tuple[str, int, Entry]]  # (document sha256, page number, entry)


def _add(ws: Workspace, store: _Store, pages: Callable[[set[str]], Pages], then: str) -> PageIndex:
    """Under the lock: the store's index as it is now, with a segment of `pages(documents it holds)` added,
    merged and committed. An index that cannot be read is started again (said in the log, with `then`)."""
    index, problem = load_or_empty(ws, store)
    if problem and (upgraded := _upgraded(ws, store)) is not None:
        index, problem = upgraded, None
    if problem:
        log.warning("%s; %s", problem, then)
    new = pages(set(index.documents))
    if new:
        index = PageIndex(segments=_commit(ws, _tiered([*index.segments, Segment.of(new)]), store))
    elif problem:
        _commit(ws, [], store)
    return index


def _upgraded(ws: Workspace, store: _Store) -> PageIndex | None:
    """Under the lock: the store's index of an earlier format (`segment.UPGRADES`) made this format's in place, its
    segments upgraded one by one (`Segment.upgraded`) and committed together (a crash leaves the earlier index as it
    was); None when it is not such an index or cannot be upgraded (it is then made again from the vault)."""
    path = store.manifest(ws)
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict) or meta.get("format") not in UPGRADES or meta.get("vocabulary") != vocab.digest():
        return None
    names = meta.get("segments")
    if not isinstance(names, list) or not all(isinstance(n, str) and _SEGMENT_NAME.fullmatch(n) for n in names):
        return None
    t0 = time.perf_counter()
    try:
        segments = [_written(ws, Segment.upgraded(store.folder(ws) / n), store) for n in names]
    except (SegmentError, OSError) as exc:
        log.warning("the page index%s of format %s could not be upgraded (%s)", f" ({store.sub})" * bool(store.sub),
                    meta.get("format"), exc)
        return None
    index = PageIndex(segments=_commit(ws, segments, store))
    log.info("page index%s: format %s upgraded to %d in place (%d pages, %.1f s)", f" ({store.sub})" * bool(store.sub),
             meta.get("format"), FORMAT, len(index), time.perf_counter() - t0)
    return index


class _locked:
    def __init__(self, ws: Workspace) -> None:
        private_dir(index_dir(ws))
        self.lock = _lock(ws)

    def __enter__(self) -> None:
        self.lock.acquire(exclusive=True)

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def _entries(ws: Workspace, doc: Document) -> list[Entry]:
    """A registered document's entries from the vault. Fingerprints stored before keypoint sizes were are made
    again from the stored page image, by the same code and so with the same keypoints."""
    out = []
    for i in range(doc.pages):
        fp = vault.load_fingerprint(ws, doc.sha256, i)
        if fp.sizes is None:
            fp = fingerprint.of_page(vault.load_page(ws, doc.sha256, i), doc.dpi)
        out.append(entry_of(fp))
    return out


def page_outline(ws: Workspace, sha256: str, page: int, dpi: int) -> Fingerprint:
    """A registered page's outline keypoints (`fingerprint.outline_of_page`), made from its image in the vault
    as registration made them from the same image (0.07 s a page: not worth storing)."""
    return fingerprint.outline_of_page(vault.load_page(ws, sha256, page), dpi)


def _outlines(ws: Workspace, sha256: str, pages: int, dpi: int) -> list[Entry]:
    """A registered document's outline entries, from the page images in the vault (a rebuild makes the same
    ones as registration did)."""
    return [entry_of(page_outline(ws, sha256, i, dpi), OUTLINE_PER_PAGE) for i in range(pages)]


def _of(store: _Store, ws: Workspace, doc: Document) -> list[Entry]:
    return _entries(ws, doc) if store is PAGES else _outlines(ws, doc.sha256, doc.pages, doc.dpi)


def add_document(ws: Workspace, sha256: str, fingerprints: list[Fingerprint], outlines: list[Fingerprint]
                 ) -> None:
    """Add a newly registered document's pages to the index and their outlines (`fingerprint.outline_of_page` of
    the page images the vault keeps) to the outlines' (a new segment each, merged with the newest ones). Nothing
    here can lose a page: the vault is already written, and `for_trace` adds from it whatever either index lacks
    (this write failed, an index was damaged)."""
    then = "it is started again with this document, and the next trace adds the others from the vault"
    entries = [entry_of(fp) for fp in fingerprints]
    outline_entries = [entry_of(fp, OUTLINE_PER_PAGE) for fp in outlines]
    try:
        with _locked(ws):
            _add(ws, PAGES, lambda known: [] if sha256 in known else [(sha256, i, e) for i, e in enumerate(entries)],
                 then)
            _add(ws, OUTLINES, lambda known: [] if sha256 in known else [
                (sha256, i, e) for i, e in enumerate(outline_entries)], then)
    except OutputError as exc:
        log.warning("the page index was not updated (%s); the next trace adds this document from the vault",
                    exc.message)


def add_pages(ws: Workspace, pages: Pages, outlines: Pages | None = None) -> None:
    """Add these pages (document sha256, page number, entry) to the workspace's index, and `outlines` (outline
    entries) to the outlines' index, as registrations do (benchmarks pad an index with synthetic pages)."""
    then = "it is started again with these pages, and the next trace adds the registered documents from the vault"
    with _locked(ws):
        _add(ws, PAGES, lambda known: [p for p in pages if p[0] not in known], then)
        if outlines:
            _add(ws, OUTLINES, lambda known: [p for p in outlines if p[0] not in known], then)


def for_trace(ws: Workspace, docs: list[Document]) -> PageIndex:
    """The index of these registered documents, as the tracer needs it, with their outlines' index as its
    `outline`: a damaged or other-format index is made again, and documents it lacks are added, from the vault
    (saved when possible; the trace goes on with it unsaved when the index cannot be written)."""
    shas = {d.sha256 for d in docs}

    def mine(index: PageIndex) -> PageIndex:
        return index if index.documents <= shas else index.only(shas)

    index = mine(_ready(ws, docs, PAGES))
    index.outline = mine(_ready(ws, docs, OUTLINES))
    return index


def _ready(ws: Workspace, docs: list[Document], store: _Store) -> PageIndex:
    """The store's index with every one of `docs` in it (see for_trace)."""
    index, problem = load_or_empty(ws, store)
    known = index.documents
    if problem or any(d.sha256 not in known for d in docs):
        def missing(present: set[str]) -> Pages:
            lack = [d for d in docs if d.sha256 not in present]
            log.info("page index%s: %d document(s) added from the vault", f" ({store.sub})" * bool(store.sub),
                     len(lack))
            return [(d.sha256, i, e) for d in lack for i, e in enumerate(_of(store, ws, d))]
        try:
            with _locked(ws):
                index = _add(ws, store, missing, "making it again from the vault")
        except OutputError as exc:
            log.warning("the page index could not be saved (%s); this trace uses it unsaved", exc.message)
            if problem:
                index = PageIndex()
            have = index.documents
            for d in docs:
                if d.sha256 not in have:
                    index.add(d.sha256, _of(store, ws, d))
    return index


@dataclass(frozen=True)
class RebuildResult:
    path: Path
    documents: int
    pages: int
    size: int  # bytes on disk
    replaced: str | None  # why the previous index could not be used as it was (None: it could, or there was none)

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "documents": self.documents, "pages": self.pages, "bytes": self.size,
                "replaced": self.replaced}


def rebuild(ws: Workspace, progress: Progress | None = None) -> RebuildResult:
    """Make the page index and the outlines' index again from the vault (fingerprints and page images) of every
    registered document, and save them (in segments of MERGE_PAGES pages, each written as soon as it is full)."""
    progress = progress or NullProgress()
    with Ledger(ws) as ledger:
        ledger.check()  # exit 7 for a register that fails verification: it names the documents to index
        docs = ledger.documents()
    _old, problem = load_or_empty(ws)
    del _old
    pages: dict[_Store, Pages] = {PAGES: [], OUTLINES: []}
    segments: dict[_Store, list[Segment]] = {PAGES: [], OUTLINES: []}
    documents = count = 0
    progress.start(sum(d.pages for d in docs), "pages indexed")
    try:
        with _locked(ws):  # held throughout: a commit elsewhere would remove the segments written so far
            for d in docs:
                for store in (PAGES, OUTLINES):
                    pages[store] += [(d.sha256, i, e) for i, e in enumerate(_of(store, ws, d))]
                    if len(pages[store]) >= MERGE_PAGES:  # a segment at a time: memory bounded by one's pages
                        segments[store].append(_written(ws, Segment.of(pages[store]), store))
                        pages[store] = []
                documents += 1
                count += d.pages
                progress.advance(d.pages)
            for store in (PAGES, OUTLINES):
                if pages[store]:
                    segments[store].append(_written(ws, Segment.of(pages[store]), store))
                _commit(ws, segments[store], store)
    finally:
        progress.finish()
    return RebuildResult(index_path(ws), documents, count, index_size(ws), problem)
