"""Fine cells of the page index: a descriptor's place among 2**20 cells, for the first pass of a large index.

The visual words (`vocab`, 4,096) file an index's descriptors for the exact search, but with a million pages
each word holds tens of thousands of descriptors, and a query reads a third of the index's 128-byte
descriptors. The
cells are an inverted multi-index (Babenko & Lempitsky, CVPR 2012): each half of a RootSIFT vector (values
0-63 and 64-127) is quantised to one of `HALF_WORDS` half-words, and the pair is the cell, so two small
codebooks give HALF_WORDS**2 cells with no codebook of a million centres to train or search. A query visits
the CELL_PROBES (leakmark.index) cells nearest each of its descriptors (the multi-sequence order: the sum of
the two halves' distances). Cells alone tell pages in the same font apart poorly (their strokes fill the same cells), so
each stored descriptor also keeps a 64-bit signature, the signs of its residual from its cell's centre along
`BITS` fixed directions (Hamming embedding: Jégou, Douze & Schmid, ECCV 2008): a stored descriptor counts for
an evidence descriptor only when their signatures differ in at most `HAMMING` bits. Measured with 18
photos, screenshots and half-page crops of 6 generated pages, among 50,000 synthetic pages (benchmarks/
archive_scale.py's): the right page ranked first by the first pass in 15 of 18 with HAMMING 10 or 12 (12 of
18 with 16, and the crops lost beyond rank 300); the other 3 show a page of small English prose that the
exact search, too, matches weakly (17 votes among 30 pages). Text pages' large keypoints fill few cells
(15 million descriptors of 50,000 pages: 13,880 cells), so a query visiting whole cells read most postings of
a segment (13 million of 15 million for a phone photo, 0.17 million of them within HAMMING bits). So the
postings of a cell are filed in 2**SUB_BITS buckets by their signature's first SUB_BITS bits (`bucket`), and a
query reads only the buckets whose bits differ from its own in at most one (9 of 256, `probed`): 1.1 million
postings read for 0.14 million of those within HAMMING bits (85 %; most of the others differ in 9-10 bits,
as unrelated descriptors sometimes do).

Shipped and fixed (`cells-v1.npz`: the half-words and the signature's directions) like the vocabulary: an
index's cells must have been made with the same ones, so the file's sha256 goes into every segment. Made once
(`python -m leakmark.index.cells OUT.npz`) from `vocab.training_descriptors()`: Lloyd's k-means per half from
centres chosen by a SHAKE-256 stream, directions from another (no numpy RNG).
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

import numpy as np

from leakmark.index import vocab

HALF_WORDS = 1024
CELLS = HALF_WORDS * HALF_WORDS
VERSION = 1
PATH = Path(__file__).with_name(f"cells-v{VERSION}.npz")
BITS = 64
HAMMING = 10  # signature bits that may differ (of 64; two unrelated descriptors in one cell: median 20)
SCALE = 512  # as the index's stored descriptors (leakmark.index.SCALE): RootSIFT halves' values fit a byte
NEAREST = 8  # half-words considered per half when choosing a query's cells (NEAREST**2 pairs ranked)
SUB_BITS = 8  # a signature's first bits that file a stored descriptor in its cell's bucket (`bucket`)
_ITERATIONS = 15
_CHUNK = 8192


@functools.cache
def codebooks() -> tuple[np.ndarray, np.ndarray]:
    """The two halves' words, each (HALF_WORDS, 64) float32, and their squared norms (2, HALF_WORDS)."""
    with np.load(PATH, allow_pickle=False) as z:
        books = z["halves"].astype(np.float32) / SCALE
    return books, np.einsum("hkd,hkd->hk", books, books)


@functools.cache
def projection() -> np.ndarray:
    """The signature's directions, (128, BITS) float32."""
    with np.load(PATH, allow_pickle=False) as z:
        return np.asarray(z["projection"], np.float32)


@functools.cache
def digest() -> str:
    return hashlib.sha256(PATH.read_bytes()).hexdigest()


