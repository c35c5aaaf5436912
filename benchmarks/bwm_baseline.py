"""The baseline users know: `blind-watermark` alone, a 64-bit copy id on the same 300-dpi rendered page.

Settings: its default (d1=36, d2=20) and a strong one (d1=72, d2=40: twice the default quantisation
steps; the library has no named "strongest" setting and larger steps show as visible blotches on white
paper). For each attack: bit error rate decoding the attacked image as is (blind; only possible when the
attack kept the page size, since the decoder needs the embedding grid), and after aligning it to the marked
page (SIFT + RANSAC homography, warped back to the page size). Correct only when all 64 bits are exact.
Collusion cases are not run: the decoder returns one id, never two.

blind-watermark is imported through `common.import_blind_watermark` (silenced, and without the
`multiprocessing.set_start_method('fork')` its package calls at import).

    python -m benchmarks robustness ...      # runs this phase after the first trial
    python -m benchmarks bwm_baseline [--quick] [--strengths one|all] [--seed 1] [--results DIR]

Run alone, it marks page 1 of the memo sample and writes robustness-bwm.csv; `python -m benchmarks report`
then puts it beside leakmark's rows in robustness.md.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import (
    RESULTS,
    Results,
    Stamp,
    argument_parser,
    arguments,
    import_blind_watermark,
    log,
    script_name,
)

import_blind_watermark()
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from blind_watermark import WaterMark  # noqa: E402

from benchmarks import attacks as atk  # noqa: E402
from leakmark.rendering import render_page_array  # noqa: E402

NAME = script_name(__file__)
QUICK = ("jpeg", "rescale", "ps-error-diffusion", "phone-perspective")  # ~8 s a case: robustness --quick's four
SETTINGS = {"default": (36, 20), "strong": (72, 40)}
FIELDS = ["setting", "attack", "family", "strength", "ber_blind", "ber_aligned", "exact", "seconds", "note"]
BITS = 64


def _wm(setting: str) -> WaterMark:
    with contextlib.redirect_stdout(io.StringIO()):
        w = WaterMark(password_img=1, password_wm=1)
    w.bwm_core.d1, w.bwm_core.d2 = SETTINGS[setting]
    return w


def embed(page_bgr: np.ndarray, bits: np.ndarray, setting: str) -> np.ndarray:
    w = _wm(setting)
    with contextlib.redirect_stdout(io.StringIO()):
        w.read_img(img=page_bgr)
        w.read_wm([bool(b) for b in bits], mode="bit")
        out = w.embed()
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)  # a saved image is 8-bit


def extract(img: np.ndarray, setting: str) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    with contextlib.redirect_stdout(io.StringIO()):
        wm = _wm(setting).extract(embed_img=img.astype(np.float32), wm_shape=BITS, mode="bit")
    return np.asarray(wm) > 0.5


def align_to(img: np.ndarray, ref: np.ndarray, max_side: int = 1600) -> np.ndarray | None:
    """Register `img` onto `ref` (SIFT on downscaled copies, RANSAC homography); None if it fails."""
    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    r = ref if ref.ndim == 2 else cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY)
    sg, sr = min(1.0, max_side / max(g.shape)), min(1.0, max_side / max(r.shape))
    gs = cv2.resize(g, None, fx=sg, fy=sg, interpolation=cv2.INTER_AREA)
    rs = cv2.resize(r, None, fx=sr, fy=sr, interpolation=cv2.INTER_AREA)
    sift = cv2.SIFT_create(nfeatures=8000)
    k1, d1 = sift.detectAndCompute(gs, None)
    k2, d2 = sift.detectAndCompute(rs, None)
    if d1 is None or d2 is None or len(k1) < 8 or len(k2) < 8:
        return None
    pairs = cv2.BFMatcher().knnMatch(d1, d2, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.75 * n.distance]
    if len(good) < 12:
        return None
    a = np.float32([k1[m.queryIdx].pt for m in good]) / sg
    b = np.float32([k2[m.trainIdx].pt for m in good]) / sr
    H, inl = cv2.findHomography(a, b, cv2.RANSAC, 3.0 / sr)
    if H is None or int(inl.sum()) < 12:
        return None
    bv = 255 if img.ndim == 2 else (255, 255, 255)
    return cv2.warpPerspective(img, H, (ref.shape[1], ref.shape[0]), flags=cv2.INTER_CUBIC, borderValue=bv)


def run(doc_pdf: Path, cases: list[tuple[atk.Attack, float]], settings: tuple[str, ...], output: Results, seed: int,
        log: Callable[[str], None]) -> None:
    csv_log = output.csv("robustness-bwm.csv", FIELDS)
    page = render_page_array(doc_pdf, 0, mode="bgr")
    rng = np.random.default_rng(seed + 7)
    for setting in settings:
        bits = rng.integers(0, 2, BITS).astype(bool)
        t0 = time.perf_counter()
        marked = embed(page, bits, setting)
        t_embed = time.perf_counter() - t0
        psnr = cv2.PSNR(page, marked)
        clean = float(np.mean(extract(marked, setting) != bits))
        log(f"blind-watermark {setting}: embed {t_embed:.1f}s, PSNR {psnr:.1f} dB, clean BER {clean:.3f}")
        csv_log.add({"setting": setting, "attack": "none", "family": "-", "strength": "-", "ber_blind": clean,
                     "ber_aligned": clean, "exact": clean == 0, "seconds": f"{t_embed:.2f}",
                     "note": f"PSNR {psnr:.1f} dB on {doc_pdf.name} page 1"})
        for a, s in cases:
            if a.inputs != "image":
                continue
            t0 = time.perf_counter()
            att = a.fn(marked, s, int(rng.integers(1 << 30)))
            note = ""
            ber_blind: float | str = "-"
            if att.shape[:2] == marked.shape[:2]:
                ber_blind = float(np.mean(extract(att, setting) != bits))
            else:
                note = "size changed: blind decode impossible; "
            aligned = align_to(att, marked)
            ber_al: float | str = "-"
            if aligned is None:
                note += "alignment failed"
            else:
                ber_al = float(np.mean(extract(aligned, setting) != bits))
            exact = ber_blind == 0.0 or ber_al == 0.0
            dt = time.perf_counter() - t0
            csv_log.add({"setting": setting, "attack": a.name, "family": a.family, "strength": s,
                         "ber_blind": ber_blind, "ber_aligned": ber_al, "exact": exact, "seconds": f"{dt:.2f}",
                         "note": note.strip("; ")})
            log(f"bwm {setting:7s} {a.name:20s} {s!s:7s} blind={ber_blind!s:6.6s} aligned={ber_al!s:6.6s} "
                f"exact={exact} {dt:.1f}s")


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--quick", action="store_true", help=f"the default setting on {', '.join(QUICK)} only")
    ap.add_argument("--strengths", choices=("one", "all"), default="one",
                    help="every strength, or one per attack (the quick one, else the middle one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    from leakmark.samples import write_samples

    cases = atk.cases()
    if args.strengths == "one":
        cases = atk.one_per_attack(cases)
    if args.quick:
        cases = [c for c in atk.one_per_attack(atk.cases(quick=True)) if c[0].name in QUICK]
    settings = ("default",) if args.quick else ("default", "strong")
    output = Results(args.results, Stamp.take(NAME, argv), "robustness")
    with tempfile.TemporaryDirectory(prefix="leakmark-bwm-") as tmp:
        memo = next(p for p in write_samples(Path(tmp)) if p.name == "memo-en.pdf")
        run(memo, cases, settings, output, seed=args.seed, log=log)
    log(f"done: {output.path('robustness-bwm.csv')}; `python -m benchmarks report` puts it into robustness.md")


if __name__ == "__main__":
    main()
