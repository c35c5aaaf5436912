"""The page index (`leakmark.index`): entries, file round trip, retrieval among generated pages, pages shared
by two documents, rebuild against incremental registration, damaged and other-format files, the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from lmtest import htmlbox_document, run_main, seeded_workspace

import leakmark
from benchmarks.index_upgrade import as_format_7
from leakmark import fingerprint, simulate, vault
from leakmark import index as page_index
from leakmark.cli import cli
from leakmark.index import IndexFileError, PageIndex, entry_of
from leakmark.index.segment import FORMAT, inverse_norms
from leakmark.ledger import Ledger
from leakmark.rendering import render_page_array
from leakmark.samples.archive import archive_page
from leakmark.trace import locate

ARCHIVE = 30


def _fp(pdf: bytes, page: int = 0) -> fingerprint.Fingerprint:
    return fingerprint.of_page(render_page_array(pdf, page, fingerprint.FP_DPI, mode="gray"), fingerprint.FP_DPI)


def _outline(pdf: bytes, page: int = 0) -> fingerprint.Fingerprint:
    return fingerprint.outline_of_page(render_page_array(pdf, page, fingerprint.FP_DPI, mode="gray"),
                                       fingerprint.FP_DPI)


@pytest.fixture(scope="module")
def archive() -> tuple[PageIndex, dict[int, fingerprint.Fingerprint]]:
    """30 generated pages (Chinese and English prose, tables, forms), one document each."""
    fps = {n: _fp(archive_page(n)) for n in range(ARCHIVE)}
    index = PageIndex()
    for n, fp in fps.items():
        index.add(f"{n:064x}", [entry_of(fp)])
    return index, fps


def test_entry_is_compact_and_deterministic(archive) -> None:
    index, fps = archive
    e = entry_of(fps[3])
    assert e.descriptors.shape == (page_index.PER_PAGE, 128) and e.descriptors.dtype == np.uint8
    assert np.array_equal(e.descriptors, index.entries[3].descriptors)  # the same page, the same entry
    assert len(index.to_bytes()) / len(index) <= 50 * 1024


def test_round_trip(archive, tmp_path: Path) -> None:
    index, _ = archive
    path = tmp_path / "index" / "pages.npz"
    index.save(path)
    back = PageIndex.load(path)
    assert back == index and back.sha == sorted(index.sha) and back.to_bytes() == index.to_bytes()
    assert path.stat().st_mode & 0o777 == 0o600


def _evidence(n: int, attack: str) -> np.ndarray:
    page = render_page_array(archive_page(n), 0, 200, mode="gray")
    return {"phone": lambda: simulate.phone_photo(page, seed=n, megapixels=6.0),
            "screenshot": lambda: simulate.screenshot(page, dpi=200),
            "crop": lambda: simulate.crop(simulate.phone_photo(page, seed=n, megapixels=6.0), 0.5, seed=n)}[attack]()


def _with_revision(index: PageIndex) -> PageIndex:
    """The index and two documents sharing their first page (archive page 40): a revision that changed page 2."""
    shared, first, second = _fp(archive_page(40)), _fp(archive_page(41)), _fp(archive_page(42))
    both = PageIndex(index.sha, index.page, index.entries)
    both.add("a" * 64, [entry_of(shared), entry_of(first)])
    both.add("b" * 64, [entry_of(shared), entry_of(second)])
    return both


@pytest.mark.parametrize("n, attack", [pytest.param(4, "phone", marks=pytest.mark.slow), (11, "phone"),
                                       (17, "screenshot"), (22, "crop")])  # one phone photo by default
def test_a_photo_finds_its_page_among_30(archive, n: int, attack: str) -> None:
    index, fps = archive
    ev = _evidence(n, attack)
    pts, desc, sizes, _ = locate.evidence_features(ev)
    found = index.query(pts, desc, sizes)
    assert found and found[0].sha256 == f"{n:064x}" and found[0].votes >= page_index.SPATIAL
    assert len({c.group for c in found}) <= page_index.TOP_K

    def candidates(p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
        return [locate.PageRef(doc_id=c.sha256, page=c.page, group=c.group, points=fps[int(c.sha256, 16)].points,
                               descriptors=fps[int(c.sha256, 16)].descriptors) for c in index.query(p, d, s)]
    loc = locate.locate(ev, candidates)
    assert loc is not None and loc.ref.doc_id == f"{n:064x}" and loc.inliers >= locate.MIN_INLIERS


def test_an_unregistered_page_proposes_nothing(archive) -> None:
    index, _ = archive
    page = render_page_array(archive_page(10_000_000), 0, 200, mode="gray")
    pts, desc, sizes, _ = locate.evidence_features(simulate.phone_photo(page, seed=3, megapixels=6.0))
    assert index.query(pts, desc, sizes) == []


def test_a_page_shared_by_two_documents_proposes_both(archive) -> None:
    """A revision that changed page 2 only: page 1 is in both documents, and both are candidates."""
    index, _fps = archive
    both = _with_revision(index)
    shared = _fp(archive_page(40))
    page = render_page_array(archive_page(40), 0, 200, mode="gray")
    pts, desc, sizes, _ = locate.evidence_features(simulate.phone_photo(page, seed=1, megapixels=6.0))
    found = both.query(pts, desc, sizes)
    top = [(c.sha256, c.page) for c in found if c.group == found[0].group]
    assert sorted(top) == [("a" * 64, 0), ("b" * 64, 0)]
    # the locate step verifies both (one content group), and finds the page in either
    refs = {"a" * 64: shared, "b" * 64: shared}
    seen: list[str] = []

    def candidates(p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
        out = [locate.PageRef(doc_id=c.sha256, page=c.page, group=c.group, points=refs[c.sha256].points,
                              descriptors=refs[c.sha256].descriptors) for c in found if c.sha256 in refs]
        seen.extend(r.doc_id for r in out)
        return out
    loc = locate.locate(simulate.phone_photo(page, seed=1, megapixels=6.0), candidates)
    assert loc is not None and loc.ref.page == 0 and sorted(set(seen)) == ["a" * 64, "b" * 64]  # asked: small, full


def test_damaged_and_other_format_files_are_reported(archive, tmp_path: Path) -> None:
    index, _ = archive
    path = tmp_path / "pages.npz"
    path.write_bytes(index.to_bytes()[:5000])  # cut short (a disk that filled up, a copy interrupted)
    with pytest.raises(IndexFileError, match="is damaged"):
        PageIndex.load(path)
    # an index of another format: the same arrays, an older format number in its header
    z = dict(np.load(io.BytesIO(index.to_bytes()), allow_pickle=False))
    meta = json.loads(z["meta"].tobytes())
    buf = io.BytesIO()
    np.savez(buf, **{**z, "meta": np.frombuffer(json.dumps({**meta, "format": 0}).encode(), np.uint8)})
    path.write_bytes(buf.getvalue())
    with pytest.raises(IndexFileError, match=f"has format 0; this release reads format {FORMAT}"):
        PageIndex.load(path)
    buf = io.BytesIO()
    np.savez(buf, **{**z, "start": z["start"][:-1]})  # arrays that do not agree
    path.write_bytes(buf.getvalue())
    with pytest.raises(IndexFileError, match="do not agree"):
        PageIndex.load(path)
    assert zipfile.is_zipfile(io.BytesIO(index.to_bytes()))


# -- the workspace's index: registration, rebuild, trace -------------------------------------------------
@pytest.fixture(scope="module")
def two_docs(tmp_path_factory: pytest.TempPathFactory) -> leakmark.Workspace:
    """Two generated one-page documents issued into a fresh workspace, one copy each."""
    root = tmp_path_factory.mktemp("index-ws")
    ws = leakmark.Workspace.open(root / "ws")
    for n in (5, 8):
        src = root / f"page-{n}.pdf"
        src.write_bytes(archive_page(n))
        leakmark.issue(ws, leakmark.IssueOptions(source=src, recipients=(leakmark.Recipient(f"r{n}"),),
                                                 output_dir=root / f"out-{n}", jobs=1))
    return ws


def _stored(ws: leakmark.Workspace) -> PageIndex:
    index, problem = page_index.load_or_empty(ws)
    assert problem is None
    return index


def _outlines(ws: leakmark.Workspace) -> PageIndex:
    index, problem = page_index.load_or_empty(ws, page_index.OUTLINES)
    assert problem is None
    return index


def test_registration_indexes_and_rebuild_equals_it(two_docs: leakmark.Workspace) -> None:
    incremental, outlines = _stored(two_docs), _outlines(two_docs)
    assert len(incremental) == 2 and len(incremental.segments) == 1  # two segments of one page: merged
    assert len(outlines) == 2 and len(outlines.entries[0].descriptors) == page_index.OUTLINE_PER_PAGE
    manifest = page_index.index_path(two_docs).read_bytes()
    outline_dir = page_index.OUTLINES.folder(two_docs)
    outline_manifest = (outline_dir / "manifest.json").read_bytes()
    r = page_index.rebuild(two_docs)
    assert (r.documents, r.pages, r.replaced) == (2, 2, None)
    assert _stored(two_docs) == incremental and page_index.index_path(two_docs).read_bytes() == manifest
    # the outlines registration made from the pages rendered are those a rebuild makes from the vault's images
    assert _outlines(two_docs) == outlines and (outline_dir / "manifest.json").read_bytes() == outline_manifest
    assert sorted(p.name for p in page_index.index_dir(two_docs).iterdir()) == sorted(
        ["lock", "manifest.json", "outline", *json.loads(manifest)["segments"]])  # nothing left behind
    assert sorted(p.name for p in outline_dir.iterdir()) == sorted(
        ["manifest.json", *json.loads(outline_manifest)["segments"]])
    assert r.size == page_index.index_size(two_docs) > sum(
        p.stat().st_size for p in page_index.index_dir(two_docs).glob("seg-*.npz"))  # both indexes counted


def test_segments_merge_as_pages_are_added(tmp_path: Path) -> None:
    """Registrations add segments; the newest merge while of similar size, so a few segments hold many pages,
    and the index answers the same as one made at once."""
    ws = leakmark.Workspace.open(tmp_path / "ws")
    fps = {n: _fp(archive_page(n)) for n in range(7)}
    outlines = {n: _outline(archive_page(n)) for n in range(7)}
    sizes = []
    for n, fp in fps.items():
        page_index.add_document(ws, f"{n:064x}", [fp], [outlines[n]])
        sizes.append([seg.entries for seg in _stored(ws).segments])
    assert sizes == [[1], [2], [3], [3, 1], [5], [5, 1], [5, 2]]
    at_once = PageIndex()
    for n, fp in fps.items():
        at_once.add(f"{n:064x}", [entry_of(fp)])
    assert _stored(ws) == at_once
    page_index.add_document(ws, f"{3:064x}", [fps[3]], [outlines[3]])  # a document already indexed: nothing changes
    assert [seg.entries for seg in _stored(ws).segments] == [5, 2]
    assert [seg.entries for seg in _outlines(ws).segments] == [5, 2]


def _add_in_process(home: str, first: int, count: int) -> None:
    ws = leakmark.Workspace.open(Path(home), create=False)
    rng = np.random.default_rng(first)  # test data only
    for n in range(first, first + count):
        d = rng.integers(0, 40, (page_index.PER_PAGE, 128)).astype(np.uint8)
        entry = page_index.Entry(d, rng.integers(0, 4096, page_index.PER_PAGE).astype(np.uint16),
                                 rng.random((page_index.PER_PAGE, 2)).astype(np.float32))
        page_index.add_pages(ws, [(f"{n:064x}", 0, entry)])


def test_two_processes_adding_at_once_keep_every_page(tmp_path: Path) -> None:
    """Writers take turns under the index lock: none drops the segment the other just committed."""
    import multiprocessing

    ws = leakmark.Workspace.open(tmp_path / "ws")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_in_process, args=(str(ws.home), first, 12)) for first in (0, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    index = _stored(ws)
    assert index.documents == {f"{n:064x}" for n in [*range(12), *range(100, 112)]} and len(index) == 24
    named = set(json.loads(page_index.index_path(ws).read_bytes())["segments"])
    assert {p.name for p in page_index.index_dir(ws).glob("seg-*.npz")} == named  # no file left behind


def test_a_rebuild_writes_segments_of_merge_pages(two_docs: leakmark.Workspace, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild holds one segment's pages in memory at a time; the index answers the same."""
    import shutil

    shutil.copytree(two_docs.home, tmp_path / "ws")
    ws = leakmark.Workspace.open(tmp_path / "ws", create=False)
    before = _stored(ws)
    monkeypatch.setattr(page_index, "MERGE_PAGES", 1)
    r = page_index.rebuild(ws)
    after = _stored(ws)
    assert (r.documents, r.pages, len(after.segments)) == (2, 2, 2) and after == before
    assert len(list(page_index.index_dir(ws).glob("seg-*.npz"))) == 2


