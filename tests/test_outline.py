"""Outlines (`fingerprint.outline_of_page`): a page's keypoints at 50 dpi, kept in an index of their own and
asked when the page index proposes nothing, and added to a page's fingerprint when no page verifies. The case
they are for: a strong motion blur of a page of dense Chinese text, whose fingerprint holds small keypoints only."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from lmtest import seeded_workspace

import leakmark
from leakmark import fingerprint
from leakmark import index as page_index
from leakmark.index import OUTLINE_GROUPS, OUTLINE_PER_PAGE, PageIndex, entry_of
from leakmark.ledger import Ledger
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples
from leakmark.samples.archive import archive_page
from leakmark.trace import locate

DPI = 300  # as registration renders


def motion_blur(img: np.ndarray, length: int, angle: float) -> np.ndarray:
    """A straight motion blur of `length` pixels at `angle` degrees (a shaken hand, a moving sheet)."""
    k = np.zeros((length, length), np.float32)
    k[length // 2] = 1
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1)
    k = cv2.warpAffine(k, turn, (length, length))
    return cv2.filter2D(img, -1, k / k.sum())


Pages = dict[tuple[str, int], tuple[np.ndarray, fingerprint.Fingerprint, fingerprint.Fingerprint]]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[PageIndex, Pages]:
    """The Chinese notice (3 pages), the English memo (2) and 8 generated pages: the page index with its
    outline index, and each page's image, fingerprint and outline."""
    import pymupdf

    folder = tmp_path_factory.mktemp("outline")
    pages: Pages = {}
    sources = [(f"{i:064x}", src.read_bytes()) for i, src in enumerate(write_samples(folder))]
    sources += [(f"{100 + n:064x}", archive_page(n)) for n in range(8)]
    index, outlines = PageIndex(), PageIndex()
    for sha, pdf in sources:
        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            count = doc.page_count
        for p in range(count):
            gray = render_page_array(pdf, p, DPI, mode="gray")
            pages[(sha, p)] = (gray, fingerprint.of_page(gray, DPI), fingerprint.outline_of_page(gray, DPI))
        index.add(sha, [entry_of(pages[(sha, p)][1]) for p in range(count)])
        outlines.add(sha, [entry_of(pages[(sha, p)][2], OUTLINE_PER_PAGE) for p in range(count)])
    index.outline = outlines
    return index, pages


