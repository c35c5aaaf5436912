"""What an index of the previous segment format costs at the first trace after an upgrade: upgraded in place
(`Segment.upgraded`) against made again from the vault (`leakmark index rebuild`).

    python -m benchmarks index_upgrade --archive DIR [--rebuild-docs 5]

DIR is a workspace folder holding a registered archive (`archive_scale --keep K` leaves one in K/archive-N/ws). Its
index (the pages' and the outlines') is copied into a temporary folder and written as format 7 wrote it (each
posting naming its content only); every segment is then upgraded and written again, timed, and the files compared
with the archive's own (they must be the same bytes). The rebuild is timed on the first `--rebuild-docs` documents
(their entries made again from the vault's fingerprints and page images, as `rebuild` makes them) and scaled to
every page. Writes benchmarks/results/index-upgrade.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from leakmark import Workspace
from leakmark import index as page_index
from leakmark.errors import LeakmarkError
from leakmark.index.segment import FORMAT, ROW_BITS, Segment
from leakmark.ledger import Ledger

NAME = script_name(__file__)


def as_format_7(data: bytes) -> bytes:
    """A segment file as format 7 wrote it: each posting names its content only (`cellowner`)."""
    z = dict(np.load(io.BytesIO(data), allow_pickle=False))
    meta = json.loads(z.pop("meta").tobytes())
    z["cellowner"] = (z.pop("cellref") >> ROW_BITS).astype(np.uint32)
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps({**meta, "format": 7}).encode(), np.uint8), **z)
    return buf.getvalue()


def _upgrade(folder: Path, tmp: Path) -> tuple[int, int, float, bool]:
    """Pages, bytes, seconds to upgrade every segment the manifest in `folder` names (written as format 7 in `tmp`
    first), and whether every upgraded file is the same bytes as the archive's."""
    names = json.loads((folder / "manifest.json").read_bytes())["segments"]
    pages = size = 0
    seconds, same = 0.0, True
    for name in names:
        good = (folder / name).read_bytes()
        old = tmp / f"old-{name}"
        old.write_bytes(as_format_7(good))
        t0 = time.perf_counter()
        seg = Segment.upgraded(old)
        data = seg.to_bytes()
        new = tmp / f"seg-{hashlib.sha256(data).hexdigest()[:24]}.npz"
        new.write_bytes(data)
        seconds += time.perf_counter() - t0
        same &= data == good
        pages += seg.entries
        size += len(good)
        del seg, data
        old.unlink()
        new.unlink()
    return pages, size, seconds, same


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--archive", type=Path, required=True, help="the workspace folder of a registered archive")
    ap.add_argument("--rebuild-docs", type=int, default=5, help="documents whose entries are made again, timed")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        ws = Workspace.open(args.archive, create=False)
    except LeakmarkError as exc:
        ap.error(f"--archive {args.archive}: {exc}")
    stamp = Stamp.take(NAME, argv)
    load = os.getloadavg()
    with Ledger(ws) as ledger:
        docs = ledger.documents()
    rows = []
    with tempfile.TemporaryDirectory(prefix="leakmark-upgrade-") as tmp_s:
        for label, folder in (("pages", page_index.index_dir(ws)), ("outlines", page_index.index_dir(ws) / "outline")):
            pages, size, seconds, same = _upgrade(folder, Path(tmp_s))
            rows.append((label, pages, size, seconds, same))
            log(f"{label}: {pages:,} pages, {size / 1e6:.1f} MB upgraded in {seconds:.1f} s, same bytes: {same}")
    sample = docs[:args.rebuild_docs]
    t0 = time.perf_counter()
    for d in sample:
        page_index._entries(ws, d)
        page_index._outlines(ws, d.sha256, d.pages, d.dpi)
    sample_pages = sum(d.pages for d in sample)
    per_page = (time.perf_counter() - t0) / max(sample_pages, 1)
    total = sum(d.pages for d in docs)
    after = os.getloadavg()
    up = sum(r[3] for r in rows)
    lines = ["# Upgrading an index of the previous format", "",
             f"Machine load (1/5/15-minute averages): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end, on {os.cpu_count()} cores.", "",
             f"Archive: {total:,} registered pages in {len(docs):,} documents ({args.archive}). Its index written as "
             f"format 7 and upgraded to format {FORMAT} segment by segment (`Segment.upgraded`, then written), "
             f"against the rebuild from the vault, timed on {sample_pages} pages ({len(sample)} documents) and "
             "scaled.", "",
             "| index | pages | MB | upgrade s | upgraded files the same bytes as the archive's |",
             "|---|---:|---:|---:|---|"]
    lines += [f"| {label} | {pages:,} | {size / 1e6:.1f} | {seconds:.1f} | {'yes' if same else 'NO'} |"
              for label, pages, size, seconds, same in rows]
    lines += ["", f"**Upgrade in place: {up:.1f} s for {total:,} pages ({1000 * up / max(total, 1):.1f} ms a page); "
              f"rebuild from the vault: {per_page:.3f} s a page, so about {per_page * total / 60:.1f} min "
              f"({per_page * total / max(up, 1e-9):.0f}× longer).**", ""]
    output = Results(args.results, stamp, "index-upgrade")
    output.write_markdown("index-upgrade.md", lines)
    log(f"{output.path('index-upgrade.md')}")


if __name__ == "__main__":
    main()
