"""The `blind` layer: a 96-bit payload in blind-watermark's DWT-DCT-SVD mark, readable without the original.

What it is for: a lossless (or lightly compressed) digital copy of a page at its issue size, read by ANY
leakmark workspace, even one that has neither our original nor our key ("document D…, copy N"); only the
issuing office, holding the key, can confirm the 32 check bits, so nobody can forge a payload that frames
a colleague. Everything else (paper, photos, rescaling) is the shift and tone layers' job.

The embedding is exactly blind-watermark's (version 0.4.4, `bwm_core.WaterMarkCore`, slow mode):
- the page is padded to even size with zeros, a haar DWT (level 1) is taken, the LL band is cut into 4×4
  blocks row-major (the right and bottom remainder that does not fill a block is left alone), i.e. 8×8
  pixel blocks of the page anchored at its top left corner;
- block i carries bit `wm[i % 96]`: DCT (OpenCV), the 16 coefficients permuted by the block's row of
  `random_strategy1(PASSWORD_IMG, blocks, 16)`, SVD, the largest singular value quantised with step D1
  and the second with step D2 (value `(s // d + 1/4 + bit/2) * d`), and back;
- the payload is permuted first like `WaterMark.read_wm` does with `PASSWORD_WM`.
So `blind_watermark.WaterMark(password_wm=PASSWORD_WM, password_img=PASSWORD_IMG).extract(img,
wm_shape=96, mode='bit')` reads our payload when every block is marked (`planes(..., paper=None)`); with
the visibility mask below its extractor averages unmarked blocks in, so only our reader (`read`) reads it.

Differences from the package, all deliberate:
- luminance only: a grey page stays grey (the package also marks U and V, which tints white paper);
  a BGR page is converted to YUV, its Y marked, and converted back, as the package does per channel;
- blocks that are mostly paper white in the original (half or more of their pixels >= PAPER) are left
  unchanged: on white office paper the mark otherwise puts 2–4 grey-level 8×8 blotches on every blank
  block (speckle once a printer halftones it), and where paper is 255 the bit-1 embed is clipped, so
  those blocks read as a coin toss anyway (measured: half of the bit-1 blocks that are 60 % paper read 0).
  The reader reads only blocks with little paper in the evidence (fraction of pixels >= BLANK below
  READ_BELOW), weighted by how little: that took JPEG q90 on a text page from 14 bit errors to 0;
- flat blocks (grey-level deviation below MIN_TEXTURE) are left unchanged too: on a smooth gradient or a
  flat tint fill the quantisation showed as an 8×8 mottle at 100 % (docs/layers.md); the reader skips
  blocks that flat in the evidence;
- the bits are decoded like the package's 'bit' mode (two-means threshold on the averaged values), which
  also absorbs a common bias (unmarked ink blocks lean towards 1);
- vectorised: the blocks are transformed together (NumPy's batched SVD runs the same LAPACK routine per
  block, and the DCT is OpenCV's per block), which the tests check to be bit-identical to the package's
  per-block loop, several times faster;
- per copy nothing is computed: every embed equals, block by block, either the all-zeros or the all-ones
  embed (the haar DWT is local), so `planes` embeds twice per page and `apply` picks per block.

The shuffles use numpy's legacy `RandomState`, whose streams numpy freezes (NEP 19): marks made today
read after upgrades. The two passwords are public constants on purpose (the payload is meant to be read
keylessly); the secret is in the check bits.
"""

from __future__ import annotations

import cv2
import numpy as np

from leakmark.errors import BadRequestError
from leakmark.layers.base import MeasureContext, Measurement
from leakmark.layers.blind_payload import _DOC_HEX, CHECK_BYTES, FORMAT_VERSION, PAYLOAD_BITS, BlindRead, payload_bits
from leakmark.layers.blind_payload import verify as verify  # the layer's API: read, then verify with the key
from leakmark.layers.settings import BlindSettings, LayerName

