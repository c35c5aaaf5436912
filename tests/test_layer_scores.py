"""`TraceResult.layer_scores`: what each layer alone says, from the one trace that also made the fused
decision (the low-text benchmark derives per-layer rows from it instead of tracing once per layer)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from lmtest import seeded_workspace

import leakmark
from leakmark import TraceOptions, simulate, trace
from leakmark.rendering import render_page_array
from leakmark.samples import write_lowtext_samples
from leakmark.trace.decide import decide, fuse


@pytest.fixture(scope="module")
def chart_issue(tmp_path_factory):
    """The chart sample page issued with shift + tone + file to 4 copies, fixed key."""
    root = tmp_path_factory.mktemp("layer-scores")
    ws = seeded_workspace(root / "ws", b"leakmark layer-scores test")
    [src] = write_lowtext_samples(root / "samples", ("chart",))
    people = tuple(leakmark.Recipient(f"R{i}") for i in range(4))
    result = leakmark.issue(ws, leakmark.IssueOptions(source=src, recipients=people, output_dir=root / "out",
                                                      layers=("shift", "tone", "file"), jobs=1))
    return ws, result


def _fused(layer_scores: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """The tracer's fusion, from the per-layer vectors (NaN: the copy does not carry the layer)."""
    return fuse({name: (np.nan_to_num(v, nan=0.0), ~np.isnan(v)) for name, v in layer_scores.items()})


@pytest.mark.parametrize("evidence", ["pdf", "jpeg"])
def test_layer_scores_reproduce_the_fused_and_the_single_layer_decisions(chart_issue, tmp_path, evidence):
    ws, result = chart_issue
    copy = Path(result.copies[1].path)
    if evidence == "pdf":  # the issued file itself: shift, tone and file all measure
        ev = copy
    else:
        ev = tmp_path / "leak.png"
        cv2.imwrite(str(ev), simulate.jpeg(render_page_array(copy, 0, 300), 50))
    r = trace(ws, TraceOptions(evidence=(ev,), max_suspects=4))
    expected = {"shift", "tone", "file"} if evidence == "pdf" else {"shift", "tone"}
    assert set(r.layer_scores) == expected
    assert r.candidate_numbers == [int(c.copy_no) for c in result.copies]
    assert all(v.shape == (4,) for v in r.layer_scores.values())
    # the fused decision, recomputed from the per-layer vectors, is the tracer's (a single copy's leak: the
    # whole evidence decides, with its share of the threshold)
    z, tests = _fused(r.layer_scores)
    assert r.search is not None
    d = decide(z, 1e-6, tests, r.search.whole_weight)
    assert d.verdict == r.verdict
    assert [r.candidate_numbers[i] for i in d.named] == [s.copy.copy_no for s in r.suspects[:r.named]]
    assert [r.candidate_numbers[i] for i in d.order] == [s.copy.copy_no for s in r.suspects]
    for name, v in r.layer_scores.items():
        r1 = trace(ws, TraceOptions(evidence=(ev,), max_suspects=4, layers=(name,)))
        if name == "file":  # file identifiers alone name nobody (issue 13, finding 3): they are a finding
            assert r1.verdict == "no-match" and r1.named == 0
            assert [f.copy.copy_no for f in r1.file_identifiers] == [2]
            continue
        # one layer alone: its vector, 0 for copies that do not carry it, is what trace(layers=(name,)) decides
        alone = decide(np.nan_to_num(v, nan=0.0), 1e-6, weight=r.search.whole_weight)
        assert alone.verdict == r1.verdict, name
        assert r.candidate_numbers[alone.order[0]] == r1.suspects[0].copy.copy_no, name
        assert [r.candidate_numbers[i] for i in alone.named] == [s.copy.copy_no for s in r1.suspects[:r1.named]]
        assert np.allclose(v[alone.order[0]], r1.suspects[0].score)
    assert r.named == 1 and r.suspects[0].copy.copy_no == 2
