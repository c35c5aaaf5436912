"""Crops of each page layer (original / marked / 10× difference) and 600 dpi 1-bit halftones, written to docs/.

    python -m benchmarks layer_crops [--out docs]

Deterministic: a fixed key, document id and copy number; no workspace, no JPEG (the layers' own pixels; the
numbers also give the halftone of the copy as issued, JPEG q92). Pages are marked as `pipeline.prepare_page`
and `pipeline.mark_copies` do, at 300 dpi with delta 1. The shift crops `docs/shift-crop-*.png` come from
`python -m benchmarks visual_check` (issued copies, so JPEG included) and are kept; here the shift layer gets
numbers only, measured at the same place. Prints the numbers that docs/layers.md quotes. The PNGs are stamped
in docs/layer-crops.stamp.json.

Files: docs/<layer>-crop-<page>.png (tone and blind on the photo page and the two text pages; shift on the
ruled form, whose table rules move) and docs/halftone-600dpi-<page>.png (shift + tone on the photo page and
the Chinese notice, shift on the form).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import DOCS, Results, Stamp, argument_parser, arguments, script_name
from leakmark import units
from leakmark.issuing.worker import JPEG_QUALITY, is_colour
from leakmark.layers import blind, shift, tone
from leakmark.layers.codes import page_seed, signs
from leakmark.pdf import read as pdf
from leakmark.samples import write_lowtext_samples, write_samples
from leakmark.simulate import halftone

NAME = script_name(__file__)
KEY = hashlib.sha256(b"leakmark docs").digest()
DOC_ID = "D0123456789"
COPY_NO = 7
DPI = 300
DELTA = 1
PAPER = 245  # tone.PAPER and blind.PAPER: at or above this a pixel is paper
SIZE = 600  # crop side at 300 dpi (1200 at 600 dpi)
# top-left corners (y, x) at 300 dpi: ink or texture and some paper in every crop
REGION = {"photo": (700, 900), "notice-zh": (660, 340), "memo-en": (2420, 280), "form": (560, 180)}
SHIFT_REGION = {"notice-zh": (1150, 330, 360, 900), "memo-en": (560, 280, 360, 900)}  # visual_check's crops
GAIN = 10
LABEL_H = 44
SEP = 12


@dataclass
class Page:
    name: str
    base: np.ndarray  # what the pipeline marks: BGR for a colour page, else grey
    gray: np.ndarray
    units: units.PageUnits


# ---------------------------------------------------------------------------------------------- pages


def prepare(path: Path, name: str) -> Page:
    """`pipeline.prepare_page`'s rendering and units (300 dpi, delta 1)."""
    page = pdf.render_page(path, "pdf", 0, DPI, None)
    gray = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
    if page.rawdict is not None:
        pu = units.from_text(page.rawdict, page.matrix, gray, DELTA)
    else:
        pu = units.from_image(gray, DELTA)
    base = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2BGR) if is_colour(page.rgb) else gray
    return Page(name, base, gray, pu)


# ---------------------------------------------------------------------------------------------- layers


def mark_shift(p: Page, base: np.ndarray | None = None) -> np.ndarray:
    base = p.base if base is None else base
    seed = page_seed(KEY, DOC_ID, COPY_NO, shift.LAYER, 0)
    return shift.apply(base, p.units, signs(seed, p.units.n_codes), DELTA)


def mark_tone(p: Page) -> np.ndarray:
    plus, minus = tone.planes(p.base, p.gray, DPI)
    out = minus.copy()
    seed = page_seed(KEY, DOC_ID, COPY_NO, tone.LAYER, 0)
    tone.apply(plus, minus, signs(seed, tone.n_cells(p.base.shape, DPI)), DPI, out)
    return out


def mark_blind(p: Page) -> np.ndarray:
    zero, one = blind.planes(p.base)
    out = zero.copy()
    blind.apply(zero, one, blind.payload_bits(KEY, DOC_ID, COPY_NO), out)
    return out


def mark_shift_tone(p: Page) -> np.ndarray:
    """`mark_copies` with tone: the words move with their tone."""
    return mark_shift(p, mark_tone(p))


# ---------------------------------------------------------------------------------------------- images


