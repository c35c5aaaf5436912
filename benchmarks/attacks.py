"""Leak simulations for the scoreboard: every attack a seeded function of a page image and a strength.

    from benchmarks.attacks import ATTACKS, by_name
    out = by_name("jpeg").fn(page_bgr, 50, seed=7)

Inputs are page renderings at `DPI` (300), BGR or greyscale uint8; outputs are uint8 images (the size may
change). Single-image attacks are `f(img, strength, seed) -> img`; collusion attacks take a list of aligned
copies of the same page (`inputs="copies"`) or, for the page mix, one list of pages per copy
(`inputs="pages"`) and return the evidence page(s). Only `np.random.default_rng(seed)` and albumentations'
own seeded RNG are used: the same (attack, strength, seed) always gives the same image.

Families: digital (albumentations where it has the transform, OpenCV otherwise), print-scan (our own chain:
halftone at 600 dpi, dot gain, toner speckle, optics, skew, scale, rescan as grey / bilevel / JPEG,
photocopy generations), phone photo of paper, screen, collusion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np

from leakmark.simulate import halftone as error_diffusion

DPI = 300  # resolution of the page images the attacks expect


# ---------------------------------------------------------------------------------------------- helpers

def _gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _album(transform: A.BasicTransform, img: np.ndarray, seed: int) -> np.ndarray:
    out = A.Compose([transform], seed=int(seed) % (2 ** 32))(image=img)["image"]
    return out.reshape(img.shape) if out.ndim == 3 and img.ndim == 2 else out


def _encode(img: np.ndarray, ext: str, params: list[int]) -> np.ndarray:
    _ok, buf = cv2.imencode(ext, img, params)
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    return _encode(img, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(q)])


def _resize(img: np.ndarray, f: float) -> np.ndarray:
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def _rotate(img: np.ndarray, deg: float, scale: float = 1.0, border: int = 255) -> np.ndarray:
    """Rotate (and scale) about the centre on a canvas grown so nothing is cut."""
    if deg % 90 == 0 and scale == 1.0:
        return np.ascontiguousarray(np.rot90(img, int(deg // 90) % 4))
    h, w = img.shape[:2]
    M = cv2.getRotationMatrix2D((w / 2, h / 2), deg, scale)
    c, s = abs(M[0, 0]), abs(M[0, 1])
    nw, nh = int(h * s + w * c), int(h * c + w * s)
    M[0, 2] += nw / 2 - w / 2
    M[1, 2] += nh / 2 - h / 2
    bv = (border,) * 3 if img.ndim == 3 else border
    return cv2.warpAffine(img, M, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=bv)


# ---------------------------------------------------------------------------------------------- digital

def jpeg(img, q, seed=0):
    return _album(A.ImageCompression(compression_type="jpeg", quality_range=(int(q), int(q)), p=1), img, seed)


def webp(img, q, seed=0):
    return _album(A.ImageCompression(compression_type="webp", quality_range=(int(q), int(q)), p=1), img, seed)


def rescale(img, f, seed=0):
    return _resize(img, float(f))


def _crop(img, keep, kind, seed):
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    if kind == "band":  # a full-width horizontal band
        ch = int(h * keep)
        y = int(rng.integers(0, h - ch + 1))
        return img[y:y + ch].copy()
    s = np.sqrt(keep)
    ch, cw = int(h * s), int(w * s)
    if kind == "centre":
        y, x = (h - ch) // 2, (w - cw) // 2
    else:  # one of the four corners
        corner = int(rng.integers(4))
        y = 0 if corner < 2 else h - ch
        x = 0 if corner % 2 == 0 else w - cw
    return img[y:y + ch, x:x + cw].copy()


def crop_corner(img, keep, seed=0):
    return _crop(img, float(keep), "corner", seed)


def crop_band(img, keep, seed=0):
    return _crop(img, float(keep), "band", seed)


def crop_centre(img, keep, seed=0):
    return _crop(img, float(keep), "centre", seed)


def rotate(img, deg, seed=0):
    """Small angles get a random sign; multiples of 90 are exact."""
    deg = float(deg)
    if deg % 90:
        deg *= 1 if np.random.default_rng(seed).integers(2) else -1
    return _rotate(img, deg)


def mirror(img, axis, seed=0):
    return np.ascontiguousarray(img[:, ::-1] if axis == 1 else img[::-1])


def grayscale(img, _s=1, seed=0):
    return _gray(img)


def brightness(img, b, seed=0):
    return _album(A.RandomBrightnessContrast(brightness_limit=(b, b), contrast_limit=(0, 0), p=1), img, seed)


def contrast(img, c, seed=0):
    return _album(A.RandomBrightnessContrast(brightness_limit=(0, 0), contrast_limit=(c, c), p=1), img, seed)


def gamma(img, g, seed=0):
    return _album(A.RandomGamma(gamma_limit=(g * 100, g * 100), p=1), img, seed)


def blur_gaussian(img, sigma, seed=0):
    return _album(A.GaussianBlur(blur_limit=0, sigma_limit=(sigma, sigma), p=1), img, seed)


def blur_defocus(img, radius, seed=0):
    return _album(A.Defocus(radius=(int(radius), int(radius)), alias_blur=(0.1, 0.1), p=1), img, seed)


def blur_motion(img, length, seed=0):
    k = int(length) | 1
    return _album(A.MotionBlur(blur_limit=(k, k), allow_shifted=False, p=1), img, seed)


def noise_gaussian(img, sigma, seed=0):
    s = float(sigma) / 255
    return _album(A.GaussNoise(std_range=(s, s), p=1), img, seed)


def noise_shot(img, scale, seed=0):
    return _album(A.ShotNoise(scale_range=(scale, scale), p=1), img, seed)


def median(img, k, seed=0):
    return _album(A.MedianBlur(blur_limit=(int(k), int(k)), p=1), img, seed)


def sharpen(img, alpha, seed=0):
    return _album(A.Sharpen(alpha=(alpha, alpha), lightness=(1.0, 1.0), p=1), img, seed)


def chat_forward(img, times, seed=0):
    """A chat app: downscale to 1080 px wide, JPEG 70; `times` forwards."""
    out = img
    for _ in range(int(times)):
        w = out.shape[1]
        if w > 1080:
            out = _resize(out, 1080 / w)
        out = _jpeg(out, 70)
    return out


# ---------------------------------------------------------------------------------------------- print-scan

_BAYER8 = np.array([[0, 32, 8, 40, 2, 34, 10, 42], [48, 16, 56, 24, 50, 18, 58, 26],
                    [12, 44, 4, 36, 14, 46, 6, 38], [60, 28, 52, 20, 62, 30, 54, 22],
                    [3, 35, 11, 43, 1, 33, 9, 41], [51, 19, 59, 27, 49, 17, 57, 25],
                    [15, 47, 7, 39, 13, 45, 5, 37], [63, 31, 55, 23, 61, 29, 53, 21]], np.float32)


def ordered_dither(gray: np.ndarray) -> np.ndarray:
    """1-bit ordered (Bayer 8×8) dither: True = toner."""
    h, w = gray.shape
    t = np.tile((_BAYER8 + 0.5) / 64, (h // 8 + 1, w // 8 + 1))[:h, :w]
    return gray.astype(np.float32) / 255 < t


def print_page(gray: np.ndarray, rng: np.random.Generator, *, src_dpi: int = DPI, method: str = "ed",
               dot_gain: float = 0.1, speckle: float = 2e-4) -> np.ndarray:
    """A laser print at 600 dpi as reflectance (float32, 0 black … 255 white): halftone, dot gain, speckle."""
    up = cv2.resize(gray, None, fx=600 / src_dpi, fy=600 / src_dpi, interpolation=cv2.INTER_CUBIC)
    ink = (error_diffusion(up) if method == "ed" else ordered_dither(up)).astype(np.float32)
    if dot_gain > 0:  # toner spreads: a dot covers more than its cell
        ink = (cv2.GaussianBlur(ink, (0, 0), 0.9) > 0.5 - dot_gain).astype(np.float32)
    if speckle > 0:  # stray toner particles on the white paper
        dots = (rng.random(ink.shape, dtype=np.float32) < speckle).astype(np.float32)
        ink = np.maximum(ink, cv2.dilate(dots, np.ones((2, 2), np.uint8)))
    paper = 245 + rng.normal(0, 2, (ink.shape[0] // 16 + 1, ink.shape[1] // 16 + 1)).astype(np.float32)
    paper = cv2.resize(paper, (ink.shape[1], ink.shape[0]), interpolation=cv2.INTER_LINEAR)
    return paper * (1 - ink) + 18 * ink


def scan_page(paper600: np.ndarray, rng: np.random.Generator, *, blur: float = 1.0, skew: float = 1.0,
              scale: float = 1.0, scan_dpi: int = 300, mode: str = "gray", jpeg_q: int = 85) -> np.ndarray:
    """A flatbed scan of a 600-dpi reflectance image: optics blur, skew and scale, sampling, noise, output."""
    x = cv2.GaussianBlur(paper600, (0, 0), blur * 600 / 300) if blur > 0 else paper600
    if skew or scale != 1.0:
        x = _rotate(x, skew, scale, border=245)
    x = cv2.resize(x, None, fx=scan_dpi / 600, fy=scan_dpi / 600, interpolation=cv2.INTER_AREA)
    x = x + rng.normal(0, 3, x.shape).astype(np.float32)
    out = _u8(x)
    if mode == "bilevel":
        _t, out = cv2.threshold(out, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    elif mode == "jpeg":
        out = _jpeg(out, jpeg_q)
    return out


def print_scan(img, seed=0, *, method="ed", dot_gain=0.1, speckle=2e-4, blur=1.0, skew=None, scale=1.0,
               scan_dpi=300, mode="gray"):
    """Print then scan; skew None = random in ±1°."""
    rng = np.random.default_rng(seed)
    if skew is None:
        skew = float(rng.uniform(-1, 1))
    paper = print_page(_gray(img), rng, method=method, dot_gain=dot_gain, speckle=speckle)
    return scan_page(paper, rng, blur=blur, skew=skew, scale=scale, scan_dpi=scan_dpi, mode=mode)


def ps_error_diffusion(img, dpi, seed=0):
    return print_scan(img, seed, method="ed", scan_dpi=int(dpi))


def ps_ordered(img, dpi, seed=0):
    return print_scan(img, seed, method="ordered", scan_dpi=int(dpi))


def ps_bilevel(img, dpi, seed=0):
    return print_scan(img, seed, scan_dpi=int(dpi), mode="bilevel")


def ps_jpeg(img, dpi, seed=0):
    return print_scan(img, seed, scan_dpi=int(dpi), mode="jpeg")


def ps_dot_gain(img, gain, seed=0):
    return print_scan(img, seed, dot_gain=float(gain))


def ps_speckle(img, density, seed=0):
    return print_scan(img, seed, speckle=float(density))


def ps_blur(img, sigma, seed=0):
    return print_scan(img, seed, blur=float(sigma))


def ps_skew(img, deg, seed=0):
    sign = 1 if np.random.default_rng(seed + 1).integers(2) else -1
    return print_scan(img, seed, skew=sign * float(deg))


def ps_scale(img, s, seed=0):
    return print_scan(img, seed, scale=float(s))


def photocopy(img, generations, seed=0):
    """`generations` rounds of print + scan at 300 dpi with the copier's contrast boost."""
    rng = np.random.default_rng(seed)
    page = _gray(img)
    for _ in range(int(generations)):
        paper = print_page(page, rng, dot_gain=0.12, speckle=4e-4)
        page = scan_page(paper, rng, blur=1.1, skew=float(rng.uniform(-0.7, 0.7)), scale=float(rng.uniform(0.99, 1.01)),
                         scan_dpi=DPI)
        page = _u8((page.astype(np.float32) - 40) * 255 / 190)  # copier: darker darks, whiter whites
    return page


