"""The `blind` layer: blind-watermark's own algorithm, per-copy by choosing blocks from two planes, a
keyless payload with a keyed check, and none of the package's side effects."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.common import import_blind_watermark
from leakmark import simulate
from leakmark.errors import BadRequestError
from leakmark.layers import blind
from leakmark.rendering import render_page_array
from leakmark.samples import synthetic_photo
from leakmark.trace.decide import exact_score

KEY = bytes(range(32))
DOC = "D3fa2c0b9e1"
ROOT = Path(__file__).resolve().parent.parent


def _photo(h: int, w: int, seed: int, lo: int = 0, hi: int = 255) -> np.ndarray:
    """The shared synthetic photograph, squeezed into [lo, hi] (mid-tones: nothing clips when marked)."""
    return (lo + synthetic_photo(h, w, seed).astype(np.float32) * (hi - lo) / 255).astype(np.uint8)


def _bwm_core():
    """`blind_watermark.bwm_core`, the oracle: its package prints to stdout and sets the multiprocessing
    start method at import, so it is imported with both neutralised (leakmark itself never imports it)."""
    import_blind_watermark()
    import blind_watermark.bwm_core as core

    return core


def test_shufflers_are_the_packages_random_strategy1():
    for n in (1, 97, 4096):
        assert np.array_equal(blind._shufflers(n), _bwm_core().random_strategy1(blind.PASSWORD_IMG, n, 16))


def _bgr_core_embed(bgr: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The package's own embed (WaterMark API, all channels, float result) with our public passwords."""
    _bwm_core()  # imported without its side effects first
    with contextlib.redirect_stdout(io.StringIO()):
        from blind_watermark import WaterMark

        wm = WaterMark(password_wm=blind.PASSWORD_WM, password_img=blind.PASSWORD_IMG)
        wm.read_img(img=bgr)
        wm.read_wm([bool(b) for b in bits], mode="bit")
        return wm.embed()


@pytest.fixture(scope="module")
def memo(samples_dir: Path) -> np.ndarray:
    return render_page_array(samples_dir / "memo-en.pdf", 0, 300)


@pytest.fixture(scope="module")
def memo_planes(memo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return blind.planes(memo)


def _copy(planes: tuple[np.ndarray, np.ndarray], bits: np.ndarray) -> np.ndarray:
    out = np.empty_like(planes[0])
    blind.apply(planes[0], planes[1], bits, out)
    return out


def test_payload_layout():
    bits = blind.payload_bits(KEY, DOC, 123456)
    assert bits.dtype == np.uint8 and bits.shape == (96,)
    value = int.from_bytes(np.packbits(bits).tobytes(), "big")
    assert value >> 92 == 1 and (value >> 52) & (2**40 - 1) == int(DOC[1:], 16)
    assert (value >> 32) & (2**20 - 1) == 123456
    assert not np.array_equal(bits, blind.payload_bits(b"another key", DOC, 123456))
    assert exact_score(blind.MATCH_BITS) == pytest.approx(6.409, abs=1e-3)  # tail bound = 2^-32
    with pytest.raises(BadRequestError, match="copy number"):
        blind.payload_bits(KEY, DOC, 1_000_000)
    with pytest.raises(BadRequestError, match="document id"):
        blind.payload_bits(KEY, "X123", 1)


def test_apply_equals_package_embed():
    """A copy made by choosing blocks equals blind-watermark's own embed of that payload (its Y channel:
    the package also marks chroma, which we leave alone). A mid-tone page, so that no channel clips."""
    gray = _photo(599, 503, seed=3, lo=40, hi=215)  # odd sizes: zero padding, blocks cut to 7 pixels
    bits = np.random.default_rng(7).integers(0, 2, 96).astype(np.uint8)
    ours = _copy(blind.planes(gray, paper=None), bits)
    theirs = _bgr_core_embed(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), bits)
    y = cv2.cvtColor(theirs.astype(np.float32), cv2.COLOR_BGR2YUV)[:, :, 0]
    diff = np.abs(ours.astype(np.float64) - y)
    print(f"max |apply - package Y| = {diff.max():.3f} grey levels")
    assert diff.max() <= 1.0
    assert np.abs(ours.astype(int) - gray).max() > 3  # and it did mark


def test_vectorised_embed_is_the_package_block_code_bit_for_bit(memo: np.ndarray):
    """planes() runs the package's per-block steps batched: same float32 values as its own block loop."""
    import pywt

    core_mod = _bwm_core()
    crop = memo[1000:1301, 300:801].astype(np.float32)  # text, odd height
    ca, hvd, blocks, (by, bx) = blind._dwt_blocks(crop)
    shuffler = blind._shufflers(by * bx)
    core = core_mod.WaterMarkCore(password_img=blind.PASSWORD_IMG, mode="common")
    zero, one = blind.planes(crop.astype(np.uint8), paper=None)
    for bit, ours in ((0, zero), (1, one)):
        core.read_wm(np.array([bit]))
        out = ca.copy()
        for i in range(by * bx):
            r, c = divmod(i, bx)
            out[4 * r:4 * r + 4, 4 * c:4 * c + 4] = core.block_add_wm_slow((blocks[i], shuffler[i], i))
        ref = np.clip(np.rint(pywt.idwt2((out, hvd), "haar")[:crop.shape[0], :crop.shape[1]]), 0, 255)
        assert np.array_equal(ours, ref.astype(np.uint8))


