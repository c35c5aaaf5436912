"""Speed: seconds per page-copy to issue, seconds to trace a 12-megapixel photo, blind-watermark for scale.

    python benchmarks/throughput.py [--copies 20]

- issue: the memo sample (2 pages) at 300 dpi with one job, for 1 and for N copies; the marginal cost of a
  page-copy is (T(N) - T(1)) / ((N - 1) × pages), the all-in cost T(N) / (N × pages).
- trace: a simulated 12 MP phone photo of a copy's page 1, with 50 and with 1,000 issued copies (the
  copies beyond those really issued are synthesised as ledger rows: scoring cost depends only on the
  number of rows), split by stage.
- blind-watermark: embed a 64-bit payload into the same page rendered at 150 dpi (its usual use), and
  extract it.
Writes benchmarks/results/throughput.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from leakmark import IssueOptions, Recipient, TraceOptions, Workspace, issue, simulate, trace
from leakmark.ledger import Ledger
from leakmark.samples import write_samples

RESULTS = Path(__file__).resolve().parent / "results"


def render(path: Path, page: int, dpi: int) -> np.ndarray:
    with pymupdf.open(path) as doc:
        pix = doc[page].get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3).copy()


def time_issue(sample: Path, copies: int, tmp: Path) -> float:
    ws = Workspace.open(tmp / f"ws-issue-{copies}")
    people = tuple(Recipient(f"r{i}") for i in range(copies))
    t0 = time.perf_counter()
    issue(ws, IssueOptions(source=sample, recipients=people, output_dir=tmp / f"out-{copies}", jobs=1))
    return time.perf_counter() - t0


def blind_watermark_times(page150: np.ndarray) -> tuple[float, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on import and on use
        from blind_watermark import WaterMark

        bits = [bool(b) for b in np.unpackbits(np.frombuffer(b"leakmark", np.uint8))]
        bwm = WaterMark(password_img=1, password_wm=1)
        bwm.read_img(img=cv2.cvtColor(page150, cv2.COLOR_RGB2BGR))
        bwm.read_wm(bits, mode="bit")
        t0 = time.perf_counter()
        marked = bwm.embed()
        t_embed = time.perf_counter() - t0
        t0 = time.perf_counter()
        WaterMark(password_img=1, password_wm=1).extract(embed_img=marked, wm_shape=len(bits), mode="bit")
        t_extract = time.perf_counter() - t0
    return t_embed, t_extract


def synthesise_copies(ws: Workspace, doc_id: str, total: int) -> None:
    with Ledger(ws) as ledger:
        doc = ledger.document(doc_id)
        have = ledger.copies(doc_id)
        template = have[0]
        start = max(c.copy_no for c in have) + 1
        extra = [replace(template, copy_no=n, recipient=f"synthetic {n}", path="")
                 for n in range(start, start + total - len(have))]
        ledger.record_run(doc, False, extra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--copies", type=int, default=20)
    args = ap.parse_args()
    # blind-watermark calls multiprocessing.set_start_method('fork') at import, which fails once any pool
    # has run: import it first (leakmark's own pool passes an explicit spawn context and is unaffected)
    with contextlib.redirect_stdout(io.StringIO()):
        import blind_watermark  # noqa: F401
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        sample = next(p for p in write_samples(tmp / "samples") if p.name == "memo-en.pdf")
        pages = 2
        t1 = time_issue(sample, 1, tmp)
        tn = time_issue(sample, args.copies, tmp)
        marginal = (tn - t1) / ((args.copies - 1) * pages)
        allin = tn / (args.copies * pages)
        # trace
        ws = Workspace.open(tmp / "ws-trace")
        res = issue(ws, IssueOptions(source=sample, recipients=tuple(Recipient(f"r{i}") for i in range(50)),
                                     output_dir=tmp / "out-trace"))
        photo = simulate.phone_photo(render(Path(res.copies[17].path), 0, 300), seed=5, megapixels=12.0)
        ev = tmp / "photo.jpg"
        cv2.imwrite(str(ev), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
        trace_rows = []
        for n in (50, 1000):
            if n > 50:
                synthesise_copies(ws, res.document.id, n)
            trace(ws, TraceOptions(evidence=(ev,)))  # warm-up (imports, caches)
            t0 = time.perf_counter()
            r = trace(ws, TraceOptions(evidence=(ev,)))
            dt = time.perf_counter() - t0
            ok = r.verdict == "identified" and r.suspects[0].copy.label == res.copies[17].copy_no
            trace_rows.append((n, dt, r.timings, ok, r.suspects[0].score))
        page150 = render(sample, 0, 150)
        t_embed, t_extract = blind_watermark_times(page150)
    out += [
        "# Throughput",
        "",
        f"Command: `python benchmarks/throughput.py --copies {args.copies}`  ",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {platform.system()}, 2 cores "
        "(shared with other work while measured: figures are upper bounds).",
        "",
        "## Issue (memo sample, 2 A4 pages, 300 dpi, one job)",
        "",
        "| measure | seconds |",
        "|---|---:|",
        f"| whole run, 1 copy | {t1:.2f} |",
        f"| whole run, {args.copies} copies | {tn:.2f} |",
        f"| per page-copy, marginal ((T{args.copies} − T1) / ({args.copies - 1} × 2)) | {marginal:.3f} |",
        f"| per page-copy, all-in (T{args.copies} / ({args.copies} × 2)) | {allin:.3f} |",
        "",
        "## Trace (simulated 12-megapixel phone photo of page 1)",
        "",
        "| issued copies | total s | load | locate | align | measure | decide | right copy named | score |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for n, dt, tm, ok, z in trace_rows:
        out.append(f"| {n} | {dt:.2f} | {tm.get('load', 0):.2f} | {tm.get('locate', 0):.2f} | {tm.get('align', 0):.2f} "
                   f"| {tm.get('measure', 0):.2f} | {tm.get('decide', 0):.3f} | {'yes' if ok else 'NO'} | {z:.1f} |")
    out += [
        "",
        "## blind-watermark, for comparison (same page at 150 dpi, 64-bit payload)",
        "",
        "| measure | seconds |",
        "|---|---:|",
        f"| blind-watermark embed, one page at 150 dpi | {t_embed:.2f} |",
        f"| blind-watermark extract | {t_extract:.2f} |",
        f"| leakmark per page-copy at 300 dpi (marginal) | {marginal:.3f} |",
        f"| ratio embed / leakmark marginal | {t_embed / marginal:.0f}× |",
        f"| ratio embed / leakmark all-in | {t_embed / allin:.0f}× |",
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "throughput.md").write_text("\n".join(out), encoding="utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    main()