LAYER = LayerName.blind
D1, D2 = 36, 20  # blind-watermark's default quantisation steps (largest and second singular value)
# blind-watermark's two shuffle seeds, public by design (any leakmark workspace reads the payload):
PASSWORD_IMG = 0x4C4B4D31  # b"LKM1": permutes each block's DCT coefficients
PASSWORD_WM = 0x4C4B4D31  # permutes the payload bits over the block cycle
BLOCK = 8  # pixels: one 4×4 block of the half-size LL band
PAPER = 245  # pixels at or above this are paper white
MARK_BELOW = 0.5  # a block is marked only when less than this fraction of its original pixels is paper
# ...and when it has texture: on a flat tint or a smooth gradient the quantisation steps show as an 8×8
# mottle (docs/layers.md). The reader skips blocks flatter than READ_TEXTURE in the evidence.
MIN_TEXTURE = 6.0
READ_TEXTURE = MIN_TEXTURE  # measured: lower lets unmarked blocks dilute the read (a photo page failed at 4)
BLANK = 250  # the reader measures paper in the evidence as pixels at or above this...
READ_BELOW = 0.3  # ...reads only blocks with less than this fraction of it, weighted by (1 - fraction)²
# `read` returns None below this soft confidence (mean |2 (v - threshold)| over the 96 averaged bits) and
# when the 4 version bits are not 0001 (1 in 16 by chance). On unmarked pages (benchmarks/blind_layer.py,
# n=176: text, photographs, grid offsets, JPEG) the confidence had median 0.07, 99th percentile 0.29, max
# 0.41, and 0 of 186 unmarked reads returned a payload; lossless marked text pages read at 0.69-0.96.
MIN_CONFIDENCE = 0.35
AMBIGUOUS = 0.2  # a bit whose |2v - 1| is below this is counted as ambiguous
# A read payload either verifies under the key or not. An innocent copy's 32 check bits match by accident
# with probability 2^-32 (the tracer turns that into a score, `trace.decide.exact_score`: about 6.41).
MATCH_BITS = 8 * CHECK_BYTES



# ---------------------------------------------------------------------------------------------- package


def _shufflers(n_blocks: int) -> np.ndarray:
    """(n_blocks, 16) per-block coefficient permutations, as blind-watermark's `random_strategy1` makes
    them (the tests compare with the package, which is no longer needed at run time)."""
    return np.random.RandomState(PASSWORD_IMG).random(size=(n_blocks, 16)).argsort(axis=1)


def _wm_order() -> np.ndarray:
    """order[k] = the payload bit that block-cycle position k carries (`WaterMark.read_wm`'s shuffle)."""
    order = np.arange(PAYLOAD_BITS)
    np.random.RandomState(PASSWORD_WM).shuffle(order)  # legacy RandomState: frozen stream
    return order


# ---------------------------------------------------------------------------------------------- blocks


