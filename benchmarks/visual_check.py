"""Side-by-side crops at 100 %: original / marked copy / 10× difference, written to docs/.

    python -m benchmarks visual_check [--out docs] [--dpi 600] [--raster]

Copies are made as `issue` makes them (vector pages where the PDF allows; `--raster`: page images) and
rendered at `--dpi` (600 by default, a laser printer's resolution). Look at the PNGs
(docs/<vector|raster>-crop-<sample>-<dpi>dpi.png, stamped in docs/visual-check.stamp.json): the copy must be
indistinguishable from the original to the eye.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import DOCS, Results, Stamp, argument_parser, arguments, script_name
from leakmark import IssueOptions, Recipient, Workspace, issue
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples

NAME = script_name(__file__)


def panel(orig: np.ndarray, copy: np.ndarray, y: int, x: int, h: int = 360, w: int = 900) -> np.ndarray:
    a, b = orig[y:y + h, x:x + w], copy[y:y + h, x:x + w]
    diff = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
    d = np.clip(255 - 10 * diff, 0, 255).astype(np.uint8)
    sep = np.full((h, 12, 3), 160, np.uint8)
    return np.hstack([a, sep, b, sep, cv2.cvtColor(d, cv2.COLOR_GRAY2RGB)])


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--out", type=Path, default=DOCS, help="folder for the PNGs (default docs/)")
    ap.add_argument("--dpi", type=int, default=600, help="rendering resolution of the crops (default 600)")
    ap.add_argument("--raster", action="store_true", help="page-image copies instead of vector ones")
    ap.add_argument("pdfs", nargs="*", type=Path, help="more PDFs to crop besides the samples (e.g. a Chinese PDF "
                    "with embedded fonts: the sample notice's font is not embedded, so its copies are images)")
    args = ap.parse_args(argv)
    output = Results(args.out, Stamp.take(NAME, argv), "visual-check")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ws = Workspace.open(tmp_path / "ws")
        for sample in [*write_samples(tmp_path / "samples"), *args.pdfs]:
            issued = issue(ws, IssueOptions(source=sample, recipients=(Recipient("A"),), output_dir=tmp_path, jobs=1,
                                            vector=not args.raster))
            orig = render_page_array(sample, 0, args.dpi, mode="rgb")
            copy = render_page_array(issued.copies[0].path, 0, args.dpi, mode="rgb")
            k = args.dpi / 300
            y, x = {"notice-zh.pdf": (1150, 330), "memo-en.pdf": (560, 280)}.get(sample.name, (800, 300))
            modes = issued.stats["page_modes"] or ["raster"]
            mode = modes[0]
            name = f"{mode}-crop-{sample.stem}-{args.dpi}dpi.png"
            crop = panel(orig, copy, int(y * k), int(x * k), int(360 * k), int(900 * k))
            cv2.imwrite(str(output.path(name)), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            output.record(name)
            print(output.path(name))


if __name__ == "__main__":
    main()
