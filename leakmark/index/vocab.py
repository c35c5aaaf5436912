"""The visual vocabulary of the page index: RootSIFT descriptors quantised to one of `WORDS` words.

The vocabulary is fixed and shipped (`vocab-v1.npy`): an index entry is a list of word numbers, so every
entry ever written must have been made with the same words. It was made once by `build()` (run
`python -m leakmark.index.vocab OUT.npy`), a deterministic procedure: SIFT of leakmark's own generated pages
(the text and low-text samples and 400 archive pages far from those the tests use), of each page the 300
largest keypoints as the index keeps them (words trained on every keypoint crowd the few that large ones
fall in, and a query then compares most of the index), a sample of their descriptors chosen by a SHAKE-256
stream, and Lloyd's k-means from centroids chosen by the same stream (no numpy RNG).
Its sha256 goes into every index file, so an index made with other words is never read with these.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

import numpy as np

WORDS = 4096
VERSION = 1
PATH = Path(__file__).with_name(f"vocab-v{VERSION}.npy")
_TRAIN_DESCRIPTORS = 120_000
_ITERATIONS = 12
_TRAIN_PAGES = 400
_LARGEST = 300  # keypoints per training page, the largest: what the index keeps (leakmark.index.PER_PAGE)
_CHUNK = 8192  # descriptors quantised at a time (bounds the distance matrix to 8192 × WORDS floats)


def root_sift(desc: np.ndarray) -> np.ndarray:
    """RootSIFT (Arandjelović & Zisserman 2012): L1-normalise, square root; unit L2 norm, float32. Comparing
    these by dot product is the Hellinger kernel on SIFT, which retrieves better than Euclidean SIFT."""
    d = desc.astype(np.float32)
    d /= np.maximum(d.sum(axis=1, keepdims=True), 1e-6)
    return np.sqrt(d)


@functools.cache
def vocabulary() -> np.ndarray:
    """The shipped words, (WORDS, 128) float32 unit vectors."""
    words = np.load(PATH, allow_pickle=False).astype(np.float32)
    return words / np.maximum(np.linalg.norm(words, axis=1, keepdims=True), 1e-6)


@functools.cache
def digest() -> str:
    return hashlib.sha256(PATH.read_bytes()).hexdigest()


def quantise(desc: np.ndarray) -> np.ndarray:
    """The nearest word (largest dot product of RootSIFT vectors) of each SIFT descriptor."""
    return quantise_rs(root_sift(desc), vocabulary())


def nearest_words(rs: np.ndarray, n: int) -> np.ndarray:
    """The `n` nearest words of each RootSIFT vector, (len(rs), n) int64, nearest first."""
    words = vocabulary()
    out = np.empty((len(rs), n), np.int64)
    for i in range(0, len(rs), _CHUNK):
        sims = rs[i:i + _CHUNK] @ words.T
        rows = np.arange(len(sims))
        for j in range(n):  # n argmax passes: several times faster than argpartition for a few of 4096
            out[i + rows, j] = top = np.argmax(sims, axis=1)
            sims[rows, top] = -np.inf
    return out


def _stream(label: bytes, n: int, below: int) -> np.ndarray:
    """`n` integers in [0, below) from SHAKE-256(label): the same on every platform and numpy version."""
    raw = np.frombuffer(hashlib.shake_256(b"leakmark vocabulary v1 " + label).digest(8 * n), dtype="<u8")
    return (raw % np.uint64(below)).astype(np.int64)


def training_descriptors() -> np.ndarray:
    """SIFT descriptors of the generated training pages at the fingerprint resolution."""
    from leakmark import fingerprint
    from leakmark.rendering import render_page_array
    from leakmark.samples import LOWTEXT_SAMPLES, SAMPLES
    from leakmark.samples.archive import archive_page

    sources = [make() for make in (*SAMPLES.values(), *LOWTEXT_SAMPLES.values())]
    sources += [archive_page(n) for n in range(1_000_000, 1_000_000 + _TRAIN_PAGES)]  # far from tests' and benches'
    descs = []
    for pdf in sources:
        import pymupdf

        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            count = doc.page_count
        for page in range(count):
            gray = render_page_array(pdf, page, fingerprint.FP_DPI, mode="gray")
            _pts, desc, sizes = fingerprint.detect_sized(gray)
            descs.append(desc[np.sort(np.argsort(-sizes, kind="stable")[:_LARGEST])])
    return np.concatenate(descs)


def build(descs: np.ndarray, words: int = WORDS, iterations: int = _ITERATIONS) -> np.ndarray:
    """k-means words of `descs` (RootSIFT space), as uint8 (×255) rows: deterministic given the descriptors."""
    pick = np.unique(_stream(b"sample", 2 * _TRAIN_DESCRIPTORS, len(descs)))[:_TRAIN_DESCRIPTORS]
    x = root_sift(descs[np.sort(pick)])
    centres = x[_stream(b"init", words, len(x))].copy()
    for _ in range(iterations):
        assign = quantise_rs(x, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, x)
        counts = np.bincount(assign, minlength=words)
        empty = counts == 0  # an empty word keeps its centre (it may win points next round)
        centres[~empty] = sums[~empty] / counts[~empty, None]
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-6)
    return np.clip(np.rint(centres * 255), 0, 255).astype(np.uint8)


def quantise_rs(rs: np.ndarray, centres: np.ndarray | None = None) -> np.ndarray:
    """The nearest centre (default: the shipped words) of each RootSIFT vector, int64."""
    centres = vocabulary() if centres is None else centres
    out = np.empty(len(rs), np.int64)
    for i in range(0, len(rs), _CHUNK):
        out[i:i + _CHUNK] = np.argmax(rs[i:i + _CHUNK] @ centres.T, axis=1)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PATH
    descs = training_descriptors()
    print(f"{len(descs)} training descriptors", file=sys.stderr)
    np.save(target, build(descs))
    print(hashlib.sha256(target.read_bytes()).hexdigest())
