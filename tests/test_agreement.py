"""`trace.agreement`: a page's own blurred or bent image agrees with it at the scale of strokes; another page of
its template, laid exactly on it, does not (the test that keeps a template stranger from being measured)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks import attacks as atk
from leakmark.fingerprint import FP_DPI
from leakmark.rendering import render_page_array
from leakmark.samples.archive import archive_page, family
from leakmark.trace import agreement, locate

IDENTITY = np.eye(3)


def _page(n: int, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = tmp_path_factory.mktemp("archive") / f"page-{n}.pdf"
    path.write_bytes(archive_page(n))
    return render_page_array(path, 0, FP_DPI, mode="gray")


# en-prose, zh-table, en-table, en-form: lines at one pitch, tables' grids and forms' fields coincide
@pytest.mark.parametrize("n", [1, 2, 3, 221])
def test_a_page_of_the_same_template_laid_on_it_does_not_agree(n: int, tmp_path_factory: pytest.TempPathFactory
                                                               ) -> None:
    own, other = _page(n, tmp_path_factory), _page(n + 6, tmp_path_factory)
    assert family(n) == family(n + 6)
    score, tiles = agreement.agreement(other, IDENTITY, own)
    assert tiles >= locate.AGREE_TILES and score < locate.AGREES - 0.05


@pytest.mark.parametrize("n", [2, 221])
def test_a_blurred_or_bent_page_agrees_with_its_own(n: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    own = _page(n, tmp_path_factory)
    # radius 3 px at 150 dpi: 6 px at 300, beyond the robustness suite's strongest defocus, still identified
    blurred = atk.by_name("blur-defocus").fn(own, 3, 7)
    score, tiles = agreement.agreement(blurred, IDENTITY, own)
    assert tiles >= locate.AGREE_TILES and score >= locate.AGREES + 0.1
    # a barrel bend of 4 % at the corners that the identity does not follow: each tile is found within REACH
    h, w = own.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2, h / 2
    bend = 1 + 0.04 * ((x - cx) ** 2 + (y - cy) ** 2) / (cx ** 2 + cy ** 2)
    bent = cv2.remap(own, cx + (x - cx) * bend, cy + (y - cy) * bend, cv2.INTER_LINEAR, borderValue=255)
    score, _ = agreement.agreement(bent, IDENTITY, own)
    assert score >= locate.AGREES + 0.3


def test_evidence_beside_the_page_covers_no_tile(tmp_path_factory: pytest.TempPathFactory) -> None:
    own = _page(221, tmp_path_factory)
    away = np.array([[1, 0, 5000], [0, 1, 0], [0, 0, 1]], float)  # the evidence lands off the page
    score, tiles = agreement.agreement(own, away, own)
    assert tiles == 0 and np.isnan(score)
