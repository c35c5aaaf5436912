"""Naming every source of a leak, when several copies' marks are mixed in it (collusion), and never an innocent.

Evidence assembled from several copies (pages of different copies, a page cut from two, two copies averaged)
scored as one codeword dilutes each colluder's mark by the others'. So the search scores *parts* of the
evidence separately, in rounds:

- parts: the whole evidence (as a single leak is scored), each page alone, and regions of each page (2 to 5
  consecutive bands of 6, across and down: 28 per page, fixed by the page's geometry, not by the evidence);
- rounds: after a round in which copies pass the threshold, their marks are removed from the measurement and
  every other copy is scored again on what is left, where a weaker colluder's mark is no longer drowned by the
  stronger ones'. Removed three ways, each scored: subtracted (a least-squares fit of their codewords, its
  amplitudes smoothed over an 8 × 8 block grid: copies averaged), cut out where the fit finds them (a page
  pasted from several copies: the rest of the evidence, its pages and regions), and cut out where they were
  found (the page or region of their best bound: a page cut along a line, each piece from another copy).

Why the false-accusation probability stays a bound. Every score is z = <c, r> / ||r|| for a measurement r that
does not depend on an innocent copy's codeword c (HMAC bits independent of the evidence), so its tail bound
holds (`tailbound`). The measurement of round k is the evidence minus the marks of the copies that passed in
earlier rounds; as long as no innocent has passed, those are sources only, so r is a function of the evidence
and of sources' codewords, still independent of every innocent's. An innocent passes for the first time in
some round, in some part, with some subset of layers: a weighted Bonferroni bound over all of them (round
weight × family weight / parts in the family, the weights summing to 1, fixed before seeing the evidence) keeps
P(any innocent named) ≤ the threshold. The whole evidence in round 1 keeps most of the weight (0.8 × 0.75, or
0.8 × 0.8 for one page), so a single-copy leak's FAP is at most 1.7 times what it was without the search (at
1,000 copies the score needed to name a copy rises from 6.18 to 6.25, or 6.26 for several pages).
Which copies are removed uses only the threshold, never the separation rule (which looks at innocents' scores).
The tail bound also needs each codeword position to count once in r: evidence pages that show the same
registered page (`Coded.shows`) are summed in the parts over all pages, never joined (`_layers`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from leakmark import tailbound
from leakmark.layers import tone
from leakmark.trace import decide
from leakmark.trace.result import SearchInfo

if TYPE_CHECKING:
    from leakmark.units import PageUnits

MAX_ROUNDS = 4
ROUND_WEIGHTS = (0.8, 0.1, 0.06, 0.04)
BANDS = 6  # a page's regions: 2..BANDS-1 consecutive bands of BANDS, across and down (a sixth alone is too
# small to name one of many copies: it would only raise every region's share of the bound)
BLOCKS = 8  # the grid over which a removed copy's amplitude is fitted (then smoothed over neighbouring blocks)
RIDGE = 1.0  # keeps a block's fit defined where it measured little
KEEP_TOP = 32  # per part where copies passed: the best scores kept for the separation rule
MASK_Z = 2.0  # a block where a removed copy's mark is found this clearly is left out of the `rest` parts
Layers = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class Coded:
    """One measured layer of one evidence page, with every copy's codeword on it."""

    page: int  # index among the measured pages
    layer: str
    values: np.ndarray  # (n,) the measurement (0 = not measured)
    codes: np.ndarray  # (copies, n) float32 ±1, rows of copies that do not carry the layer on the page all 0
    carried: np.ndarray  # (copies,) bool
    yx: np.ndarray  # (n, 2) each code position's place on the page, as fractions of its height and width
    # the registered page (0-based) it shows: measured pages that show the same page (two captures of it, one
    # image given twice) are summed in the parts over all pages, not joined (`_layers`); None: its own page
    shows: int | None = None


@dataclass(frozen=True)
class Part:
    family: str  # "whole" | "rest" | "outside" | "page" | "region"
    page: int | None  # index among the measured pages (None: all)
    axis: int = 0  # regions: 0 = a band of rows (from the top), 1 = of columns (from the left)
    lo: int = 0
    hi: int = BANDS

    @property
    def masked(self) -> bool:
        """Scored on the evidence without the places where removed copies' marks were found (from round 2 on:
        a page cut from several copies), rather than with those marks subtracted (copies averaged); "outside":
        without the parts where the removed copies were found (`_outside`)."""
        return self.family != "whole"


