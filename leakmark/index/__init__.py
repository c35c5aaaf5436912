"""The page index: which registered pages an evidence image may show, without matching it against every page.

Each registered page is kept as a compact set of descriptors: the RootSIFT descriptors of its fingerprint's
`PER_PAGE` largest keypoints, one byte per value, with their positions (about 40 KB a page). Large keypoints
span several characters or a stretch of a table's rules, so they tell apart pages in the same font and
layout, and they survive a screenshot at a third of the fingerprint's resolution; the many small ones
(strokes of a character) are on every page and say little. Measured on 36 generated archive pages, 12 of
them each photographed, screenshot and cropped to 40 % (unwarped and raw: 72 queries): a tf-idf bag of
visual words over every feature ranked the right page first 27 times; these descriptors 70 times, and 72 with
the spatial check below.

A query matches each evidence descriptor on every page separately (an inverted file over the visual words of
`vocab`: only the descriptors filed under the query's `PROBES` nearest words are compared): its nearest
descriptor on a page counts when it passes Lowe's ratio test within that page and is not much farther than
its nearest anywhere (`SLACK`; each stored descriptor once). Votes are counted per page, and the pages whose
matches one homography explains (`SPATIAL` inliers) are kept: a page that is not registered proposes (almost)
nothing. `locate` then verifies only those pages with their full fingerprints. Pages with the same
descriptors (a page shared by two documents, e.g. a revision) are one content: they are candidates together,
so every document that contains the page is verified. A query's cost grows with the descriptors filed under
its words, so linearly with the archive (benchmarks/results/archive-scale.md); loading and filing the file
grows with it too.

On disk: one file, ``HOME/index/pages.npz``, replaced atomically (temp + rename) whenever documents are added;
it records its format and the vocabulary's sha256. The vault is the truth: `rebuild` makes the index again
from the vault's fingerprints, and `for_trace` adds any registered document the index lacks (a crash between
the vault write and the index write, two registrations at once, a workspace from before the index) and
makes again an index that is damaged or of another format, saying so in the log.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from leakmark import fingerprint, vault
from leakmark._io import atomic_write_bytes, private_dir
from leakmark._progress import NullProgress, Progress
from leakmark.errors import OutputError
from leakmark.fingerprint import Fingerprint
from leakmark.index import vocab
from leakmark.ledger import Document, Ledger
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

FORMAT = 1  # the file's layout and what an entry holds; a reader must match it and the vocabulary's digest
PER_PAGE = 300  # descriptors kept per page
SCALE = 512  # RootSIFT values (at most ~0.35) × SCALE fit a byte
PROBES = 3  # words searched per evidence descriptor
RATIO = 0.8  # Lowe's ratio test, as in locate
TOP_K = 5  # distinct page contents proposed at most per query
SHORTLIST = 20  # contents with the most votes checked spatially
SPATIAL = 15  # matches one homography explains that a candidate needs (other pages: up to ~14 seen, the page: 25+)
SLACK = 0.8  # a page's nearest descriptor counts when it is at most 1 / SLACK times as far as the nearest of all
QUERY_FEATURES = 2000  # evidence descriptors searched, the largest


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


@dataclass(frozen=True)
class Entry:
    """One page: its largest keypoints' RootSIFT descriptors (uint8, ×SCALE) and their visual words."""

    descriptors: np.ndarray  # (m, 128) uint8
    words: np.ndarray  # (m,) uint16
    points: np.ndarray  # (m, 2) float32, FP_DPI pixels: where they are, for the spatial check

    def key(self) -> bytes:
        """Equal for pages with the same descriptors (the same page in two documents)."""
        return hashlib.sha256(self.descriptors.tobytes()).digest()


def entry_of(fp: Fingerprint) -> Entry:
    """A page's index entry from its fingerprint (which must have its keypoint sizes)."""
    if fp.sizes is None:
        raise ValueError("the fingerprint has no keypoint sizes")
    keep = np.sort(np.argsort(-fp.sizes, kind="stable")[:PER_PAGE])  # the largest; ties by detection order
    rs = vocab.root_sift(fp.descriptors[keep])
    return Entry(np.clip(np.rint(rs * SCALE), 0, 255).astype(np.uint8), vocab.quantise_rs(rs).astype(np.uint16),
                 fp.points[keep].astype(np.float32))


def index_path(ws: Workspace) -> Path:
    return ws.home / "index" / "pages.npz"