def _candidates(index: PageIndex, pages: Pages, outline: bool = True, ask_outlines: bool = True
                ) -> locate.Candidates:
    def refs(p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
        out = []
        for c in index.query(p, d, s, outline=ask_outlines):
            _gray, fp, ol = pages[(c.sha256, c.page)]
            out.append(locate.PageRef(doc_id=c.sha256, page=c.page, group=c.group, votes=c.votes,
                                      outline=(lambda o=ol: (o.points, o.descriptors)) if outline else None,
                                      **fp.to_npz()))
        return out
    return refs


NOTICE = f"{0:064x}"


@pytest.mark.parametrize("angle", [0, pytest.param(45, marks=pytest.mark.slow),
                                   pytest.param(90, marks=pytest.mark.slow)])
def test_a_blurred_page_of_dense_text_is_found_by_its_outline(indexed: tuple[PageIndex, Pages], angle: int) -> None:
    index, pages = indexed
    gray, fp, _ol = pages[(NOTICE, 1)]
    assert fp.sizes is not None and np.percentile(fp.sizes, 99) < 5  # small keypoints only: dense characters
    evidence = motion_blur(gray, 15, angle)
    pts, desc, sizes, _ = locate.evidence_features(evidence)
    fine = PageIndex(index.sha, index.page, index.entries)  # the same pages without their outlines
    assert fine.query(pts, desc, sizes) == []  # the blur left none of the page's entry
    found = index.query(pts, desc, sizes)
    assert [(c.sha256, c.page) for c in found][:1] == [(NOTICE, 1)]
    assert found[0].group >= OUTLINE_GROUPS and found[0].votes >= page_index.OUTLINE_SPATIAL
    # the fingerprint alone does not verify the page; with its outline's keypoints it does, beyond doubt
    assert locate.locate(evidence, _candidates(index, pages, outline=False)) is None
    loc = locate.locate(evidence, _candidates(index, pages))
    assert loc is not None and (loc.ref.doc_id, loc.ref.page) == (NOTICE, 1) and loc.inliers >= locate.STRONG
    # where the page lies: the homography maps the evidence's corners to the page's (FP_DPI pixels)
    h, w = evidence.shape
    corners = cv2.perspectiveTransform(np.float32([[[0, 0], [w - 1, h - 1]]]), loc.H)[0]
    f = fingerprint.FP_DPI / DPI
    assert np.allclose(corners, [[0, 0], [(w - 1) * f, (h - 1) * f]], atol=4)


def test_quick_questions_do_not_ask_the_outlines(indexed: tuple[PageIndex, Pages]) -> None:
    """A quick question (a mirror image, the raw image after its sheet) asks the candidates' `quick`, which asks
    the page index only: the blurred page is found by the full question, and an unregistered page's quick
    questions cost no outline query (the tracer's `_IndexCandidates.quick`)."""
    index, pages = indexed
    evidence = motion_blur(pages[(NOTICE, 1)][0], 15, 0)
    pts, desc, sizes, _ = locate.evidence_features(evidence)
    assert index.query(pts, desc, sizes, outline=False) == []
    asked: list[str] = []

    class Asked:
        def __call__(self, p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
            asked.append("full")
            return _candidates(index, pages)(p, d, s)

        def quick(self, p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
            asked.append("quick")
            return _candidates(index, pages, ask_outlines=False)(p, d, s)

    assert locate.locate(evidence, Asked(), quick=True) is None and asked == ["quick"]
    loc = locate.locate(evidence, Asked())
    assert loc is not None and (loc.ref.doc_id, loc.ref.page) == (NOTICE, 1) and asked == ["quick", "full"]


def test_outlines_locate_no_page_that_is_not_registered(indexed: tuple[PageIndex, Pages]) -> None:
    """An outline proposal still has to verify: blurred, an unregistered page locates nowhere; sharp, outlines
    change nothing (the outline is tried only when no page verifies with its fingerprint)."""
    index, pages = indexed
    for n in (200, 203, 211):  # 203 and 211: pages whose blurred image an outline proposes with 8 votes
        gray = render_page_array(archive_page(n), 0, DPI, mode="gray")
        assert locate.locate(motion_blur(gray, 15, 30), _candidates(index, pages)) is None
        sharp = [locate.locate(gray, _candidates(index, pages, outline=o)) for o in (False, True)]
        assert [None if loc is None else (loc.ref.doc_id, loc.inliers) for loc in sharp].count(
            None if sharp[0] is None else (sharp[0].ref.doc_id, sharp[0].inliers)) == 2


def test_a_blurred_copy_traces_to_its_page(tmp_path: Path) -> None:
    """End to end: a copy of the notice issued, its page 2 scanned and blurred 15 px; the trace finds page 2 (the
    marks decide whether a copy is named: a blur this strong leaves few, and no innocent is named)."""
    ws = seeded_workspace(tmp_path / "ws", b"outline trace")
    src = write_samples(tmp_path / "samples")[0]
    issued = leakmark.issue(ws, leakmark.IssueOptions(source=src, recipients=(
        leakmark.Recipient("甲"), leakmark.Recipient("乙")), output_dir=tmp_path / "out", jobs=1))
    copy = issued.copies[1]
    ev = tmp_path / "blurred.png"
    cv2.imwrite(str(ev), motion_blur(render_page_array(Path(copy.path), 1, DPI, mode="gray"), 15, 0))
    r = leakmark.trace(ws, leakmark.TraceOptions(evidence=(ev,)))
    assert r.evidence[0].aligned and r.evidence[0].document_page == 2, r.evidence[0].detail
    assert r.document is not None and r.document.id == issued.document.id
    assert r.verdict != "identified" or r.suspects[0].copy.label == copy.copy_no, r.verdict
    # an outline index lost (a crash between the two writes) is made again from the vault by the next trace
    shutil.rmtree(page_index.OUTLINES.folder(ws))
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    got = page_index.for_trace(ws, docs)
    assert got.outline is not None and len(got.outline) == 3
    assert (page_index.OUTLINES.folder(ws) / "manifest.json").exists()
