"""Issue 16, collusion: evidence assembled from several issued copies names every colluder, says where each
was found, and names nobody else (the search itself: test_colluders.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from lmtest import run_main

from leakmark import TraceOptions, report, trace
from leakmark.rendering import render_page_array


def _page(issued, copy_no: int, page: int) -> np.ndarray:
    return render_page_array(issued.copy_path(copy_no), page, 300)


def _write(tmp_path, name: str, img: np.ndarray):
    path = tmp_path / name
    assert cv2.imwrite(str(path), img)
    return path


def test_a_leak_of_two_pages_from_two_copies_names_both_each_on_its_page(capsys, issued, ws_copy, tmp_path):
    """Page 1 of copy 000002 and page 2 of copy 000004, photographed as one leak (traced in a copy of the
    workspace: the CLI records each trace in the register)."""
    ev = [_write(tmp_path, "p1.png", _page(issued, 2, 0)), _write(tmp_path, "p2.png", _page(issued, 4, 1))]
    code, out, err = run_main(capsys, "trace", *ev, "--home", ws_copy.home, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["verdict"] == "identified"
    named = {s["copy_no"]: s for s in res["suspects"][:2]}
    assert set(named) == {"000002", "000004"}
    assert named["000002"]["found_in"] == "page 1" and named["000004"]["found_in"] == "page 2"
    assert all(s["false_accusation_probability"] < 1e-6 for s in named.values())
    assert all(s["false_accusation_probability"] > 1e-2 for s in res["suspects"][2:])
    code, out, err = run_main(capsys, "trace", *ev, "--home", ws_copy.home)
    assert "=> 2 copies named: this capture was assembled from several copies (collusion)" in out
    assert "is a source of this capture" in out and "found in page 2" in out


def test_a_page_pasted_from_two_copies_names_both(issued, tmp_path):
    """The top half of copy 000001's page 1 over the bottom half of copy 000005's."""
    a, b = _page(issued, 1, 0), _page(issued, 5, 0)
    img = np.vstack([a[: a.shape[0] // 2], b[a.shape[0] // 2:]])
    r = trace(issued.ws, TraceOptions(evidence=(_write(tmp_path, "pasted.png", img),)))
    assert r.verdict == "identified"
    assert {s.copy.copy_no for s in r.suspects[: r.named]} == {1, 5}
    assert all(s.fap > 1e-2 for s in r.suspects[r.named:])
    # the whole, the rest (block mask, and outside where the first was found), 28 regions of the page
    assert r.search is not None and r.search.parts == 1 + 2 + 28
    # the evidence report names each as one of the sources and where its marks were found, in both languages
    options = TraceOptions(evidence=(tmp_path / "pasted.png",))
    html = report.render(report.build_model(issued.ws, r, options, lang="en")).decode("utf-8")
    for s in r.suspects[: r.named]:
        assert f"Copy {s.copy.label} issued to" in html and "is one of the sources of this capture." in html
        assert f"Its marks were found in {s.found_in.text()}." in html
    zh = report.render(report.build_model(issued.ws, r, options, lang="zh")).decode("utf-8")
    assert "来源之一" in zh and f"其标记见于{r.suspects[0].found_in.text('zh')}。" in zh


def test_a_single_copy_leak_is_found_on_the_whole_evidence(issued, copy3_page1, tmp_path):
    r = trace(issued.ws, TraceOptions(evidence=(_write(tmp_path, "one.png", copy3_page1),)))
    assert r.named == 1 and r.suspects[0].copy.copy_no == 3
    assert r.suspects[0].found_in.part == "whole" and not r.suspects[0].found_in.removed
    assert r.search is not None and r.search.rounds == 2  # the second round finds nobody else


def test_two_images_of_one_page_from_two_copies_say_which_image_shows_which(issued, tmp_path):
    """Page 1 of copy 000002 in one image and of copy 000004 in another: each named, in its own image."""
    ev = (_write(tmp_path, "first.png", _page(issued, 2, 0)), _write(tmp_path, "second.png", _page(issued, 4, 0)))
    r = trace(issued.ws, TraceOptions(evidence=ev))
    assert {s.copy.copy_no for s in r.suspects[: r.named]} == {2, 4}
    where = {s.copy.copy_no: s.found_in for s in r.suspects[: r.named]}
    assert where[2].text() == "page 1 (in first.png)" and where[4].text() == "page 1 (in second.png)"
    assert where[4].text("zh") == "第 1 页（见 second.png）"


def test_one_image_given_twice_scores_as_given_once(issued, tmp_path):
    """An investigator hands in the same photo twice (or a second capture of the same page): it is one page of
    evidence, and no copy's score or bound gains by it (each capture joined as a page of its own had turned an
    inconclusive screen photo into an identification: its score, and every innocent's, √2 times larger)."""
    img = cv2.GaussianBlur(_page(issued, 3, 1), (0, 0), 2.5)
    first = _write(tmp_path, "first.png", img)
    once = trace(issued.ws, TraceOptions(evidence=(first,)))
    twice = trace(issued.ws, TraceOptions(evidence=(first, _write(tmp_path, "again.png", img))))
    assert [e.document_page for e in twice.evidence] == [2, 2]
    scores = {s.copy.copy_no: s for s in once.suspects}
    for s in twice.suspects:
        assert s.score == pytest.approx(scores[s.copy.copy_no].score, rel=1e-9)
        assert s.fap >= scores[s.copy.copy_no].fap
    assert twice.named == once.named