class PageIndex:
    """Index entries in memory: per page its document's sha256, page number and entry."""

    def __init__(self, sha: list[str] | None = None, page: list[int] | None = None,
                 entries: list[Entry] | None = None) -> None:
        self.sha: list[str] = list(sha or [])
        self.page: list[int] = list(page or [])
        self.entries: list[Entry] = list(entries or [])
        self._docs = set(self.sha)
        self._search: _Search | None = None

    def __len__(self) -> int:
        return len(self.sha)

    @property
    def documents(self) -> frozenset[str]:
        return frozenset(self._docs)

    def add(self, sha256: str, pages: Iterable[Entry]) -> None:
        """Add a document's pages (page order); a document already present is left as it is."""
        if sha256 in self._docs:
            return
        for i, e in enumerate(pages):
            self.sha.append(sha256)
            self.page.append(i)
            self.entries.append(e)
        self._docs.add(sha256)
        self._search = None

    def only(self, documents: set[str]) -> PageIndex:
        """The entries of these documents only."""
        keep = [i for i, s in enumerate(self.sha) if s in documents]
        return PageIndex([self.sha[i] for i in keep], [self.page[i] for i in keep], [self.entries[i] for i in keep])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PageIndex) and self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable: not a dict key

    # -- file --------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        order = sorted(range(len(self)), key=lambda i: (self.sha[i], self.page[i]))  # same entries, same bytes
        offsets = np.zeros(len(order) + 1, np.int64)
        offsets[1:] = np.cumsum([len(self.entries[i].words) for i in order])
        meta = {"format": FORMAT, "vocabulary": vocab.digest(), "per_page": PER_PAGE, "pages": len(order)}
        return _npz({"meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
                     "sha": np.array([self.sha[i] for i in order], dtype="S64").reshape(-1),
                     "page": np.array([self.page[i] for i in order], np.int32),
                     "offsets": offsets,
                     "descriptors": np.concatenate([self.entries[i].descriptors for i in order]) if order
                     else np.zeros((0, 128), np.uint8),
                     "words": np.concatenate([self.entries[i].words for i in order]) if order
                     else np.zeros(0, np.uint16),
                     "points": np.concatenate([self.entries[i].points for i in order]) if order
                     else np.zeros((0, 2), np.float32)})

    def save(self, path: Path) -> None:
        private_dir(path.parent)
        atomic_write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> PageIndex:
        """The index in `path`; IndexFileError when it cannot be used as it is (damaged, other format)."""
        try:
            if not zipfile.is_zipfile(path):
                raise IndexFileError(path, "is damaged (not an index file)")
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes())
                if meta.get("format") != FORMAT:
                    raise IndexFileError(path, f"has format {meta.get('format')}; this release reads format {FORMAT}")
                if meta.get("vocabulary") != vocab.digest():
                    raise IndexFileError(path, "was made with another vocabulary")
                sha, page, offsets, desc, words, points = (z["sha"], z["page"], z["offsets"], z["descriptors"],
                                                           z["words"], z["points"])
        except IndexFileError:
            raise
        except (OSError, ValueError, KeyError, EOFError, AttributeError, zipfile.BadZipFile) as exc:
            raise IndexFileError(path, f"is damaged ({exc.__class__.__name__}: {exc})") from exc
        n = len(sha)
        if (meta.get("pages") != n or len(page) != n or len(offsets) != n + 1 or offsets[0] != 0
                or np.any(np.diff(offsets) < 0) or offsets[-1] != len(words) or desc.shape != (len(words), 128)
                or words.dtype != np.uint16 or desc.dtype != np.uint8
                or points.shape != (len(words), 2) or points.dtype != np.float32
                or (len(words) and int(words.max()) >= vocab.WORDS)):
            raise IndexFileError(path, "is damaged (its arrays do not agree)")
        return cls([s.decode() for s in sha], [int(p) for p in page],
                   [Entry(*(a[offsets[i]:offsets[i + 1]] for a in (desc, words, points))) for i in range(n)])

    # -- query -------------------------------------------------------------------------------------------
    def query(self, points: np.ndarray, descriptors: np.ndarray, sizes: np.ndarray | None = None,
              k: int = TOP_K) -> list[Candidate]:
        """The pages the evidence's SIFT features (positions, descriptors) most likely show, best first: the
        pages of the top `k` distinct page contents whose matches fit one homography with SPATIAL inliers or
        more, each with every entry that has the same content. With the keypoints' `sizes`, only the
        QUERY_FEATURES largest are searched (the stored ones are a page's largest too)."""
        if not len(self) or not len(descriptors):
            return []
        if sizes is not None and len(descriptors) > QUERY_FEATURES:
            keep = np.argsort(-sizes, kind="stable")[:QUERY_FEATURES]
            points, descriptors = points[keep], descriptors[keep]
        if self._search is None:
            self._search = _Search(self.entries)
        search = self._search
        query_of, stored = search.matches(descriptors)
        owner = search.owner[stored]
        votes = np.bincount(owner, minlength=search.n)
        scored = []
        for g in np.argsort(-votes, kind="stable")[:SHORTLIST]:
            if votes[g] < SPATIAL:
                break
            mine = owner == g
            n = _consistent(points[query_of[mine]], search.points[stored[mine]])
            if n >= SPATIAL:
                scored.append((n, int(g)))
        scored.sort(key=lambda t: -t[0])  # stable: equal counts keep the order of their votes
        return [Candidate(self.sha[i], self.page[i], n, g) for n, g in scored[:k] for i in search.members[g]]


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (uncompressed) whose bytes depend only on the arrays: np.savez stamps each member with the time."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _consistent(src: np.ndarray, dst: np.ndarray) -> int:
    """How many of these matches (evidence pixels -> page pixels) one homography explains (RANSAC, 8 px on the
    page: large keypoints are placed less precisely than small ones)."""
    if len(src) < 4:
        return 0
    H, mask = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), cv2.RANSAC, 8.0, maxIters=500,
                                 confidence=0.995)
    return 0 if H is None or mask is None else int(mask.sum())