WHOLE = Part("whole", None)


@dataclass
class Finding:
    """The outcome of the search: per copy its best (smallest) bound, where and with which score."""

    fap: np.ndarray  # (copies,)
    score: np.ndarray  # (copies,) z in the part that gave the best bound (round 1's whole evidence if none)
    found_layers: dict[int, dict[str, float]]  # copies found on a part: that part's per-layer z
    where: list[Part]  # per copy: that part
    removed: list[list[int]]  # per copy: the copies whose marks were removed in the round of its best bound
    named: list[int]  # copies named, best first
    passed: list[int]  # copies that passed the threshold (named, or refused by the separation rule)
    whole: Layers  # round 1's whole-evidence layer scores (for the report's plots)
    info: SearchInfo

    def layers(self, i: int) -> dict[str, float]:
        """Copy i's per-layer z (for the layers it carries) where its score was found."""
        if i in self.found_layers:
            return self.found_layers[i]
        return {n: float(v[i]) for n, (v, has) in self.whole.items() if has[i]}


def parts(pages: int, later: bool) -> tuple[list[Part], dict[str, float]]:
    """The parts scored in a round and each family's weight (summing to 1). From round 2 on (`later`) the
    whole evidence is scored three times: with the removed copies' marks subtracted, without where their marks
    lie (`rest`), and without the parts where they were found (`outside`)."""
    out = [WHOLE]
    if later:
        out += [Part("rest", None), Part("outside", None)]
    if pages > 1:
        out += [Part("page", p) for p in range(pages)]
    out += [Part("region", p, axis, lo, hi) for p in range(pages) for axis in (0, 1) for lo in range(BANDS)
            for hi in range(lo + 2, BANDS + 1) if hi - lo < BANDS]
    if not later:
        weights = {"whole": 0.75, "page": 0.1, "region": 0.15} if pages > 1 else {"whole": 0.8, "region": 0.2}
    else:
        # the rest of the evidence's share split evenly between its two cuts (`rest`: the block mask, for any
        # shape pasted; `outside`: the found parts, exact for a page cut along a band's edges)
        weights = ({"whole": 0.4, "rest": 0.15, "outside": 0.15, "page": 0.1, "region": 0.2} if pages > 1
                   else {"whole": 0.4, "rest": 0.175, "outside": 0.175, "region": 0.25})
    return out, weights


