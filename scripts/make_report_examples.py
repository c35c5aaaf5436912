"""Example evidence reports (`leakmark trace --report`) for docs/report/: four cases, rendered by Chromium.

    python scripts/make_report_examples.py [--out DIR] [--chromium /usr/bin/chromium] [--keep]

Builds a workspace with a fixed key, issues the sample 公文 (notice-zh.pdf, 机密) to six recipients, and makes
four pieces of evidence from the issued copies with `leakmark.simulate`:

- photo: a simulated phone photo of copy 000003's page 1 (perspective, blur, uneven light, noise, JPEG);
- collusion: a leak assembled from two copies, scans of page 1 of copy 000002 and page 2 of copy 000005
  (two files, traced together);
- partial: a random crop of 6 % of copy 000004's page 1, blurred and JPEG-compressed (its size chosen so that
  it carries too little of the mark to name anyone: the inconclusive band);
- unregistered: a page of the English memo, which was never registered in this workspace (no match).

Each is traced with `python -m leakmark trace EVIDENCE --report NAME.html --json` (and `--report NAME.pdf`, the
PyMuPDF PDF), the JSON kept beside it. Chromium (headless, no network, a throw-away profile) takes a
screenshot of each HTML report and prints it to PDF; the PyMuPDF PDF's pages are drawn side by side.
The PNGs go to docs/report/. Run from the repository root (the checkout's `leakmark` is the one used).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import leakmark  # noqa: E402
from leakmark import simulate  # noqa: E402
from leakmark.rendering import render_page_array  # noqa: E402
from leakmark.samples import write_samples  # noqa: E402

RECIPIENTS = (("张伟", "办公室"), ("李娜", "财务处"), ("王强", "技术处"), ("刘洋", "人事处"), ("陈静", "保卫处"),
              ("赵敏", "档案室"))
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def _workspace(folder: Path) -> leakmark.Workspace:
    home = folder / "ws"
    home.mkdir(parents=True)
    key = home / "key"
    key.write_bytes(hashlib.sha256(b"leakmark report examples").digest())  # the same marks on every run
    key.chmod(0o600)
    return leakmark.Workspace.open(home)


def make_evidence(folder: Path, copies: list[Path], memo: Path) -> dict[str, list[Path]]:
    """The four pieces of evidence (one or more files each), written into `folder`."""
    page3 = render_page_array(copies[2], 0, 300, mode="rgb")
    photo = folder / "photo-of-copy-000003.jpg"
    cv2.imwrite(str(photo), simulate.phone_photo(page3, seed=11), [cv2.IMWRITE_JPEG_QUALITY, 92])

    scans = [folder / "scan-page-1.png", folder / "scan-page-2.png"]  # page 1 of 000002, page 2 of 000005
    cv2.imwrite(str(scans[0]), simulate.rotate(simulate.jpeg(render_page_array(copies[1], 0, 300), 90), 0.6))
    cv2.imwrite(str(scans[1]), simulate.rotate(simulate.jpeg(render_page_array(copies[4], 1, 300), 90), -0.4))

    part = simulate.crop(render_page_array(copies[3], 0, 300), 0.06, seed=1)
    fragment = folder / "fragment-of-a-page.jpg"
    cv2.imwrite(str(fragment), simulate.jpeg(cv2.GaussianBlur(part, (0, 0), 1.1), 60))

    other = folder / "unregistered-page.png"
    cv2.imwrite(str(other), simulate.jpeg(render_page_array(memo, 0, 200), 85))
    return {"photo": [photo], "collusion": scans, "partial": [fragment], "unregistered": [other]}


def trace_with_report(home: Path, evidence: list[Path], html: Path, lang: str | None = None) -> dict:
    """`python -m leakmark trace --report` (HTML, then PDF); returns the --json result."""
    results = []
    for target in (html, html.with_suffix(".pdf")):
        cmd = [sys.executable, "-m", "leakmark", "trace", *map(str, evidence), "--home", str(home), "--json",
               "--report", str(target), *(["--lang", lang] if lang else [])]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
        results.append(json.loads(done.stdout))
    html.with_suffix(".json").write_text(json.dumps(results[0], ensure_ascii=False, indent=2), encoding="utf-8")
    return results[0]


def chromium(browser: str, html: Path, png: Path, pdf: Path, height: int) -> None:
    """A screenshot of the report (cut below its end, in 256 colours to keep docs/ small) and a print to PDF."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        base = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        subprocess.run([*base, f"--screenshot={png}", f"--window-size=1200,{height}", html.as_uri()],
                       check=True, capture_output=True, timeout=180)
        subprocess.run([*base, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri()],
                       check=True, capture_output=True, timeout=180)
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
    rows = np.asarray(rgb)[:, 600]  # the page's middle column: the report's sheet ends where it turns grey
    used = np.nonzero((rows != rows[-1]).any(axis=1))[0]
    end = min(rgb.height, int(used.max()) + 40) if len(used) else rgb.height
    rgb.crop((0, 0, rgb.width, end)).quantize(256, method=Image.Quantize.FASTOCTREE).save(png, optimize=True)


