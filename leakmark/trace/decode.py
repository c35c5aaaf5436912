"""Evidence images decoded to greyscale within a pixel budget, never at a size that could exhaust memory.

Locating looks at evidence at most `locate.EVIDENCE_SIDE` long and alignment works at the registered
page's resolution, so pixels beyond `MAX_EVIDENCE_PIXELS` add nothing; a 28000 × 28000 scan would take
0.8 GB as greyscale and several times that in the tracer. So images above the budget are reduced while
they are decoded:

- JPEG: libjpeg's own scaled decoding (1/2, 1/4, 1/8: Pillow's `draft`), then a box filter;
- PNG (not interlaced, up to 8 bits a channel, or 16-bit grey): the zlib stream is inflated a band of rows
  at a time and each band unfiltered by Pillow's own decoder (as a small PNG whose first row is the previous
  band's last, unfiltered), then averaged over f × f blocks: memory is a few bands, whatever the image size;
- anything else (TIFF, interlaced or 16-bit colour PNG) is decoded whole up to `MAX_FULL_DECODE_PIXELS`,
  then reduced; larger ones are refused with a typed error that says what to do.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from leakmark.errors import InputFileError
from leakmark.pdf.read import MAX_IMAGE_PIXELS, check_image_size

MAX_EVIDENCE_PIXELS = 50_000_000  # a 48-megapixel phone photo stays whole; a 1200 dpi A4 scan is halved
MAX_FULL_DECODE_PIXELS = 150_000_000  # whole-image decoding (TIFF and the like): 0.45 GB as RGB
MAX_STREAM_PIXELS = 4_000_000_000  # streamed PNGs: bounded in memory, not in time
MAX_STREAM_SIDE = 200_000  # and a band (a few rows) stays small: an A0 sheet at 1200 dpi is 56,000 px long
BAND_BYTES = 8 * 2**20  # greyscale bytes per decoded band of a streamed PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_SYNTHETIC_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # bytes per pixel → an 8-bit colour type with the same filter unit
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
                7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def factor_for(width: int, height: int, budget: int) -> int:
    """The smallest integer f such that the image reduced f times in each direction fits the budget."""
    f = max(1, math.ceil(math.sqrt(width * height / budget)))
    while math.ceil(width / f) * math.ceil(height / f) > budget:
        f += 1
    return f


@contextlib.contextmanager
def _own_size_checks() -> Iterator[None]:
    """Pillow's decompression-bomb limit is a module global: off while we open or decode (we check sizes
    ourselves, before decoding), and back on before control returns to the caller."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _unreadable(path: Path, exc: BaseException) -> InputFileError:
    return InputFileError(f"{path} is not a readable image ({type(exc).__name__}: {exc}); open it in an image "
                          "viewer and save it again as PNG or JPEG")


def gray_frames(path: Path, budget: int = MAX_EVIDENCE_PIXELS) -> Iterator[np.ndarray]:
    """Each frame of the image at `path` as greyscale uint8, at most `budget` pixels, EXIF orientation applied.

    Raises InputFileError for unreadable, damaged, too small or undecodably large images."""
    path = Path(path)
    try:
        with _own_size_checks():
            img = Image.open(path)
            n = getattr(img, "n_frames", 1)
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    with img:
        for i in range(n):
            try:
                with _own_size_checks():
                    img.seek(i)
                    frame = _frame(path, img, budget, page=i + 1 if n > 1 else None)
            except InputFileError:
                raise
            except (Exception, MemoryError) as exc:  # Pillow raises many kinds for damaged data
                raise _unreadable(path, exc) from exc
            yield frame


def _frame(path: Path, img: Image.Image, budget: int, page: int | None) -> np.ndarray:
    w, h = img.size
    check_image_size(path, (w, h), None, page=page)
    streamed = None
    if w * h > budget and img.format == "PNG":
        streamed = _png_streamable(img)
    if streamed is not None:
        if w * h > MAX_STREAM_PIXELS or max(w, h) > MAX_STREAM_SIDE:
            raise InputFileError(f"{path} is {w} × {h} pixels, more than leakmark reads (at most "
                                 f"{MAX_STREAM_PIXELS / 1e6:.0f} megapixels and {MAX_STREAM_SIDE:,} pixels a side); "
                                 "scale it down (300–600 dpi is enough)")
        orientation = _orientation(img, loaded=False)
        small = Image.fromarray(_png_reduced(path, streamed, factor_for(w, h, budget)))
    else:
        small = _jpeg(img, w, h, budget) if w * h > budget and img.format == "JPEG" else \
            _whole(path, img, w, h, factor_for(w, h, budget), page)
        orientation = _orientation(img, loaded=True)
    if orientation in _ORIENTATION:
        small = small.transpose(_ORIENTATION[orientation])
    out = np.asarray(small, dtype=np.uint8)
    return out if out.flags.writeable else out.copy()


