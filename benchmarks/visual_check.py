"""Side-by-side crops at 100 %: original / marked copy / 10× difference, written to docs/.

    python -m benchmarks visual_check [--out docs]

Look at the PNGs (docs/shift-crop-<sample>.png, stamped in docs/visual-check.stamp.json): the copy must be
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
    args = ap.parse_args(argv)
    output = Results(args.out, Stamp.take(NAME, argv), "visual-check")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ws = Workspace.open(tmp_path / "ws")
        for sample in write_samples(tmp_path / "samples"):
            issued = issue(ws, IssueOptions(source=sample, recipients=(Recipient("A"),), output_dir=tmp_path, jobs=1))
            orig = render_page_array(sample, 0, 300, mode="rgb")
            copy = render_page_array(issued.copies[0].path, 0, 300, mode="rgb")
            y, x = (1150, 330) if "notice" in sample.name else (560, 280)
            name = f"shift-crop-{sample.stem}.png"
            cv2.imwrite(str(output.path(name)), cv2.cvtColor(panel(orig, copy, y, x), cv2.COLOR_RGB2BGR))
            output.record(name)
            print(output.path(name))


if __name__ == "__main__":
    main()
