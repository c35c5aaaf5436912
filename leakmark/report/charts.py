"""Every issued copy's score as an inline SVG (no plotting library; the same markup in a browser and in the
PDF): a dot per copy stacked in score bins (a histogram bar per bin when there are too many copies to show
one by one), the threshold and the 1 % line, and the copies the verdict names labelled with their numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 34, 40
BIN = 0.5  # score units per bin
MAX_DOTS = 18  # copies stacked in one bin before the chart switches to bars

NAMED = "#0072B2"
OTHER = "#9a9a9a"
BEST = "#555555"
THRESHOLD = "#c0392b"
INCONCLUSIVE = "#E69F00"


@dataclass(frozen=True)
class Mark:
    """A copy labelled on the chart."""

    label: str
    named: bool


def score_chart(scores: np.ndarray, marks: dict[int, Mark], threshold_score: float, inconclusive_score: float,
                axis_label: str, count_label: str, threshold_label: str) -> str:
    """The SVG markup (every text in it escaped). `marks`: the labelled copies, by their index in `scores`."""
    z = np.asarray(scores, np.float64)
    lo = math.floor(min(-4.0, float(z.min()) if len(z) else 0.0) - 0.5)
    hi = math.ceil(max(threshold_score + 1.5, float(z.max()) + 1.0 if len(z) else 0.0))
    nbins = max(1, math.ceil((hi - lo) / BIN))
    bins = np.clip(((z - lo) / BIN).astype(int), 0, nbins - 1)
    counts = np.bincount(bins, minlength=nbins)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(v: float) -> float:
        return LEFT + (v - lo) / (hi - lo) * plot_w

    base = TOP + plot_h
    # no xmlns: inline SVG in HTML needs none, and the report then holds no http: reference at all
    parts = [f'<svg width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>']
    named = [i for i, m in marks.items() if m.named]
    named_bins = {int(b) for b in bins[named]} - {int(b) for b in np.delete(bins, named)}  # bins of named copies only
    dots = int(counts.max(initial=0)) <= MAX_DOTS
    if dots:
        r = min(BIN / (hi - lo) * plot_w / 2 - 0.5, plot_h / MAX_DOTS / 2 - 0.5, 6.0)
        for b in range(nbins):
            members = np.nonzero(bins == b)[0]
            for k, i in enumerate(members[np.argsort(-z[members], kind="stable")].tolist()):
                m = marks.get(i)
                colour = (NAMED if m.named else BEST) if m is not None else OTHER
                parts.append(f'<circle cx="{x(lo + (b + 0.5) * BIN):.1f}" cy="{base - r - 2 * r * k - 0.5:.1f}" '
                             f'r="{r:.1f}" fill="{colour}"/>')
    else:
        top = max(1, int(counts.max()))
        for b, c in enumerate(counts.tolist()):
            if c:
                h = max(1.0, c / top * plot_h)
                colour = NAMED if b in named_bins else OTHER
                parts.append(f'<rect x="{x(lo + b * BIN):.1f}" y="{base - h:.1f}" '
                             f'width="{BIN / (hi - lo) * plot_w - 1:.1f}" height="{h:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{LEFT + 4}" y="{TOP + 4}" fill="#555">{escape(count_label)}: {top}</text>')
        for i, m in marks.items():  # too few to show as a bar: a dot each on the axis
            parts.append(f'<circle cx="{x(float(z[i])):.1f}" cy="{base - 5}" r="4.5" '
                         f'fill="{NAMED if m.named else BEST}"/>')
    for v, colour in ((inconclusive_score, INCONCLUSIVE), (threshold_score, THRESHOLD)):
        parts.append(f'<line x1="{x(v):.1f}" y1="{TOP - 6}" x2="{x(v):.1f}" y2="{base}" stroke="{colour}" '
                     'stroke-width="1.5" stroke-dasharray="5,3"/>')
    parts.append(f'<text x="{x(threshold_score) + 4:.1f}" y="{TOP - 8}" fill="{THRESHOLD}">'
                 f'{escape(threshold_label)}</text>')
    parts.append(f'<text x="{x(inconclusive_score) - 4:.1f}" y="{TOP - 8}" fill="{INCONCLUSIVE}" '
                 'text-anchor="end">1 %</text>')
    # the axis, ticks every 2 or 5 or 10 score units
    parts.append(f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#333"/>')
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if (hi - lo) / s <= 14)
    for t in range(math.ceil(lo / step) * step, hi + 1, step):
        parts.append(f'<line x1="{x(t):.1f}" y1="{base}" x2="{x(t):.1f}" y2="{base + 4}" stroke="#333"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{base + 16}" text-anchor="middle">{t}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{escape(axis_label)}'
                 '</text>')
    # labels of the marked copies, staggered when they are close
    placed: list[float] = []
    for i, m in sorted(marks.items(), key=lambda item: -z[item[0]]):
        px = x(float(z[i]))
        row = sum(1 for p in placed if abs(p - px) < 48)
        placed.append(px)
        parts.append(f'<text x="{px:.1f}" y="{TOP + 10 + 13 * row}" text-anchor="middle" font-weight="bold" '
                     f'fill="{NAMED if m.named else BEST}">{escape(m.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)



def png_uri(svg: str, dpi: int = 200) -> str:
    """The chart as a PNG `data:` URI, drawn by MuPDF's SVG renderer: MuPDF's HTML layout (the PDF report)
    draws inline SVG shapes but not their text."""
    import base64

    from leakmark._mupdf import pymupdf

    with pymupdf.open("svg", svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1).encode()) as doc:
        png = doc[0].get_pixmap(dpi=dpi, alpha=False).tobytes("png")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
