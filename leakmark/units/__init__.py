"""Units of the `shift` layer: words (or 2–4 character CJK groups) and the text lines holding them.

A word moves along its line's direction, a line moves across it. Boxes are tight around the ink in the
page rendering, in rendering pixels, half-open ``[x0, x1) × [y0, y1)``. A unit is kept only where
moving it is invisible apart from the glyphs themselves: the ring of pixels that slides into its box
must be plain background (no table rule, seal, photo or neighbouring glyph).

Born-digital pages get their units from PyMuPDF's text extraction; scanned pages and images from
connected components of the ink.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from leakmark.units import blobs, boxtools, rules

INK_LEVEL = 170  # grey below this is ink (connected components, plain-ring check)
EDGE_LEVEL = 10  # a pixel this much darker than the local paper belongs to the glyph (antialiasing too)
RING_TOLERANCE = 16  # max grey spread allowed in the ring that slides into a moved box


@dataclass
class PageUnits:
    words: np.ndarray  # (n, 4) int32 x0, y0, x1, y1
    word_axis: np.ndarray  # (n,) int8: 0 = word moves along x (horizontal text), 1 = along y
    word_line: np.ndarray  # (n,) int32 index into lines
    lines: np.ndarray  # (m, 4) int32 union of their words' boxes
    # (k, 4) int32 table lines, borders, axes, and the axis each moves along (1: a horizontal rule moves
    # along y). Pages registered before rules were units have none: their copies' codes are unchanged.
    rules: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))
    rule_axis: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # (b, 4) int32 seals, signatures, logos: each moves in x and y (two code positions each, x then y)
    blobs: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_lines(self) -> int:
        return len(self.lines)

    @property
    def n_rules(self) -> int:
        return len(self.rules)

    @property
    def n_blobs(self) -> int:
        return len(self.blobs)

    @property
    def n_codes(self) -> int:
        """Code positions: words, then lines, then rules, then two per blob (x, y)."""
        return self.n_words + self.n_lines + self.n_rules + 2 * self.n_blobs

    def crossings(self, delta: int) -> list[tuple[int, int, tuple[int, int, int, int]]]:
        """Where a horizontal and a vertical rule's moved boxes overlap (computed once per page)."""
        cached = self.__dict__.setdefault("_crossings", {})
        if delta not in cached:
            cached[delta] = rules.crossings(self.rules, self.rule_axis, delta)
        return cached[delta]

    def to_json(self) -> dict:
        d = {"words": self.words.tolist(), "word_axis": self.word_axis.tolist(),
             "word_line": self.word_line.tolist(), "lines": self.lines.tolist()}
        if self.n_rules:
            d |= {"rules": self.rules.tolist(), "rule_axis": self.rule_axis.tolist()}
        if self.n_blobs:
            d["blobs"] = self.blobs.tolist()
        return d

    @classmethod
    def from_json(cls, d: dict) -> PageUnits:
        return cls(words=np.asarray(d["words"], dtype=np.int32).reshape(-1, 4),
                   word_axis=np.asarray(d["word_axis"], dtype=np.int8),
                   word_line=np.asarray(d["word_line"], dtype=np.int32),
                   lines=np.asarray(d["lines"], dtype=np.int32).reshape(-1, 4),
                   rules=np.asarray(d.get("rules", []), dtype=np.int32).reshape(-1, 4),
                   rule_axis=np.asarray(d.get("rule_axis", []), dtype=np.int8),
                   blobs=np.asarray(d.get("blobs", []), dtype=np.int32).reshape(-1, 4))

    @classmethod
    def empty(cls) -> PageUnits:
        return cls(np.zeros((0, 4), np.int32), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros((0, 4), np.int32))


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x2E80 <= o <= 0x9FFF) or (0xF900 <= o <= 0xFAFF) or (0xFF00 <= o <= 0xFFEF) or (0x3000 <= o <= 0x303F)


