"""Default layers go by page: tone only on pages that are mostly picture, recorded per copy, traced per page."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pymupdf
import pytest
from lmtest import seeded_workspace

import leakmark
from leakmark import TraceOptions, simulate, trace
from leakmark.ledger import Ledger
from leakmark.rendering import render_page_array
from leakmark.samples import write_lowtext_samples, write_samples


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Page 1: the English memo's first page (text); page 2: the full-page photograph."""
    root = tmp_path_factory.mktemp("mixed")
    memo = next(p for p in write_samples(root / "s") if p.stem == "memo-en")
    photo = write_lowtext_samples(root / "l", ("photo",))[0]
    doc = pymupdf.open()
    with pymupdf.open(memo) as m, pymupdf.open(photo) as p:
        doc.insert_pdf(m, from_page=0, to_page=0)
        doc.insert_pdf(p)
    src = root / "mixed.pdf"
    doc.save(src, no_new_id=True)
    ws = seeded_workspace(root / "ws", b"leakmark test workspace: layer-defaults")
    people = tuple(leakmark.Recipient(f"R{i}") for i in range(4))
    result = leakmark.issue(ws, leakmark.IssueOptions(source=src, recipients=people, output_dir=root / "out",
                                                      jobs=1))
    return ws, result


def test_tone_goes_only_on_the_picture_page(mixed):
    ws, result = mixed
    with Ledger(ws) as ledger:
        settings = json.loads(ledger.copies(result.document.id)[0].settings)
    assert settings["layers"] == ["shift", "tone", "file"]
    assert settings["tone"]["pages"] == [2]
    assert result.stats["units"][2]["picture"] >= 0.25 > result.stats["units"][1]["picture"]
    # the tone planes were made for the photo page only (a text page of a long run costs no tone work)
    assert result.stats["units"][2]["tone"] and not result.stats["units"][1]["tone"]


@pytest.mark.parametrize(("page", "layer"), [(0, "shift"), (1, "tone")])
def test_each_page_traces_through_its_own_layers(mixed, tmp_path, page, layer):
    ws, result = mixed
    ev = tmp_path / "leak.png"
    cv2.imwrite(str(ev), simulate.jpeg(render_page_array(Path(result.copies[2].path), page, 300), 40))
    r = trace(ws, TraceOptions(evidence=(ev,)))
    assert r.verdict == "identified" and r.suspects[0].copy.copy_no == 3
    assert r.suspects[0].layers[layer] > 6
    if page == 0:  # the text page carries no tone: it is neither measured nor scored
        assert "tone" not in r.suspects[0].layers and "tone cells" not in r.evidence[0].detail