def search(coded: list[Coded], exact: Layers, copies: int, pages: int, threshold: float, documents: int = 1
           ) -> Finding:
    """Every copy scored on every part in up to MAX_ROUNDS rounds; the copies named, with their bounds.

    `exact`: the exact-read layers (blind payload, file identifiers) as layer scores; they join the whole
    evidence only (they are not spatial). `documents`: how many documents are decided in turn (the bound counts
    each)."""
    fap = np.ones(copies)
    score = np.zeros(copies)
    found_layers: dict[int, dict[str, float]] = {}
    where = [WHOLE] * copies
    removed: list[list[int]] = [[] for _ in range(copies)]
    passed: list[int] = []
    groups: list[tuple[list[int], np.ndarray, np.ndarray]] = []  # per part where copies passed: them, the top
    whole: Layers = {}
    whole_r = cut = outside = [_products(c, c.values.astype(np.float64)) for c in coded]  # round 1: as measured
    whole_tests, scored = 1, 0
    z1 = p1 = np.zeros(0)  # round 1, the whole evidence: scores and bounds
    for k in range(MAX_ROUNDS):
        all_parts, weights = parts(pages, later=k > 0)
        size = {f: sum(p.family == f for p in all_parts) for f in weights}
        scored = max(scored, len(all_parts))
        new_pass: set[int] = set()
        for part in all_parts:
            found = _layers(coded, outside if part.family == "outside" else cut if part.masked else whole_r, part)
            if part.family == "whole":
                found |= exact
            if not found:
                continue
            z, tests = decide.fuse(found)
            if part.family == "whole" and k == 0:  # every copy's score to show, where nothing better is found
                whole, whole_tests, score[:], z1 = found, tests, z, z
            weight = ROUND_WEIGHTS[k] * weights[part.family] / size[part.family]
            p = _bound(z, copies * tests * documents / weight)
            p[passed] = 1.0  # already removed: their score here says nothing new
            if part.family == "whole" and k == 0:
                p1 = p
            for i in map(int, np.nonzero(p < fap)[0]):
                fap[i], score[i], where[i], removed[i] = p[i], z[i], part, list(passed)
                found_layers[i] = {n: float(v[i]) for n, (v, has) in found.items() if has[i]}
            over = [int(i) for i in np.nonzero(p < threshold)[0]]
            if over:
                top = np.argsort(-z, kind="stable")[:len(over) + KEEP_TOP]
                groups.append((over, top, z[top]))
                new_pass.update(over)
        fresh = sorted(new_pass - set(passed), key=lambda i: fap[i])
        passed += fresh
        if not fresh or k + 1 == MAX_ROUNDS:
            break
        both = [_remove(c, c.values.astype(np.float64), passed) for c in coded]
        whole_r = [_products(c, b[0]) for c, b in zip(coded, both, strict=True)]
        cut = [_products(c, b[1]) for c, b in zip(coded, both, strict=True)]
        outside = [_products(c, _outside(c, c.values.astype(np.float64), [where[i] for i in passed])) for c in coded]
    # a single source that the whole evidence names is reported as the whole evidence shows it (as before the
    # search existed), even where a part gives a smaller bound: the larger bound is still one. Several sources:
    # each where it stands out most (which page, which region), which is what an investigator needs to see
    for i in map(int, np.nonzero(p1 < threshold)[0]) if len(passed) == 1 else ():
        fap[i], score[i], where[i], removed[i] = p1[i], z1[i], WHOLE, []
        found_layers.pop(i, None)
    named = sorted({i for over, top, zt in groups if _separated(over, top, zt, set(passed)) for i in over},
                   key=lambda i: (fap[i], -score[i]))
    info = SearchInfo(parts=scored, rounds=k + 1, whole_weight=ROUND_WEIGHTS[0] * parts(pages, False)[1]["whole"],
                      tests=whole_tests)
    return Finding(fap, score, found_layers, where, removed, named, passed, whole, info)


def _bound(z: np.ndarray, multiplier: float) -> np.ndarray:
    """min(1, multiplier × tail(z)), the tail computed only where it can be below 1 (it is a scalar function)."""
    p = np.ones(len(z))
    at = np.nonzero(z > _least(multiplier))[0]
    p[at] = np.minimum(1.0, multiplier * tailbound.tail(z[at]))
    return p


@functools.lru_cache(maxsize=256)
def _least(multiplier: float) -> float:
    """The score below which multiplier × tail(z) ≥ 1 (the tail bound decreases in z)."""
    return tailbound.score_for(1.0 / multiplier) - 1e-9 if multiplier > 1.0 else -np.inf


def _separated(over: list[int], top: np.ndarray, zt: np.ndarray, passed: set[int]) -> bool:
    """The copies over the threshold in a part stand SEPARATION above the best copy there that passed nowhere
    (`top`, `zt`: that part's best copies and scores; a colluder found elsewhere does not hold the others back,
    a copy that passed nowhere does). With every kept copy a passer, the last kept score bounds the rest."""
    rest = [float(v) for i, v in zip(top.tolist(), zt.tolist(), strict=True) if i not in passed]
    if not rest and len(top) < len(over) + KEEP_TOP:  # every copy was kept, and every one passed
        return True
    best_rest = rest[0] if rest else float(zt[-1])
    return float(zt[np.isin(top, over)].min()) - best_rest >= decide.SEPARATION


@dataclass
class _Products:
    """One item's measurement against every copy's codeword, whole and per band (so a part's score is a sum)."""

    whole: np.ndarray  # (copies,) <codeword, r>
    energy: float  # ||r||²
    r: np.ndarray  # the measurement itself (summed with other captures of its page: `_layers`)
    bands: np.ndarray  # (2, copies, BANDS) the same per band of rows (0) and of columns (1)
    band_energy: np.ndarray  # (2, BANDS)


