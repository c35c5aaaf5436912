"""Golden vectors: every keyed derivation behind a mark, pinned to the values leakmark 0.1.0 computes.

THESE VALUES MUST NEVER CHANGE. A mark depends only on the workspace key, the document id, the copy number
and the page; trace recomputes the same derivation years later to score every issued copy. If any value
below changes, copies issued before the change no longer trace (or trace to the wrong recipient). A copy
issued today must still trace after every upgrade and refactor.

The expected values were computed once by running the code as it was at commit 5354744 (leakmark 0.1.0)
and are written here as literals: nothing is recomputed by a second implementation at test time. If a test
here fails after a refactor, the refactor changed a mark: fix the code, not the literal. The only
legitimate edit is an import path that moved (e.g. `leakmark.watermark.tone` -> `leakmark.layers.tone`).

Some pins are of floating-point pipelines (tone template/planes, blind planes: OpenCV box filters and DCT,
LAPACK SVD, PyWavelets). They are bit-exact on one platform; on another CPU/BLAS a mismatch must be
investigated (is it a rounding tie or a real change?) before anything else.

See also tests/test_legacy_fixture.py: copies issued with 0.1.0, traced with today's code.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from leakmark import issuing, tailbound
from leakmark.issuing.naming import document_id
from leakmark.layers import blind, blind_payload, codes, shift, tone
from leakmark.layers import file as filemark
from leakmark.trace.decide import exact_score
from leakmark.units import PageUnits

KEY = bytes(range(32))
DOC = "D0123456789"  # "D" + 10 hex digits, as issuing.document_id makes them (the blind layer needs that form)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _pm(s: np.ndarray) -> str:
    return "".join("+" if v > 0 else "-" for v in s.tolist())


def _synthetic_gray(h: int = 160, w: int = 208) -> np.ndarray:
    """A small page without numpy's RNG: a gradient plus SHAKE-256 noise, a paper margin and an ink bar."""
    noise = np.frombuffer(hashlib.shake_256(b"leakmark golden page").digest(h * w), np.uint8).reshape(h, w)
    grad = np.add.outer(np.arange(h), np.arange(w)) * 255 // (h + w)
    g = (grad // 2 + noise // 4 + 40).astype(np.uint8)
    g[:, :24] = 255
    g[100:110, 40:150] = 20
    return g


def _synthetic_bgr(g: np.ndarray) -> np.ndarray:
    return np.dstack([g, (g // 2 + 64).astype(np.uint8), (255 - g).astype(np.uint8)])


GRAY_SHA = "053c4c8abe2cfe4c34bb866c7f70d0171c80a8f36cb083160141cb5805c49a9b"
BGR_SHA = "b1192e47d871ca282541942ec2fd32533f88b63f85b1563feff5e78a9e599583"


def test_synthetic_inputs_are_what_the_pins_were_made_from():
    g = _synthetic_gray()
    assert g.shape == (160, 208) and g.dtype == np.uint8
    assert _sha(g) == GRAY_SHA
    assert _sha(_synthetic_bgr(g)) == BGR_SHA


# ---------------------------------------------------------------------------------------------- codes / shift

SCHEME = "leakmark/v1"
# (copy, page) -> (page_seed hex, first 64 signs, sha256 of signs(seed, 4096) as int8 bytes)
SHIFT_SEEDS = {
    (1, 0): ("3922d9ee144d2c3610fd32dae83677ed448a20a579641e8c39ad32bab340f212",
             "-+--+--+-++--+----+-++--++++--+++-++--+++--+-++++-++--++---++++-",
             "201b6dc799a5ee627384497b05bfee7fe2d455d0061310c177f2c6ebc15488b5"),
    (2, 0): ("10db7bec08616a345061249457d322b434c1a9de1b287cf473accdfe5a929076",
             "--+++-----+---++++-++++-++---+-+--+--+++--+++-++-------+---+++++",
             "d78554dd811a9e89002ae7e16d4ef85a4eb9fdb7e2fdaf1d65a7bc814bbf9fc4"),
    (42, 3): ("63dec9bfe1f2da680eb581a670c88b5cf0900b54eb86647f2d19a0415ac373be",
              "-+-+-+--+++-+++--+-++---++-+-+++--+++--++---+++-++---+--++++-+-+",
              "4255e70de039a227bd66e08da2bd93cae9c8bb39ef6889d4246ecbda21fbcb48"),
    (999999, 1): ("25fa697a37c3badcdf18b2505c1ab224491982e49ff92d7167e3d9a997471b74",
                  "+--++-+++++-------+-+-++-+--++++++-+--+-+--++-++--+-++--++-+++-+",
                  "09ff9ce4ece6e1babffca137aa6e9bfaa3da3939f8d03ec9bb080fd43900dc77"),
}


def test_scheme_string():
    assert codes.SCHEME == SCHEME
    assert shift.LAYER == "shift" and tone.LAYER == "tone" and blind.LAYER == "blind" and filemark.LAYER == "file"


@pytest.mark.parametrize(("copy_no", "page"), list(SHIFT_SEEDS))
def test_shift_seed_and_signs(copy_no, page):
    seed_hex, first64, sha4096 = SHIFT_SEEDS[(copy_no, page)]
    seed = codes.page_seed(KEY, DOC, copy_no, "shift", page)
    assert seed.hex() == seed_hex
    s = codes.signs(seed, 4096)
    assert s.dtype == np.int8
    assert _pm(s[:64]) == first64
    assert _pm(codes.signs(seed, 64)) == first64
    assert _sha(s) == sha4096


def test_sign_matrix():
    m = codes.sign_matrix(KEY, DOC, [1, 2, 3, 42], "shift", 1, 40)
    assert m.shape == (4, 40) and m.dtype == np.float32
    assert [_pm(r) for r in m] == ["-+-++-++--+-----+---+------+-+-+-+--++--",
                                   "-----+++-----++-+++-+-+-+--+++-++-++-++-",
                                   "-+++++------++----++----++-+-+-++-++++--",
                                   "+-------++-----+--+-++--++-+++-+---+-+--"]
    assert _sha(m) == "a10cf938b366c2015480d3d73435c43277817368dee8801c63efcb8645d9575c"
    m = codes.sign_matrix(KEY, DOC, [5, 4], "tone", 0, 70)
    assert _sha(m) == "0a7bdc1de163c3452fc3ce832a2d3f58094ab660742e3303d57e8ce66b68201c"


def _text_page() -> np.ndarray:
    h, w = 120, 200
    noise = np.frombuffer(hashlib.shake_256(b"leakmark golden text").digest(h * w), np.uint8).reshape(h, w)
    img = np.full((h, w), 250, np.uint8)
    for x0, y0, x1, y1 in [(20, 20, 60, 32), (70, 20, 120, 32), (130, 20, 180, 32), (20, 50, 80, 62),
                           (90, 50, 150, 62)]:
        img[y0:y1, x0:x1] = noise[y0:y1, x0:x1] // 3
    img[80:82, 10:190] = 30  # a horizontal rule
    img[70:110, 185:187] = 30  # a vertical rule crossing it
    img[90:106, 40:60] = 60  # a blob (a stamp)
    return img


_TEXT_UNITS = {  # the vault's units-NNN.json format
    "words": [[20, 20, 60, 32], [70, 20, 120, 32], [130, 20, 180, 32], [20, 50, 80, 62], [90, 50, 150, 62]],
    "word_axis": [0, 0, 0, 0, 0], "word_line": [0, 0, 0, 1, 1],
    "lines": [[20, 20, 180, 32], [20, 50, 150, 62], [0, 0, 0, 0]],  # x1 <= x0: stays put, keeps its code
    "rules": [[10, 80, 190, 82], [185, 70, 187, 110]], "rule_axis": [1, 0],
    "blobs": [[40, 90, 60, 106]],
}


@pytest.mark.parametrize(("delta", "copy_no", "want"), [
    (1, 7, "0a1ac891cf5f1a6cee65bd80b0d88f4d69abab0fc8a48ccc41168b5ffabba0e5"),
    (2, 7, "bfef745bd7635a65d0fa24197dba9f63f900415979faed1d9e24305d62bf588f"),
    (1, 8, "602a59da3d144fb1725a00b204561f21436c7cc68da527974761d6a1b604f9f1"),
])
def test_shift_apply(delta, copy_no, want):
    """Words, lines, rules (with a crossing) and a blob moved by the copy's signs: the marked pixels."""
    img = _text_page()
    assert _sha(img) == "db47a6e27f7e4ee43866de2bca2ddb9d2f5b8ce151510b250964a3227af943fd"
    units = PageUnits.from_json(_TEXT_UNITS)
    assert units.n_codes == 12  # 5 words, 3 lines, 2 rules, 2 per blob: the code order is pinned by `want`
    assert units.crossings(1) == [(0, 1, (184, 79, 188, 83))]
    cs = codes.signs(codes.page_seed(KEY, DOC, copy_no, "shift", 0), units.n_codes)
    out = shift.apply(img, units, cs, delta)
    assert _sha(out) == want
    shift.restore(out, img, units, delta)
    assert np.array_equal(out, img)


# ---------------------------------------------------------------------------------------------- tone

TONE_SEEDS = {
    (1, 0): ("37280652eee37df8393039d0e78b61de95c4fdfe550eb51ebf905cb61cf9da52",
             "-+++------+++--+++----+--+++--+-+--+-++-+-+--+-----------++-+-+-"),
    (3, 1): ("54198bba58b4666665479aa23c7358f5b389be89c9abdcd831055666e713df72",
             "--++++-++-+-------++----+-+-+++-+++---++---+-+-+-+-+-+-+-+--+--+"),
}


@pytest.mark.parametrize(("copy_no", "page"), list(TONE_SEEDS))
def test_tone_seed_and_cell_signs(copy_no, page):
    seed_hex, first64 = TONE_SEEDS[(copy_no, page)]
    seed = codes.page_seed(KEY, DOC, copy_no, "tone", page)
    assert seed.hex() == seed_hex
    assert _pm(codes.signs(seed, 64)) == first64


def test_tone_parameters():
    assert (tone.VERSION, tone.CELL_MM, tone.ALPHA, tone.PAPER, tone.FIT_CELLS, tone.CLIP) == ("v1", 4.0, 2.0, 245.0,
                                                                                             2, 2.0)


@pytest.mark.parametrize(("shape", "dpi", "want_grid", "want_n"), [
    ((1755, 1240), 150, (73, 51, 24), 3723),  # A4 as MuPDF renders it at 150 dpi (842 pt -> 1754.17 -> 1755 px)
    ((1754, 1240), 150, (73, 51, 24), 3723),
    ((1755, 1240, 3), 150, (73, 51, 24), 3723),  # colour page: same grid
    ((3509, 2480), 300, (74, 52, 47), 3848),  # A4 as MuPDF renders it at 300 dpi
    ((3508, 2480), 300, (74, 52, 47), 3848),
    ((1240, 875), 150, (51, 36, 24), 1836),  # A5 at 150 dpi (the legacy fixture's photo page)
    ((842, 595), 72, (76, 54, 11), 4104),
    ((160, 208), 150, (6, 8, 24), 48),
    ((160, 208), 300, (3, 4, 47), 12),
])
def test_tone_grid(shape, dpi, want_grid, want_n):
    assert tone.grid(shape, dpi) == want_grid
    assert tone.n_cells(shape, dpi) == want_n
    assert tone.cell_px(dpi) == want_grid[2]


@pytest.mark.parametrize(("dpi", "want_template", "want_plus", "want_minus", "want_copy"), [
    (150, "85af4528ffd8e29e24dced7804bf348be196fa48fdfb481c1d2d6dd153e46c7c",
     "35f9bb2ae618e7a7574f08658987a9be92b07fc2757a283dd60d5ebfe322cce3",
     "53eec55ea2d64a49a4b83b9106022e58e9a1cb39acc3a26d0950a15c64caa8d6",
     "518ddf3a2d5ddfb321e7b64b64c110ab63226afd2b4cc74725949ee439a7143e"),
    (300, "11d3b91d029dbd5595a292f1a145bad734c548e8147a7ec6898f09493a4a0d8d",
     "4d9b5773f2e2afa319510bcd5ec745d838c311bef9e6be829057ca4c9139042a",
     "c93a634de8af61e96d0a6e2d00baa45e6a341d058b435afa218294efb1b63750",
     "5d4fa6c70e3a0d9fe8e8e2da35dd090f23aad7d53242de6ebb90d27a7b03ac7e"),
])
def test_tone_template_planes_and_copy(dpi, want_template, want_plus, want_minus, want_copy):
    g = _synthetic_gray()
    t = tone.template(g, dpi)
    assert t.dtype == np.float32 and t.shape == g.shape
    assert _sha(t) == want_template
    plus, minus = tone.planes(g, g, dpi)
    assert _sha(plus) == want_plus and _sha(minus) == want_minus
    cells = codes.signs(codes.page_seed(KEY, DOC, 3, "tone", 0), tone.n_cells(g.shape, dpi))
    out = np.empty_like(g)
    tone.apply(plus, minus, cells, dpi, out)
    assert _sha(out) == want_copy


def test_tone_planes_colour_page():
    g = _synthetic_gray()
    plus, minus = tone.planes(_synthetic_bgr(g), g, 150)
    assert plus.shape == (160, 208, 3)
    assert _sha(plus) == "bdad1baf27bb92384ca2cfcb61fcc23a8e8cb0e58ffa73ad4c581221ae9094a1"
    assert _sha(minus) == "344e7641b860f86fed490d561b652a6ed2a68c4b87b2cada7cdd293f3a24daa1"


# ---------------------------------------------------------------------------------------------- blind

# copy -> (96 payload bits packed, hex; the 32 check bits, hex)
BLIND_PAYLOADS = {
    1: ("10123456789000014eaf87b9", "4eaf87b9"),
    42: ("101234567890002ae8133d94", "e8133d94"),
    999999: ("10123456789f423fa8d03a9f", "a8d03a9f"),
}
# blind-watermark 0.4.4's random_strategy1(PASSWORD_IMG, 200, 16): RandomState(seed).random((200, 16)).argsort(1)
SHUFFLERS_200_SHA = "2307aa919d53cbb6a1e18d73830e1b3f146ec2ff0ddec273b614a77287bb4d6a"  # as little-endian int64
SHUFFLERS_200_HEAD = [[2, 5, 1, 0, 10, 12, 11, 13, 3, 7, 4, 6, 8, 14, 9, 15],
                      [0, 2, 13, 14, 7, 12, 10, 6, 4, 8, 3, 15, 5, 9, 1, 11],
                      [1, 13, 11, 0, 9, 10, 7, 4, 5, 8, 2, 15, 12, 6, 14, 3]]
SHUFFLERS_200_LAST = [0, 14, 6, 15, 1, 8, 2, 4, 10, 11, 3, 12, 9, 7, 13, 5]
# RandomState(PASSWORD_WM).shuffle(arange(96))
WM_ORDER = [33, 91, 69, 23, 25, 20, 86, 88, 78, 13, 14, 4, 17, 62, 59, 43, 48, 75, 35, 10, 15, 73, 82, 72, 67, 79,
            32, 31, 58, 36, 46, 0, 83, 66, 26, 22, 80, 6, 57, 76, 18, 93, 53, 87, 65, 90, 64, 63, 84, 85, 94, 95, 47,
            9, 42, 11, 5, 41, 37, 39, 16, 45, 70, 89, 12, 52, 28, 2, 7, 27, 3, 49, 29, 38, 77, 92, 81, 40, 1, 74, 56,
            21, 61, 30, 71, 55, 44, 34, 19, 54, 60, 68, 24, 51, 8, 50]


def test_blind_parameters():
    assert (blind.FORMAT_VERSION, blind.PAYLOAD_BITS, blind.CHECK_BYTES, blind.D1, blind.D2) == (1, 96, 4, 36, 20)
    assert blind.PASSWORD_IMG == blind.PASSWORD_WM == 0x4C4B4D31 == 1280003377
    assert (blind.BLOCK, blind.PAPER, blind.MARK_BELOW, blind.MIN_TEXTURE) == (8, 245, 0.5, 6.0)
    assert (blind.BLANK, blind.READ_BELOW, blind.READ_TEXTURE) == (250, 0.3, 6.0)


@pytest.mark.parametrize("copy_no", list(BLIND_PAYLOADS))
def test_blind_payload_and_check(copy_no):
    packed, check = BLIND_PAYLOADS[copy_no]
    bits = blind.payload_bits(KEY, DOC, copy_no)
    assert bits.dtype == np.uint8 and bits.shape == (96,)
    assert np.packbits(bits).tobytes().hex() == packed
    assert blind_payload._check(KEY, DOC, copy_no).hex() == check


def test_blind_document_number():
    assert blind_payload._doc_number(DOC) == 4886718345 == 0x0123456789
    assert blind_payload._doc_number("Dffffffffff") == 2**40 - 1


def test_blind_shufflers():
    s = blind._shufflers(200)
    assert s.shape == (200, 16)
    assert _sha(np.asarray(s).astype("<i8")) == SHUFFLERS_200_SHA
    assert s[:3].tolist() == SHUFFLERS_200_HEAD and s[-1].tolist() == SHUFFLERS_200_LAST
    assert np.array_equal(blind._shufflers(3), s[:3])  # a prefix: rows do not depend on the block count


def test_blind_payload_order():
    assert blind._wm_order().tolist() == WM_ORDER
    bits = blind.payload_bits(KEY, DOC, 42)
    assert _sha(blind.block_bits(bits, (20, 26))) == "412158631cadc3eb89ac5ac0ca840c0038eca698aa22d35429f52301e4626b2e"


def test_blind_planes_and_copy():
    g = _synthetic_gray()
    assert blind.capacity(g.shape) == 520
    zero, one = blind.planes(g)
    assert _sha(zero) == "633b31e0d1a246313533e540fd6306407dda73b62dfc0b3ff9c36b11e83a2b5c"
    assert _sha(one) == "b5e820c1cb5a48d64939915ab23ade49fa0b1acd158f4670143a5a20da8a9941"
    out = np.empty_like(g)
    blind.apply(zero, one, blind.payload_bits(KEY, DOC, 42), out)
    assert _sha(out) == "45a5578f142a3d08bf2a3cd7284df7c5ee6b80f5555b900f571b897935b75081"
    found = blind.read(out)
    assert found is not None and (found.doc_id, found.copy_no) == (DOC, 42) and blind.verify(KEY, found)
    zero, one = blind.planes(g, paper=None)  # every block, as the package marks
    assert _sha(zero) == "0020aeb6dae23d8aedccb164673065ae154f7f07c3d3efb0eaae43584f606589"
    assert _sha(one) == "3df560d69f718c4046c58d25052e672859d3401b8dfa7e59d143911a5c0af033"


def test_blind_planes_colour_page():
    zero, one = blind.planes(_synthetic_bgr(_synthetic_gray()))
    assert _sha(zero) == "0550c7b8c9f7f6ac6a44f01fd474608dc53344bd3079d7c3486b090673cbb558"
    assert _sha(one) == "1cc7ecd6215860ce923854353d04030380a93b20682a2f0888e12b89f9ee90f2"


# ---------------------------------------------------------------------------------------------- file

# copy -> (token hex, sha256 of the XMP packet as UTF-8)
FILE_TOKENS = {
    1: ("18daf9ef00244417dcc6abe7acdc7870", "144fd88b1fe5f4e560b6809eb86048769ec94f5cb89358c959c94b5d6c4a9356"),
    42: ("f4739ec4fe7f12ce0555493c873edfc2", "2d805cc6f82ede2c7cc0b86169d6606dff21ba528ad1d4a0b46c38199377a5d0"),
    999999: ("0f7b95cf591e85d1a71d3f40d7024151", "d2cb76f1b9b1595c2dcd3ab3ea70dc56f7c8ae23c7afb5002fc073255a7bdc93"),
}


@pytest.mark.parametrize("copy_no", list(FILE_TOKENS))
def test_file_token_and_xmp(copy_no):
    tok_hex, xmp_sha = FILE_TOKENS[copy_no]
    tok = filemark.token(KEY, DOC, copy_no)
    assert tok.hex() == tok_hex
    assert hashlib.sha256(filemark.xmp(tok).encode("utf-8")).hexdigest() == xmp_sha


# ---------------------------------------------------------------------------------------------- scores

def test_exact_match_scores():
    assert f"{exact_score(filemark.MATCH_BITS):.12g}" == "13.1437215216"  # tail bound 2^-128
    assert f"{exact_score(blind.MATCH_BITS):.12g}" == "6.40898011012"  # tail bound 2^-32


def test_tail_bound_constant():
    assert tailbound.C_BD == pytest.approx(3.178655565886997, rel=1e-14)


@pytest.mark.parametrize(("z", "want"), [
    (-1.0, 1.0), (0.0, 1.0), (0.5, 0.8824969025845955), (1.0, 0.5043104059664408), (1.7, 0.14165825624377262),
    (2.0, 0.07231483354174346), (3.0, 0.004290860891620905), (4.0, 0.00010067196913139987),
    (6.0, 3.1360223091344335e-09), (8.0, 1.9774290954572688e-15), (12.0, 5.646824753254475e-33),
])
def test_tail(z, want):
    assert float(tailbound.tail(z)) == pytest.approx(want, rel=1e-12)


def test_tail_is_elementwise():
    got = tailbound.tail(np.array([1.0, 6.0]))
    assert got.dtype == np.float64 and got.shape == (2,)
    assert got.tolist() == pytest.approx([0.5043104059664408, 3.1360223091344335e-09], rel=1e-12)


@pytest.mark.parametrize(("p", "want"), [
    (1e-2, 2.7321646795653134), (1e-6, 4.982033056390042), (1e-12, 7.194001111605188),
    (2.0 ** -32, 6.408980110123205), (2.0 ** -128, 13.14372152157415),
])
def test_score_for(p, want):
    assert tailbound.score_for(p) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------------------------- the register

# What the ledger stores per copy (`settings`), as parsed. Trace reads exactly these. A later version may
# ADD keys (e.g. a format version); it must never remove or change one of these, and it must go on reading
# copies whose settings have only these keys (tests/test_legacy_fixture.py checks that on real copies).
COPY_SETTINGS = [
    ((("shift",), 1, 300, None), {"dpi": 300, "layers": ["shift"], "shift": {"delta_px": 1}}),
    ((("shift", "file"), 1, 300, None),
     {"dpi": 300, "file": {"token": "hmac-sha256-128/v1", "where": ["trailer-id", "xmp-documentid"]},
      "layers": ["shift", "file"], "shift": {"delta_px": 1}}),
    ((("shift", "tone", "file"), 1, 150, [1]),  # tone_pages 0-based in, 1-based recorded
     {"dpi": 150, "file": {"token": "hmac-sha256-128/v1", "where": ["trailer-id", "xmp-documentid"]},
      "layers": ["shift", "tone", "file"], "shift": {"delta_px": 1},
      "tone": {"alpha": 2.0, "cell_mm": 4.0, "pages": [2], "version": "v1"}}),
    ((("shift", "tone", "file"), 2, 300, None),
     {"dpi": 300, "file": {"token": "hmac-sha256-128/v1", "where": ["trailer-id", "xmp-documentid"]},
      "layers": ["shift", "tone", "file"], "shift": {"delta_px": 2},
      "tone": {"alpha": 2.0, "cell_mm": 4.0, "version": "v1"}}),
    ((("shift", "blind", "file"), 1, 300, None),
     {"blind": {"bits": 96, "d1": 36, "d2": 20, "password": 1280003377, "version": 1}, "dpi": 300,
      "file": {"token": "hmac-sha256-128/v1", "where": ["trailer-id", "xmp-documentid"]},
      "layers": ["shift", "blind", "file"], "shift": {"delta_px": 1}}),
    ((("shift", "blind"), 3, 600, None),
     {"blind": {"bits": 96, "d1": 36, "d2": 20, "password": 1280003377, "version": 1}, "dpi": 600,
      "layers": ["shift", "blind"], "shift": {"delta_px": 3}}),
]


def _assert_contains(actual: object, expected: object, where: str = "settings") -> None:
    """Every key of `expected` is in `actual` with the same value (nested dicts: recursively); `actual`
    may have more keys. Lists and scalars must be equal."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where} is {actual!r}, expected a dict"
        for k, v in expected.items():
            assert k in actual, f"{where}.{k} was removed"
            _assert_contains(actual[k], v, f"{where}.{k}")
    else:
        assert actual == expected and type(actual) is type(expected), f"{where} is {actual!r}, was {expected!r}"


@pytest.mark.parametrize(("args", "want"), COPY_SETTINGS)
def test_copy_settings(args, want):
    layers, delta, dpi, tone_pages = args
    got = json.loads(issuing.copy_settings(layers, delta, dpi, tone_pages).to_json())
    _assert_contains(got, want)


def test_document_id():
    assert document_id("0123456789abcdef" * 4) == "D0123456789"