def _orientation(img: Image.Image, loaded: bool) -> int:
    """The EXIF orientation. For a PNG not decoded (streamed) only an eXIf chunk before the image data counts:
    Pillow's `getexif` would decode the whole image to look for one after it."""
    try:
        if img.format == "PNG" and not loaded:
            raw = img.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
            return int(exif.get(0x0112, 1))
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block: the image as stored
        return 1


def _whole(path: Path, img: Image.Image, w: int, h: int, f: int, page: int | None) -> Image.Image:
    """Decode the whole frame (bounded by MAX_FULL_DECODE_PIXELS), greyscale, reduced f times."""
    if f > 1:
        check_image_size(path, (w, h), min(MAX_FULL_DECODE_PIXELS, MAX_IMAGE_PIXELS), page=page)
    img.load()
    if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit grey: its high byte (convert('L') would clip)
        wide = np.asarray(img).astype(np.uint32)
        gray = Image.fromarray((wide >> 8 if wide.max(initial=0) > 255 else wide).astype(np.uint8))
    else:
        gray = img.convert("L")
    return gray.reduce(f) if f > 1 else gray


def _jpeg(img: Image.Image, w: int, h: int, budget: int) -> Image.Image:
    """libjpeg decodes at 1/2, 1/4 or 1/8 scale directly; the rest of the way with a box filter."""
    f = math.sqrt(w * h / budget)
    img.draft("L", (max(1, int(w / f)), max(1, int(h / f))))
    gray = img.convert("L")
    k = factor_for(gray.width, gray.height, budget)
    return gray.reduce(k) if k > 1 else gray


