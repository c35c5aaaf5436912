"""The `shift` layer: move each line across and each word along its line by a keyed ±delta pixels.

Every moved box is read from the unmarked rendering at an offset, so the result never depends on the
order of moves and nothing is erased: the ring of background around a box (checked plain when the
units were built) slides in where the glyphs left.
"""

from __future__ import annotations

import numpy as np

from leakmark.watermark.units import PageUnits

LAYER = "shift"


def apply(image: np.ndarray, units: PageUnits, codes: np.ndarray, delta: int) -> np.ndarray:
    """Return a marked copy of `image`; `codes` are ±1 for the words, then for the lines."""
    out = image.copy()
    pad = delta  # the moved box: tight box plus delta, so the glyphs land inside it
    nw = units.n_words
    word_codes, line_codes = codes[:nw], codes[nw:]
    line_move = np.zeros((units.n_lines, 2), dtype=np.int64)  # (dx, dy) of each line
    for j, (x0, y0, x1, y1) in enumerate(units.lines):
        if x1 <= x0:
            continue  # this line stays put (see units._build)
        axis = 1 - int(units.word_axis[np.argmax(units.word_line == j)])
        move = [0, 0]
        move[axis] = int(line_codes[j]) * delta
        line_move[j] = move
        _move(out, image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), move[0], move[1])
    for i, (x0, y0, x1, y1) in enumerate(units.words):
        mx, my = line_move[units.word_line[i]]
        if units.word_axis[i] == 0:
            mx = mx + int(word_codes[i]) * delta
        else:
            my = my + int(word_codes[i]) * delta
        _move(out, image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), int(mx), int(my))
    return out


def _move(out: np.ndarray, src: np.ndarray, box: tuple[int, int, int, int], dx: int, dy: int) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    out[y0:y1, x0:x1] = src[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
