"""An encoded page image, as the marking workers produce it and the PDF writers embed it."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PageImage:
    """An encoded page image ready to embed: JPEG (DCTDecode) or 1-bit Flate."""

    data: bytes
    width: int
    height: int
    colour: bool = False
    bilevel: bool = False
    text: bytes | None = None  # the page's invisible text layer, its glyphs moved as the image's units

    @staticmethod
    def bilevel_from(gray: np.ndarray) -> PageImage:
        """A 1-bit image (black where gray < 128): crisp text at a tenth of a greyscale JPEG's size."""
        bits = np.packbits(gray >= 128, axis=1)  # 1 = white in DeviceGray
        return PageImage(zlib.compress(bits.tobytes(), 6), gray.shape[1], gray.shape[0], bilevel=True)


@dataclass(frozen=True)
class PageContent:
    """A vector copy's page: its marked content stream (the rest of the page is the original's), and the
    marked content of the form XObjects with text that it draws (object number, content)."""

    data: bytes
    forms: tuple[tuple[int, bytes], ...] = ()


PageOutput = PageImage | PageContent  # what a marking job makes of one page of one copy