def test_package_extractor_reads_our_marks():
    """blind_watermark's own extractor, given our public passwords, reads our marks made as it makes them
    (every block marked: paper=None; with our visibility mask only our reader, which skips flat blocks,
    reads them)."""
    gray = _photo(700, 600, seed=5)
    bits = blind.payload_bits(KEY, DOC, 77)
    marked = _copy(blind.planes(gray, paper=None), bits)
    _bwm_core()
    with contextlib.redirect_stdout(io.StringIO()):
        from blind_watermark import WaterMark

        wm = WaterMark(password_wm=blind.PASSWORD_WM, password_img=blind.PASSWORD_IMG)
        got = wm.extract(embed_img=cv2.cvtColor(marked, cv2.COLOR_GRAY2BGR).astype(np.float32), wm_shape=96,
                         mode="bit")
    assert np.array_equal(np.asarray(got).astype(np.uint8), bits)


def test_lossless_copy_reads_and_verifies(memo, memo_planes):
    copy = _copy(memo_planes, blind.payload_bits(KEY, DOC, 4321))
    found = blind.read(copy)
    assert found is not None
    assert (found.version, found.doc_id, found.copy_no) == (1, DOC, 4321)
    assert found.confidence > 0.8 and found.ambiguous == 0
    assert blind.verify(KEY, found)
    assert not blind.verify(b"another workspace's key", found)
    # the page at another size, read at the page's size
    small = simulate.rescale(copy, 0.9)
    again = blind.read(small, shape=memo.shape)
    assert again is None or again.doc_id == DOC  # a rescale is beyond this layer; it must not misread


def test_copies_differ_only_where_bits_differ(memo_planes):
    a = _copy(memo_planes, blind.payload_bits(KEY, DOC, 1))
    b = _copy(memo_planes, blind.payload_bits(KEY, DOC, 2))
    assert not np.array_equal(a, b)
    assert blind.read(b).copy_no == 2


def test_grey_stays_grey_and_paper_stays_white(memo, memo_planes):
    zero, one = memo_planes
    assert zero.shape == memo.shape and zero.dtype == np.uint8 and one.shape == memo.shape
    copy = _copy(memo_planes, blind.payload_bits(KEY, DOC, 9))
    paper = memo >= blind.PAPER
    assert np.abs(copy.astype(int) - memo)[paper].mean() < 0.05


def test_colour_page_marks_luminance_only():
    gray = _photo(500, 400, seed=8, lo=30, hi=220)
    grain = np.random.default_rng(8).normal(0, 10, gray.shape)  # texture: flat blocks are left unmarked
    gray = np.clip(gray + grain, 30, 200).astype(np.uint8)  # no channel clips below
    bgr = np.dstack([gray, gray, np.clip(gray.astype(int) + 25, 0, 255).astype(np.uint8)])  # a red tint
    bits = blind.payload_bits(KEY, DOC, 5)
    copy = _copy(blind.planes(bgr), bits)
    assert copy.shape == bgr.shape
    d = copy.astype(int) - bgr
    assert np.abs(d[:, :, 0] - d[:, :, 2]).max() <= 1  # the same change in every channel: no tint
    found = blind.read(copy)
    assert found is not None and found.copy_no == 5 and blind.verify(KEY, found)


def test_unmarked_pages_read_none(memo):
    assert blind.read(memo) is None
    assert blind.read(_photo(700, 600, seed=11)) is None
    assert blind.read(np.full((600, 500), 255, np.uint8)) is None  # blank paper


def test_jpeg90_still_reads(memo_planes):
    copy = _copy(memo_planes, blind.payload_bits(KEY, DOC, 31))
    found = blind.read(simulate.jpeg(copy, 90))
    assert found is not None and (found.doc_id, found.copy_no) == (DOC, 31) and blind.verify(KEY, found)


def test_too_small_is_our_error_and_nothing_asserts():
    with pytest.raises(BadRequestError, match="too small for the blind layer"):
        blind.planes(np.full((64, 64), 128, np.uint8))
    assert blind.read(np.full((64, 64), 128, np.uint8)) is None
    with pytest.raises(BadRequestError, match="uint8"):
        blind.planes(np.zeros((200, 200), np.float32))
    with pytest.raises(BadRequestError, match="greyscale"):
        blind.read(np.zeros((200, 200, 2), np.uint8))
    with pytest.raises(BadRequestError, match="96 bits"):
        blind.apply(*blind.planes(np.full((200, 200), 100, np.uint8)), np.ones(10), np.empty((200, 200), np.uint8))


def test_nothing_printed(capfd):
    gray = _photo(300, 300, seed=2)
    z, o = blind.planes(gray)
    blind.read(_copy((z, o), blind.payload_bits(KEY, DOC, 1)))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize("preset", [None, "spawn"])
def test_import_is_silent_and_keeps_the_start_method(preset):
    code = (
        "import multiprocessing as mp\n"
        + (f"mp.set_start_method({preset!r})\n" if preset else "")
        + "before = mp.get_start_method(allow_none=True)\n"
        "import leakmark.layers.blind as b\n"
        "import numpy as np\n"
        "b.planes(np.full((120, 120), 100, np.uint8))\n"
        "import sys\n"
        "assert 'blind_watermark' not in sys.modules\n"  # the package is the tests' oracle, not a run-time need
        "sys.stderr.write(repr((before, mp.get_start_method(allow_none=True))))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr == repr((preset, preset))
    r = subprocess.run([sys.executable, "-c", "import leakmark.layers.blind"], capture_output=True, text=True,
                       cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_planes_deterministic_and_the_same_in_a_spawned_process():
    gray = _photo(400, 360, seed=9)
    a = blind.planes(gray)
    b = blind.planes(gray)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        c = pool.submit(blind.planes, gray).result(timeout=120)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, c, strict=True))