def _grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def amplified(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """128 + GAIN·(b − a), clipped (per channel on a colour page)."""
    return np.clip(128 + GAIN * (b.astype(np.float32) - a.astype(np.float32)), 0, 255).astype(np.uint8)


def labelled(panels: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Panels side by side, each under a white label row, grey separators."""
    h = max(im.shape[0] for _, im in panels)
    cols = []
    for i, (text, im) in enumerate(panels):
        im = _bgr(im)
        label = np.full((LABEL_H, im.shape[1], 3), 255, np.uint8)
        scale = 0.9 if im.shape[1] >= 900 else 0.7
        cv2.putText(label, text, (8, LABEL_H - 14), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2, cv2.LINE_AA)
        col = np.vstack([label, im, np.full((h - im.shape[0], im.shape[1], 3), 255, np.uint8)])
        cols.append(col)
        if i < len(panels) - 1:
            cols.append(np.full((h + LABEL_H, SEP, 3), 160, np.uint8))
    return np.hstack(cols)


def change_stats(orig: np.ndarray, marked: np.ndarray, gray: np.ndarray) -> dict:
    """Per pixel the largest |change| over channels; split by the original's paper (grey >= PAPER)."""
    d = np.abs(marked.astype(np.int16) - orig.astype(np.int16))
    d = d if d.ndim == 2 else d.max(axis=2)
    paper = gray >= PAPER
    clear = cv2.erode(paper.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # 4 px from non-paper
    return {"clear_paper_mean": float(d[clear].mean()), "clear_paper_changed": float((d[clear] > 0).mean()),
            "paper_mean": float(d[paper].mean()), "ink_mean": float(d[~paper].mean()), "max": int(d.max()),
            "paper_changed": float((d[paper] > 0).mean()), "ink_changed": float((d[~paper] > 0).mean())}


def crop(image: np.ndarray, y: int, x: int, h: int = SIZE, w: int = SIZE) -> np.ndarray:
    return image[y:y + h, x:x + w]


def layer_crop(output: Results, layer: str, p: Page, marked: np.ndarray) -> dict:
    y, x = REGION[p.name]
    o, m = crop(p.base, y, x), crop(marked, y, x)
    out = output.path(f"{layer}-crop-{p.name}.png")
    cv2.imwrite(str(out), labelled([("original (300 dpi)", o), (f"{layer}-marked", m),
                                    (f"128 + {GAIN} x (marked - original)", amplified(o, m))]))
    output.record(out.name)
    return {"file": out.name, "page": change_stats(p.base, marked, p.gray),
            "crop": change_stats(o, m, crop(p.gray, y, x))}


def _to_600(gray300: np.ndarray) -> np.ndarray:
    """The 300 dpi page image as a 600 dpi printer resamples it (bilinear)."""
    return cv2.resize(gray300, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)


def _jpeg(image: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _toner_image(toner: np.ndarray) -> np.ndarray:
    return np.where(toner, 0, 255).astype(np.uint8)


def halftone_figure(output: Results, p: Page, marked: np.ndarray, layers: str = "shift+tone") -> dict:
    """1-bit Floyd–Steinberg halftones at 600 dpi of the original and the shift+tone copy (each the 300 dpi
    page image resampled to 600 dpi, as a printer does with an issued copy), their XOR, and both blurred to
    viewing resolution (Gaussian sigma 1.5 at 600 dpi) with the 10× difference."""
    g_orig, g_mark = _to_600(p.gray), _to_600(_grey(marked))
    h_orig, h_mark = halftone(g_orig), halftone(g_mark)
    h_issued = halftone(_to_600(_grey(_jpeg(marked))))  # the copy as issued: JPEG q92
    h_orig_jpeg = halftone(_to_600(_grey(_jpeg(p.base))))  # the original through the same JPEG, for reference
    paper = g_orig >= PAPER
    # paper at least 8 px (1/3 mm at 600 dpi) from anything that is not paper in the original: where a moved
    # word lands is not speckle, toner out here would be
    clear = cv2.erode(paper.astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    y, x = (v * 2 for v in REGION[p.name])
    s = 2 * SIZE
    c = (slice(y, y + s), slice(x, x + s))
    ho, hm = h_orig[c], h_mark[c]
    xor = ho != hm
    xor_img = np.full((s, s, 3), 255, np.uint8)
    xor_img[xor] = (0, 0, 255)
    v_orig = cv2.GaussianBlur(_toner_image(h_orig).astype(np.float32), (0, 0), 1.5)
    v_mark = cv2.GaussianBlur(_toner_image(h_mark).astype(np.float32), (0, 0), 1.5)
    v_ref = cv2.GaussianBlur(_toner_image(h_orig_jpeg).astype(np.float32), (0, 0), 1.5)
    vd = v_mark - v_orig
    top = labelled([("halftone of original, 600 dpi 1-bit", _toner_image(ho)),
                    (f"halftone of {layers} copy", _toner_image(hm)), ("pixels that differ (XOR)", xor_img)])
    bottom = labelled([("original halftone, viewed (blur s=1.5)", np.clip(v_orig[c], 0, 255).astype(np.uint8)),
                       ("copy halftone, viewed", np.clip(v_mark[c], 0, 255).astype(np.uint8)),
                       (f"128 + {GAIN} x (viewed copy - viewed original)", amplified(v_orig[c], v_mark[c]))])
    out = output.path(f"halftone-600dpi-{p.name}.png")
    cv2.imwrite(str(out), np.vstack([top, np.full((SEP, top.shape[1], 3), 160, np.uint8), bottom]))
    output.record(out.name)
    pc = paper[c]
    grey_change = np.abs(g_mark.astype(np.int16) - g_orig.astype(np.int16))
    # local toner density over 1 mm (≈ 24 px at 600 dpi): how far the copy's printed tone strays anywhere
    k = 24
    dens = np.abs(cv2.blur(h_mark.astype(np.float32), (k, k)) - cv2.blur(h_orig.astype(np.float32), (k, k)))
    return {
        "file": out.name,
        "paper_toner_orig": float(h_orig[paper].mean()), "paper_toner_marked": float(h_mark[paper].mean()),
        "paper_toner_issued_jpeg": float(h_issued[paper].mean()),
        "paper_toner_orig_jpeg": float(h_orig_jpeg[paper].mean()),
        "clear_paper_toner_orig": float(h_orig[clear].mean()),
        "clear_paper_toner_marked": float(h_mark[clear].mean()),
        "clear_paper_toner_issued_jpeg": float(h_issued[clear].mean()),
        "paper_toner_orig_crop": float(ho[pc].mean()), "paper_toner_marked_crop": float(hm[pc].mean()),
        "xor_page": float((h_orig != h_mark).mean()), "xor_crop": float(xor.mean()),
        "xor_paper": float((h_orig != h_mark)[paper].mean()),
        "grey600_paper_changed": float((grey_change[paper] > 0).mean()),
        "viewed_paper_mean": float(np.abs(vd[paper]).mean()), "viewed_ink_mean": float(np.abs(vd[~paper]).mean()),
        "viewed_max": float(np.abs(vd).max()),
        # the same, between the original and the original through JPEG q92 (no mark): error diffusion
        # rearranges dots after any change, so this is the floor the viewed difference is to be read against
        "ref_viewed_paper_mean": float(np.abs(v_ref - v_orig)[paper].mean()),
        "ref_viewed_ink_mean": float(np.abs(v_ref - v_orig)[~paper].mean()),
        "density_1mm_mean_ink": float(dens[~paper].mean()),
        "density_1mm_max": float(dens.max()), "density_1mm_paper_max": float(dens[paper].max()),
    }


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--out", type=Path, default=DOCS, help="folder for the PNGs (default docs/)")
    args = ap.parse_args(argv)
    output = Results(args.out, Stamp.take(NAME, argv), "layer-crops")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        pages = [prepare(path, path.stem) for path in write_lowtext_samples(tmp_path / "lowtext", ("photo", "form"))]
        pages += [prepare(path, path.stem) for path in write_samples(tmp_path / "samples")]
    results: dict[str, dict] = {}
    for p in pages:
        if p.name == "form":  # its table rules move: the shift layer's crop and halftone on a ruled page
            results["shift-form"] = layer_crop(output, "shift", p, mark_shift(p))
            results["halftone-form"] = halftone_figure(output, p, mark_shift(p), "shift")
            print(p.name, f"{p.base.shape}, {p.units.n_words} words, {p.units.n_lines} lines, {p.units.n_rules} rules")
            continue
        if p.name in SHIFT_REGION:  # numbers only: docs/shift-crop-<page>.png is visual_check's
            marked = mark_shift(p)
            y, x, h, w = SHIFT_REGION[p.name]
            results[f"shift-{p.name}"] = {"file": f"shift-crop-{p.name}.png (visual_check)",
                                          "page": change_stats(p.base, marked, p.gray),
                                          "crop": change_stats(crop(p.base, y, x, h, w), crop(marked, y, x, h, w),
                                                               crop(p.gray, y, x, h, w))}
        results[f"tone-{p.name}"] = layer_crop(output, "tone", p, mark_tone(p))
        results[f"blind-{p.name}"] = layer_crop(output, "blind", p, mark_blind(p))
        if p.name in ("photo", "notice-zh"):
            results[f"halftone-{p.name}"] = halftone_figure(output, p, mark_shift_tone(p))
        print(p.name, f"{p.base.shape}, {p.units.n_words} words, {p.units.n_lines} lines")
    for name, r in results.items():
        print(f"\n{name}: {r['file']}")
        for k, v in r.items():
            if k != "file":
                print(f"  {k}: {v if not isinstance(v, dict) else {a: round(b, 4) for a, b in v.items()}}"
                      if not isinstance(v, float) else f"  {k}: {v:.6f}")


if __name__ == "__main__":
    main()
