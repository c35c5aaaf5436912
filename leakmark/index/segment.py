"""One file of the page index: pages and their descriptors, filed by visual word, read in place.

A segment holds, per page (an *entry*: a document's sha256 and page number), the number of its *content*: pages
with the same descriptors (a page shared by two documents, e.g. a revision) are one content, stored once. The
contents are in the order of their keys (the sha256 of their descriptors), so that another segment's copy of
a content is found by binary search. A content's descriptors (with their visual words and positions on the
page) lie together, in word order: the first pass of a large index hands on a few contents, each then one read
(filed by word, as format 5 kept them, a content's 300 lay in 300 places of a file larger than the page
cache: about 38,000 random reads for the query of an unregistered page's photo among 1,000,000 pages). An
inverted file over them (`byword[start[w]:start[w + 1]]`: word w's rows, content by content) is what the exact
search of a small index reads, with no filing when a trace opens the index.

On disk: an uncompressed .npz whose bytes depend only on the pages it holds, read with each array
memory-mapped where it lies in the file (the operating system keeps the parts queries read in its page cache).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from leakmark.index import cells, vocab

FORMAT = 8  # the layout of a segment; a reader must match it and the vocabulary's and cells' digests
# 4: the first pass's postings filed by bucket (a cell and its signature's first bits: `cells.bucket`), not by cell
# 5: positions as float16 and no stored inverse norms (computed from the descriptors a query reads): 8 bytes less
#    a descriptor, which pays for the outline entries (`leakmark.index`) within 50 KB a page
# 6: descriptors, positions and words stored content by content, an inverted file (`byword`) over them; no owner
#    array (a row's content is found in `cstart`): 2 bytes less a descriptor
# 7: every FENCE-th bucket (`fence`), which the first pass searches before a block of the buckets
# 8: each posting names its descriptor's row within its content as well as the content (`cellref`, in the 4 bytes
#    that held the content), so that the first pass can place what it meets on the page (`leakmark.index`)
FENCE = 64  # buckets a block (`Segment.bucket_range`)
ROW_BITS = 10  # a posting's `cellref`: content << ROW_BITS | the descriptor's row within its content
MAX_ROWS = 1 << ROW_BITS  # descriptors a content may hold (an index entry keeps 300)
MAX_CONTENTS = 1 << (32 - ROW_BITS)  # contents a segment may hold (merges stop at 50,000 pages)
_ARRAYS = ("sha", "page", "content", "key", "cstart", "descriptors", "points", "words", "start", "byword",
           "bucket", "cellref", "cellsig", "fence")
UPGRADES = (7,)  # earlier formats whose segments `upgraded` makes this format's (format 7 named a posting's content
# only, in `cellowner`; its other arrays are this format's)
_UPGRADE_CHUNK = 1 << 16  # descriptors filed at a time in an upgrade (memory: a few MB)


class SegmentError(Exception):
    """A segment file is unreadable, damaged, or of another format or vocabulary (the message says which)."""


@dataclass(frozen=True)
class Entry:
    """One page: its largest keypoints' RootSIFT descriptors (uint8, ×SCALE) and their visual words."""

    descriptors: np.ndarray  # (m, 128) uint8
    words: np.ndarray  # (m,) uint16
    points: np.ndarray  # (m, 2) float32, FP_DPI pixels: where they are, for the spatial check
    cells: np.ndarray | None = None  # (m,) uint32 and (m,) uint64: `cells.of_stored(descriptors)`
    signatures: np.ndarray | None = None  # (None: computed when the entry is filed)

    def key(self) -> bytes:
        """Equal for pages with the same descriptors (the same page in two documents)."""
        return hashlib.sha256(self.descriptors.tobytes()).digest()


