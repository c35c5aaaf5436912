"""The web page in a real browser: Playwright drives Debian's Chromium headless through issue, download,
trace, report and return (tests/web_tour.py). Skipped only where no Chromium is installed."""

from __future__ import annotations

from pathlib import Path

import cv2
import pymupdf
import pytest
from web_tour import PASSWORD, chromium, running, tour

import leakmark
from leakmark import register, simulate
from leakmark.server import create_app
from leakmark.server.accounts import Accounts

pytest.importorskip("playwright")


def photo_of(pdf: bytes) -> bytes:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        pix = doc[0].get_pixmap(dpi=300)
    import numpy as np

    page = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[:, :, :3][:, :, ::-1]
    return bytes(cv2.imencode(".jpg", simulate.phone_photo(np.ascontiguousarray(page), seed=11))[1])


@pytest.mark.skipif(chromium() is None, reason="no Chromium: apt-get install chromium")
def test_issue_trace_report_return_in_a_browser(tmp_path: Path, samples_dir: Path) -> None:
    ws = leakmark.Workspace.open(tmp_path / "ws", create=True)
    Accounts(ws).add("王芳", "clerk", PASSWORD, "test")
    Accounts(ws).add("调查员", "investigator", PASSWORD, "test")
    with running(create_app(ws, workers=2)) as base:
        result = tour(base, samples_dir / "notice-zh.pdf", tmp_path / "shots", photo_of, chromium() or "")
    assert len(result.copies) == 5
    assert "已认定" in result.verdict and "李娜" in result.named
    assert result.returned and len(result.shots) == 9 and all(p.stat().st_size > 5000 for p in result.shots)
    copies = register.list_documents(ws)[0].copies
    assert [(c.recipient, str(c.status)) for c in copies][:3] == [("张伟", "issued"), ("王芳", "returned"),
                                                                  ("李娜", "issued")]
    assert register.traces(ws)[-1].record.operator == "调查员"