# -- PNG, a band at a time ---------------------------------------------------------------------------------
class _Png:
    def __init__(self, width: int, height: int, depth: int, colour: int, palette: bytes, data_offset: int) -> None:
        self.width, self.height, self.depth, self.colour = width, height, depth, colour
        self.channels = _CHANNELS[colour]
        self.bpp = max(1, self.channels * depth // 8)  # the filters' byte distance
        self.row_bytes = (width * self.channels * depth + 7) // 8
        self.palette = palette
        self.data_offset = data_offset  # where the first chunk after IHDR starts


def _png_streamable(img: Image.Image) -> _Png | None:
    """What the band decoder needs, or None when it cannot stream this PNG (then: decoded whole)."""
    fp: BinaryIO | None = getattr(img, "fp", None)
    if fp is None:
        return None
    fp.seek(0)
    head = fp.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour, method, filt, interlace = struct.unpack(">IIBBBBB", head[16:29])
    if method != 0 or filt != 0 or interlace != 0 or colour not in _CHANNELS or width == 0 or height == 0:
        return None
    png = _Png(width, height, depth, colour, b"", 33)
    if png.bpp not in _SYNTHETIC_TYPE or (depth == 16 and colour in (2, 6)):
        return None  # 16-bit colour: Pillow's decoder would not give the bytes back unchanged
    if colour == 3:
        png.palette = _find_chunk(fp, 33, b"PLTE") or b""
    return png


def _find_chunk(fp: BinaryIO, offset: int, kind: bytes) -> bytes | None:
    """The first chunk of `kind` before the image data."""
    fp.seek(offset)
    while True:
        head = fp.read(8)
        if len(head) < 8:
            return None
        length, ctype = struct.unpack(">I4s", head)
        if ctype == kind:
            return fp.read(min(length, 768))
        if ctype in (b"IDAT", b"IEND"):
            return None
        fp.seek(length + 4, io.SEEK_CUR)


def _idat_pieces(fp: BinaryIO, offset: int, piece: int = 1 << 20) -> Iterator[bytes]:
    """The compressed image data, in pieces, straight from the file's IDAT chunks."""
    fp.seek(offset)
    while True:
        head = fp.read(8)
        if len(head) < 8:
            return
        length, ctype = struct.unpack(">I4s", head)
        if ctype == b"IEND":
            return
        if ctype != b"IDAT":
            fp.seek(length + 4, io.SEEK_CUR)
            continue
        left = length
        while left > 0:
            data = fp.read(min(piece, left))
            if not data:
                return
            left -= len(data)
            yield data
        fp.seek(4, io.SEEK_CUR)  # CRC


class _Rows:
    """Filtered scanlines (filter byte + row bytes) inflated on demand, never more than asked for."""

    def __init__(self, pieces: Iterator[bytes], line: int) -> None:
        self.pieces, self.line = pieces, line
        self.z = zlib.decompressobj()
        self.pending = b""

    def take(self, n: int) -> bytes:
        want = n * self.line
        out = bytearray()
        while len(out) < want:
            if not self.pending:
                if self.z.eof:
                    break
                self.pending = next(self.pieces, b"")
                if not self.pending:
                    break
            out += self.z.decompress(self.pending, want - len(out))
            self.pending = self.z.unconsumed_tail
        if len(out) < want:
            raise ValueError("the image data ends early (the file is truncated)")
        return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _unfilter(png: _Png, prev: bytes, filtered: bytes, rows: int) -> np.ndarray:
    """Undo the PNG filters of `rows` scanlines with Pillow's decoder: they go into a small 8-bit PNG with
    the same bytes per pixel, after the previous (already unfiltered) row stored unfiltered."""
    per = png.bpp
    width = png.row_bytes // per if png.row_bytes % per == 0 else None
    if width is None:  # cannot happen: bpp > 1 only for whole bytes per pixel
        raise ValueError("unexpected PNG row size")
    ihdr = struct.pack(">IIBBBBB", width, rows + 1, 8, _SYNTHETIC_TYPE[per], 0, 0, 0)
    body = zlib.compress(b"\x00" + prev + filtered, 1)
    blob = _PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    with Image.open(io.BytesIO(blob)) as band:
        band.load()
        raw = np.asarray(band, dtype=np.uint8).reshape(rows + 1, png.row_bytes)
    return raw


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Pillow's RGB → L (ITU-R 601-2, rounded as Pillow rounds)."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def _to_gray(png: _Png, raw: np.ndarray) -> np.ndarray:
    """Unfiltered rows (rows, row_bytes) → greyscale (rows, width), as Pillow's convert('L') would give."""
    rows, w, d = raw.shape[0], png.width, png.depth
    if png.colour in (0, 3) and d < 8:
        bits = np.unpackbits(raw, axis=1).reshape(rows, -1, d)[:, :w]
        weights = (2 ** np.arange(d - 1, -1, -1)).astype(np.uint8)  # most significant bit first
        values = (bits * weights).sum(axis=2, dtype=np.uint8)
        if png.colour == 0:
            return values * np.uint8(255 // (2**d - 1))
        return _palette_luma(png.palette)[values]
    if png.colour == 3:
        return _palette_luma(png.palette)[raw[:, :w]]
    step = 2 if d == 16 else 1  # 16 bits: the high byte
    samples = raw[:, ::step].reshape(rows, w, png.channels)
    if png.colour in (0, 4):
        return np.ascontiguousarray(samples[..., 0])
    return _luma(samples[..., :3])


def _palette_luma(palette: bytes) -> np.ndarray:
    pal = np.zeros((256, 3), np.uint8)
    entries = np.frombuffer(palette[: len(palette) // 3 * 3], np.uint8).reshape(-1, 3)[:256]
    pal[: len(entries)] = entries
    return _luma(pal)


def _png_reduced(path: Path, png: _Png, f: int) -> np.ndarray:
    """The PNG averaged over f × f blocks, decoded a band of rows at a time."""
    with open(path, "rb") as fp:
        rows = _Rows(_idat_pieces(fp, png.data_offset), png.row_bytes + 1)
        per_band = max(1, BAND_BYTES // max(1, f * png.width)) * f
        out = np.empty((math.ceil(png.height / f), math.ceil(png.width / f)), np.uint8)
        cols = np.arange(0, png.width, f)
        widths = np.minimum(f, png.width - cols).astype(np.uint32)
        prev = bytes(png.row_bytes)  # the row before the first is zeros (PNG filters)
        y = 0
        while y < png.height:
            n = min(per_band, png.height - y)
            raw = _unfilter(png, prev, rows.take(n), n)
            prev = raw[-1].tobytes()
            gray = _to_gray(png, raw[1:])
            blocks = math.ceil(n / f)
            starts = np.arange(0, n, f)
            sums = np.add.reduceat(np.add.reduceat(gray, starts, axis=0, dtype=np.uint32), cols, axis=1)
            heights = np.minimum(f, n - starts).astype(np.uint32)
            count = heights[:, None] * widths[None, :]
            out[y // f: y // f + blocks] = ((sums + count // 2) // count).astype(np.uint8)
            y += n
    return out