def capacity(shape: tuple[int, ...]) -> int:
    """How many blocks a page of this pixel size has (the package needs more than PAYLOAD_BITS)."""
    h, w = shape[:2]
    return (((h + 1) // 2) // 4) * (((w + 1) // 2) // 4)


def _luma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(Y as float32, the float YUV image or None for a grey page)."""
    if image.ndim == 2:
        return image.astype(np.float32), None
    yuv = cv2.cvtColor(image[:, :, :3].astype(np.float32), cv2.COLOR_BGR2YUV)
    return np.ascontiguousarray(yuv[:, :, 0]), yuv


def _dwt_blocks(y: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, tuple[int, int]]:
    """The package's read_img_arr for one channel: zero-pad to even size, haar DWT, 4×4 LL blocks."""
    import pywt  # blind-watermark's own dependency

    h, w = y.shape
    padded = cv2.copyMakeBorder(y, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
    ca, hvd = pywt.dwt2(padded, "haar")
    by, bx = ca.shape[0] // 4, ca.shape[1] // 4
    blocks = ca[:4 * by, :4 * bx].astype(np.float32).reshape(by, 4, bx, 4).transpose(0, 2, 1, 3)
    return ca, hvd, np.ascontiguousarray(blocks).reshape(by * bx, 4, 4), (by, bx)


def _dct_shuffled(blocks: np.ndarray, shuffler: np.ndarray) -> np.ndarray:
    coef = np.empty_like(blocks)
    for i in range(blocks.shape[0]):  # OpenCV's DCT block by block: the package's exact float32 values
        coef[i] = cv2.dct(blocks[i])
    return np.take_along_axis(coef.reshape(-1, 16), shuffler, axis=1).reshape(-1, 4, 4)


def _validate(image: np.ndarray, what: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise BadRequestError(f"{what} must be a uint8 numpy array, not {getattr(image, 'dtype', type(image))}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise BadRequestError(f"{what} must be greyscale (H, W) or BGR (H, W, 3), not shape {image.shape}")


def _paper_fraction(gray: np.ndarray, grid: tuple[int, int], level: float) -> np.ndarray:
    """(by, bx): the fraction of each 8×8 block's pixels at or above `level` (a block that the page's odd
    size cuts to 7 pixels counts the pixels it has)."""
    by, bx = grid
    h, w = gray.shape
    ph, pw = max(0, by * BLOCK - h), max(0, bx * BLOCK - w)
    if ph or pw:
        gray = cv2.copyMakeBorder(gray, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    view = gray[:by * BLOCK, :bx * BLOCK].reshape(by, BLOCK, bx, BLOCK)
    return (view >= level).mean(axis=(1, 3))


def _block_std(gray: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(by, bx): the standard deviation of each 8×8 block's grey levels (its texture)."""
    by, bx = grid
    h, w = gray.shape
    ph, pw = max(0, by * BLOCK - h), max(0, bx * BLOCK - w)
    g: np.ndarray = gray.astype(np.float32)
    if ph or pw:
        g = cv2.copyMakeBorder(g, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    return g[:by * BLOCK, :bx * BLOCK].reshape(by, BLOCK, bx, BLOCK).std(axis=(1, 3))


def _words(a: np.ndarray, by: int, bx: int) -> np.ndarray:
    """The first by × bx blocks of a page as (by, 8, bx, channels) uint64 words: one word holds a block's
    8 pixels of one row (and channel group), so choosing per block is copying 8-byte words."""
    rows = a[:by * BLOCK, :bx * BLOCK].reshape(by * BLOCK, -1)
    words: np.ndarray = rows.view(np.uint64)  # raises ValueError when the rows are not contiguous
    words = words.reshape(by, BLOCK, bx, -1)
    if not np.shares_memory(words, a):  # pragma: no cover - reshape never copies a row-contiguous view
        raise ValueError("not a view")
    return words


def _select(dst: np.ndarray, src: np.ndarray, chosen: np.ndarray) -> None:
    """Copy the 8×8 blocks where `chosen` (by, bx) is True from `src` into `dst`. The block grid may
    overhang the page by one pixel (odd sizes: the package pads with zeros); those blocks are cut."""
    by, bx = chosen.shape
    h, w = dst.shape[:2]
    fy, fx = min(by, h // BLOCK), min(bx, w // BLOCK)
    extra = (1,) * (dst.ndim - 2)
    try:
        d, s = _words(dst, fy, fx), _words(src, fy, fx)
        np.copyto(d, s, where=np.broadcast_to(chosen[:fy, None, :fx, None], d.shape))
    except ValueError:  # not row-contiguous: pixel by pixel
        view = (fy, BLOCK, fx, BLOCK, *dst.shape[2:])
        np.copyto(dst[:fy * BLOCK, :fx * BLOCK].reshape(view), src[:fy * BLOCK, :fx * BLOCK].reshape(view),
                  where=np.broadcast_to(chosen[:fy, :fx].reshape(fy, 1, fx, 1, *extra), view))
    if bx > fx:  # the cut column of blocks
        rows = slice(0, fy * BLOCK)
        mask = np.repeat(chosen[:fy, fx], BLOCK)[:, None].reshape(-1, 1, *extra)
        np.copyto(dst[rows, fx * BLOCK:], src[rows, fx * BLOCK:], where=mask)
    if by > fy:  # the cut row of blocks, with the corner
        row = np.zeros(w, bool)
        cells = np.repeat(chosen[fy], BLOCK)[:w]
        row[:cells.size] = cells
        mask = row.reshape(1, w, *extra)
        np.copyto(dst[fy * BLOCK:], src[fy * BLOCK:], where=mask)


def planes(base: np.ndarray, paper: int | None = PAPER) -> tuple[np.ndarray, np.ndarray]:
    """The page embedded with every bit 0 and with every bit 1 (uint8, same shape as `base`, rounded and
    clipped as stored). `paper`: blocks with MARK_BELOW or more of their pixels >= this stay unchanged
    (None: mark every block, as the package does). Raises BadRequestError for a page too small for 96 bits.
    A page with nothing but paper gets two planes equal to itself: there is nowhere to put the mark."""
    _validate(base, "the page")
    n = capacity(base.shape)
    if n <= PAYLOAD_BITS:
        h, w = base.shape[:2]
        raise BadRequestError(
            f"the page is too small for the blind layer: {w}×{h} pixels hold {n} blocks of 8×8, more than "
            f"{PAYLOAD_BITS} are needed (a square page needs at least 80×80 pixels); render at a higher dpi "
            "or leave the blind layer out")
    y, yuv = _luma(base)
    h, w = y.shape
    ca, hvd, blocks, (by, bx) = _dwt_blocks(y)
    gray = base if base.ndim == 2 else cv2.cvtColor(base[:, :, :3], cv2.COLOR_BGR2GRAY)
    keep = np.ones((by, bx), bool) if paper is None else (
        (_paper_fraction(gray, (by, bx), paper) < MARK_BELOW) & (_block_std(gray, (by, bx)) >= MIN_TEXTURE))
    # only the blocks that will be marked are transformed: the others are put back from the original below
    # (the haar DWT is local, so a block's pixels depend on its own coefficients only); on a text page that
    # is most of the page, and the per-block DCTs were most of this function's time
    idx = np.flatnonzero(keep.ravel())
    shuffler = _shufflers(by * bx)[idx]
    svd = np.linalg.svd(_dct_shuffled(blocks[idx], shuffler)) if len(idx) else None
    out = []
    for bit in (0, 1):
        marked_blocks = blocks.copy()
        if svd is not None:
            u, s, v = svd
            q = s.copy()
            q[:, 0] = (q[:, 0] // D1 + 1 / 4 + 1 / 2 * bit) * D1
            q[:, 1] = (q[:, 1] // D2 + 1 / 4 + 1 / 2 * bit) * D2
            m = np.matmul(u, np.matmul(q[:, :, None] * np.eye(4, dtype=np.float32), v)).reshape(-1, 16)
            back = np.empty_like(m)
            np.put_along_axis(back, shuffler, m, axis=1)
            back = back.reshape(-1, 4, 4)
            for i in range(back.shape[0]):
                back[i] = cv2.idct(back[i])
            marked_blocks[idx] = back
        marked_ca = ca.copy()
        marked_ca[:4 * by, :4 * bx] = marked_blocks.reshape(by, bx, 4, 4).transpose(0, 2, 1, 3).reshape(4 * by, 4 * bx)
        import pywt

        y2 = pywt.idwt2((marked_ca, hvd), "haar")[:h, :w]
        if yuv is None:
            plane = np.clip(np.rint(y2), 0, 255).astype(np.uint8)
        else:
            yuv2 = yuv.copy()
            yuv2[:, :, 0] = y2
            bgr = np.clip(np.rint(cv2.cvtColor(yuv2, cv2.COLOR_YUV2BGR)), 0, 255).astype(np.uint8)
            plane = bgr if base.shape[2] == 3 else np.dstack([bgr, base[:, :, 3]])
        final = base.copy()  # outside the marked blocks the page is the original, exactly
        _select(final, plane, keep)
        out.append(final)
    return out[0], out[1]


def block_bits(bits: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(by, bx) bool: the bit each block carries for these 96 payload bits."""
    bits = np.asarray(bits).astype(bool).ravel()
    if bits.size != PAYLOAD_BITS:
        raise BadRequestError(f"the blind payload has {PAYLOAD_BITS} bits, not {bits.size}")
    by, bx = grid
    return np.resize(bits[_wm_order()], by * bx).reshape(by, bx)


def apply(zero: np.ndarray, one: np.ndarray, bits: np.ndarray, out: np.ndarray) -> None:
    """Write the copy carrying these 96 payload bits into `out` (same shape as the planes): each 8×8
    block from `one` where its bit is 1, else from `zero`."""
    h, w = zero.shape[:2]
    ones = block_bits(bits, (((h + 1) // 2) // 4, ((w + 1) // 2) // 4))
    out[:] = zero
    _select(out, one, ones)


# ---------------------------------------------------------------------------------------------- reading


def _two_means(v: np.ndarray) -> float:
    """The threshold of blind-watermark's `one_dim_kmeans` (its 'bit' mode decoding)."""
    threshold = (v.min() + v.max()) / 2
    for _ in range(300):
        lo, hi = v[v <= threshold], v[v > threshold]
        if lo.size == 0 or hi.size == 0:
            break
        new = (lo.mean() + hi.mean()) / 2
        if abs(new - threshold) < 1e-6:
            threshold = new
            break
        threshold = new
    return float(threshold)


def soft_bits(image: np.ndarray, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, int] | None:
    """(v per payload bit in [0, 1], blocks used): the package's extractor on the luminance, over the
    blocks with little paper, weighted. None when the image has too few readable blocks."""
    _validate(image, "the image")
    y, _ = _luma(image)
    if shape is not None:
        if len(shape) < 2 or int(shape[0]) <= 0 or int(shape[1]) <= 0:
            raise BadRequestError(f"shape must be (height, width) in pixels, not {shape}")
        th, tw = int(shape[0]), int(shape[1])
        if (th, tw) != y.shape:
            shrink = th * tw < y.shape[0] * y.shape[1]
            y = cv2.resize(y, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    if capacity(y.shape) <= PAYLOAD_BITS:
        return None
    _ca, _hvd, blocks, (by, bx) = _dwt_blocks(y)
    s = np.linalg.svd(_dct_shuffled(blocks, _shufflers(by * bx)), compute_uv=False)
    value = ((s[:, 0] % D1 > D1 / 2) * 3 + (s[:, 1] % D2 > D2 / 2) * 1) / 4  # bwm_core.block_get_wm_slow
    frac = _paper_fraction(np.rint(y), (by, bx), BLANK).ravel()
    textured = _block_std(y, (by, bx)).ravel() >= READ_TEXTURE
    weight = np.where((frac < READ_BELOW) & textured, (1 - frac) ** 2, 0.0)
    pos = np.arange(by * bx) % PAYLOAD_BITS
    total = np.bincount(pos, weights=weight, minlength=PAYLOAD_BITS)
    if total.min() <= 0:
        return None
    v_cycle = np.bincount(pos, weights=weight * value, minlength=PAYLOAD_BITS) / total
    v = np.empty(PAYLOAD_BITS)
    v[_wm_order()] = v_cycle  # WaterMark.extract_decrypt
    return v, int((weight > 0).sum())


def read(image: np.ndarray, shape: tuple[int, int] | None = None) -> BlindRead | None:
    """Read the payload keylessly from a page image (grey or BGR uint8), resized first to `shape`
    ((height, width) of the page at its issue dpi) when given; without it the image is read at its own
    size. None when nothing readable is there: too small, too little confidence, or not format 1."""
    found = soft_bits(image, shape)
    if found is None:
        return None
    v, used = found
    if float(np.ptp(v)) < 1e-9:
        return None
    threshold = _two_means(v)
    soft = 2 * (v - threshold)
    confidence = float(np.abs(soft).mean())
    bits = (soft > 0).astype(np.uint8)
    value = int.from_bytes(np.packbits(bits).tobytes(), "big")
    version, doc, copy_no = value >> 92, (value >> 52) & (2**40 - 1), (value >> 32) & (2**20 - 1)
    if confidence < MIN_CONFIDENCE or version != FORMAT_VERSION or copy_no > 999_999:
        return None
    return BlindRead(version=version, doc_id=f"D{doc:0{_DOC_HEX}x}", copy_no=copy_no,
                     check=(value & (2**32 - 1)).to_bytes(CHECK_BYTES, "big"), soft=soft.astype(np.float32),
                     threshold=threshold, confidence=confidence, ambiguous=int((np.abs(soft) < AMBIGUOUS).sum()),
                     blocks=used)


SETTINGS = BlindSettings(version=FORMAT_VERSION, d1=D1, d2=D2, password=PASSWORD_IMG, bits=PAYLOAD_BITS)


class BlindLayer:
    """Pixels of the page, but read as a payload (`read`, then `verify` with the key), not as a codeword."""

    name = LAYER
    codeword = False
    on_pages = True

    def material(self, key: bytes, doc_id: str, copy_no: int, page: int) -> bytes:
        return np.packbits(payload_bits(key, doc_id, copy_no)).tobytes()

    def prepare(self, base: np.ndarray, gray: np.ndarray, dpi: int) -> tuple[np.ndarray, ...]:
        return planes(base)

    def measure(self, ctx: MeasureContext) -> Measurement | None:
        return None


LAYER_IMPL = BlindLayer()
