"""Session fixtures: the sample PDFs and one workspace with the memo issued to five recipients.

Everything expensive (rendering, marking, fingerprints) happens once per session here; tests that
change a workspace work on a `shutil.copytree` of it (`ws_copy`).
"""

from __future__ import annotations

import os

# Before numpy loads OpenBLAS: its kernels are chosen by CPU, and on AVX-512 machines (SkylakeX kernels) the
# sums in matrix products run in another order, moving trace scores by up to 1.1e-3 relative (photo-c3-phone
# 10.674 against 10.662 in test_legacy_fixture, whose copies 0.1.0 traced with the Haswell kernels). With the
# kernel fixed, the tests measure our code and not the machine: the fixture matches to 1e-6 on both kinds.
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import hashlib
import shutil
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from lmtest import RECIPIENTS, seeded_workspace

import leakmark
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples
from leakmark.trace import align, locate, tracer


@dataclass(frozen=True)
class Issued:
    ws: leakmark.Workspace
    result: leakmark.IssueResult
    source: Path
    out_dir: Path
    samples: Path

    def copy_path(self, copy_no: int) -> Path:
        return Path(self.result.copies[copy_no - 1].path)


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    write_samples(folder)
    return folder


@pytest.fixture(scope="session")
def issued(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Issued:
    """memo-en.pdf issued to 5 recipients (copies 000001..000005) in a fresh workspace, jobs=1."""
    root = tmp_path_factory.mktemp("issued")
    # a fixed key: the marks, and so every score the tests see, are the same on every run
    ws = seeded_workspace(root / "ws", b"leakmark test workspace")
    out = root / "copies"
    source = samples_dir / "memo-en.pdf"
    result = leakmark.issue(ws, leakmark.IssueOptions(
        source=source, recipients=tuple(leakmark.Recipient(n, u) for n, u in RECIPIENTS), output_dir=out,
        jobs=1))
    return Issued(ws=ws, result=result, source=source, out_dir=out, samples=samples_dir)


@pytest.fixture
def ws_copy(issued: Issued, tmp_path: Path) -> leakmark.Workspace:
    """A private copy of the issued workspace, free to tamper with or to issue into."""
    home = tmp_path / "ws-copy"
    shutil.copytree(issued.ws.home, home)
    return leakmark.Workspace.open(home, create=False)


@pytest.fixture(scope="session")
def copy3_page1(issued: Issued):
    """Page 1 of copy 000003 (recipient 'Chen Jing') rendered at 300 dpi, greyscale."""
    return render_page_array(issued.copy_path(3), 0, 300)


def _digest(*arrays: np.ndarray, extra: object = None) -> bytes:
    h = hashlib.blake2b(repr(extra).encode(), digest_size=16)
    for a in arrays:
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).data)
    return h.digest()


@pytest.fixture(scope="session", autouse=True)
def _locate_and_align_each_image_once() -> Iterator[None]:
    """Locating the page (SIFT features of the evidence matched against every registered page) and aligning
    it (dense flow) are two thirds of a trace, and pure functions of their inputs; dozens of tests trace the
    same capture (copy 000003's page 1, an issued copy's pages) against the fixture's register. Each runs
    once per distinct input in the session (by a digest of the pixels and matrices); a repeat gets a copy of
    that answer. Alignments are large: only the last few are kept. LEAKMARK_TEST_NO_MEMO=1 turns it off."""
    if os.environ.get("LEAKMARK_TEST_NO_MEMO"):
        yield
        return
    real_locate, real_align = locate.locate, align.align
    located: dict[bytes, tuple[set[tuple[str, int]], tuple[int, locate.Location] | None]] = {}
    aligned: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def fresh(found: locate.Location, ref: locate.PageRef) -> locate.Location:
        # the tracer rebinds loc.H on what it gets: every caller, the first too, gets its own Location
        matched = None if found.matched is None else found.matched.copy()
        return replace(found, ref=ref, H=found.H.copy(), matched=matched)

    real_candidates = tracer._candidates
    proposers: dict[int, tuple[weakref.ref, list[str]]] = {}

    def candidates_tagged(ws: leakmark.Workspace, docs: list, timings: dict[str, float]) -> locate.Candidates:
        # what the page index proposes depends on the registered documents only (their vault entries are
        # made from their content): the documents' sha256s key its answers
        found = real_candidates(ws, docs, timings)
        proposers[id(found)] = (weakref.ref(found), sorted(d.sha256 for d in docs))
        return found

    def locate_once(gray: np.ndarray | locate.Features, refs: list[locate.PageRef] | locate.Candidates,
                    quick: bool = False, confirm: bool = False) -> locate.Location | None:
        # an image's Features are keyed by the image and whether they are its mirror image's; a list's pages by
        # whether their image is at hand too (`locate._shows` refuses a weak location by it). The pages the
        # evidence's other views refused change the answer, and the answer adds to them: they are in the key, and
        # what it added is added again on a hit
        pixels, flipped = (gray.image, gray.flipped) if isinstance(gray, locate.Features) else (gray, False)
        state = sorted(gray.refused) if isinstance(gray, locate.Features) else []
        if isinstance(refs, list):
            key = _digest(pixels, *(a for r in refs for a in (r.points, r.descriptors)),
                          extra=(quick, confirm, flipped, state,
                                 [(r.doc_id, r.page, r.image is not None) for r in refs]))
        elif id(refs) in proposers and proposers[id(refs)][0]() is refs:  # (an id can be reused)
            key = _digest(pixels, extra=("index", quick, confirm, flipped, state, proposers[id(refs)][1]))
        else:
            return real_locate(gray, refs, quick, confirm)
        if key not in located:
            found = real_locate(gray, refs, quick, confirm)
            added = gray.refused - set(state) if isinstance(gray, locate.Features) else set()
            located[key] = added, None if found is None else (
                next(i for i, r in enumerate(refs) if r is found.ref) if isinstance(refs, list) else -1,
                fresh(found, found.ref))
        refused, hit = located[key]
        if isinstance(gray, locate.Features):
            gray.refused |= refused
        if hit is None:
            return None
        return fresh(hit[1], refs[hit[0]] if isinstance(refs, list) else hit[1].ref)

    def align_once(evidence: np.ndarray, H: np.ndarray, original: np.ndarray, dpi: int,
                   matched: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        key = _digest(evidence, H, original, *([] if matched is None else [matched]), extra=dpi)
        if key not in aligned:
            aligned[key] = real_align(evidence, H, original, dpi, matched)
            while len(aligned) > 4:
                aligned.popitem(last=False)
        aligned.move_to_end(key)
        img, valid = aligned[key]
        return img.copy(), valid.copy()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(locate, "locate", locate_once)
        mp.setattr(tracer, "align", align_once)
        mp.setattr(tracer, "_candidates", candidates_tagged)
        yield


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Web accounts' argon2id hashes at the lowest cost in the tests: the default's 0.15 s a hash, taken 58 times
    by the web tests' sign-ins and account changes, measured nothing of ours. Still argon2id, verified and
    refused as in use (tests/test_server.py checks the stored hash's form)."""
    try:
        from argon2 import PasswordHasher

        from leakmark.server import accounts
    except ImportError:  # without the server extra the web tests are skipped anyway
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        yield


@pytest.fixture(autouse=True)
def _no_default_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A test that forgets --home must never touch the developer's real workspace."""
    monkeypatch.setenv("LEAKMARK_HOME", str(tmp_path_factory.getbasetemp() / "default-home-must-stay-unused"))


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch):
    """The machine's local zone is UTC+8 for the test."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
