"""Screenshots of the web page for docs/web/: the browser tour of tests/web_tour.py on a new workspace.

    python scripts/web_screenshots.py [OUT_DIR]     (default docs/web; needs Chromium and the test extras)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from test_browser import photo_of  # noqa: E402
from web_tour import PASSWORD, chromium, running, tour  # noqa: E402

import leakmark  # noqa: E402
from leakmark.samples import SAMPLES  # noqa: E402
from leakmark.server import create_app  # noqa: E402
from leakmark.server.accounts import Accounts  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "web"
    browser = chromium()
    if browser is None:
        sys.exit("no Chromium found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        ws = leakmark.Workspace.open(Path(tmp) / "ws", create=True)
        Accounts(ws).add("王芳", "clerk", PASSWORD, "docs")
        Accounts(ws).add("调查员", "investigator", PASSWORD, "docs")
        document = Path(tmp) / "关于做好年度保密检查工作的通知.pdf"
        document.write_bytes(SAMPLES["notice-zh.pdf"]())
        with running(create_app(ws)) as base:
            result = tour(base, document, Path(tmp) / "shots", photo_of, browser)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for shot in result.shots:
            shutil.copy(shot, out / shot.name)
    print(f"{len(result.shots)} screenshots in {out}; verdict: {result.verdict}")


if __name__ == "__main__":
    main()
