"""A synthetic photograph (seeded, no files needed) and the full-page photo sample built from it."""

from __future__ import annotations

import cv2
import numpy as np

from leakmark._mupdf import pymupdf
from leakmark.samples.text import A4, _centred


def _fbm(rng: np.random.Generator, h: int, w: int, octaves: int, base: int = 4) -> np.ndarray:
    """Smooth fractal noise, about zero mean and unit spread: the sum of upsampled random grids."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2 ** o
        grid = rng.normal(0, 1, (max(2, n * h // max(h, w)) + 1, n + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    return out / total


def _ridge(rng: np.random.Generator, w: int, base: float, rough: float, octaves: int = 6) -> np.ndarray:
    """A skyline: height (rows from the top) per column."""
    return base + rough * _fbm(rng, 1, w, octaves, base=3)[0] * 2.2


def _photograph(h: int = 1900, w: int = 1500, seed: int = 2025) -> np.ndarray:
    """A procedural landscape photograph (BGR uint8): sky with clouds and a bright sun, hazy far mountains,
    textured green hills, a village with hard-edged buildings, dark trees, a lake, a road, sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    v = yy / h
    # sky: deep blue at the top to pale near the horizon, soft clouds, a bright sun halo (top right)
    top, hor = np.array([150, 95, 40], np.float32), np.array([235, 215, 190], np.float32)
    t = np.clip(v / 0.42, 0, 1)[..., None]
    img = top * (1 - t) + hor * t
    clouds = _fbm(rng, h, w, 6, base=3)
    clouds = np.clip((clouds - 0.15) * 2.2, 0, 1) * np.clip(1 - v / 0.4, 0, 1)
    clouds = cv2.GaussianBlur(clouds, (0, 0), 3)[..., None]
    shade = (0.85 + 0.15 * _fbm(rng, h, w, 4, base=8))[..., None]
    img = img * (1 - clouds) + np.array([250, 248, 246], np.float32) * shade * clouds
    sun = np.exp(-((xx - 0.8 * w) ** 2 + (yy - 0.1 * h) ** 2) / (2 * (0.07 * w) ** 2))[..., None]
    img = img * (1 - sun) + 254 * sun
    # far mountains, hazy blue-grey, with rocky texture
    ridge = _ridge(rng, w, 0.36 * h, 0.06 * h)
    far = (yy > ridge[None, :])[..., None]
    rock = _fbm(rng, h, w, 7, base=16)[..., None]
    mcol = np.array([150, 140, 125], np.float32) + 25 * rock - 40 * np.clip((yy - ridge) / (0.12 * h), 0, 1)[..., None]
    img = np.where(far, mcol, img)
    # near hills, green, grassy texture, lit from the right
    ridge2 = _ridge(rng, w, 0.5 * h, 0.05 * h)
    near = (yy > ridge2[None, :])[..., None]
    grass = rng.normal(0, 1, (h, w)).astype(np.float32)
    grass = cv2.GaussianBlur(grass, (0, 0), 0.8) * 14 + cv2.GaussianBlur(grass, (0, 0), 3) * 10
    light = 0.75 + 0.35 * xx / w + 0.2 * _fbm(rng, h, w, 4, base=6)
    hcol = np.stack([40 + 0 * xx, 110 + 20 * _fbm(rng, h, w, 5, base=6), 70 + 0 * xx], -1) * light[..., None]
    hcol += grass[..., None] * np.array([0.4, 1.0, 0.6], np.float32)
    img = np.where(near, hcol, img)
    # a lake in the lower left: dark water with the sky's reflection and ripples
    lake = (((xx - 0.22 * w) / (0.3 * w)) ** 2 + ((yy - 0.8 * h) / (0.08 * h)) ** 2 < 1)
    ripple = np.sin(yy * 0.9 + 3 * _fbm(rng, h, w, 3, base=8)) * 8
    water = np.stack([110 + ripple, 85 + ripple, 50 + ripple * 0.5], -1) * (0.8 + 0.2 * (1 - v))[..., None]
    img = np.where(lake[..., None], water, img)
    # a road: a grey band curving down to the bottom edge
    cx = 0.62 * w + 0.12 * w * np.sin(v * 6)
    half = 6 + 120 * np.clip((v - 0.55) / 0.45, 0, 1) ** 1.5
    road = (np.abs(xx - cx) < half) & (v > 0.56)
    img = np.where(road[..., None], (105 + 10 * rng.normal(0, 1, (h, w)).astype(np.float32))[..., None]
                   * np.array([1.0, 1.0, 1.02], np.float32), img)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # the village: buildings with hard edges, lit walls, shaded walls, windows, red and grey roofs
    for _ in range(9):
        bw, bh = int(rng.uniform(70, 170)), int(rng.uniform(60, 160))
        x0 = int(rng.uniform(0.45, 0.95) * w) - bw
        y1 = int(ridge2[min(w - 1, x0 + bw // 2)] + rng.uniform(40, 200))
        y0 = y1 - bh
        wall = tuple(int(c) for c in rng.uniform(185, 240) * np.array([0.92, 0.95, 1.0]))
        cv2.rectangle(img, (x0, y0), (x0 + bw, y1), wall, -1)
        side = int(bw * 0.35)
        cv2.rectangle(img, (x0 + bw, y0 + 6), (x0 + bw + side, y1), tuple(int(c * 0.55) for c in wall), -1)
        roof = (40, 45, 150) if rng.random() < 0.6 else (70, 70, 75)
        pts = np.array([[x0 - 8, y0], [x0 + bw // 2, y0 - int(bh * 0.45)], [x0 + bw + 8, y0]], np.int32)
        cv2.fillPoly(img, [pts], roof)
        pts = np.array([[x0 + bw // 2, y0 - int(bh * 0.45)], [x0 + bw + side, y0 - int(bh * 0.3)],
                        [x0 + bw + side, y0 + 6], [x0 + bw + 8, y0]], np.int32)
        cv2.fillPoly(img, [pts], tuple(int(c * 0.6) for c in roof))
        for wy in range(y0 + 14, y1 - 24, 34):
            for wx in range(x0 + 12, x0 + bw - 20, 30):
                cv2.rectangle(img, (wx, wy), (wx + 14, wy + 18), (60, 50, 40), -1)
        cv2.rectangle(img, (x0 + bw // 2 - 10, y1 - 34), (x0 + bw // 2 + 10, y1), (35, 40, 50), -1)
    # trees: dark round crowns with leafy texture, trunks
    for _ in range(40):
        x = int(rng.uniform(0, w))
        y = int(ridge2[x] + rng.uniform(0, 0.45 * h))
        r = int(rng.uniform(18, 55))
        cv2.line(img, (x, y), (x, y + int(r * 1.3)), (30, 45, 60), max(3, r // 6))
        cv2.circle(img, (x, y), r, (int(rng.uniform(15, 40)), int(rng.uniform(55, 90)), int(rng.uniform(20, 45))),
                   -1, cv2.LINE_AA)
    leaves = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2) * 18
    f = img.astype(np.float32)
    dark = (f.sum(-1) < 200)[..., None]
    f = np.where(dark, f + leaves[..., None], f)
    # vignette and sensor noise, then the camera's own smoothing
    r2 = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    f *= (1 - 0.35 * r2)[..., None]
    f += rng.normal(0, 2.0, f.shape).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


def photo_page() -> bytes:
    """A page that is almost all one colour photograph (embedded JPEG) with a one-line caption."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4.width, height=A4.height)
    ok, jpg = cv2.imencode(".jpg", _photograph(), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError("could not encode the sample photograph")
    page.insert_image(pymupdf.Rect(36, 36, A4.width - 36, A4.height - 66), stream=jpg.tobytes(), keep_proportion=False)
    cap = "图1　某基地全景（2025年10月摄）"
    _centred(page, A4.width / 2, A4.height - 42, cap, 11)
    doc.set_metadata({"title": "某基地全景照片", "creator": "leakmark samples"})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)  # same bytes every run


def synthetic_photo(h: int, w: int, seed: int) -> np.ndarray:
    """A small synthetic greyscale photograph (smooth shading, textured patches, hard-edged rectangles),
    deterministic for a seed: the tests' and benchmarks' picture when a whole sample page is too much."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    img = np.full((h, w), 120, np.float32)
    for _ in range(25):
        y, x, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(40, 300)
        img += rng.uniform(-70, 70) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))
    texture = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5) * 30
    patches = cv2.resize((rng.uniform(0, 1, (h // 80 + 1, w // 80 + 1)) > 0.5).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_NEAREST)
    img += texture * cv2.GaussianBlur(patches, (0, 0), 8)
    for _ in range(6):
        x0, y0 = int(rng.uniform(0, w - 200)), int(rng.uniform(0, h - 200))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.uniform(60, 200)), y0 + int(rng.uniform(60, 200))),
                      float(rng.uniform(20, 230)), -1)
    return np.clip(img, 0, 255).astype(np.uint8)
