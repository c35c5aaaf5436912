"""Session fixtures: the sample PDFs and one workspace with the memo issued to five recipients.

Everything expensive (rendering, marking, fingerprints) happens once per session here; tests that
change a workspace work on a `shutil.copytree` of it (`ws_copy`).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from lmtest import RECIPIENTS

import leakmark
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples


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
    (root / "ws").mkdir()
    key = root / "ws" / "key"
    key.write_bytes(hashlib.sha256(b"leakmark test workspace").digest())
    key.chmod(0o600)
    ws = leakmark.Workspace.open(root / "ws")
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