# ---------------------------------------------------------------------------------------------- phone photo

def _page_warp(page: np.ndarray, rng: np.random.Generator, curl: float, fold: float) -> np.ndarray:
    """Paper curl (edges lift: a smooth bow across the page) and a fold (a soft crease), as a remap."""
    h, w = page.shape[:2]
    if not curl and not fold:
        return page
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    dy = curl * h * (4 * u * u - 1 / 3) * np.float32(rng.choice([-1, 1]))  # lines bow up or down
    dx = -curl * w * 0.3 * (u ** 3) * 8
    if fold:
        at = float(rng.uniform(-0.2, 0.2))
        s = np.tanh((v - at) * 40)  # a crease across the page: the two halves shift against each other
        dy = dy + fold * s
        dx = dx + 0.5 * fold * s * (u * 2)
    bv = (255,) * 3 if page.ndim == 3 else 255
    mx, my = (xx + dx).astype(np.float32), (yy + dy).astype(np.float32)
    return cv2.remap(page, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=bv)


def phone_photo(img, seed=0, *, jitter=0.05, lens=0.03, curl=0.004, fold=0.0, shadow=0.2, defocus=1.0,
                motion=0, noise=3.0, fill=0.8, quality=90, megapixels=12.0):
    """The page on a desk shot with a phone: curl/fold, perspective, lens distortion, light gradient and a
    shadow, defocus, motion blur, sensor noise, JPEG. `fill` is the sheet's share of the frame height."""
    rng = np.random.default_rng(seed)
    page = _page_warp(_gray(img), rng, curl, fold).astype(np.float32)
    h, w = page.shape
    W = int(np.sqrt(megapixels * 1e6 * 4 / 3))
    H = int(W * 3 / 4)
    if h > w:
        W, H = H, W
    sh = H * fill
    sw = sh * w / h
    if sw > W * 0.95:
        sw = W * 0.95
        sh = sw * h / w
    x0 = (W - sw) / 2 + rng.uniform(-0.5, 0.5) * (W - sw) * 0.5
    y0 = (H - sh) / 2 + rng.uniform(-0.5, 0.5) * (H - sh) * 0.5
    dst = np.array([[x0, y0], [x0 + sw, y0], [x0 + sw, y0 + sh], [x0, y0 + sh]], np.float32)
    dst += rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * np.float32(sw)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(page, M, (W, H), flags=cv2.INTER_AREA, borderValue=0)
    mask = cv2.warpPerspective(np.ones_like(page), M, (W, H), flags=cv2.INTER_LINEAR)
    desk = 80 + cv2.resize(rng.normal(0, 20, (H // 16 + 1, W // 16 + 1)).astype(np.float32), (W, H),
                           interpolation=cv2.INTER_CUBIC)
    scene = warped * mask + desk * (1 - mask)
    if lens:  # radial (barrel) distortion about the frame centre
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        cx, cy, r0 = W / 2, H / 2, np.hypot(W, H) / 2
        r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r0 ** 2
        f = 1 + lens * r2
        mx, my = (cx + (xx - cx) * f).astype(np.float32), (cy + (yy - cy) * f).astype(np.float32)
        scene = cv2.remap(scene, mx, my, cv2.INTER_LINEAR, borderValue=60)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * xx / W + np.sin(a) * yy / H
    light = 0.95 - 0.2 * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    if shadow:  # a soft-edged shadow (a hand or the phone) over one side
        b = rng.uniform(0, 2 * np.pi)
        edge = (np.cos(b) * (xx - W / 2) + np.sin(b) * (yy - H / 2)) / W - rng.uniform(0.0, 0.25)
        light = light * (1 - shadow / (1 + np.exp(-edge * 40)))
    scene = scene * light
    if defocus:
        scene = cv2.GaussianBlur(scene, (0, 0), defocus)
    if motion:
        k = np.zeros((int(motion) | 1, int(motion) | 1), np.float32)
        k[k.shape[0] // 2] = 1
        k = cv2.warpAffine(k, cv2.getRotationMatrix2D((k.shape[1] / 2 - 0.5, k.shape[0] / 2 - 0.5),
                                                      float(rng.uniform(0, 180)), 1.0), k.shape[::-1])
        scene = cv2.filter2D(scene, -1, k / k.sum())
    scene = scene + rng.normal(0, 1, scene.shape).astype(np.float32) * (noise * np.sqrt(np.maximum(scene, 1) / 128))
    return _jpeg(_u8(scene), quality)


def _phone(knob: str, cast: type) -> Callable:
    """One knob of `phone_photo` as an attack `f(img, strength, seed)`."""
    def attack(img, strength, seed=0):
        return phone_photo(img, seed, **{knob: cast(strength)})
    return attack


ph_perspective = _phone("jitter", float)
ph_lens = _phone("lens", float)
ph_curl = _phone("curl", float)
ph_fold = _phone("fold", float)
ph_shadow = _phone("shadow", float)
ph_defocus = _phone("defocus", float)
ph_motion = _phone("motion", int)
ph_noise = _phone("noise", float)
ph_fill = _phone("fill", float)
ph_jpeg = _phone("quality", int)


# ---------------------------------------------------------------------------------------------- screen

def screenshot(img, screen_dpi, seed=0, *, zoom=1.0, viewport=(1920, 1080)):
    """A PDF viewer at `screen_dpi` × `zoom`; the screenshot shows what fits in the viewport (scrolled to a
    random position when the page is taller), saved as PNG (lossless)."""
    rng = np.random.default_rng(seed)
    f = float(screen_dpi) * zoom / DPI
    shown = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    vw, vh = viewport
    h, w = shown.shape[:2]
    y = int(rng.integers(0, h - vh + 1)) if h > vh else 0
    x = (w - vw) // 2 if w > vw else 0
    return shown[y:y + vh, x:x + vw].copy()


def screen_dpi(img, dpi, seed=0):
    """A full-page screenshot (tall viewport: the whole page visible) at 72–150 dpi."""
    return screenshot(img, dpi, seed, viewport=(10 ** 5, 10 ** 5))


def screen_zoom(img, zoom, seed=0):
    """A 1920×1080 viewer at 96 dpi and `zoom`: above ~55 % only part of the page is in the screenshot."""
    return screenshot(img, 96, seed, zoom=float(zoom))


def screen_photo(img, severity, seed=0):
    """A phone photo of a monitor showing the page at 96 dpi × 1.5: pixel grid (moiré after resampling),
    display gamma, perspective, blur, noise, JPEG. `severity` 1 (square on, close) … 2 (angled, farther)."""
    rng = np.random.default_rng(seed)
    shown = screenshot(_gray(img), 96, seed, zoom=1.5, viewport=(1920, 1080)).astype(np.float32)
    h, w = shown.shape
    up = 3  # each screen pixel as 3×3 camera-side samples with a dark grid (the pixel gaps)
    big = cv2.resize(shown, (w * up, h * up), interpolation=cv2.INTER_NEAREST)
    grid = np.ones((up, up), np.float32)
    grid[-1, :] = grid[:, -1] = 0.55
    big *= np.tile(grid, (h, w))
    big = 255 * (big / 255) ** 1.2  # display gamma
    W, H = 4000, 3000
    fill = 0.9 if severity <= 1 else 0.7
    jit = 0.02 if severity <= 1 else 0.06
    sw, sh = W * fill, W * fill * big.shape[0] / big.shape[1]
    x0, y0 = (W - sw) / 2, (H - sh) / 2
    dst = np.array([[x0, y0], [x0 + sw, y0], [x0 + sw, y0 + sh], [x0, y0 + sh]], np.float32)
    dst += rng.uniform(-jit, jit, (4, 2)).astype(np.float32) * np.float32(sw)
    src = np.array([[0, 0], [big.shape[1], 0], [big.shape[1], big.shape[0]], [0, big.shape[0]]], np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    scene = cv2.warpPerspective(big, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=20)  # moiré: no prefilter
    scene = cv2.GaussianBlur(scene, (0, 0), 0.8 * severity)
    scene = scene + rng.normal(0, 3 * severity, scene.shape).astype(np.float32)
    return _jpeg(_u8(scene), 88)


# ---------------------------------------------------------------------------------------------- collusion

def collude_average(copies: list[np.ndarray], n, seed=0) -> np.ndarray:
    """Pixel average of the first `n` aligned copies of one page."""
    return _u8(np.mean([c.astype(np.float32) for c in copies[:int(n)]], axis=0))


def collude_cutpaste(copies: list[np.ndarray], n, seed=0) -> np.ndarray:
    """The page cut into `n` horizontal bands, band i from copy i (2: top half of one, bottom of another)."""
    n = int(n)
    h = copies[0].shape[0]
    out = copies[0].copy()
    cuts = [round(h * i / n) for i in range(n + 1)]
    for i in range(n):
        out[cuts[i]:cuts[i + 1]] = copies[i][cuts[i]:cuts[i + 1]]
    return out


def collude_pagemix(pages_by_copy: list[list[np.ndarray]], n, seed=0) -> list[np.ndarray]:
    """A multi-page leak whose page p comes from copy p mod n."""
    n = int(n)
    return [pages_by_copy[p % n][p] for p in range(len(pages_by_copy[0]))]


def colluders_used(name: str, n: int, pages: int) -> int:
    """How many of the copies given to a collusion attack actually contribute to its output."""
    return min(n, pages) if name == "collude-pagemix" else n


# ---------------------------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Attack:
    name: str
    family: str  # digital | print-scan | phone | screen | collusion
    strengths: tuple
    fn: Callable
    unit: str = ""
    quick: tuple = ()  # the strengths of the --quick run ((): none)
    inputs: str = "image"  # image | copies (aligned copies of one page) | pages (one page list per copy)
    harder: str = "up"  # "up": a larger strength is a harder attack; "down": a smaller one is


ATTACKS: tuple[Attack, ...] = (
    # digital
    Attack("jpeg", "digital", (90, 70, 50, 30, 20), jpeg, "quality", (30,), harder="down"),
    Attack("webp", "digital", (80, 50, 20), webp, "quality", harder="down"),
    Attack("rescale", "digital", (2.0, 1.5, 0.75, 0.5, 0.3), rescale, "factor", (0.5,), harder="down"),
    Attack("crop-corner", "digital", (1.0, 0.8, 0.6, 0.4, 0.2), crop_corner, "area kept", (0.4,), harder="down"),
    Attack("crop-band", "digital", (0.8, 0.5, 0.3, 0.2), crop_band, "area kept", harder="down"),
    Attack("crop-centre", "digital", (0.8, 0.5, 0.3, 0.2), crop_centre, "area kept", harder="down"),
    Attack("rotate", "digital", (0.5, 2, 5, 15), rotate, "degrees", (5,)),
    Attack("rotate-90s", "digital", (90, 180, 270), rotate, "degrees", (90,)),
    Attack("mirror", "digital", (1, 0), mirror, "axis (1 left-right, 0 up-down)"),
    Attack("grayscale", "digital", (1,), grayscale, ""),
    Attack("brightness", "digital", (-0.3, 0.3), brightness, "offset"),
    Attack("contrast", "digital", (-0.5, 0.5), contrast, "change"),
    Attack("gamma", "digital", (0.5, 2.0), gamma, "gamma"),
    Attack("blur-gaussian", "digital", (1, 2, 3), blur_gaussian, "sigma px", (2,)),
    Attack("blur-defocus", "digital", (3, 5), blur_defocus, "radius px"),
    Attack("blur-motion", "digital", (5, 9, 15), blur_motion, "length px"),
    Attack("noise-gaussian", "digital", (5, 15, 30), noise_gaussian, "sigma", (15,)),
    Attack("noise-shot", "digital", (0.1, 0.3), noise_shot, "scale"),
    Attack("median", "digital", (3, 5), median, "kernel"),
    Attack("sharpen", "digital", (0.5, 1.0), sharpen, "alpha"),
    Attack("chat-forward", "digital", (1, 2), chat_forward, "forwards", (2,)),
    # print-scan
    Attack("ps-error-diffusion", "print-scan", (600, 300, 200, 150), ps_error_diffusion, "scan dpi", (200,),
           harder="down"),
    Attack("ps-ordered-dither", "print-scan", (300, 150), ps_ordered, "scan dpi", harder="down"),
    Attack("ps-bilevel", "print-scan", (300, 200), ps_bilevel, "scan dpi", harder="down"),
    Attack("ps-jpeg", "print-scan", (300, 150), ps_jpeg, "scan dpi", harder="down"),
    Attack("ps-dot-gain", "print-scan", (0.1, 0.25), ps_dot_gain, "gain"),
    Attack("ps-speckle", "print-scan", (5e-4, 3e-3), ps_speckle, "density"),
    Attack("ps-blur", "print-scan", (1.0, 2.0), ps_blur, "sigma (300-dpi px)"),
    Attack("ps-skew", "print-scan", (0, 1, 3), ps_skew, "degrees"),
    Attack("ps-scale", "print-scan", (0.97, 1.03), ps_scale, "scale"),
    Attack("photocopy", "print-scan", (1, 2, 3), photocopy, "generations", (2,)),
    # phone photo of paper (base: jitter 5 %, lens 0.03, curl 0.4 %, shadow 0.2, defocus 1, noise 3, fill 80 %, JPEG 90)
    Attack("phone-perspective", "phone", (0.02, 0.05, 0.08, 0.12), ph_perspective, "corner jitter", (0.08,)),
    Attack("phone-lens", "phone", (0.05, 0.15), ph_lens, "k1"),
    Attack("phone-curl", "phone", (0.01, 0.02), ph_curl, "bow / page height"),
    Attack("phone-fold", "phone", (3, 8), ph_fold, "crease offset px"),
    Attack("phone-shadow", "phone", (0.3, 0.6), ph_shadow, "shadow depth"),
    Attack("phone-defocus", "phone", (1.5, 2.5), ph_defocus, "sigma px"),
    Attack("phone-motion", "phone", (5, 11), ph_motion, "length px"),
    Attack("phone-noise", "phone", (6, 12), ph_noise, "sigma"),
    Attack("phone-fill", "phone", (0.9, 0.6, 0.4), ph_fill, "frame share", harder="down"),
    Attack("phone-jpeg", "phone", (95, 70), ph_jpeg, "quality", harder="down"),
    # screen
    Attack("screen-dpi", "screen", (150, 96, 72), screen_dpi, "screen dpi", (96,), harder="down"),
    Attack("screen-zoom", "screen", (2.0, 1.0, 0.5), screen_zoom, "zoom at 96 dpi", harder="down"),
    Attack("screen-photo", "screen", (1, 2), screen_photo, "severity", (1,)),
    # collusion
    Attack("collude-average", "collusion", (2, 3), collude_average, "colluders", (2,), inputs="copies"),
    Attack("collude-pagemix", "collusion", (2, 3), collude_pagemix, "colluders", inputs="pages"),
    Attack("collude-cutpaste", "collusion", (2, 3), collude_cutpaste, "colluders", (2,), inputs="copies"),
)


def by_name(name: str) -> Attack:
    for a in ATTACKS:
        if a.name == name:
            return a
    raise KeyError(name)


def cases(quick: bool = False) -> list[tuple[Attack, float]]:
    """(attack, strength) pairs of the full or the quick run."""
    return [(a, s) for a in ATTACKS for s in (a.quick if quick else a.strengths)]


def one_per_attack(chosen: list[tuple[Attack, float]]) -> list[tuple[Attack, float]]:
    """One case per attack among `chosen`: its quick strength if chosen, else the middle one chosen."""
    by: dict[str, list[tuple[Attack, float]]] = {}
    for a, s in chosen:
        by.setdefault(a.name, []).append((a, s))
    picked = []
    for lst in by.values():
        a = lst[0][0]
        quick = [c for c in lst if c[1] in a.quick]
        picked.append(quick[0] if quick else lst[len(lst) // 2])
    return picked
