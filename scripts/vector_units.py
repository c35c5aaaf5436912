"""Per-unit diagnostic of a page's vector plan (issue 12): which units the content edit leaves in place, and why.

    python scripts/vector_units.py FILE.pdf PAGE [--dpi 300] [--delta 1] [--all]

PAGE counts from 1. The page is prepared as the issuing worker prepares it (rendering, units, `vector.plan`),
then rendered with the check's test code and measured beside the image marker, as `vector.verify` does. One line
per unit that the image marker carries and the content edit does not (or carries with the wrong sign; `--all`:
every unit): its kind, box (rendering pixels), the text under it, whether anything in the content moves with it,
the two measurements, and the page content's glyphs whose boxes meet it with the unit each went to (none: a
glyph with no unit; nothing: no glyph of the page's content is there, so a path or picture draws it, or an
annotation or a form XObject; units under an annotation say so). Run from the repository root (the checkout's
`leakmark` is the one used).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leakmark import units
from leakmark._mupdf import pymupdf
from leakmark.layers import shift
from leakmark.layers.codes import signs
from leakmark.layers.shift_measure import measure_shift
from leakmark.pdf import vector
from leakmark.pdf.read import render_page
from leakmark.rendering import page_array


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pdf", type=Path)
    ap.add_argument("page", type=int)
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--delta", type=int, default=1)
    ap.add_argument("--all", action="store_true", help="every unit, not only those the content edit misses")
    args = ap.parse_args()
    index, dpi, delta = args.page - 1, args.dpi, args.delta
    data = args.pdf.read_bytes()
    rendered = render_page(args.pdf, "pdf", index, dpi, None)
    gray = cv2.cvtColor(rendered.rgb, cv2.COLOR_RGB2GRAY)
    pu = (units.from_text(rendered.rawdict, rendered.matrix, gray, delta) if rendered.rawdict is not None
          else units.from_image(gray, delta))
    print(f"units: {pu.n_words} words, {pu.n_lines} lines, {pu.n_rules} rules, {pu.n_blobs} blobs")
    try:
        plan = vector.plan(data, index, pu, dpi, delta)
    except vector.NotEditable as exc:
        sys.exit(f"no plan: {exc}")
    print(f"plan: {plan.stats}")
    codes = signs(b"leakmark/v1 vector check", pu.n_codes)
    with pymupdf.open("pdf", data) as doc:
        page = doc[index]
        xref = doc.get_new_xref()
        doc.update_object(xref, "<<>>")
        doc.update_stream(xref, plan.content(codes))
        page.set_contents(xref)
        marked = cv2.cvtColor(page_array(page, dpi, mode="rgb"), cv2.COLOR_RGB2GRAY)
    valid = np.ones(gray.shape, dtype=bool)
    vec = measure_shift(marked, valid, gray, pu, delta).values
    ras = measure_shift(shift.apply(gray, pu, codes, delta), valid, gray, pu, delta).values
    ok_v, ok_r = np.abs(vec) > 0.25, np.abs(ras) > 0.25
    print(f"measured: vector {int(ok_v.sum())}, raster {int(ok_r.sum())}")

    moved: set[int] = set()
    for part in plan.parts:
        if isinstance(part, vector._Text):
            moved |= {slot for slot, _ in part.groups if slot >= 0}
        elif isinstance(part, vector._Path | vector._Wrap):
            moved.add(part.slot)
    nw, nl, nr = pu.n_words, pu.n_lines, pu.n_rules
    moved_words = np.zeros(nw, dtype=bool)
    moved_words[[s for s in moved if s < nw]] = True
    line_moves = {s - nw for s in moved if nw <= s < nw + nl} | set(pu.word_line[moved_words].tolist())
    glyphs = _glyph_boxes(data, index, pu, dpi, delta)
    with pymupdf.open("pdf", data) as doc:
        page = doc[index]
        to_page = ~pymupdf.Matrix(*rendered.matrix)
        annots = [a.rect * pymupdf.Matrix(*rendered.matrix) for a in (*page.annots(), *page.widgets())]
        kinds = (("word", pu.words, 0), ("line", pu.lines, nw), ("rule", pu.rules, nw + nl),
                 ("blob", pu.blobs, nw + nl + nr))
        for kind, boxes, off in kinds:
            for k, box in enumerate(boxes.tolist()):
                if box[2] <= box[0]:
                    continue
                slot = off + k
                code = slot if kind != "blob" else nw + nl + nr + 2 * k
                positions = [code] if kind != "blob" else [code, code + 1]
                has = slot in moved or (kind == "line" and k in line_moves)
                missed = any((ok_r[c] and not ok_v[c]) or (ok_v[c] and np.sign(vec[c]) != codes[c]) for c in positions)
                if not (missed or args.all):
                    continue
                text = page.get_textbox(pymupdf.Rect(*box) * to_page).replace("\n", " ")[:24]
                meet = [s for (x0, y0, x1, y1), s in glyphs
                        if x0 < box[2] and box[0] < x1 and y0 < box[3] and box[1] < y1]
                went = ", ".join(sorted({_name(s, pu) for s in meet})) or "nothing"
                if any(a.intersects(pymupdf.Rect(*box)) for a in annots):
                    went += " (an annotation is drawn there: it stays in place in a vector copy)"
                values = " ".join(f"{vec[c]:+.2f}/{ras[c]:+.2f}" for c in positions)
                print(f"{kind} {k} {box} {text!r}: {'moved' if has else 'NOT MOVED'}; vector/raster {values}; "
                      f"glyphs there went to: {went}")


def _glyph_boxes(data: bytes, index: int, pu: units.PageUnits, dpi: int,
                 delta: int) -> list[tuple[tuple[float, float, float, float], int]]:
    """Every glyph of the page's content (rendering pixels) with the unit the planner gives it."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf, pymupdf.open("pdf", data) as mdoc:
        mpage = mdoc[index]
        if mdoc.xref_get_key(mpage.xref, "Annots")[0] != "null":  # as `vector.plan` traces: the content only
            mdoc.xref_set_key(mpage.xref, "Annots", "null")
            mpage = mdoc.reload_page(mpage)
        scale = dpi / 72.0
        to_px = vector._mat(tuple(mpage.transformation_matrix * mpage.rotation_matrix * pymupdf.Matrix(scale, scale)))
        planner = vector._Planner(pdf.pages[index], mpage, pu, to_px, scale, delta)
        return [(box, planner.slot_of_glyph(box)) for boxes in planner._glyphs_by_operator().values()
                for box in boxes]


def _name(slot: int, pu: units.PageUnits) -> str:
    nw, nl, nr = pu.n_words, pu.n_lines, pu.n_rules
    if slot < 0:
        return "none"
    for kind, start, end in (("word", 0, nw), ("line", nw, nw + nl), ("rule", nw + nl, nw + nl + nr)):
        if start <= slot < end:
            return f"{kind} {slot - start}"
    return f"blob {slot - nw - nl - nr}"


if __name__ == "__main__":
    main()
