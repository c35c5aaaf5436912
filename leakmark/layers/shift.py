"""The `shift` layer: move each line across and each word along its line by a keyed ±delta pixels, and
each rule (table line, border, axis) across itself, and each blob (seal, signature) in x and y.

Every moved box is read from the unmarked rendering at an offset, so the result never depends on the
order of moves and nothing is erased: the ring of background around a box (checked plain when the
units were built) slides in where the glyphs left.
"""

from __future__ import annotations

import numpy as np

from leakmark.layers.base import CodewordLayer, MeasureContext, Measurement
from leakmark.layers.settings import LayerName
from leakmark.units import PageUnits

LAYER = LayerName.shift


def apply(image: np.ndarray, units: PageUnits, codes: np.ndarray, delta: int,
          out: np.ndarray | None = None) -> np.ndarray:
    """A marked copy of `image`; `codes` are ±1 for the words, then the lines, the rules, and x, y per blob.

    With `out` (equal to `image`, e.g. after `restore`) the copy is made in place: no page-sized
    allocation per copy, which matters when one page is marked for thousands of copies.
    """
    out = image.copy() if out is None else out
    pad = delta  # the moved box: tight box plus delta, so the glyphs land inside it
    nw, nl = units.n_words, units.n_lines
    word_codes, line_codes, rule_codes = codes[:nw], codes[nw:nw + nl], codes[nw + nl:]
    axes = _line_axes(units)
    line_move = np.zeros((units.n_lines, 2), dtype=np.int64)  # (dx, dy) of each line
    for j, (x0, y0, x1, y1) in enumerate(units.lines.tolist()):
        if x1 <= x0:
            continue  # this line stays put (see units._build)
        move = [0, 0]
        move[axes[j]] = int(line_codes[j]) * delta
        line_move[j] = move
        _move(out, image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), move[0], move[1])
    lm = line_move.tolist()
    wc = word_codes.tolist()
    for (x0, y0, x1, y1), line, axis, c in zip(units.words.tolist(), units.word_line.tolist(),
                                               units.word_axis.tolist(), wc, strict=True):
        mx, my = lm[line]
        if axis == 0:
            mx += int(c) * delta
        else:
            my += int(c) * delta
        _move(out, image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), mx, my)
    if units.n_rules:
        _move_rules(out, image, units, rule_codes[:units.n_rules], delta)
    blob_codes = rule_codes[units.n_rules:].tolist()
    for k, (x0, y0, x1, y1) in enumerate(units.blobs.tolist()):
        _move(out, image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), int(blob_codes[2 * k]) * delta,
              int(blob_codes[2 * k + 1]) * delta)
    return out


def _move_rules(out: np.ndarray, image: np.ndarray, units: PageUnits, codes: np.ndarray, delta: int) -> None:
    """Rules never touch word or line boxes (units.rules.find), so their order against those is free.
    A crossing lies in both rules' boxes: it is written last, moved by both."""
    pad = delta
    moves = []
    for (x0, y0, x1, y1), axis, c in zip(units.rules.tolist(), units.rule_axis.tolist(), codes.tolist(),
                                         strict=True):
        move = (int(c) * delta, 0) if axis == 0 else (0, int(c) * delta)
        moves.append(move)
        _move(out, image, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), *move)
    for i, j, box in units.crossings(delta):
        _move(out, image, box, moves[j][0], moves[i][1])


def restore(out: np.ndarray, image: np.ndarray, units: PageUnits, delta: int) -> None:
    """Undo `apply(..., out=out)`: every moved pixel lies inside a padded line, word, rule or blob box."""
    pad = delta
    for boxes in (units.lines, units.words, units.rules, units.blobs):
        for x0, y0, x1, y1 in boxes.tolist():
            if x1 > x0:
                out[y0 - pad:y1 + pad, x0 - pad:x1 + pad] = image[y0 - pad:y1 + pad, x0 - pad:x1 + pad]


def _line_axes(units: PageUnits) -> list[int]:
    """The axis each line moves along: across its words' direction (taken from its first word)."""
    axes = [1] * units.n_lines
    seen: set[int] = set()
    for line, axis in zip(units.word_line.tolist(), units.word_axis.tolist(), strict=True):
        if line not in seen:
            seen.add(line)
            axes[line] = 1 - axis
    return axes


def _move(out: np.ndarray, src: np.ndarray, box: tuple[int, int, int, int], dx: int, dy: int) -> None:
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = src[y0 - dy:y1 - dy, x0 - dx:x1 - dx]


class ShiftLayer(CodewordLayer):
    name = LAYER

    def prepare(self, base: np.ndarray, gray: np.ndarray, dpi: int) -> tuple[np.ndarray, ...]:
        return ()  # boxes are moved from the page's own rendering

    def measure(self, ctx: MeasureContext) -> Measurement:
        from leakmark.layers.shift_measure import measure_shift

        m = measure_shift(ctx.aligned, ctx.valid, ctx.original, ctx.units, delta=ctx.delta)
        return Measurement(m.values, {"words": m.measured_words, "lines": m.measured_lines,
                                      "rules": m.measured_rules, "marks": m.measured_blobs})


LAYER_IMPL = ShiftLayer()