class Segment:
    """The arrays of one segment (in memory, or memory-mapped from its file)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.file_name: str | None = None  # the segment's file in the index folder, once written or read
        self.sha: np.ndarray = arrays["sha"]  # (entries,) S64, in (sha, page) order
        self.page: np.ndarray = arrays["page"]  # (entries,) int32
        self.content: np.ndarray = arrays["content"]  # (entries,) int32
        self.key: np.ndarray = arrays["key"]  # (contents,) S32, sorted
        # the descriptors, content by content (each content's in word order): rows cstart[c]:cstart[c + 1]
        self.cstart: np.ndarray = arrays["cstart"]  # (contents + 1,) int64
        self.descriptors: np.ndarray = arrays["descriptors"]  # (m, 128) uint8
        self.points: np.ndarray = arrays["points"]  # (m, 2) float16 (a pixel apart up to 2,048: the spatial check
        # allows 8)
        self.words: np.ndarray = arrays["words"]  # (m,) uint16: each descriptor's visual word
        # the inverted file: byword[start[w]:start[w + 1]] are the rows of word w's descriptors, content by content
        # (a *position* is an index into byword)
        self.start: np.ndarray = arrays["start"]  # (WORDS + 1,) int64
        self.byword: np.ndarray = arrays["byword"]  # (m,) uint32
        # the first pass of a large index (`cells`): each descriptor's bucket (its cell and its signature's first
        # bits: `cells.bucket`), sorted, with its content
        self.bucket: np.ndarray = arrays["bucket"]  # (m,) uint32, ascending
        self.cellref: np.ndarray = arrays["cellref"]  # (m,) uint32: content << ROW_BITS | row, ascending in a bucket
        self.fence: np.ndarray = arrays["fence"]  # (ceil(m / FENCE),) uint32: bucket[::FENCE]
        self.cellsig: np.ndarray = arrays["cellsig"]  # (m,) uint64: the descriptor's signature in its cell

    @property
    def entries(self) -> int:
        return len(self.sha)

    @property
    def contents(self) -> int:
        return len(self.key)

    @property
    def size(self) -> int:
        """Descriptors stored."""
        return len(self.byword)

    def bucket_range(self, needle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of these buckets' postings start and end (as np.searchsorted left and right). The fence
        is searched first (a few KB a segment: in the CPU's caches), then each needle's block of FENCE buckets
        (one page of the file): searchsorted over a memory-mapped array of 15 million buckets took 18-25 ms for
        18,000 needles, this 3 ms a side (the mapped file's small pages miss the TLB at every step of a binary
        search; an array in memory took 1-2 ms). Only the needles found (about 5 %) are searched for their
        end."""
        bucket, x = self.bucket, np.asarray(needle, np.int64)
        lo = _fenced(bucket, self.fence, x, "left")
        hi = lo.copy()
        found = np.flatnonzero(bucket[np.minimum(lo, len(bucket) - 1)] == x) if len(bucket) else lo[:0]
        hi[found] = _fenced(bucket, self.fence, x[found], "right")
        return lo, hi

    def owner_of(self, rows: np.ndarray) -> np.ndarray:
        """The content of each of these descriptor rows."""
        return np.searchsorted(np.asarray(self.cstart), rows, side="right") - 1

    def posted(self, postings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The content of each of these postings (rows of `bucket`) and its descriptor's row (of `descriptors`)."""
        ref = np.asarray(self.cellref[postings], np.int64)
        content = ref >> ROW_BITS
        return content, np.asarray(self.cstart)[content] + (ref & (MAX_ROWS - 1))

    def members(self, content: int) -> np.ndarray:
        """The entries (rows of sha/page) that show this content."""
        return np.flatnonzero(np.asarray(self.content) == content)

    def find(self, key: bytes) -> int | None:
        """The content with this key, if the segment holds it."""
        i = int(np.searchsorted(self.key, key))
        return i if i < len(self.key) and bytes(self.key[i]) == key else None

    def documents(self) -> np.ndarray:
        return np.unique(np.asarray(self.sha))

    # -- made from pages, merged ------------------------------------------------------------------------
    @classmethod
    def of(cls, pages: list[tuple[str, int, Entry]]) -> Segment:
        """A segment of these pages (document sha256, page number, entry); the same pages give the same arrays
        whatever their order. A page listed twice is kept once."""
        unique = {(s, p): e for s, p, e in pages}
        spots = sorted(unique)
        keys = [unique[sp].key() for sp in spots]
        by_key: dict[bytes, Entry] = {}
        for sp, k in zip(spots, keys, strict=True):
            by_key.setdefault(k, unique[sp])
        order = sorted(by_key)
        number = {k: i for i, k in enumerate(order)}
        distinct = [by_key[k] for k in order]
        sizes = [len(e.words) for e in distinct]
        owner = np.repeat(np.arange(len(distinct), dtype=np.int64), sizes)
        filed = [cells.of_stored(e.descriptors) if e.cells is None or e.signatures is None else (e.cells, e.signatures)
                 for e in distinct]
        sig = _cat([s for _c, s in filed], np.uint64, (0,))
        bucket = cells.bucket(_cat([c for c, _s in filed], np.uint32, (0,)), sig)
        return _assemble([s for s, _p in spots], [p for _s, p in spots],
                         np.array([number[k] for k in keys], np.int64), order, owner,
                         _cat([e.words for e in distinct], np.uint16, (0,)).astype(np.int64),
                         _cat([e.descriptors for e in distinct], np.uint8, (0, 128)),
                         _cat([e.points for e in distinct], np.float32, (0, 2)),
                         (bucket, sig, np.arange(len(owner), dtype=np.int64)))

    @classmethod
    def merged(cls, segments: list[Segment]) -> Segment:
        """One segment holding the pages of these (a content in several is kept once)."""
        keys = np.concatenate([np.asarray(s.key) for s in segments]) if segments else np.zeros(0, "S32")
        distinct, first = np.unique(keys, return_index=True)
        base = np.cumsum([0] + [s.contents for s in segments])
        sha, page, content, owner, words, desc, points = [], [], [], [], [], [], []
        post_bucket, post_sig, post_at = [], [], []
        at = 0  # descriptors taken so far: where the next segment's kept rows start in the concatenation
        for i, s in enumerate(segments):
            new = np.searchsorted(distinct, np.asarray(s.key))  # each content's number in the merged segment
            sha += [x.decode() for x in np.asarray(s.sha)]
            page += [int(p) for p in np.asarray(s.page)]
            content.append(new[np.asarray(s.content)])
            kept = np.zeros(s.contents, bool)  # the contents this segment is the first to hold
            kept[first[(first >= base[i]) & (first < base[i + 1])] - base[i]] = True
            own = np.repeat(np.arange(s.contents, dtype=np.int64), np.diff(np.asarray(s.cstart)))
            mine = kept[own]
            owner.append(new[own[mine]])
            words.append(np.asarray(s.words, np.int64)[mine])
            desc.append(np.asarray(s.descriptors)[mine])
            points.append(np.asarray(s.points)[mine])
            cown, crow = s.posted(np.arange(s.size))
            keep_post = kept[cown]
            post_bucket.append(np.asarray(s.bucket)[keep_post])
            post_sig.append(np.asarray(s.cellsig)[keep_post])
            post_at.append(at + (np.cumsum(mine) - 1)[crow[keep_post]])  # each posting's row, concatenated
            at += int(mine.sum())
        # the same page twice (registered again after a lost index write): kept once
        seen: dict[tuple[str, int], int] = {}
        cs = np.concatenate(content) if content else np.zeros(0, np.int64)
        for j, sp in enumerate(zip(sha, page, strict=True)):
            seen.setdefault(sp, j)
        keep = sorted(seen.values())
        return _assemble([sha[j] for j in keep], [page[j] for j in keep], cs[keep], [bytes(k) for k in distinct],
                         _cat(owner, np.int64, (0,)), _cat(words, np.int64, (0,)), _cat(desc, np.uint8, (0, 128)),
                         _cat(points, np.float32, (0, 2)),
                         (_cat(post_bucket, np.uint32, (0,)), _cat(post_sig, np.uint64, (0,)),
                          _cat(post_at, np.int64, (0,))))

    @classmethod
    def subset(cls, parts: list[tuple[Segment, int]]) -> Segment:
        """An in-memory segment of these contents (each a segment and its content number), in this order, each
        keeping its key, with no entries and no cell postings: what the exact search reads of a shortlist (a
        content's rows are one block of the file)."""
        owner, words, desc, points, keys = [], [], [], [], []
        for i, (seg, c) in enumerate(parts):
            rows = seg.rows(c)
            owner.append(np.full(len(rows), i, np.int64))
            words.append(np.asarray(seg.words[rows.start:rows.stop], np.int64))
            desc.append(np.asarray(seg.descriptors[rows.start:rows.stop]))
            points.append(np.asarray(seg.points[rows.start:rows.stop]))
            keys.append(bytes(seg.key[c]))
        none = np.zeros(0, np.int64)
        return _assemble([], [], none, keys, _cat(owner, np.int64, (0,)), _cat(words, np.int64, (0,)),
                         _cat(desc, np.uint8, (0, 128)), _cat(points, np.float32, (0, 2)),
                         (none.astype(np.uint32), none.astype(np.uint64), none))

    def entry(self, content: int) -> Entry:
        """A content's descriptors (in word order) as an Entry."""
        r = self.rows(content)
        return Entry(np.asarray(self.descriptors[r.start:r.stop]), np.asarray(self.words[r.start:r.stop]),
                     np.asarray(self.points[r.start:r.stop]))

    def rows(self, content: int) -> range:
        """The rows of the content's descriptors (in word order): one block."""
        return range(int(self.cstart[content]), int(self.cstart[content + 1]))

    # -- file ------------------------------------------------------------------------------------------
    def write(self, fh: BinaryIO) -> None:
        """The segment as an uncompressed .npz whose bytes depend only on the arrays."""
        meta = {"format": FORMAT, "vocabulary": vocab.digest(), "cells": cells.digest(), "entries": self.entries,
                "contents": self.contents}
        arrays = {"meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
                  **{name: self.arrays[name] for name in _ARRAYS}}
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            for name, arr in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with zf.open(info, "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.write(buf)
        return buf.getvalue()

    @classmethod
    def open(cls, path: Path) -> Segment:
        """The segment in `path`, its arrays memory-mapped; SegmentError when it cannot be used as it is."""
        arrays, meta = _opened(path, FORMAT)
        if set(arrays) != set(_ARRAYS):
            raise SegmentError("is damaged (it lacks arrays)")
        seg = cls(arrays)
        seg._check(meta)
        seg.file_name = path.name
        return seg

    @classmethod
    def upgraded(cls, path: Path) -> Segment:
        """The segment of an earlier format (UPGRADES) in `path` made this format's (its postings in memory, the
        other arrays still mapped from the file): each posting's descriptor row is found by filing the stored
        descriptors again (`cells.of_stored`, as they were filed when the segment was made, so the postings are
        those a rebuild from the vault would make), and the postings are sorted as `_assemble` sorts them. A rebuild
        extracts every page's keypoints again (`benchmarks/index_upgrade` measures both). SegmentError when the
        file is not such a segment of this vocabulary, or is damaged."""
        arrays, meta = _opened(path, *UPGRADES)
        if set(arrays) != set(_ARRAYS) - {"cellref"} | {"cellowner"}:
            raise SegmentError("is damaged (it lacks arrays)")
        cstart = np.asarray(arrays["cstart"], np.int64)
        m = len(arrays["bucket"])
        if cstart.ndim != 1 or not len(cstart) or int(cstart[0]) != 0 or int(cstart[-1]) != m:
            raise SegmentError("is damaged (its arrays do not agree)")
        counts = np.diff(cstart)
        if len(counts) > MAX_CONTENTS or (len(counts) and int(counts.max()) > MAX_ROWS):
            raise SegmentError(f"holds more than a segment of format {FORMAT} can ({MAX_CONTENTS:,} contents of "
                               f"{MAX_ROWS} descriptors)")
        desc = arrays["descriptors"]
        cell, sig = np.empty(m, np.uint32), np.empty(m, np.uint64)
        for i in range(0, m, _UPGRADE_CHUNK):
            cell[i:i + _UPGRADE_CHUNK], sig[i:i + _UPGRADE_CHUNK] = cells.of_stored(desc[i:i + _UPGRADE_CHUNK])
        bucket = cells.bucket(cell, sig)
        del cell
        owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        cellref = (owner << ROW_BITS) | (np.arange(m, dtype=np.int64) - cstart[owner])
        del owner
        by_bucket = np.lexsort((cellref, bucket))
        bucket = bucket[by_bucket]
        arrays.pop("cellowner")
        arrays.update(bucket=bucket, cellref=cellref[by_bucket].astype(np.uint32), cellsig=sig[by_bucket],
                      fence=bucket[::FENCE].copy())
        seg = cls(arrays)
        seg._check(meta)
        return seg

    def _check(self, meta: dict[str, object]) -> None:
        """The arrays agree with each other (cheap checks only: a segment can hold millions of descriptors)."""
        n, c, m = self.entries, self.contents, self.size
        ok = (meta.get("entries") == n and meta.get("contents") == c and self.sha.dtype == np.dtype("S64")
              and self.page.shape == (n,) and self.content.shape == (n,) and self.key.dtype == np.dtype("S32")
              and self.start.shape == (vocab.WORDS + 1,) and int(self.start[0]) == 0 and int(self.start[-1]) == m
              and self.descriptors.shape == (m, 128) and self.descriptors.dtype == np.uint8
              and self.points.shape == (m, 2) and self.points.dtype == np.float16
              and self.words.shape == (m,) and self.words.dtype == np.uint16 and self.byword.dtype == np.uint32
              and self.bucket.shape == (m,) and self.bucket.dtype == np.uint32 and self.cellref.shape == (m,)
              and self.cellref.dtype == np.uint32 and self.cellsig.shape == (m,) and self.cellsig.dtype == np.uint64
              and self.cstart.shape == (c + 1,)
              and self.fence.shape == ((m + FENCE - 1) // FENCE,) and self.fence.dtype == np.uint32
              and int(self.cstart[0]) == 0 and int(self.cstart[-1]) == m
              and (n == 0 or (int(np.min(self.content)) >= 0 and int(np.max(self.content)) < c)))
        if not ok:
            raise SegmentError("is damaged (its arrays do not agree)")


def _opened(path: Path, *formats: int) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """A segment file's arrays (memory-mapped) and its meta, when it has one of these formats and this vocabulary
    and these cells; SegmentError otherwise."""
    try:
        arrays = _mapped(path)
        meta = json.loads(np.asarray(arrays.pop("meta")).tobytes())
    except SegmentError:
        raise
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise SegmentError(f"is damaged ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") not in formats:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise SegmentError(f"has format {got}; this release reads format {FORMAT}")
    if meta.get("vocabulary") != vocab.digest() or meta.get("cells") != cells.digest():
        raise SegmentError("was made with another vocabulary")
    return arrays, meta


def _fenced(bucket: np.ndarray, fence: np.ndarray, x: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
    """np.searchsorted(bucket, x, side), the fence (bucket[::FENCE]) searched first."""
    j = np.searchsorted(fence, x, side)  # the answer lies in ((j - 1) FENCE, j FENCE]
    lo, hi = np.maximum(j - 1, 0) * FENCE, np.minimum(j * FENCE, len(bucket))
    while True:  # a binary search of every needle at once within its block (log2 FENCE steps)
        act = np.flatnonzero(lo < hi)
        if not len(act):
            return lo
        a, b = lo[act], hi[act]
        mid = (a + b) >> 1
        up = bucket[mid] < x[act] if side == "left" else bucket[mid] <= x[act]
        lo[act] = np.where(up, mid + 1, a)
        hi[act] = np.where(up, b, mid)


def _cat(parts: list[np.ndarray], dtype: type, empty: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(empty, dtype)


def _assemble(sha: list[str], page: list[int], content: np.ndarray, keys: list[bytes], owner: np.ndarray,
              words: np.ndarray, desc: np.ndarray, points: np.ndarray,
              postings: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Segment:
    """The segment's arrays: entries in (sha, page) order, descriptors content by content (each content's by
    word), the inverted file over them (by word, then content), the postings (bucket, signature, the row of
    `owner`/`words`/... it files) sorted by bucket, then content and row. Ties keep the given order (stable
    sorts)."""
    rows = sorted(range(len(sha)), key=lambda i: (sha[i], page[i]))
    stored = np.lexsort((words, owner))  # the descriptors' rows: by content, then word
    row_of = np.empty(len(stored), np.int64)
    row_of[stored] = np.arange(len(stored))
    order = np.lexsort((owner, words))  # the inverted file: by word, then content
    if len(keys) > MAX_CONTENTS or (len(owner) and int(np.bincount(owner).max()) > MAX_ROWS):
        raise ValueError(f"a segment holds at most {MAX_CONTENTS:,} contents of at most {MAX_ROWS} descriptors")
    cstart = np.searchsorted(owner[stored], np.arange(len(keys) + 1)).astype(np.int64)
    bucket, cellsig, at = postings
    post_owner = owner[at]
    cellref = (post_owner << ROW_BITS) | (row_of[at] - cstart[post_owner])
    by_bucket = np.lexsort((cellref, bucket))
    bucket = np.asarray(bucket, np.uint32)[by_bucket]
    return Segment({
        "sha": np.array([sha[i] for i in rows], dtype="S64").reshape(-1),
        "page": np.array([page[i] for i in rows], np.int32).reshape(-1),
        "content": np.asarray(content, np.int64)[rows].astype(np.int32),
        "key": np.array(keys, dtype="S32").reshape(-1),
        "cstart": cstart,
        "descriptors": desc[stored],
        "points": points[stored].astype(np.float16),
        "words": words[stored].astype(np.uint16),
        "start": np.searchsorted(words[order], np.arange(vocab.WORDS + 1)).astype(np.int64),
        "byword": row_of[order].astype(np.uint32),
        "bucket": bucket,
        "cellref": cellref[by_bucket].astype(np.uint32),
        "cellsig": np.asarray(cellsig, np.uint64)[by_bucket],
        "fence": bucket[::FENCE].copy()})


def inverse_norms(desc: np.ndarray) -> np.ndarray:
    """1 / each row's norm, in chunks (a float copy of many rows at once would take much memory). The squares
    summed by einsum, about 3x faster than np.linalg.norm and the same values: 128 squares of bytes sum below
    2^24, so float32 holds every partial sum exactly, in any order."""
    inverse = np.empty(len(desc), np.float32)
    for i in range(0, len(desc), 1 << 16):
        rows = desc[i:i + (1 << 16)].astype(np.float32)
        inverse[i:i + (1 << 16)] = 1.0 / np.maximum(np.sqrt(np.einsum("ij,ij->i", rows, rows)), 1e-6)
    return inverse


def _mapped(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed .npz, each memory-mapped where it lies in the file."""
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as fh:
        if not zipfile.is_zipfile(fh):
            raise SegmentError("is damaged (not an index file)")
        with zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise SegmentError(f"is damaged (member {info.filename!r})")
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise SegmentError("is damaged (cut short)")
            start = (info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                     + int.from_bytes(local[28:30], "little"))
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fh)
            if fortran or dtype.hasobject:
                raise SegmentError(f"is damaged (member {info.filename!r})")
            count = int(np.prod(shape)) if shape else 1
            if fh.tell() + count * dtype.itemsize > start + info.file_size:
                raise SegmentError("is damaged (cut short)")
            name = info.filename[:-4]
            # a plain view of the map: np.memmap's own indexing costs a little at each of a query's hundreds of reads
            out[name] = (np.zeros(shape, dtype) if count == 0
                         else np.memmap(path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape).view(np.ndarray))
    return out