def _distances(x: np.ndarray, half: int, books: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Squared distance, up to a per-row constant, from each row's half to each half-word: (n, HALF_WORDS)."""
    part = x[:, 64 * half:64 * (half + 1)]
    return norms[half][None, :] - 2.0 * (part @ books[half].T)


@functools.cache
def _projected_words() -> tuple[np.ndarray, np.ndarray]:
    """Each half's words along the signature's directions, (HALF_WORDS, BITS) each: a residual's projection is
    the vector's minus its two half-words', so a probe's signature costs a small gather, not a 128-value
    residual projected (which took a quarter of a query's time)."""
    books, _norms = codebooks()
    p = projection()
    return books[0] @ p[:64], books[1] @ p[64:]


def _signed(projected: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Signatures from the vectors' projections (..., BITS), broadcast against their cells (...): uint64."""
    words = _projected_words()
    a, b = np.divmod(np.asarray(cell, np.int64), HALF_WORDS)
    bits = (projected - words[0][a] - words[1][b]) > 0
    return np.packbits(bits, axis=-1, bitorder="little").view("<u8")[..., 0]


def signatures(x: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """The signature of each row of `x` (float32 RootSIFT) in the cell given for it: uint64."""
    return _signed(np.asarray(x, np.float32) @ projection(), cell)


def of(rs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cell (uint32 in [0, CELLS)) and signature (uint64) of each RootSIFT vector (float32 rows, as
    stored: uint8 / SCALE)."""
    books, norms = codebooks()
    cell = np.empty(len(rs), np.uint32)
    sig = np.empty(len(rs), np.uint64)
    for i in range(0, len(rs), _CHUNK):
        x = np.asarray(rs[i:i + _CHUNK], np.float32)
        a = np.argmin(_distances(x, 0, books, norms), axis=1)
        b = np.argmin(_distances(x, 1, books, norms), axis=1)
        cell[i:i + _CHUNK] = c = (a * HALF_WORDS + b).astype(np.uint32)
        sig[i:i + _CHUNK] = signatures(x, c)
    return cell, sig


def bucket(cell: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Where a stored descriptor is filed for the first pass: its cell and its signature's first SUB_BITS bits,
    (cell << SUB_BITS) | bits, uint32 (28 bits). A query reads the buckets of its cells whose bits differ from
    its own signature's in at most `flips` (`probed`): a stored descriptor within cells.HAMMING bits of it
    mostly differs in none or one of these 8 (and one that differs in more counts little)."""
    low = (np.asarray(sig, np.uint64) & np.uint64((1 << SUB_BITS) - 1)).astype(np.uint32)
    return (np.asarray(cell, np.uint32) << np.uint32(SUB_BITS)) | low


def probed(cell: np.ndarray, sig: np.ndarray, flips: int) -> np.ndarray:
    """The buckets a query reads for probes (cell, signature): its own and those whose SUB_BITS bits differ
    from its own in at most `flips` (0, 1 or 2), (n, 1 + 8 [+ 28]) uint32, its own first."""
    masks = [0]
    if flips >= 1:
        masks += [1 << i for i in range(SUB_BITS)]
    if flips >= 2:
        masks += [(1 << i) | (1 << j) for i in range(SUB_BITS) for j in range(i + 1, SUB_BITS)]
    return bucket(cell, sig)[..., None] ^ np.array(masks, np.uint32)


def of_stored(desc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells and signatures of stored index descriptors (uint8, RootSIFT × SCALE)."""
    return of(np.asarray(desc).astype(np.float32) / SCALE)


def nearest(rs: np.ndarray, probes: int) -> tuple[np.ndarray, np.ndarray]:
    """The `probes` cells nearest each RootSIFT vector, (n, probes) uint32, nearest first, and the vector's
    signature in each, (n, probes) uint64: of the NEAREST half-words of each half, the pairs with the smallest
    summed distance (the multi-sequence algorithm's first cells, found here by ranking all NEAREST**2 pairs)."""
    books, norms = codebooks()
    x = np.asarray(rs, np.float32)
    if not len(x):
        return np.zeros((0, probes), np.uint32), np.zeros((0, probes), np.uint64)
    picks, dists = [], []
    for half in (0, 1):
        d = _distances(x, half, books, norms)
        p = _smallest(d, NEAREST)
        picks.append(p)
        dists.append(np.take_along_axis(d, p, axis=1))
    total = (dists[0][:, :, None] + dists[1][:, None, :]).reshape(len(x), -1)
    best = np.argsort(total, axis=1, kind="stable")[:, :probes]
    a = np.take_along_axis(picks[0], best // NEAREST, axis=1)
    b = np.take_along_axis(picks[1], best % NEAREST, axis=1)
    cell = (a * HALF_WORDS + b).astype(np.uint32)
    return cell, _signed((x @ projection())[:, None, :], cell)


_GROUP = 32  # HALF_WORDS in rows of this many for _smallest


def _smallest(d: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's k smallest values, in no order (as np.argpartition's first k, at a third of
    its time for 1,024 columns): they lie in the k groups of _GROUP columns with the smallest minima, so only
    those k * _GROUP values are partitioned."""
    n = len(d)
    groups = d.reshape(n, -1, _GROUP)
    keep = np.argpartition(groups.min(axis=2), k, axis=1)[:, :k]
    values = np.take_along_axis(groups, keep[:, :, None], axis=1).reshape(n, -1)
    columns = (keep[:, :, None] * _GROUP + np.arange(_GROUP)).reshape(n, -1)
    return np.take_along_axis(columns, np.argpartition(values, k, axis=1)[:, :k], axis=1)


def gaussian_directions(bits: int = BITS) -> np.ndarray:
    """(128, bits) float32 standard normal values from a SHAKE-256 stream (inverse normal CDF, in Python's own
    floating point: the same everywhere)."""
    from statistics import NormalDist

    raw = np.frombuffer(hashlib.shake_256(b"leakmark cells v1 projection").digest(8 * 128 * bits), "<u8")
    inv = NormalDist().inv_cdf
    return np.array([inv((int(v >> np.uint64(11)) + 0.5) / 2**53) for v in raw], np.float32).reshape(128, bits)


def build(descs: np.ndarray, iterations: int = _ITERATIONS) -> np.ndarray:
    """The two halves' k-means words of `descs` (RootSIFT × SCALE, rounded as the index stores descriptors),
    (2, HALF_WORDS, 64) uint8: deterministic given the descriptors."""
    x = np.clip(np.rint(vocab.root_sift(descs) * SCALE), 0, 255).astype(np.float32) / SCALE
    out = np.empty((2, HALF_WORDS, 64), np.uint8)
    for half in (0, 1):
        part = np.ascontiguousarray(x[:, 64 * half:64 * (half + 1)])
        # distinct rows as starting centres, in the order of a SHAKE-256 stream
        stream = vocab._stream(f"cells half {half}".encode(), 4 * HALF_WORDS, len(part))
        starts = stream[np.sort(np.unique(stream, return_index=True)[1])]
        centres = part[starts[:HALF_WORDS]].copy()
        for _ in range(iterations):
            norms = np.einsum("kd,kd->k", centres, centres)
            assign = np.concatenate([np.argmin(norms[None, :] - 2.0 * (part[i:i + _CHUNK] @ centres.T), axis=1)
                                     for i in range(0, len(part), _CHUNK)])
            sums = np.zeros_like(centres)
            np.add.at(sums, assign, part)
            counts = np.bincount(assign, minlength=HALF_WORDS)
            filled = counts > 0  # an empty word keeps its centre
            centres[filled] = sums[filled] / counts[filled, None]
        out[half] = np.clip(np.rint(centres * SCALE), 0, 255).astype(np.uint8)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PATH  # python -m leakmark.index.cells [OUT [CACHE]]
    cache = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    if cache is not None and cache.exists():
        descs = np.load(cache)
    else:
        descs = vocab.training_descriptors()
        if cache is not None:
            np.save(cache, descs)
    print(f"{len(descs)} training descriptors", file=sys.stderr)
    with open(target, "wb") as fh:
        np.savez(fh, halves=build(descs), projection=gaussian_directions())
    print(hashlib.sha256(target.read_bytes()).hexdigest())
