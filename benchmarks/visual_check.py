"""Side-by-side crops at 100 %: original / marked copy / 10× difference, written to docs/.

    python benchmarks/visual_check.py

Look at the PNGs: the copy must be indistinguishable from the original to the eye.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from leakmark import IssueOptions, Recipient, Workspace, issue
from leakmark.samples import write_samples

DOCS = Path(__file__).resolve().parent.parent / "docs"


def render(path: Path, page: int = 0) -> np.ndarray:
    with pymupdf.open(path) as doc:
        pix = doc[page].get_pixmap(dpi=300, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3).copy()


def panel(orig: np.ndarray, copy: np.ndarray, y: int, x: int, h: int = 360, w: int = 900) -> np.ndarray:
    a, b = orig[y:y + h, x:x + w], copy[y:y + h, x:x + w]
    diff = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
    d = np.clip(255 - 10 * diff, 0, 255).astype(np.uint8)
    sep = np.full((h, 12, 3), 160, np.uint8)
    return np.hstack([a, sep, b, sep, cv2.cvtColor(d, cv2.COLOR_GRAY2RGB)])


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ws = Workspace.open(tmp_path / "ws")
        for sample in write_samples(tmp_path / "samples"):
            res = issue(ws, IssueOptions(source=sample, recipients=(Recipient("A"),), output_dir=tmp_path, jobs=1))
            orig, copy = render(sample), render(res.copies[0].path)
            y, x = (1150, 330) if "notice" in sample.name else (560, 280)
            out = DOCS / f"shift-crop-{sample.stem}.png"
            cv2.imwrite(str(out), cv2.cvtColor(panel(orig, copy, y, x), cv2.COLOR_RGB2BGR))
            print(out)


if __name__ == "__main__":
    main()