class _Search:
    """The distinct page contents' descriptors filed by visual word (an inverted file)."""

    def __init__(self, entries: list[Entry]) -> None:
        first: dict[bytes, int] = {}
        self.members: list[list[int]] = []
        distinct: list[Entry] = []
        for i, e in enumerate(entries):
            g = first.setdefault(e.key(), len(self.members))
            if g == len(self.members):
                self.members.append([])
                distinct.append(e)
            self.members[g].append(i)
        self.n = len(distinct)
        owner = np.repeat(np.arange(self.n, dtype=np.int64), [len(e.words) for e in distinct])
        words = np.concatenate([e.words for e in distinct]).astype(np.int64)
        order = np.argsort(words, kind="stable")
        self.owner = owner[order]
        self.desc = np.concatenate([e.descriptors for e in distinct])[order]
        self.points = np.concatenate([e.points for e in distinct])[order]
        self.start = np.searchsorted(words[order], np.arange(vocab.WORDS + 1))

    def matches(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(evidence descriptor, stored descriptor) pairs. Each evidence descriptor is matched on every page
        separately: its nearest descriptor there, where it passes Lowe's ratio test against the second nearest
        on that page and is not much farther than its nearest on any page (SLACK). One nearest for the whole
        archive would lose the page shown to pages in the same font and layout, whose descriptors come a little
        nearer once the evidence is scaled or noisy; a ratio test against every page would refuse the matches
        of near-identical pages (a revision, pages that differ in a figure per line). Each stored descriptor is
        taken once (by its closest evidence descriptor)."""
        q = vocab.root_sift(descriptors)
        probes = vocab.nearest_words(q, PROBES)
        by_word = np.argsort(probes.ravel(), kind="stable")
        flat = probes.ravel()[by_word]
        cut = np.searchsorted(flat, np.arange(vocab.WORDS + 1))
        rows, pages, s1s, s2s, args = [], [], [], [], []
        for w in np.flatnonzero(np.diff(cut)):
            lo, hi = int(self.start[w]), int(self.start[w + 1])
            if hi == lo:
                continue
            qi = by_word[cut[w]:cut[w + 1]] // PROBES
            d = self.desc[lo:hi].astype(np.float32)
            d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
            sims = q[qi] @ d.T
            own = self.owner[lo:hi]  # a word's descriptors are filed page by page: each page is one block
            starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
            sizes = np.diff(np.r_[starts, hi - lo])
            m1 = np.maximum.reduceat(sims, starts, axis=1)  # per query and page: the nearest and the second
            top = sims >= np.repeat(m1, sizes, axis=1)
            m2 = np.maximum.reduceat(np.where(top, -1.0, sims), starts, axis=1)
            r, c = np.nonzero(top)
            first = np.r_[True, (r[1:] != r[:-1]) | (own[c[1:]] != own[c[:-1]])]  # one per query and page
            r, c = r[first], c[first]
            block = np.searchsorted(starts, c, side="right") - 1
            rows.append(qi[r])
            pages.append(own[c])
            s1s.append(m1[r, block])
            s2s.append(m2[r, block])
            args.append(lo + c)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        row, page, s1, s2, arg = (np.concatenate(a) for a in (rows, pages, s1s, s2s, args))
        # the same query and page from several probed words: the nearest wins, the others are seconds
        order = np.lexsort((-s1, page, row))
        row, page, s1, s2, arg = row[order], page[order], s1[order], s2[order], arg[order]
        head = np.r_[True, (row[1:] != row[:-1]) | (page[1:] != page[:-1])]
        group = np.cumsum(head) - 1
        second = np.full(int(group[-1]) + 1, -1.0, np.float32)
        np.maximum.at(second, group, s2)
        np.maximum.at(second, group[~head], s1[~head])
        row, page, s1, arg = row[head], page[head], s1[head], arg[head]
        d1 = np.sqrt(np.maximum(2 - 2 * s1, 0))
        d2 = np.where(second > -1, np.sqrt(np.maximum(2 - 2 * second, 0)), np.inf)
        nearest = np.full(len(q), np.inf, np.float32)
        np.minimum.at(nearest, row, d1)
        good = np.flatnonzero((d1 < RATIO * d2) & (SLACK * d1 <= nearest[row]))
        # a stored descriptor counts once, however many evidence features chose it (hubs: repeated structures)
        good = good[np.argsort(d1[good], kind="stable")]
        _u, once = np.unique(arg[good], return_index=True)
        good = good[once]
        return row[good].astype(np.int64), arg[good].astype(np.int64)


# -- the workspace's index --------------------------------------------------------------------------------
def load_or_empty(ws: Workspace) -> tuple[PageIndex, str | None]:
    """The workspace's index (empty when there is none yet), and why it was dropped (None when it was not)."""
    path = index_path(ws)
    if not path.exists():
        return PageIndex(), None
    try:
        return PageIndex.load(path), None
    except IndexFileError as exc:
        return PageIndex(), str(exc)


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


def add_document(ws: Workspace, sha256: str, fingerprints: list[Fingerprint]) -> None:
    """Add a newly registered document's pages and save the index. An index that cannot be read is started
    again with this document. Nothing here can lose a page: the vault is already written, and `for_trace`
    adds from it whatever the index lacks (this write failed, or two registrations at once kept only one)."""
    index, problem = load_or_empty(ws)
    if problem:
        log.warning("%s; it is made again from the vault at the next trace (or `leakmark index rebuild`)", problem)
    index.add(sha256, (entry_of(fp) for fp in fingerprints))
    try:
        index.save(index_path(ws))
    except OutputError as exc:
        log.warning("the page index was not updated (%s); the next trace adds this document from the vault",
                    exc.message)


def for_trace(ws: Workspace, docs: list[Document]) -> PageIndex:
    """The index of these registered documents, as the tracer needs it: a damaged or other-format index is
    made again, and documents it lacks are added, from the vault (saved when possible; the trace goes on
    with it unsaved when the index cannot be written)."""
    index, problem = load_or_empty(ws)
    if problem:
        log.warning("%s; making it again from the vault", problem)
    known = index.documents
    missing = [d for d in docs if d.sha256 not in known]
    for d in missing:
        index.add(d.sha256, _entries(ws, d))
    if missing or problem:
        log.info("page index: %d document(s) added from the vault", len(missing))
        try:
            index.save(index_path(ws))
        except OutputError as exc:
            log.warning("the page index could not be saved (%s); this trace uses it unsaved", exc.message)
    shas = {d.sha256 for d in docs}
    return index if index.documents <= shas else index.only(shas)


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
    """Make the page index again from the vault's fingerprints of every registered document, and save it."""
    progress = progress or NullProgress()
    with Ledger(ws) as ledger:
        ledger.check()  # exit 7 for a register that fails verification: it names the documents to index
        docs = ledger.documents()
    _old, problem = load_or_empty(ws)
    index = PageIndex()
    progress.start(sum(d.pages for d in docs), "pages indexed")
    try:
        for d in docs:
            index.add(d.sha256, _entries(ws, d))
            progress.advance(d.pages)
    finally:
        progress.finish()
    path = index_path(ws)
    index.save(path)
    return RebuildResult(path, len(index.documents), len(index), path.stat().st_size, problem)
