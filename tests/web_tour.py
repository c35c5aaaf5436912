"""The browser tour of `leakmark serve` (Playwright driving Chromium headless), shared by tests/test_browser.py
and scripts/web_screenshots.py (which writes the screenshots of docs/web/): a clerk signs in, issues a 公文 to
five recipients and downloads the copies; an investigator traces a phone photo of one copy and opens the
evidence report; the clerk records a return. Each step leaves a screenshot in `shots`."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RECIPIENTS = [("张伟", "办公室"), ("王芳", "财务处"), ("李娜", "人事处"), ("刘洋", "保密办"), ("陈静", "信息中心")]
PASSWORD = "correct horse battery"


def chromium() -> str | None:
    """Debian's Chromium (package chromium), or another on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def running(app: object) -> Iterator[str]:
    """Serve `app` with uvicorn on a free local port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")) # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > end:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class TourResult:
    copies: list[str]  # the file names in the downloaded ZIP
    verdict: str
    named: str  # the page's text of the named copy's row
    returned: bool
    shots: list[Path]


def tour(base: str, document: Path, shots: Path, make_photo: object, browser_path: str) -> TourResult:
    """Drive the pages; `make_photo(copy_pdf_bytes) -> jpeg bytes` photographs page 1 of a copy."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []

    def shot(page: object, name: str, full: bool = True) -> None:
        path = shots / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full)  # type: ignore[attr-defined]
        taken.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1200, "height": 820}, accept_downloads=True,
                                      locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(180_000)

        def sign_in(name: str) -> None:
            page.goto(base + "/")
            page.wait_for_url("**/login**")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", PASSWORD)
            page.click("button.primary")
            page.wait_for_url(base + "/")

        def sign_out() -> None:
            page.click("header form button")
            page.wait_for_url("**/login")

        def wait_job() -> None:
            page.wait_for_selector("#job[data-state=done], #job[data-state=failed]")

        # the clerk issues
        page.goto(base + "/")
        shot(page, "login", full=False)
        sign_in("王芳")
        shot(page, "home", full=False)
        page.click("text=分发 >> nth=0")
        page.set_input_files("input[name=document]", str(document))
        page.fill("textarea[name=recipients]", "\n".join(f"{n},{u}" for n, u in RECIPIENTS))
        page.select_option("select[name=level]", "机密")
        page.fill("input[name=period]", "10年")
        page.check("input[name=stamp]")
        shot(page, "issue-form")
        page.click("button.primary")
        wait_job()
        shot(page, "issue-done")
        with page.expect_download() as dl:
            page.click("text=下载")
        data = Path(dl.value.path()).read_bytes()
        names = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
        leaked = zipfile.ZipFile(io.BytesIO(data)).read(names[2])  # copy 000003
        sign_out()

        # the investigator traces a phone photo of copy 3
        photo = shots.parent / "leaked-photo.jpg"
        photo.write_bytes(make_photo(leaked))  # type: ignore[operator]
        sign_in("调查员")
        page.click("header nav >> text=溯源")
        page.set_input_files("input[name=evidence]", str(photo))
        shot(page, "trace-form", full=False)
        page.click("button.primary")
        wait_job()
        shot(page, "trace-result")
        verdict = page.inner_text("h2.verdict")
        named = page.inner_text("tr.named") if page.query_selector("tr.named") else ""
        with page.expect_popup() as popup:
            page.click("text=证据报告")
        report = popup.value
        report.wait_for_load_state()
        shot(report, "report", full=False)
        report.close()
        sign_out()

        # the clerk records the return of copy 2
        sign_in("王芳")
        page.click("header nav >> text=登记簿")
        shot(page, "register")
        page.click("text=000002 >> nth=0")
        page.check("input[name=action][value=return]")
        page.fill("input[name=reason]", "会后收回")
        page.check("input[name=confirm]")
        page.click("button.primary")
        page.wait_for_selector("text=会后收回")
        shot(page, "copy-returned")
        returned = page.query_selector("#copy-status[data-status=returned]") is not None
        browser.close()
    return TourResult(copies=names, verdict=verdict, named=named, returned=returned, shots=taken)
