"""Issue → simulated leak → trace, the fast subset (the full sweep lives in benchmarks/ and `-m slow`).

The leaked copy is 000003 (recipient 'Chen Jing'); attacks are seeded, so results are deterministic.
"""

from __future__ import annotations

import subprocess
import sys

import cv2
import pytest

import leakmark
from leakmark import simulate
from leakmark.rendering import render_page_array

ATTACKS = {
    "jpeg30": (lambda img: simulate.jpeg(img, 30), "png"),
    "phone-photo": (lambda img: simulate.phone_photo(img, seed=1), "jpg"),
    "screenshot": (lambda img: simulate.screenshot(img), "png"),
    "crop40": (lambda img: simulate.crop(img, 0.4, seed=3), "png"),
    "mirrored": (lambda img: cv2.flip(simulate.jpeg(img, 80), 1), "png"),  # a front camera's saved photo
}


def _trace(ws, path, **kw) -> leakmark.TraceResult:
    return leakmark.trace(ws, leakmark.TraceOptions(evidence=(path,), **kw))


# the same leak of the same page is traced by default elsewhere, so these two run here with -m slow only:
# jpeg30 is test_robustness_quick's jpeg-30 (JPEG q30), phone-photo is test_trace_each's a-copy3.jpg
# (simulate.phone_photo, seed 3; and the benchmark's phone model in test_robustness_quick)
REPEATED = {"jpeg30", "phone-photo"}


@pytest.mark.parametrize("attack", [pytest.param(a, marks=pytest.mark.slow) if a in REPEATED else a for a in ATTACKS])
def test_leaked_copy_is_identified(issued, copy3_page1, tmp_path, attack):
    fn, ext = ATTACKS[attack]
    path = tmp_path / f"evidence-{attack}.{ext}"
    assert cv2.imwrite(str(path), fn(copy3_page1))
    result = _trace(issued.ws, path)
    assert result.verdict == "identified", [(s.copy.copy_no, s.score) for s in result.suspects]
    assert result.named == 1
    best = result.suspects[0]
    assert best.copy.copy_no == 3 and best.copy.recipient == "Chen Jing"
    assert best.fap < 1e-6
    assert result.document.id == issued.result.document.id and result.pages == [1]
    assert result.candidates == 5
    assert all(s.fap > 1e-2 for s in result.suspects[1:])  # the innocent copies stay unaccused
    assert [e.aligned for e in result.evidence] == [True]


def test_unmarked_original_is_not_identified(issued, tmp_path):
    page = render_page_array(issued.source, 0, 300)  # the original itself, never issued to anyone
    path = tmp_path / "original-photo.jpg"
    assert cv2.imwrite(str(path), simulate.phone_photo(page, seed=1))
    result = _trace(issued.ws, path)
    assert result.verdict != "identified"
    assert result.named == 0
    assert all(s.fap > 1e-6 for s in result.suspects)


def test_python_m_leakmark_version():
    proc = subprocess.run([sys.executable, "-m", "leakmark", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert leakmark.__version__ in proc.stdout


def test_a_match_that_cannot_be_aligned_is_reported_not_raised(issued, copy3_page1, tmp_path, monkeypatch):
    import numpy as np

    from leakmark.trace import tracer

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(tracer, "align", singular)
    path = tmp_path / "evidence.png"
    assert cv2.imwrite(str(path), copy3_page1)
    result = _trace(issued.ws, path)
    assert result.verdict == "no-match" and result.named == 0
    assert "could not be aligned" in result.evidence[0].detail
