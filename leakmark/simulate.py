"""Simulated leaks of a page image: what `leakmark demo`, the tests and the benchmarks feed to `trace`.

Every function takes a greyscale or RGB uint8 page and a seed, and returns a new uint8 image. Only the
simulations use numpy's RNG: they make evidence, never marks, so their streams may change freely.
"""

from __future__ import annotations

import cv2
import numpy as np


def _gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    _ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if out is None:
        raise RuntimeError("JPEG round trip failed")
    return out


def rescale(img: np.ndarray, factor: float) -> np.ndarray:
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, None, fx=factor, fy=factor, interpolation=interp)


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre, growing the canvas so nothing is cut; exact for multiples of 90."""
    if degrees % 90 == 0:
        return np.ascontiguousarray(np.rot90(img, int(degrees // 90) % 4))
    h, w = img.shape[:2]
    M = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(M[0, 0]), abs(M[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    M[0, 2] += nw / 2 - w / 2
    M[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, M, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=(255, 255, 255))


def crop(img: np.ndarray, keep: float, seed: int = 0) -> np.ndarray:
    """A random window keeping `keep` of the page area, same aspect ratio."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    s = np.sqrt(keep)
    ch, cw = int(h * s), int(w * s)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return img[y:y + ch, x:x + cw].copy()


def phone_photo(img: np.ndarray, seed: int = 0, corner_jitter: float = 0.08, blur: float = 1.5,
                noise: float = 6.0, quality: int = 80, megapixels: float = 12.0) -> np.ndarray:
    """The page on a desk, shot at an angle: perspective, defocus, uneven light, sensor noise, JPEG."""
    rng = np.random.default_rng(seed)
    page = _gray(img).astype(np.float32)
    h, w = page.shape
    out_w = int(np.sqrt(megapixels * 1e6 * 4 / 3))
    out_h = int(out_w * 3 / 4)
    if h > w:
        out_w, out_h = out_h, out_w
    # the sheet fills ~80% of the frame; corners jittered by a fraction of the page width
    fill = 0.8
    sw, sh = out_w * fill, out_w * fill * h / w
    if sh > out_h * 0.92:
        sh = out_h * 0.92
        sw = sh * w / h
    x0, y0 = (out_w - sw) / 2, (out_h - sh) / 2
    dst = np.array([[x0, y0], [x0 + sw, y0], [x0 + sw, y0 + sh], [x0, y0 + sh]], np.float32)
    dst += rng.uniform(-corner_jitter, corner_jitter, size=(4, 2)).astype(np.float32) * sw
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    desk = np.full((out_h, out_w), 70, np.float32)
    desk += cv2.GaussianBlur(rng.normal(0, 25, (out_h // 8 + 1, out_w // 8 + 1)).astype(np.float32), (0, 0), 3)[
        np.arange(out_h)[:, None] // 8, np.arange(out_w)[None, :] // 8]
    warped = cv2.warpPerspective(page, M, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=-1.0)
    mask = cv2.warpPerspective(np.ones_like(page), M, (out_w, out_h), flags=cv2.INTER_LINEAR)
    scene = warped * mask + desk * (1 - mask)
    scene = cv2.GaussianBlur(scene, (0, 0), blur)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / out_w + np.sin(angle) * yy / out_h)
    light = 0.95 - 0.25 * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    scene = scene * light + np.asarray(rng.normal(0, noise, scene.shape)).astype(np.float32)
    return jpeg(np.clip(scene, 0, 255).astype(np.uint8), quality)


def print_scan(img: np.ndarray, seed: int = 0, dpi: int = 300, skew: float = 1.0, scan_dpi: int = 200) -> np.ndarray:
    """Laser print (1-bit error-diffusion halftone at 600 dpi) then a flatbed scan at `scan_dpi`."""
    rng = np.random.default_rng(seed)
    page = _gray(img)
    up = cv2.resize(page, None, fx=600 / dpi, fy=600 / dpi, interpolation=cv2.INTER_CUBIC)
    ink = halftone(up)
    paper: np.ndarray = np.where(ink, 20, 250).astype(np.float32)
    paper = cv2.GaussianBlur(paper, (0, 0), 1.2)  # toner spread and scanner optics
    paper = rotate(paper, skew)
    scan = cv2.resize(paper, None, fx=scan_dpi / 600, fy=scan_dpi / 600, interpolation=cv2.INTER_AREA)
    scan = scan + np.asarray(rng.normal(0, 4, scan.shape)).astype(np.float32)
    return np.clip(scan, 0, 255).astype(np.uint8)


def halftone(gray: np.ndarray) -> np.ndarray:
    """1-bit error diffusion (Floyd–Steinberg on rows, vectorised down columns): True = toner."""
    f = gray.astype(np.float32) / 255.0
    out = np.zeros(f.shape, dtype=bool)
    err = np.zeros(f.shape[1] + 2, np.float32)
    for y in range(f.shape[0]):
        row = f[y] + err[1:-1]
        bits = row < 0.5
        q = np.where(bits, 0.0, 1.0)
        e = row - q
        out[y] = bits
        nxt = np.zeros_like(err)
        nxt[:-2] += e * 3 / 16
        nxt[1:-1] += e * 5 / 16
        nxt[2:] += e * 1 / 16
        # the right-hand 7/16 spreads along the row in the next row's budget (row-vectorised approximation)
        nxt[2:] += e * 7 / 16
        err = nxt
    return out


def screenshot(img: np.ndarray, dpi: int = 300, screen_dpi: float = 96, zoom: float = 0.8) -> np.ndarray:
    """A viewer showing the page at `screen_dpi`, then the screenshot scaled by `zoom` (e.g. pasted)."""
    f = screen_dpi / dpi * zoom
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