def cjk_groups(n: int) -> list[int]:
    """Split a run of n CJK characters into groups of 2–4 (mostly 3): sizes in order."""
    if n <= 4:
        return [n]
    sizes = [3] * (n // 3)
    rest = n % 3
    if rest == 1:
        sizes[-1] = 4
    elif rest == 2:
        sizes.append(2)
    return sizes


# -- born-digital pages ------------------------------------------------------------------------------
def from_text(page_dict: dict, matrix: tuple[float, ...], gray: np.ndarray, delta: int) -> PageUnits:
    """Units from a PyMuPDF ``rawdict``; `matrix` maps its coordinates to rendering pixels."""
    a, b, c, d, e, f = matrix
    shift_pt = 2 * delta / max(float(np.hypot(a, b)), 1e-6)  # two neighbours' moves apart, in points
    lines: list[tuple[int, list[tuple[float, float, float, float]]]] = []
    for block in page_dict.get("blocks", []):
        if block.get("type", 0) != 0:
            continue
        for line in _joined_lines(block.get("lines", []), shift_pt):
            dx, dy = line.get("dir", (1.0, 0.0))
            tx, ty = a * dx + c * dy, b * dx + d * dy
            if abs(tx) > 0.999 * np.hypot(tx, ty):
                axis = 0
            elif abs(ty) > 0.999 * np.hypot(tx, ty):
                axis = 1
            else:
                continue  # slanted text: a shift along a diagonal is not worth the risk
            boxes: list[tuple[float, float, float, float]] = []
            for group, chars in _line_groups(line, shift_pt):
                xs, ys = [], []
                for ch in (chars[i] for i in group):
                    x0, y0, x1, y1 = ch["bbox"]
                    for px, py in ((x0, y0), (x1, y1)):
                        xs.append(a * px + c * py + e)
                        ys.append(b * px + d * py + f)
                boxes.append((min(xs), min(ys), max(xs), max(ys)))
            if boxes:
                lines.append((axis, boxes))
    return _build(lines, gray, delta)


# MuPDF's text extraction (stext-device.c) inserts a space between two glyphs when the gap from the first's
# advance to the second's origin is at least SPACE_DIST of the font size, and starts a new line from
# SPACE_MAX_DIST. Two words that move apart or together by up to 2δ must not cross either threshold, or a
# copy's extracted text would differ from the original's ("⟨field ID⟩" → "⟨field ID ⟩", "4, 5" → "4,5").
_SPACE_DIST, _SPACE_MAX_DIST, _BASE_MAX_DIST, _SPACE_MARGIN = 0.15, 0.8, 0.8, 0.02


def _sized_chars(line: dict) -> list[dict]:
    """An extracted line's characters across its spans, each with its span's font size."""
    return [dict(ch, size=span.get("size", 0.0)) for span in line.get("spans", []) for ch in span.get("chars", [])]


def _joined_lines(lines: list[dict], shift_pt: float) -> list[dict]:
    """The block's extracted lines, where one continues the previous on the same baseline across a gap near
    the extractor's new-line distance (a dot leader after a word) joined into one: a move could otherwise
    make the extractor join or split them."""
    out: list[dict] = []
    for line in lines:
        prev = out[-1] if out else None
        if prev is not None and tuple(prev.get("dir", (1.0, 0.0))) == tuple(line.get("dir", (1.0, 0.0))):
            last, first = _sized_chars(prev), _sized_chars(line)
            dx, dy = line.get("dir", (1.0, 0.0))
            if last and first and _same_baseline(last[-1], first[0], dx, dy) \
                    and not _safe_boundary(last[-1], first[0], dx, dy, shift_pt):
                out[-1] = dict(prev, spans=list(prev.get("spans", [])) + list(line.get("spans", [])))
                continue
        out.append(line)
    return out


def _same_baseline(before: dict, after: dict, dx: float, dy: float) -> bool:
    size = float(after.get("size") or 0.0)
    if size <= 0 or "origin" not in before or "origin" not in after:
        return False
    (bx, by), (ax, ay) = before["origin"], after["origin"]
    return abs(-dy * (ax - bx) + dx * (ay - by)) < _BASE_MAX_DIST * size


def _line_groups(line: dict, shift_pt: float) -> list[tuple[list[int], list[dict]]]:
    """Word groups of one extracted line (across its spans), with neighbours merged where moving them apart
    or together by 2δ could change the extracted text."""
    chars = _sized_chars(line)
    groups: list[list[int]] = []
    start = 0
    for span in line.get("spans", []):
        n = len(span.get("chars", []))
        groups.extend([start + i for i in g] for g in _word_groups([ch["c"] for ch in span.get("chars", [])]))
        start += n
    dx, dy = line.get("dir", (1.0, 0.0))
    merged: list[list[int]] = []
    for g in groups:
        if merged and not _safe_boundary(chars[merged[-1][-1]], chars[g[0]], dx, dy, shift_pt):
            merged[-1] = merged[-1] + g
        else:
            merged.append(g)
    return [(g, chars) for g in merged]


def _safe_boundary(before: dict, after: dict, dx: float, dy: float, shift_pt: float) -> bool:
    """True when the extractor reads the gap between two glyphs the same way after either moves by up to
    `shift_pt` along the line (a space, no space, or a new line in both cases)."""
    size = float(after.get("size") or 0.0)
    if size <= 0 or "origin" not in after:
        return True  # no metrics to judge by: keep the split, as before
    x0, y0, x1, y1 = before["bbox"]
    pen = max(px * dx + py * dy for px, py in ((x0, y0), (x0, y1), (x1, y0), (x1, y1)))
    ox, oy = after["origin"]
    spacing = (ox * dx + oy * dy - pen) / size
    m = shift_pt / size + _SPACE_MARGIN
    lo, hi = spacing - m, spacing + m
    return (-_SPACE_MAX_DIST < lo and hi < _SPACE_DIST) or (_SPACE_DIST <= lo and hi < _SPACE_MAX_DIST) \
        or _SPACE_MAX_DIST <= lo


def _word_groups(text: list[str]) -> list[list[int]]:
    """Indices of characters forming units: Latin words split at spaces, CJK runs in 2–4 groups."""
    groups: list[list[int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        j = i
        if is_cjk(ch):
            while j < n and is_cjk(text[j]) and not text[j].isspace():
                j += 1
            start = i
            for size in cjk_groups(j - i):
                groups.append(list(range(start, start + size)))
                start += size
        else:
            while j < n and not text[j].isspace() and not is_cjk(text[j]):
                j += 1
            groups.append(list(range(i, j)))
        i = j
    return groups


# -- scanned pages and images ------------------------------------------------------------------------
def from_image(gray: np.ndarray, delta: int) -> PageUnits:
    """Units from connected components of the ink, for pages without a text layer (horizontal text)."""
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n < 2:
        return PageUnits.empty()
    hs = stats[1:, cv2.CC_STAT_HEIGHT]
    ws = stats[1:, cv2.CC_STAT_WIDTH]
    plausible = (hs >= 4) & (hs <= gray.shape[0] // 20) & (ws <= gray.shape[1] // 4)
    if plausible.sum() < 5:
        return _build([], gray, delta)
    h = float(np.median(hs[plausible]))
    glyphs = np.zeros_like(ink)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = plausible & (hs <= 3 * h)
    glyphs[keep[labels]] = 255
    # letters of a word (and CJK characters) sit closer than ~0.35 of the text height
    kx = max(3, round(0.35 * h) | 1)
    merged = cv2.dilate(glyphs, cv2.getStructuringElement(cv2.MORPH_RECT, (kx, 1)))
    m, _, st, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    words = []
    for x, y, w, hh, _area in st[1:m]:
        x0, x1 = x + kx // 2, x + w - kx // 2
        if hh < 0.5 * h or x1 - x0 < 0.3 * h:
            continue
        # long runs (CJK lines merge whole) are cut into chunks about three characters wide
        pieces = max(1, round((x1 - x0) / (3.2 * h))) if (x1 - x0) > 4.5 * h else 1
        edges = np.linspace(x0, x1, pieces + 1)
        for k in range(pieces):
            words.append((edges[k], y, edges[k + 1], y + hh))
    if not words:
        return _build([], gray, delta)
    words.sort(key=lambda b: ((b[1] + b[3]) / 2, b[0]))
    lines: list[tuple[int, list]] = []
    for box in words:
        cy = (box[1] + box[3]) / 2
        for _axis, members in lines:
            ly0 = min(b[1] for b in members)
            ly1 = max(b[3] for b in members)
            if ly0 <= cy <= ly1:
                members.append(box)
                break
        else:
            lines.append((0, [box]))
    return _build(lines, gray, delta)


# -- common: tighten, check, merge -------------------------------------------------------------------
def _build(raw_lines: list[tuple[int, list]], gray: np.ndarray, delta: int) -> PageUnits:
    H, W = gray.shape
    ring = 2 * delta  # a box moved by delta reads up to 2*delta beyond its tight box
    margin = ring + delta + 2
    # scans carry sensor noise: ink and plain-paper levels scale with it
    diff = np.abs(gray.astype(np.int16) - cv2.medianBlur(gray, 3))[gray > 128]
    noise = 1.25 * float(diff.mean()) if diff.size else 0.0  # mean |x - median3| ~ 0.8 sigma for Gaussian noise
    edge_level, tolerance = max(EDGE_LEVEL, int(4 * noise)), max(RING_TOLERANCE, int(8 * noise))
    words: list[list[int]] = []
    axes: list[int] = []
    owner: list[int] = []
    line_boxes: list[list[int]] = []
    line_axes: list[int] = []
    text_boxes: list[list[int]] = []  # every word, also those that cannot move: never a blob (below)
    for axis, boxes in raw_lines:
        tight = []
        for bx in boxes:
            x0, y0 = max(int(np.floor(bx[0])) - 1, margin), max(int(np.floor(bx[1])) - 1, margin)
            x1, y1 = min(int(np.ceil(bx[2])) + 1, W - margin), min(int(np.ceil(bx[3])) + 1, H - margin)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            region = gray[y0:y1, x0:x1]
            sub = region < int(np.percentile(region, 95)) - edge_level
            ys, xs = np.nonzero(sub.any(axis=1))[0], np.nonzero(sub.any(axis=0))[0]
            if len(ys) == 0:
                continue
            tight.append([x0 + xs[0], y0 + ys[0], x0 + xs[-1] + 1, y0 + ys[-1] + 1])
        tight = _merge_close(sorted(tight, key=lambda t: t[axis]), axis, 2 * delta + 1)
        text_boxes += tight
        tight = [t for t in tight if boxtools.ring_is_plain(gray, t, ring, tolerance)]
        if not tight:
            continue
        line_idx = len(line_boxes)
        for t in tight:
            words.append(t)
            axes.append(axis)
            owner.append(line_idx)
        line_boxes.append([min(t[0] for t in tight), min(t[1] for t in tight),
                           max(t[2] for t in tight), max(t[3] for t in tight)])
        line_axes.append(1 - axis)
    pu = _words_and_lines(words, axes, owner, line_boxes, gray, delta, ring, tolerance) if words \
        else PageUnits.empty()
    moving = np.concatenate([pu.words, pu.lines[pu.lines[:, 2] > pu.lines[:, 0]]])
    taken = moving + np.array([-delta, -delta, delta, delta])
    pu.rules, pu.rule_axis = rules.find(gray, delta, taken, edge_level, tolerance)
    taken = np.concatenate([taken, pu.rules + np.array([-delta, -delta, delta, delta])])
    # a word that cannot move as a word is text all the same, not a mark: as a blob it would move in x and y
    # apart from its neighbours, and the copy's extracted text could change at the gap (DESIGN §3 blobs are
    # seals, signatures and logos)
    text = np.asarray(text_boxes, dtype=np.int64).reshape(-1, 4) + np.array([-delta, -delta, delta, delta])
    pu.blobs = blobs.find(gray, delta, np.concatenate([taken, text]), tolerance)
    return pu


def _words_and_lines(words: list[list[int]], axes: list[int], owner: list[int], line_boxes: list[list[int]],
                     gray: np.ndarray, delta: int, ring: int, tolerance: int) -> PageUnits:
    words_a = np.asarray(words, dtype=np.int32)
    owner_a = np.asarray(owner, dtype=np.int32)
    lines_a = np.asarray(line_boxes, dtype=np.int32)
    axes_a = np.asarray(axes, dtype=np.int8)
    # lines whose moved boxes would touch are merged: they then move as one
    lines_a, owner_a = _merge_overlapping_lines(lines_a, owner_a, delta)
    # words whose moved boxes would touch words of another line are dropped
    keep = _isolated(words_a, delta)
    words_a, axes_a, owner_a = words_a[keep], axes_a[keep], owner_a[keep]
    used = np.unique(owner_a)
    remap = -np.ones(len(lines_a), dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    lines_a = np.asarray([_union(words_a[owner_a == u]) for u in used], dtype=np.int32).reshape(-1, 4)
    owner_a = remap[owner_a]
    # a line that cannot move (a rule or seal touches it) keeps its words, which still move: its box
    # is zeroed, which the marker and the detector read as "no line code here"
    plain = np.asarray([boxtools.ring_is_plain(gray, b, ring, tolerance) for b in lines_a], dtype=bool)
    lines_a[~plain] = 0
    return PageUnits(words=words_a, word_axis=axes_a, word_line=owner_a, lines=lines_a)


def _union(boxes: np.ndarray) -> list[int]:
    return [int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())]


def _merge_close(boxes: list[list[int]], axis: int, gap: int) -> list[list[int]]:
    out: list[list[int]] = []
    for b in boxes:
        if out and b[axis] - out[-1][axis + 2] < gap:
            p = out[-1]
            out[-1] = [min(p[0], b[0]), min(p[1], b[1]), max(p[2], b[2]), max(p[3], b[3])]
        else:
            out.append(list(b))
    return out


def _merge_overlapping_lines(lines: np.ndarray, owner: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    parent = list(range(len(lines)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    grown = lines + np.array([-pad, -pad, pad, pad])
    for i in range(len(lines)):
        hit = ((grown[i + 1:, 0] < grown[i, 2]) & (grown[i + 1:, 2] > grown[i, 0]) &
               (grown[i + 1:, 1] < grown[i, 3]) & (grown[i + 1:, 3] > grown[i, 1]))
        for j in np.nonzero(hit)[0] + i + 1:
            parent[find(int(j))] = find(i)
    roots = np.asarray([find(i) for i in range(len(lines))])
    return lines, roots[owner]


def _isolated(words: np.ndarray, pad: int) -> np.ndarray:
    grown = words + np.array([-pad, -pad, pad, pad])
    keep = np.ones(len(words), dtype=bool)
    for i in range(len(words)):
        hit = ((grown[:, 0] < grown[i, 2]) & (grown[:, 2] > grown[i, 0]) &
               (grown[:, 1] < grown[i, 3]) & (grown[:, 3] > grown[i, 1]))
        hit[i] = False
        if hit.any():
            keep[i] = False
    return keep
