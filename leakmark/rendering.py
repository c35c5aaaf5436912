"""A PDF page as a numpy array: the one rendering helper for the code, the tests and the benchmarks.

    from leakmark.rendering import render_page_array
    gray = render_page_array(path)                     # page 1 at 300 dpi, uint8 H×W
    bgr = render_page_array(path, 2, 150, mode="bgr")  # page 3 at 150 dpi, uint8 H×W×3 for OpenCV

Every rendering is PyMuPDF's `get_pixmap(dpi=..., colorspace=..., alpha=False)`: `gray` renders in MuPDF's
grey colour space (which is not the same as converting an RGB rendering to grey), `rgb` and `bgr` in RGB,
`bgr` with the channels reversed. PyMuPDF is imported on first use, so `import leakmark` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from leakmark.errors import EncryptedPdfError

if TYPE_CHECKING:
    import pymupdf

Mode = Literal["gray", "rgb", "bgr"]
MODES: tuple[str, ...] = ("gray", "rgb", "bgr")


def page_array(page: pymupdf.Page, dpi: int = 300, *, mode: Mode = "gray") -> np.ndarray:
    """An open PyMuPDF page as uint8: H×W for `gray`, H×W×3 for `rgb` / `bgr`; a fresh, writable array."""
    from leakmark._mupdf import pymupdf

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    space = pymupdf.csGRAY if mode == "gray" else pymupdf.csRGB
    pix = page.get_pixmap(dpi=dpi, colorspace=space, alpha=False)
    shape = (pix.height, pix.width) if mode == "gray" else (pix.height, pix.width, 3)
    arr = np.frombuffer(pix.samples, dtype=np.uint8).reshape(shape)
    return np.ascontiguousarray(arr[:, :, ::-1]) if mode == "bgr" else arr.copy()


def render_page_array(source: Path | str | bytes, page: int = 0, dpi: int = 300, *, mode: Mode = "gray",
                      password: str | None = None) -> np.ndarray:
    """Page `page` (0-based) of a PDF file, or of PDF bytes, rendered at `dpi`; see `page_array`."""
    with _open(source, password) as doc:
        return page_array(doc[page], dpi, mode=mode)


def render_pages(source: Path | str | bytes, dpi: int = 300, *, mode: Mode = "gray", password: str | None = None,
                 pages: Iterable[int] | None = None) -> list[np.ndarray]:
    """Every page (or the 0-based `pages`) of a PDF rendered at `dpi`, the document opened once."""
    with _open(source, password) as doc:
        return [page_array(doc[i], dpi, mode=mode) for i in (range(doc.page_count) if pages is None else pages)]


def _open(source: Path | str | bytes, password: str | None) -> pymupdf.Document:
    from leakmark._mupdf import pymupdf

    if isinstance(source, bytes | bytearray):
        doc = pymupdf.open(stream=bytes(source), filetype="pdf")
    else:
        doc = pymupdf.open(Path(source))
    if doc.needs_pass and not (password and doc.authenticate(password)):
        doc.close()
        what = "the PDF bytes" if isinstance(source, bytes | bytearray) else str(source)
        raise EncryptedPdfError(f"the password given for {what} is wrong" if password else
                                f"{what} is encrypted; give its password (password=...)")
    return doc