def _products(c: Coded, r: np.ndarray) -> _Products:
    """One matrix product per item and measurement: the codewords against r and against r split by band."""
    n = len(r)
    cols = np.zeros((n, 1 + 2 * BANDS), np.float32)
    cols[:, 0] = r
    band_energy = np.zeros((2, BANDS))
    for axis in (0, 1):
        on = c.yx[:, axis] >= 0  # positions placed on the page (units not this page's are not)
        band = np.clip((c.yx[:, axis] * BANDS).astype(np.int64), 0, BANDS - 1)
        at = np.nonzero(on)[0]
        cols[at, 1 + axis * BANDS + band[at]] = r[at]
        np.add.at(band_energy[axis], band[at], r[at] ** 2)
    prod = (c.codes @ cols).astype(np.float64)
    return _Products(prod[:, 0], float(np.dot(r, r)), r, prod[:, 1:].reshape(-1, 2, BANDS).transpose(1, 0, 2),
                     band_energy)


def _layers(coded: list[Coded], products: list[_Products], part: Part) -> Layers:
    """Per layer, every copy's z on the positions the part covers: pages combine as one long codeword, a
    copy counting only the pages that carry the layer (as a single leak is scored). Several measured pages that
    show one registered page (`Coded.shows`) are one page there: their measurements summed, so that the page's
    codeword counts once. Joined instead, an image given twice scored √2 times its z, every innocent's too,
    and z = <c, r> / ||r|| is a bound only for a codeword whose positions each count once in r (measured: an
    inconclusive screen photo, FAP 1.3e-4, was "identified" at 3.6e-10 when given twice)."""
    total: dict[str, np.ndarray] = {}
    norm2: dict[str, np.ndarray] = {}
    shown: dict[tuple[int, str, int], list[_Products]] = {}  # parts over all pages: captures per page shown
    carried: dict[tuple[int, str, int], np.ndarray] = {}
    for c, pr in zip(coded, products, strict=True):
        if part.page is not None and c.page != part.page:
            continue
        if part.family == "region":
            dot = pr.bands[part.axis, :, part.lo:part.hi].sum(axis=1)
            energy = float(pr.band_energy[part.axis, part.lo:part.hi].sum())
        elif c.shows is not None and part.page is None:
            key = (c.shows, c.layer, len(pr.r))
            shown.setdefault(key, []).append(pr)
            carried[key] = c.carried
            continue
        else:
            dot, energy = pr.whole, pr.energy
        _add(total, norm2, c.layer, dot, energy, c.carried)
    for (_page, layer, _n), prs in shown.items():
        if len(prs) == 1:
            dot, energy = prs[0].whole, prs[0].energy
        else:  # <c, r1> + <c, r2> = <c, r1 + r2>, over ||r1 + r2||
            r = np.sum([pr.r for pr in prs], axis=0)
            dot, energy = np.sum([pr.whole for pr in prs], axis=0), float(np.dot(r, r))
        _add(total, norm2, layer, dot, energy, carried[(_page, layer, _n)])
    return {name: (total[name] / np.sqrt(np.maximum(norm2[name], 1e-12)), norm2[name] > 0) for name in total}


def _add(total: dict[str, np.ndarray], norm2: dict[str, np.ndarray], layer: str, dot: np.ndarray, energy: float,
         carried: np.ndarray) -> None:
    """One page's products joined to its layer's codeword (nothing when it measured nothing there)."""
    if energy == 0.0:
        return
    t = total.setdefault(layer, np.zeros(len(carried)))
    t += dot
    n = norm2.setdefault(layer, np.zeros(len(carried)))
    n += energy * carried