def test_vault_fingerprints_without_sizes_index_the_same(two_docs: leakmark.Workspace, tmp_path: Path) -> None:
    """Vaults written before keypoint sizes: the entry is made from the stored page image, the same one."""
    import shutil

    home = tmp_path / "old"
    shutil.copytree(two_docs.home, home)
    ws = leakmark.Workspace.open(home, create=False)
    for fp_file in ws.vault.glob("*/fp-*.npz"):
        with np.load(fp_file) as z:
            np.savez_compressed(fp_file, points=z["points"], descriptors=z["descriptors"])
    assert all(vault.load_fingerprint(ws, d.name, 0).sizes is None for d in ws.vault.iterdir())
    before = _stored(ws).to_bytes()
    shutil.rmtree(page_index.index_dir(ws))
    page_index.rebuild(ws)
    assert _stored(ws).to_bytes() == before


def test_trace_mends_a_damaged_or_missing_index(two_docs: leakmark.Workspace, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    home = tmp_path / "ws"
    shutil.copytree(two_docs.home, home)
    ws = leakmark.Workspace.open(home, create=False)
    path = page_index.index_path(ws)
    good = path.read_bytes()
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    path.write_bytes(b"not an index")
    with caplog.at_level(logging.WARNING, logger="leakmark.index"):
        assert len(page_index.for_trace(ws, docs)) == 2
    assert "is damaged (not an index file)" in caplog.text and "making it again from the vault" in caplog.text
    assert path.read_bytes() == good
    segment = page_index.index_dir(ws) / json.loads(good)["segments"][0]
    data = segment.read_bytes()
    segment.write_bytes(data[:len(data) // 2])  # a segment cut short
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="leakmark.index"):
        assert len(page_index.for_trace(ws, docs)) == 2
    assert f"the page index {segment} is damaged" in caplog.text and segment.read_bytes() == data
    path.unlink()  # a workspace from before the index, or a crash between the vault and the index
    assert len(page_index.for_trace(ws, docs[:1])) == 1  # `trace --doc`: that document only, and it is added
    assert _stored(ws).documents == {docs[0].sha256}
    page_index.for_trace(ws, docs)  # a trace of every document adds the rest
    assert path.read_bytes() == good


def test_an_index_of_the_previous_format_is_made_again(two_docs: leakmark.Workspace, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    home = tmp_path / "ws"
    shutil.copytree(two_docs.home, home)
    ws = leakmark.Workspace.open(home, create=False)
    good = page_index.index_path(ws).read_bytes()
    shutil.rmtree(page_index.index_dir(ws))
    page_index.index_dir(ws).mkdir()
    (page_index.index_dir(ws) / "pages.npz").write_bytes(b"an index of format 1")
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    with caplog.at_level(logging.WARNING, logger="leakmark.index"):
        assert len(page_index.for_trace(ws, docs)) == 2
    assert f"pages.npz has format 1; this release reads format {FORMAT}" in caplog.text
    assert page_index.index_path(ws).read_bytes() == good and not (page_index.index_dir(ws) / "pages.npz").exists()


def test_an_index_of_format_7_is_upgraded_in_place(two_docs: leakmark.Workspace, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Format 8 added each posting's descriptor row; a format-7 index is upgraded from its own stored descriptors,
    not made again from the vault (a rebuild extracts every page's keypoints again: half an hour at 10,000 pages),
    into the very files a rebuild makes. A segment that cannot be upgraded leaves the rebuild to do it."""
    import shutil

    home = tmp_path / "ws"
    shutil.copytree(two_docs.home, home)
    ws = leakmark.Workspace.open(home, create=False)
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    good: dict[Path, bytes] = {}
    for folder in (page_index.index_dir(ws), page_index.index_dir(ws) / "outline"):
        manifest = folder / "manifest.json"
        meta = json.loads(manifest.read_bytes())
        old = []
        for name in meta["segments"]:
            good[folder / name] = (folder / name).read_bytes()
            data = as_format_7(good[folder / name])
            old.append(f"seg-{hashlib.sha256(data).hexdigest()[:24]}.npz")
            (folder / old[-1]).write_bytes(data)
            (folder / name).unlink()
        good[manifest] = manifest.read_bytes()
        manifest.write_text(json.dumps({**meta, "format": 7, "segments": old}))

    def no_vault(*_: Any) -> None:
        raise AssertionError("made again from the vault")

    with monkeypatch.context() as m, caplog.at_level(logging.INFO, logger="leakmark.index"):
        m.setattr(page_index, "_entries", no_vault)
        m.setattr(page_index, "_outlines", no_vault)
        assert len(page_index.for_trace(ws, docs)) == 2
    assert caplog.text.count(f"format 7 upgraded to {FORMAT} in place") == 2  # the pages' index and the outlines'
    assert {p: p.read_bytes() for p in good} == good  # what a rebuild makes
    files = {p.name for p in page_index.index_dir(ws).rglob("seg-*.npz")}
    assert files == {p.name for p in good if p.name != "manifest.json"}  # the format-7 files removed

    # a format-7 segment cut short is not upgraded: the index is made again from the vault, as before
    manifest = page_index.index_path(ws)
    name = json.loads(manifest.read_bytes())["segments"][0]
    (manifest.parent / name).write_bytes(as_format_7(good[manifest.parent / name])[:5000])
    manifest.write_text(json.dumps({**json.loads(good[manifest]), "format": 7}))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="leakmark.index"):
        assert len(page_index.for_trace(ws, docs)) == 2
    assert "could not be upgraded" in caplog.text and "making it again from the vault" in caplog.text
    assert manifest.read_bytes() == good[manifest]
    manifest.write_text("[7]")  # JSON, not a manifest
    assert len(page_index.for_trace(ws, docs)) == 2 and manifest.read_bytes() == good[manifest]


def test_cli_rebuild(two_docs: leakmark.Workspace, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["index", "rebuild", "--home", str(two_docs.home), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["documents"], out["pages"], out["replaced"]) == (2, 2, None)
    page_index.index_path(two_docs).write_bytes(b"junk")
    r = CliRunner().invoke(cli, ["index", "rebuild", "--home", str(two_docs.home)])
    assert r.exit_code == 0
    assert r.output.startswith(f"replaced: the page index {page_index.index_path(two_docs)} is damaged")
    assert "page index rebuilt: 2 pages of 2 documents" in r.output
    missing = tmp_path / "no-such-workspace"
    code, _, err = run_main(capsys, "index", "rebuild", "--home", missing)
    assert code == 5 and "no leakmark workspace" in err and not missing.exists()


def _two_versions(tmp_path: Path, label: str, names: tuple[str, str],
                  version: Callable[[str], Any]) -> tuple[leakmark.Workspace, dict]:
    """Two versions of a document (`version(name)` makes each) issued to two recipients each, in a workspace with
    a fixed key (the same marks on every run)."""
    ws = seeded_workspace(tmp_path / "ws", f"index {label}".encode())
    issued = {}
    for name in names:
        doc = version(name)
        src = tmp_path / f"{name}.pdf"
        doc.save(src, garbage=3, deflate=True, no_new_id=True)
        doc.close()
        issued[name] = leakmark.issue(ws, leakmark.IssueOptions(
            source=src, recipients=(leakmark.Recipient(f"{name} A"), leakmark.Recipient(f"{name} B")),
            output_dir=tmp_path / name, jobs=1))
    return ws, issued


def test_a_revision_copy_traces_to_its_own_document(tmp_path: Path) -> None:
    """Issue 14's case: a revision changed page 2 only. A photo of page 1 of the revision's copy names that copy
    (its document's copies scored), and a photo of the first version's copy names that one; each result says
    that the page is in both documents."""
    import pymupdf

    def version(name: str) -> pymupdf.Document:
        doc = pymupdf.open()
        for n in (40, 41 if name == "first" else 42):
            with pymupdf.open(stream=archive_page(n), filetype="pdf") as one:
                doc.insert_pdf(one)
        return doc

    ws, issued = _two_versions(tmp_path, "revision", ("first", "revised"), version)
    ids = {name: r.document.id for name, r in issued.items()}
    for r in _each_traces_to_its_document(tmp_path, ws, issued, (("revised", 1), ("first", 0)),
                                          lambda page, k: simulate.phone_photo(page, seed=k, megapixels=6.0),
                                          "the page is in 2 registered documents"):
        assert r.evidence[0].document_page == 1
        assert ids["first"] in r.evidence[0].detail and ids["revised"] in r.evidence[0].detail


def _each_traces_to_its_document(tmp_path: Path, ws: leakmark.Workspace, issued: dict,
                                 which: tuple[tuple[str, int], ...], capture: Callable[[np.ndarray, int], np.ndarray],
                                 detail: str) -> list[leakmark.TraceResult]:
    """Each (version, copy index)'s page 1 at 200 dpi, captured, traces to that copy of its own version, and the
    evidence line says `detail`."""
    import cv2

    ids = {name: r.document.id for name, r in issued.items()}
    results = []
    for name, k in which:
        c = issued[name].copies[k]
        ev = tmp_path / f"capture-{name}.png"
        cv2.imwrite(str(ev), capture(render_page_array(Path(c.path), 0, 200, mode="gray"), k))
        r = leakmark.trace(ws, leakmark.TraceOptions(evidence=(ev,)))
        assert r.verdict == "identified" and r.document is not None and r.document.id == ids[name], \
            (name, r.verdict, r.evidence[0].detail)
        assert r.suspects[0].copy.document_id == ids[name] and r.suspects[0].copy.label == c.copy_no
        assert detail in r.evidence[0].detail
        results.append(r)
    return results


def test_a_nearly_identical_page_of_another_document_is_scored_too(tmp_path: Path) -> None:
    """A version of a document with a note added on its page (or a word changed): the two pages are not the same
    content, but nearly so. The index proposes both (a feature on both pages is one feature, not two that
    confuse the ratio test), both are verified and aligned to their own originals, and a copy of either traces
    to its own document."""
    import pymupdf

    def version(name: str) -> pymupdf.Document:
        doc = pymupdf.open(stream=archive_page(7), filetype="pdf")
        if name == "annotated":
            doc[0].insert_text((400, 60), "已阅 2026-12-02", fontname="china-s", fontsize=10)
        return doc

    ws, issued = _two_versions(tmp_path, "near-identical", ("plain", "annotated"), version)
    _each_traces_to_its_document(tmp_path, ws, issued, (("annotated", 1), ("plain", 0)),
                                 lambda page, _k: simulate.jpeg(page, 80),
                                 "nearly identical, is in 2 registered documents")


def test_pages_of_one_document_that_differ_in_a_figure_per_line_are_both_proposed(archive) -> None:
    """Two pages whose every line differs in one digit ('page 1' / 'page 2'), among the 30 others. A ratio test
    against every page refused the matches of the page shown (each feature's second nearest is its twin on the
    other page, a little apart), while a word repeated on a page passed it (its twins were masked as the same
    feature): a 300-dpi image of page 2 kept 16 matches one homography explains, one above the threshold. Each
    feature is matched on every page separately now: both pages are proposed, the locate step verifies page 2."""
    index, _fps = archive
    with htmlbox_document() as doc:
        pdf = doc.tobytes(no_new_id=True)
    fps = [_fp(pdf, 0), _fp(pdf, 1)]
    both = PageIndex(index.sha, index.page, index.entries)
    both.add("c" * 64, [entry_of(fp) for fp in fps])
    for image in (render_page_array(pdf, 1, 300),
                  simulate.phone_photo(render_page_array(pdf, 1, 200, mode="gray"), seed=2, megapixels=6.0)):
        pts, desc, sizes, _ = locate.evidence_features(image)
        found = both.query(pts, desc, sizes)
        assert sorted((c.sha256, c.page) for c in found) == [("c" * 64, 0), ("c" * 64, 1)], found
        # well clear of the threshold (a ratio test against every page left the 300-dpi image 16 of 15)
        assert next(c.votes for c in found if c.page == 1) >= page_index.SPATIAL + 10, found

        def candidates(p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
            return [locate.PageRef(doc_id=c.sha256, page=c.page, group=c.group, points=fps[c.page].points,
                                   descriptors=fps[c.page].descriptors) for c in both.query(p, d, s)
                    if c.sha256 == "c" * 64]
        loc = locate.locate(image, candidates)
        assert loc is not None and loc.ref.page == 1 and loc.inliers >= locate.MIN_INLIERS


@pytest.mark.parametrize("attack, strength, seed", [("phone-perspective", 0.02, 0),  # the fold: with -m slow
                                                  pytest.param("phone-fold", 8, 0, marks=pytest.mark.slow)])
def test_a_phone_photo_of_large_characters_is_proposed_from_its_sheet(attack: str, strength: float, seed: int
                                                                      ) -> None:
    """Phone photos of the Chinese notice's page 2 (large characters): the unwarped sheet's features at 1,200 px
    (QUICK_SIDE) propose nothing for these seeds, so a sheet asked quickly first missed three photos that
    locate_recall found before (1,600 px lost a screen photo of the memo instead): the sheet is asked with its
    full features."""
    from benchmarks import attacks as atk
    from leakmark.samples import SAMPLES
    from leakmark.trace import tracer

    notice = SAMPLES["notice-zh.pdf"]()
    fps = [fingerprint.of_page(render_page_array(notice, p, 300, mode="gray"), 300) for p in range(2)]
    index = PageIndex()
    index.add("a" * 64, [entry_of(fp) for fp in fps])
    ev = atk.by_name(attack).fn(render_page_array(notice, 1, 300, mode="bgr"), strength, seed)
    view = tracer._View.of(ev if ev.ndim == 2 else cv2.cvtColor(ev, cv2.COLOR_BGR2GRAY))
    assert view.sheet is not None
    assert not index.query(*view.sheet(locate.QUICK_SIDE, locate.QUICK_FEATURES)[:3])
    found = index.query(*view.sheet()[:3])
    assert found and found[0].page == 1 and found[0].votes >= 3 * page_index.SPATIAL

    def candidates(p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
        return [locate.PageRef(doc_id=c.sha256, page=c.page, group=c.group, votes=c.votes,
                               points=fps[c.page].points, descriptors=fps[c.page].descriptors)
                for c in index.query(p, d, s)]
    loc = tracer._locate(view.img, candidates)
    assert loc is not None and loc[0].ref.page == 1 and loc[0].inliers >= tracer.STRONG_LOCATION


class _Within:
    """locate.Candidates over one document's index, with `within` (the tracer's `_IndexCandidates`)."""

    def __init__(self, index: PageIndex, fps: list[fingerprint.Fingerprint]) -> None:
        self.index, self.fps = index, fps

    def _refs(self, found: list[page_index.Candidate]) -> list[locate.PageRef]:
        return [locate.PageRef(doc_id=c.sha256, page=c.page, group=c.group, votes=c.votes,
                               points=self.fps[c.page].points, descriptors=self.fps[c.page].descriptors)
                for c in found]

    def __call__(self, p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
        return self._refs(self.index.query(p, d, s))

    def within(self, doc_id: str, p: np.ndarray, d: np.ndarray, s: np.ndarray) -> list[locate.PageRef]:
        return self._refs(self.index.query(p, d, s, within=doc_id, spatial=locate.SIBLING_SPATIAL))


def test_a_block_repeated_on_another_page_does_not_locate_a_crop_there() -> None:
    """A centre crop of the Chinese notice's page 3 (a fifth of the page: the end of the text and the signature
    block "某市保密工作委员会办…", whose characters page 1's red header repeats at twice the size: SIFT matches
    across scales): the index proposes page 1 only (49 votes, also among 10,000 pages in locate_recall), and
    page 1 verifies, so the crop was located on page 1. Page 3 matches the crop with several times the
    inliers; the weak location is checked against the document's other pages and page 3 wins."""
    from benchmarks import attacks as atk
    from leakmark.samples import SAMPLES

    notice = SAMPLES["notice-zh.pdf"]()
    pages = [render_page_array(notice, p, 300, mode="bgr") for p in range(3)]
    fps = [fingerprint.of_page(cv2.cvtColor(g, cv2.COLOR_BGR2GRAY), 300) for g in pages]  # as registration does
    index = PageIndex()
    index.add("a" * 64, [entry_of(fp) for fp in fps])
    crop = atk.by_name("crop-centre").fn(pages[2], 0.2, 0)
    pts, desc, sizes, _ = locate.evidence_features(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
    assert [c.page for c in index.query(pts, desc, sizes)] == [0]  # the repeated block's page only
    refs = _Within(index, fps)
    assert locate._verified(pts, locate._Neighbours(desc), refs(pts, desc, sizes)).ref.page == 0  # which verifies
    loc = locate.locate(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), refs)
    assert loc is not None and loc.ref.page == 2, loc
    without = locate.locate(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), refs.__call__)  # no `within`: as before
    assert without is not None and without.ref.page == 0 and loc.inliers > 2 * without.inliers


@pytest.fixture
def first_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries start with the cells' first pass (as on an index of FIRST_PASS_FROM pages or more), which hands
    5 of the 30 pages to the exact search."""
    monkeypatch.setattr(page_index, "FIRST_PASS_FROM", 0)
    monkeypatch.setattr(page_index, "FIRST_PASS_KEEP", 5)


@pytest.mark.parametrize("n, attack", [pytest.param(4, "phone", marks=pytest.mark.slow), (11, "phone"),
                                       (17, "screenshot"), (22, "crop")])  # one phone photo by default
def test_the_first_pass_keeps_the_photos_page(archive, first_pass: None, n: int, attack: str) -> None:
    index, _fps = archive
    pts, desc, sizes, _ = locate.evidence_features(_evidence(n, attack))
    rs = np.asarray(page_index.vocab.root_sift(desc[np.argsort(-sizes, kind="stable")[:page_index.QUERY_FEATURES]]))
    kept = page_index._first_pass(index._all(), None, rs)
    # at most 5 handed on (fewer when fewer pages meet any evidence descriptor in the buckets read), the page first
    assert 1 <= len(kept) <= 5 and index._all()[0].key[kept[0][1]] == entry_of(_fps[n]).key()
    found = index.query(pts, desc, sizes)
    assert found and found[0].sha256 == f"{n:064x}" and found[0].votes >= page_index.SPATIAL
    with pytest.MonkeyPatch.context() as mp:  # the page the exact search over all 30 pages puts first
        mp.setattr(page_index, "FIRST_PASS_FROM", 10**9)
        exact = index.query(pts, desc, sizes)[0]
    assert (exact.sha256, exact.page) == (found[0].sha256, found[0].page)


def test_the_first_pass_asks_again_with_all_descriptors_when_the_largest_propose_nothing(
        archive, first_pass: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first question votes with the FIRST_PASS_FEATURES largest descriptors; when the pages it hands on
    propose nothing (a photocopy's largest keypoints are often specks), the second votes with all of them."""
    index, _fps = archive
    pts, desc, sizes, _ = locate.evidence_features(_evidence(11, "phone"))
    real = page_index._first_pass
    asked: list[int] = []

    def first_pass(segs, allowed, rs, memo=None, keep=None, points=None):  # the first question hands on nothing
        asked.append(len(rs))
        return [] if len(asked) == 1 else real(segs, allowed, rs, memo, keep, points)

    monkeypatch.setattr(page_index, "_first_pass", first_pass)
    found = index.query(pts, desc, sizes)
    assert asked == [page_index.FIRST_PASS_FEATURES, min(len(desc), page_index.QUERY_FEATURES)]
    assert found and found[0].sha256 == f"{11:064x}"
    asked.clear()
    monkeypatch.setattr(page_index, "_first_pass", lambda *a: asked.append(len(a[2])) or real(*a))
    assert index.query(pts, desc, sizes)[0].sha256 == f"{11:064x}" and len(asked) == 1  # found: asked once
    asked.clear()  # a quick question (`once`: the tracer's mirror image and raw image after its sheet) asks once
    monkeypatch.setattr(page_index, "_first_pass", lambda *a: asked.append(len(a[2])) or [])
    assert not index.query(pts, desc, sizes, outline=False, once=True)
    assert asked == [page_index.FIRST_PASS_FEATURES]


def test_the_first_pass_asks_again_when_the_largest_propose_only_what_chance_gives(
        archive, first_pass: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first question that proposes only pages with fewer than SURE × SPATIAL consistent matches (a page of chance
    matches: a sharp photo of a registered page among 2,000 real ones was missed so) is asked again with all the
    descriptors, and both questions' candidates are proposed, best first, in groups of their own."""
    index, _fps = archive
    pts, desc, sizes, _ = locate.evidence_features(_evidence(11, "phone"))
    real, real_pass, asked = page_index.PageIndex._proposed, page_index._first_pass, []
    # a chance page with 30 consistent matches (2 × SPATIAL): what a photo of archive page 703 met among 2,080 real
    # pages, its own page not handed on by the first question; chance pages of up to 40 were seen
    chance = page_index.Candidate("f" * 64, 0, 2 * page_index.SPATIAL, 0)

    def first_pass(segs, allowed, rs, memo=None, keep=None, points=None):  # the first hands on none of its pages
        return [] if not asked else real_pass(segs, allowed, rs, memo, keep, points)

    def proposed(self, *a, **kw):
        asked.append(len(asked))
        return [chance] if len(asked) == 1 else real(self, *a, **kw)  # the first question: a chance page only

    monkeypatch.setattr(page_index, "_first_pass", first_pass)
    monkeypatch.setattr(page_index.PageIndex, "_proposed", proposed)
    found = index.query(pts, desc, sizes)
    assert asked == [0, 1] and found[0].sha256 == f"{11:064x}" and chance in found
    assert found[0].votes >= page_index.SURE * page_index.SPATIAL and found[0].group != chance.group
    asked.clear()  # a quick question (`once`) asks once whatever it found
    assert index.query(pts, desc, sizes, outline=False, once=True) == [chance] and asked == [0]


def test_a_wide_question_hands_on_more_pages_and_checks_them_all(
        archive, first_pass: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """`keep`: the first pass hands on that many contents instead of FIRST_PASS_KEEP (5 here), and the exact
    search checks every one spatially (the tracer's wide question of a crop: `_IndexCandidates.wide`)."""
    index, _fps = archive
    pts, desc, sizes, _ = locate.evidence_features(_evidence(11, "phone"))
    largest = np.argsort(-sizes, kind="stable")[:page_index.FIRST_PASS_FEATURES]
    rs = np.asarray(page_index.vocab.root_sift(desc[largest]))
    five, twelve = (page_index._first_pass(index._all(), None, rs, None, keep) for keep in (None, 12))
    assert len(five) == 5 and len(twelve) > 5 and set(five) <= set(twelve)  # more of them
    real, checked = page_index.PageIndex._proposed, []

    def proposed(self, *a, **kw):
        checked.append(kw.get("checked"))
        return real(self, *a, **kw)

    monkeypatch.setattr(page_index.PageIndex, "_proposed", proposed)
    found = index.query(pts, desc, sizes, keep=12)
    assert found and found[0].sha256 == f"{11:064x}" and checked[0] >= 12


def test_a_quick_question_hands_on_fewer_pages_than_a_full_one(
        archive, first_pass: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full question's first pass hands on FIRST_PASS_KEEP contents and the exact search checks FIRST_PASS_CHECKED
    of them (64 lost photos of registered pages among 2,000 real ones: `leakmark.index`); a quick one (`once`: the
    image was asked in full before) ONCE_KEEP, checked all."""
    index, _fps = archive
    pts, desc, sizes, _ = locate.evidence_features(_evidence(11, "phone"))
    monkeypatch.setattr(page_index, "FIRST_PASS_CHECKED", 5)
    monkeypatch.setattr(page_index, "ONCE_KEEP", 3)
    real_pass, real_proposed, asked = page_index._first_pass, page_index.PageIndex._proposed, []

    def first_pass(segs, allowed, rs, memo=None, keep=None, points=None):
        asked.append(("keep", keep))
        return real_pass(segs, allowed, rs, memo, keep, points)

    def proposed(self, *a, **kw):
        asked.append(("checked", kw.get("checked")))
        return real_proposed(self, *a, **kw)

    monkeypatch.setattr(page_index, "_first_pass", first_pass)
    monkeypatch.setattr(page_index.PageIndex, "_proposed", proposed)
    assert index.query(pts, desc, sizes)[0].sha256 == f"{11:064x}"
    assert asked == [("keep", 5), ("checked", 5)]
    asked.clear()
    assert index.query(pts, desc, sizes, outline=False, once=True)[0].sha256 == f"{11:064x}"
    assert asked == [("keep", 3), ("checked", 3)]


def test_the_tracers_quick_question_asks_the_first_pass_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_IndexCandidates.quick` (a mirror image; the raw image after its sheet showed nothing) asks the index
    without its outlines and with one first-pass question; the full question asks both."""
    from leakmark.trace import tracer

    how: list[dict[str, object]] = []

    class Index:
        def query(self, *a: object, **kw: object) -> list[page_index.Candidate]:
            how.append(kw)
            return []

    cands = tracer._IndexCandidates.__new__(tracer._IndexCandidates)
    cands.index, cands.timings, cands.by_sha = Index(), {"index": 0.0}, {}  # type: ignore[assignment]
    z = np.zeros((0, 2), np.float32)
    assert cands.quick(z, z, z) == [] and cands(z, z, z) == []
    assert how == [{"outline": False, "once": True}, {}]
    how.clear()
    assert cands.wide(z, z, z) == [] and how == [{"outline": False, "keep": tracer.WIDE_KEEP}]


def test_the_first_pass_best_pages_are_checked_whatever_their_matches(
        archive, first_pass: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact search checks spatially the SHORTLIST pages with the most matches and the FIRST_PASS_CHECKED
    best of the first pass: a noisy photo's page (memo page 1 under shot noise among 10,000 index pages) had
    fewer matches than 20 pages whose matches were chance, and was the first pass's best. Here no page is
    shortlisted by its matches: the first pass's best alone is checked, and proposed."""
    index, _fps = archive
    pts, desc, sizes, _ = locate.evidence_features(_evidence(11, "phone"))
    monkeypatch.setattr(page_index, "SHORTLIST", 0)
    monkeypatch.setattr(page_index, "FIRST_PASS_CHECKED", 0)
    assert index.query(pts, desc, sizes) == []
    monkeypatch.setattr(page_index, "FIRST_PASS_CHECKED", 1)
    found = index.query(pts, desc, sizes)
    assert [(c.sha256, c.page) for c in found] == [(f"{11:064x}", 0)] and found[0].votes >= page_index.SPATIAL


def test_the_first_pass_keeps_a_shared_page_and_only_the_documents_asked(archive, first_pass: None) -> None:
    index, _fps = archive
    both = _with_revision(index)
    page = render_page_array(archive_page(40), 0, 200, mode="gray")
    pts, desc, sizes, _ = locate.evidence_features(simulate.phone_photo(page, seed=1, megapixels=6.0))
    found = both.query(pts, desc, sizes)
    assert sorted((c.sha256, c.page) for c in found if c.group == found[0].group) == [("a" * 64, 0), ("b" * 64, 0)]
    assert [(c.sha256, c.page) for c in both.only({"b" * 64, f"{3:064x}"}).query(pts, desc, sizes)] == [("b" * 64, 0)]
    assert both.only({f"{n:064x}" for n in range(ARCHIVE)}).query(pts, desc, sizes) == []
    unregistered = render_page_array(archive_page(10_000_000), 0, 200, mode="gray")
    pts, desc, sizes, _ = locate.evidence_features(simulate.phone_photo(unregistered, seed=3, megapixels=6.0))
    assert both.query(pts, desc, sizes) == []


def test_the_shipped_cells_are_what_build_makes_of_them() -> None:
    """The signature's directions come from the SHAKE-256 stream (no numpy RNG); a vector made of half-words
    i and j lies in cell (i, j)."""
    from leakmark.index import cells

    assert np.array_equal(cells.gaussian_directions(), cells.projection())
    books, _ = cells.codebooks()
    assert books.shape == (2, cells.HALF_WORDS, 64)  # (one half-word of the first is there twice: never used)
    cell, _sig = cells.of(np.hstack([books[0][[0, 1, 2]], books[1][[5, 6, 7]]]))
    assert cell.tolist() == [i * cells.HALF_WORDS + j for i, j in ((0, 5), (1, 6), (2, 7))]


def test_a_probe_reads_its_own_bucket_and_those_one_bit_away() -> None:
    """A stored descriptor is filed by its cell and its signature's first 8 bits; a probe reads its own bucket
    and the 8 that differ from it in one of those bits (the same cell), or only its own with no flips."""
    from leakmark.index import cells

    cell = np.array([[5, 1 << 19]], np.uint32)
    sig = np.array([[0xFFFF_0000_0000_00A5, 0x0123_4567_89AB_CDEF]], np.uint64)
    own = cells.bucket(cell, sig)
    assert own.tolist() == [[(5 << 8) | 0xA5, ((1 << 19) << 8) | 0xEF]]
    probed = cells.probed(cell, sig, 1)
    assert probed.shape == (1, 2, 9) and np.array_equal(probed[..., 0], own)
    assert (probed >> 8 == cell[..., None]).all()  # never another cell
    assert [int(x).bit_count() for x in (probed[0, 0] ^ own[0, 0])] == [0] + [1] * 8
    assert len(set(probed[0, 0].tolist())) == 9 and np.array_equal(cells.probed(cell, sig, 0)[..., 0], own)


def test_the_first_pass_when_the_buckets_read_hold_no_near_signature() -> None:
    """A stored descriptor in the query's bucket whose signature differs in 16 of its other bits is read and
    not counted: nothing is handed on (the first pass once failed on a segment where that left no pair)."""
    from leakmark.index import cells
    from leakmark.index.segment import Entry, Segment

    x = np.full((1, 128), 1 / np.sqrt(128), np.float32)
    cell, sig = cells.nearest(x, page_index.CELL_PROBES)
    far = sig[:, :1] ^ np.uint64(0xFFFF << cells.SUB_BITS)  # the same first 8 bits: the same bucket
    stored = np.clip(np.rint(x * page_index.SCALE), 0, 255).astype(np.uint8)
    entry = Entry(stored, np.zeros(1, np.uint16), np.zeros((1, 2), np.float32), cell[:, 0].copy(), far.ravel())
    seg = Segment.of([("a" * 64, 0, entry)])
    assert cells.bucket(seg.bucket[:1] >> cells.SUB_BITS, far.ravel())[0] == seg.bucket[0]
    assert page_index._first_pass([seg], None, x) == []


def test_the_first_pass_weighs_a_descriptor_by_how_few_pages_it_meets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Among pages in one font and vocabulary, the shapes on every page outvote the evidence's own page when
    each met descriptor counts one (the memo's page 1 as a 20 % crop: the first pass's 234th-626th among 10,000
    archive pages); weighed by idf (log of contents / contents met), the few rare ones win."""
    from leakmark.index.segment import Entry, Segment

    rng = np.random.default_rng(16)  # test vectors only, never marks
    x = np.abs(rng.normal(size=(9 + 39, 128))) ** 2
    stored = np.clip(np.rint(np.sqrt(x / x.sum(1, keepdims=True)) * page_index.SCALE), 0, 255).astype(np.uint8)
    common, rare, own = stored[:6], stored[6:9], stored[9:]  # on every other page / on the evidence's page only

    def entry(d: np.ndarray) -> Entry:
        rs = d.astype(np.float32) / page_index.SCALE
        return Entry(d, page_index.vocab.quantise_rs(rs).astype(np.uint16), np.zeros((len(d), 2), np.float32),
                     *page_index.cells.of_stored(d))

    # 39 other pages (each with a descriptor of its own: distinct contents) and the evidence's page
    seg = Segment.of([(f"{i:064x}", 0, entry(np.vstack([common, own[i - 1:i]]) if i else rare)) for i in range(40)])
    query = np.vstack([common, rare]).astype(np.float32) / page_index.SCALE

    def first() -> str:
        seg0, c = page_index._first_pass([seg], None, query)[0]
        return seg0.sha[seg0.members(c)[0]].decode()

    assert first() == f"{0:064x}"  # 3 rare × log(40) against 6 common × log(40 / 39)
    monkeypatch.setattr(page_index, "FIRST_PASS_IDF", False)
    assert first() != f"{0:064x}"  # counted one each: 6 against 3


def test_a_querys_cells_and_signatures_are_the_direct_computation() -> None:
    """cells.nearest (the group-wise selection of the nearest half-words, signatures from projected words)
    gives what sorting each half's distances and projecting each residual gives: the same cells (ties of rank
    in any order) and the same 64 bits, for vectors near half-words and for arbitrary ones."""
    from leakmark.index import cells

    books, norms = cells.codebooks()
    rng = np.random.default_rng(5)  # test vectors only, never marks
    halves = [books[h][rng.integers(0, cells.HALF_WORDS, 300)] for h in (0, 1)]
    x = np.vstack([np.hstack(halves) + rng.normal(0, 0.004, (300, 128)), np.abs(rng.normal(size=(300, 128)))])
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    cell, sig = cells.nearest(x, 8)
    d = [cells._distances(x, h, books, norms) for h in (0, 1)]
    # the 8 nearest cells' halves are among each half's 8 nearest words: rank those 64 pairs
    near = [np.argsort(d[h], axis=1, kind="stable")[:, :8] for h in (0, 1)]
    pairs = (np.take_along_axis(d[0], near[0], 1)[:, :, None] + np.take_along_axis(d[1], near[1], 1)[:, None, :])
    want = np.sort(pairs.reshape(len(x), -1), axis=1)[:, :8]
    a, b = np.divmod(cell.astype(np.int64), cells.HALF_WORDS)
    got = np.take_along_axis(d[0], a, 1) + np.take_along_axis(d[1], b, 1)
    assert np.allclose(np.sort(got, axis=1), want)
    residual = x[:, None, :] - np.concatenate([books[0][a], books[1][b]], axis=2)
    bits = np.packbits((residual @ cells.projection()) > 0, axis=2, bitorder="little").view("<u8")[..., 0]
    assert np.array_equal(sig, bits)


def test_a_segment_keeps_each_contents_descriptors_together() -> None:
    """Format 6: a content's descriptors, words and positions are one block of rows (the first pass's
    candidates are then one read each, not 300 reads across a file larger than the page cache), in word order;
    the inverted file lists every row once, word by word and content by content; merging keeps the entries."""
    from leakmark.index import cells
    from leakmark.index.segment import Entry, Segment

    rng = np.random.default_rng(6)  # test vectors only, never marks

    def entry(m: int) -> Entry:
        stored = rng.integers(0, 60, (m, 128)).astype(np.uint8)
        return Entry(stored, rng.integers(0, 40, m).astype(np.uint16), rng.uniform(0, 2000, (m, 2)).astype(np.float32),
                     *cells.of_stored(stored))

    pages = [("a" * 64, 0, entry(30)), ("a" * 64, 1, entry(25)), ("b" * 64, 0, entry(40))]
    seg = Segment.of(pages)
    for sha, page, e in pages:
        c = int(seg.content[list(zip(seg.sha.astype(str), seg.page, strict=True)).index((sha, page))])
        rows = seg.rows(c)
        got = seg.entry(c)
        assert len(rows) == len(e.words) and np.all(np.diff(got.words.astype(int)) >= 0)
        order = np.argsort(e.words, kind="stable")
        assert np.array_equal(got.descriptors, e.descriptors[order]) and np.array_equal(got.words, e.words[order])
        assert np.allclose(got.points, e.points[order], atol=1.0)  # float16 positions
    assert np.array_equal(np.sort(seg.byword), np.arange(seg.size))
    for w in np.flatnonzero(np.diff(seg.start)):
        rows = seg.byword[seg.start[w]:seg.start[w + 1]]
        assert np.all(seg.words[rows] == w) and np.all(np.diff(seg.owner_of(rows)) >= 0)
    merged = Segment.merged([Segment.of(pages[:2]), Segment.of(pages[1:])])
    assert merged.to_bytes() == seg.to_bytes()


def test_each_first_pass_posting_names_its_descriptors_row() -> None:
    """Format 8: a posting (bucket, signature) names its content and its descriptor's row there (`posted`), so
    that the first pass can place what it meets on the page; made at once or merged from segments that share
    a page, every posting names the descriptor it files."""
    from leakmark.index import cells
    from leakmark.index.segment import Entry, Segment

    rng = np.random.default_rng(9)  # test vectors only, never marks

    def entry(m: int) -> Entry:
        stored = rng.integers(0, 60, (m, 128)).astype(np.uint8)
        return Entry(stored, rng.integers(0, 40, m).astype(np.uint16), rng.uniform(0, 2000, (m, 2)).astype(np.float32),
                     *cells.of_stored(stored))

    pages = [(f"{i % 3:064x}", i, entry(20 + 7 * i)) for i in range(6)]
    filed = {e.descriptors[j].tobytes(): (e.cells[j], e.signatures[j]) for _s, _p, e in pages
             for j in range(len(e.words))}
    parts = [Segment.of(pages[:4]), Segment.of(pages[2:]), Segment.of(pages[5:])]  # pages 2-5 twice
    for seg in (Segment.of(pages), Segment.merged(parts)):
        content, row = seg.posted(np.arange(seg.size))
        assert np.all(row >= np.asarray(seg.cstart)[content]) and np.all(row < np.asarray(seg.cstart)[content + 1])
        cell, sig = map(np.array, zip(*(filed[seg.descriptors[r].tobytes()] for r in row), strict=True))
        assert np.array_equal(seg.bucket, cells.bucket(cell, sig)) and np.array_equal(seg.cellsig, sig)
        assert sorted(row) == list(range(seg.size))  # every descriptor filed once


def test_the_first_pass_ranks_again_the_pages_whose_meetings_fall_into_place() -> None:
    """With the evidence's positions, the first pass's best contents are ranked by the weight of their meetings
    that one homography places: a page whose 120 meetings lie anywhere (chance: a page of the same template and
    vocabulary) comes after the page whose 60 lie where the evidence shows them, which the count put second."""
    from leakmark.index import cells
    from leakmark.index.segment import Entry, Segment

    rng = np.random.default_rng(17)  # test vectors only, never marks
    x = np.abs(rng.normal(size=(300, 128))) ** 2
    stored = np.clip(np.rint(np.sqrt(x / x.sum(1, keepdims=True)) * page_index.SCALE), 0, 255).astype(np.uint8)
    where = rng.uniform(0, 1500, (300, 2)).astype(np.float32)  # the evidence's keypoints

    def entry(d: np.ndarray, at: np.ndarray) -> Entry:
        rs = d.astype(np.float32) / page_index.SCALE
        return Entry(d, page_index.vocab.quantise_rs(rs).astype(np.uint16), at.astype(np.float32),
                     *cells.of_stored(d))

    shown = entry(stored[:60], where[:60] * 1.3 + [40, 90])  # the page shown, scaled and moved
    chance = entry(stored[60:180], rng.uniform(0, 2000, (120, 2)))  # more meetings, anywhere
    other = entry(stored[180:], where[180:])  # met by nothing of the question
    seg = Segment.of([(f"{1:064x}", 0, shown), (f"{2:064x}", 0, chance), (f"{3:064x}", 0, other)])
    query = stored[:180].astype(np.float32) / page_index.SCALE

    def ranked(points: np.ndarray | None) -> list[str]:
        return [s.sha[s.members(c)[0]].decode()[-1] for s, c in page_index._first_pass([seg], None, query, None, 5,
                                                                                          points)]

    assert ranked(None) == ["2", "1"]  # counted (and weighed): 120 meetings against 60
    assert ranked(where[:180]) == ["1", "2"]


def test_the_fenced_bucket_search_is_searchsorted() -> None:
    """Segment.bucket_range (the fence, then a block of FENCE buckets) gives np.searchsorted's left and right
    positions: for buckets absent, present once, filling several blocks, before the first and after the last."""
    from leakmark.index.segment import FENCE, Segment

    rng = np.random.default_rng(7)  # test values only, never marks
    for m in (0, 1, FENCE - 1, FENCE, 5 * FENCE + 3, 20_000):
        bucket = np.sort(np.r_[rng.integers(10, 5000, m - min(m, 3 * FENCE)), np.full(min(m, 3 * FENCE), 777)]
                         ).astype(np.uint32)
        seg = Segment({"bucket": bucket, "fence": bucket[::FENCE].copy(), **{name: np.zeros(0) for name in (
            "sha", "page", "content", "key", "cstart", "descriptors", "points", "words", "start", "byword",
            "cellref", "cellsig")}})
        needle = np.sort(np.r_[rng.integers(0, 5100, 3000), 777, 0, 10, 4999, 5099]).astype(np.uint32)
        lo, hi = seg.bucket_range(needle)
        assert np.array_equal(lo, np.searchsorted(bucket, needle, "left"))
        assert np.array_equal(hi, np.searchsorted(bucket, needle, "right"))


def test_the_first_pass_cells_of_a_longer_question_are_those_of_one_computation(monkeypatch) -> None:
    """The first pass's second question (all the voters after the largest ones) computes the cells of the new
    vectors only: the rows are the same bits as one computation of all of them (BLAS gives each row alone)."""
    from leakmark.index import CELL_PROBES, _Memo, cells, vocab

    rng = np.random.default_rng(8)  # test values only, never marks
    rs = vocab.root_sift(rng.integers(0, 120, (2000, 128)).astype(np.uint8))
    real, rows = cells.nearest, []
    monkeypatch.setattr(cells, "nearest", lambda x, probes: rows.append(len(x)) or real(x, probes))
    for n in (1000, 1, 1452, 1999):
        memo, rows[:] = _Memo(), []
        memo.get("words", rs, lambda: (np.zeros(len(rs), np.int64),))  # the memo's other kind of entry
        first = memo.cells(rs[:n])
        both = memo.cells(rs)
        assert rows == [n, 2000 - n]  # the second question computed its new rows only
        whole = real(rs, CELL_PROBES)
        assert all(np.array_equal(a, b[:n]) for a, b in zip(first, whole, strict=True))
        assert all(np.array_equal(a, b) for a, b in zip(both, whole, strict=True))


def test_inverse_norms_are_exact() -> None:
    """The index's cosine similarities divide by each stored descriptor's norm: summed by einsum, the squares of
    128 bytes stay below 2^24, so the norms equal np.linalg.norm's to the bit."""
    rows = np.random.default_rng(5).integers(0, 256, (70_000, 128), dtype=np.uint8)
    rows[0] = 0  # a zero row: 1 / 1e-6, not a division by zero
    expected = 1.0 / np.maximum(np.linalg.norm(rows.astype(np.float32), axis=1), 1e-6)
    assert np.array_equal(inverse_norms(rows), expected.astype(np.float32))


def test_spatial_checks_on_threads_count_as_one_after_the_other() -> None:
    """The index's spatial checks run on every core (`_consistent_all`): each count is the one a call after the other
    gives, in order, for pages the evidence shows (a homography and noise) and pages of chance matches."""
    rng = np.random.default_rng(16)  # synthetic points only, never marks
    pairs = []
    for k in range(24):
        src = rng.uniform(0, 1500, (40 + 5 * k, 2)).astype(np.float32)
        H = np.array([[0.7, 0.05 * (k % 3), 30.0], [-0.04, 0.72, 12.0], [1e-5 * (k % 4), 0.0, 1.0]])
        dst = cv2.perspectiveTransform(src[None], H)[0] + rng.normal(0, 1.5, src.shape).astype(np.float32)
        chance = k % 2 == 1
        if chance:  # a page of chance matches: a few fit, most do not
            dst[12:] = rng.uniform(0, 1200, (len(src) - 12, 2)).astype(np.float32)
        pairs.append((src, dst))
    one_by_one = [page_index._consistent(src, dst) for src, dst in pairs]
    assert page_index._consistent_all(pairs, page_index.SPATIAL) == one_by_one
    assert max(one_by_one[1::2]) < page_index.SPATIAL <= min(one_by_one[0::2])  # both kinds were checked
