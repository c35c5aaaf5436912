"""Longer round trips (deselected by default; run with `pytest -m slow`).

The Chinese notice (3 pages, red header, marked in colour) issued to four recipients; copy 000002 leaks
through print-and-scan, a colour phone photo, rotation and rescaling, and as two captures of one leak.
"""

from __future__ import annotations

import cv2
import pytest
from lmtest import seeded_workspace

import leakmark
from leakmark import simulate
from leakmark.rendering import render_page_array

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def notice(tmp_path_factory, samples_dir):
    root = tmp_path_factory.mktemp("notice")
    ws = seeded_workspace(root / "ws", b"leakmark test workspace: notice")
    res = leakmark.issue(ws, leakmark.IssueOptions(
        source=samples_dir / "notice-zh.pdf",
        recipients=tuple(leakmark.Recipient(f"收件人{i}", "办公室") for i in range(4)),
        output_dir=root / "copies", level="机密", period="1年", jobs=1))
    return ws, res


ATTACKS = {
    "print-scan": lambda g, rgb: simulate.print_scan(g, seed=4),
    "phone-photo-colour": lambda g, rgb: cv2.cvtColor(simulate.phone_photo(rgb, seed=7), cv2.COLOR_GRAY2BGR),
    "rotate-90": lambda g, rgb: simulate.rotate(g, 90),
    "rotate-3": lambda g, rgb: simulate.rotate(g, 3),
    "half-size-jpeg": lambda g, rgb: simulate.jpeg(simulate.rescale(g, 0.5), 60),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_notice_leak_is_identified(notice, tmp_path, attack):
    ws, res = notice
    path = res.copies[1].path
    img = ATTACKS[attack](render_page_array(path, 0), render_page_array(path, 0, 300, mode="rgb"))
    ev = tmp_path / f"{attack}.png"
    assert cv2.imwrite(str(ev), img)
    result = leakmark.trace(ws, leakmark.TraceOptions(evidence=(ev,)))
    assert result.verdict == "identified"
    assert [s.copy.copy_no for s in result.suspects[: result.named]] == [2]
    assert result.suspects[0].fap < 1e-6


def test_two_captures_of_one_leak_combine(notice, tmp_path):
    ws, res = notice
    path = res.copies[3].path
    evs = []
    for index in (0, 1):
        ev = tmp_path / f"page{index + 1}.jpg"
        cv2.imwrite(str(ev), simulate.crop(render_page_array(path, index), 0.35, seed=index))
        evs.append(ev)
    result = leakmark.trace(ws, leakmark.TraceOptions(evidence=tuple(evs)))
    assert result.verdict == "identified" and result.pages == [1, 2]
    assert result.suspects[0].copy.copy_no == 4