def _remove(c: Coded, values: np.ndarray, removed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The measurement without the removed copies' marks, two ways: subtracted (per block of a BLOCKS × BLOCKS
    grid, the least-squares amplitude of each removed codeword, the normal equations smoothed over the
    neighbouring blocks: a mark lies over a region, not at single positions), and kept only where the fit finds
    no removed mark (its local z below MASK_Z). Uses only the measurement and the removed copies' codewords,
    never another copy's."""
    C = c.codes[removed].astype(np.float64)  # (s, n)
    if not C.any():
        return values, values
    on = values != 0
    cell = (np.clip((c.yx * BLOCKS).astype(np.int64), 0, BLOCKS - 1) * [BLOCKS, 1]).sum(axis=1)
    s, blocks = len(removed), BLOCKS * BLOCKS
    A = np.zeros((blocks, s, s))
    y = np.zeros((blocks, s))
    e = np.zeros((blocks, 2))  # measured positions and their energy per block
    Cm = C * on
    np.add.at(A, cell, np.einsum("in,jn->nij", Cm, Cm))
    np.add.at(y, cell, (Cm * values).T)
    np.add.at(e, cell, np.stack([on, values * values], axis=1))
    A = _smooth(A.reshape(BLOCKS, BLOCKS, -1)).reshape(-1, s, s)
    y = _smooth(y.reshape(BLOCKS, BLOCKS, -1)).reshape(-1, s)
    e = _smooth(e.reshape(BLOCKS, BLOCKS, -1)).reshape(-1, 2)
    beta = np.linalg.solve(A + RIDGE * np.eye(s), y[..., None])[..., 0]  # (blocks, s)
    fitted = np.einsum("ns,sn->n", beta[cell], C)
    # the removed marks' local z: the energy the fit explains over the energy of one measured position
    z2 = np.einsum("bs,bs->b", beta, y) / np.maximum(e[:, 1] / np.maximum(e[:, 0], 1.0), 1e-12)
    there = z2[cell] > MASK_Z ** 2
    return np.where(on, values - fitted, 0.0), np.where(on & ~there, values, 0.0)


def _outside(c: Coded, values: np.ndarray, found: list[Part]) -> np.ndarray:
    """The measurement without the parts where the removed copies were found (each one's best bound: a page
    or a region of one; found on the whole evidence or its rest, nothing is left). Uses only the evidence and
    the removed copies' own bounds. A page cut along a line from several copies, each piece found as a region,
    leaves the other pieces whole, where the block mask of `_remove` also takes the blocks beside a found
    copy's, whose fit its mark spills into (measured on the notice's page 1 cut in two halves: it kept 26 of
    the other half's 63 words, and the other copy scored z 4.3 there against 6.9 on its half)."""
    inside = np.zeros(len(values), bool)
    for part in found:
        if part.page is None:
            return np.zeros_like(values)
        if part.page != c.page:
            continue
        if part.family != "region":  # a page
            return np.zeros_like(values)
        at = c.yx[:, part.axis]
        band = np.clip((at * BANDS).astype(np.int64), 0, BANDS - 1)  # as `_products` bands them
        inside |= (at < 0) | ((band >= part.lo) & (band < part.hi))  # a position placed nowhere may be inside
    return np.where(inside, 0.0, values)


def _smooth(grid: np.ndarray) -> np.ndarray:
    """A block grid's statistics summed with their neighbours' (3 × 3, weights 1-2-1)."""
    out = np.empty_like(grid)
    kernel = np.array([1.0, 2.0, 1.0])
    for i in range(grid.shape[2]):
        out[:, :, i] = cv2.sepFilter2D(grid[:, :, i], -1, kernel, kernel, borderType=cv2.BORDER_CONSTANT)
    return out


def positions(layer: str, units: PageUnits, shape: tuple[int, ...], dpi: int, n: int) -> np.ndarray:
    """(n, 2) where each of a layer's n code positions lies on the page, as fractions of height and width:
    `shift`'s words, lines, rules and blobs (x and y) by their boxes' centres, `tone`'s cells by theirs."""
    h, w = float(shape[0]), float(shape[1])
    if layer == tone.LAYER:
        _, nx, c = tone.grid(shape, dpi)
        k = np.arange(n)
        return np.stack([((k // max(nx, 1)) + 0.5) * c / h, ((k % max(nx, 1)) + 0.5) * c / w], axis=1)
    boxes = np.concatenate([units.words.reshape(-1, 4), units.lines.reshape(-1, 4), units.rules.reshape(-1, 4),
                            np.repeat(units.blobs.reshape(-1, 4), 2, axis=0)]).astype(np.float64)
    yx = np.stack([(boxes[:, 1] + boxes[:, 3]) / (2 * h), (boxes[:, 0] + boxes[:, 2]) / (2 * w)], axis=1)
    if len(yx) != n:  # not this page's units after all: nowhere in particular (whole-evidence parts only)
        return np.full((n, 2), -1.0)
    return yx