def pdf_pages(pdf: Path, png: Path, dpi: int = 50) -> None:
    """Every page of the PyMuPDF report side by side, as one PNG (256 colours)."""
    from PIL import Image

    from leakmark._mupdf import pymupdf

    with pymupdf.open(pdf) as doc:
        pages = [np.frombuffer((p := page.get_pixmap(dpi=dpi)).samples, np.uint8).reshape(p.height, p.width, 3)
                 for page in doc]
    h = max(p.shape[0] for p in pages)
    gap = np.full((h, 12, 3), 200, np.uint8)
    row = np.concatenate([x for p in pages for x in (np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0))), gap)][:-1],
                         axis=1)
    Image.fromarray(row).quantize(256, method=Image.Quantize.FASTOCTREE).save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report", help="where the PNGs go")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--height", type=int, default=9000, help="screenshot window height in pixels (the "
                        "picture is cut below the report's end)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="leakmark-report-examples-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    ws = _workspace(work)
    samples = write_samples(work / "samples")
    notice = next(p for p in samples if p.name == "notice-zh.pdf")
    memo = next(p for p in samples if p.name == "memo-en.pdf")
    issued = leakmark.issue(ws, leakmark.IssueOptions(
        source=notice, recipients=tuple(leakmark.Recipient(n, u) for n, u in RECIPIENTS), output_dir=work / "copies",
        level="机密", period="1年", jobs=1))
    # one copy returned, so the report shows a status and history beyond `issued`
    from leakmark import register
    register.return_copy(ws, f"{issued.document.id}/000005", note="退回存档", operator="档案员 孙丽")
    (work / "evidence").mkdir(exist_ok=True)
    evidence = make_evidence(work / "evidence", [Path(c.path) for c in issued.copies], memo)
    cases = [("photo", "identified-photo", None), ("collusion", "collusion", None), ("partial", "inconclusive-partial",
             None), ("unregistered", "no-match", None), ("photo", "identified-photo-en", "en")]
    for key, name, lang in cases:
        html = work / "reports" / f"{name}.html"
        html.parent.mkdir(exist_ok=True)
        result = trace_with_report(ws.home, evidence[key], html, lang)
        named = [s["copy_no"] for s in result["suspects"] if result["verdict"] == "identified"
                 and s["false_accusation_probability"] < 1e-6]
        top = " ".join(f"{s['copy_no']} z={s['score']} FAP={s['false_accusation_probability']:.3g}"
                       for s in result["suspects"][:3])
        print(f"{name}: {result['verdict']}; named {', '.join(named) or 'nobody'}; top {top or '-'}", file=sys.stderr)
        if Path(args.chromium).exists():
            chromium(args.chromium, html, args.out / f"{name}.png", html.with_suffix(".chromium.pdf"), args.height)
        pdf_pages(html.with_suffix(".pdf"), args.out / f"{name}-pdf.png")
    print(f"reports in {work / 'reports'}; pictures in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
