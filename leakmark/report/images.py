"""The report's pictures as `data:` URIs (nothing outside the file is referenced): the evidence, the page
outline found in it, and the measured units coloured by their agreement with a copy's code."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from leakmark.trace.artifacts import UnitKind

AGREE = (178, 114, 0)  # BGR: blue (#0072B2) and orange (#E69F00), told apart with any colour vision
AGAINST = (0, 159, 230)
OUTLINE = (178, 114, 0)
OUTSIDE = 200  # grey where the aligned evidence has no data


def data_uri(image: np.ndarray, photo: bool = False) -> str:
    """PNG (drawings, page renderings) or JPEG (`photo`) as a `data:` URI."""
    if photo:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        mime = "image/jpeg"
    else:
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        mime = "image/png"
    if not ok:
        raise ValueError("image encoding failed")
    return f"data:{mime};base64,{base64.b64encode(buf.tobytes()).decode('ascii')}"


def outlined(gray: np.ndarray, corners: np.ndarray, side: int = 1000) -> np.ndarray:
    """The image with the found page's outline drawn on it (BGR), on a grey margin wide enough to show the
    whole outline when the capture holds only part of the page (at most twice the image's size each way),
    reduced to at most `side` pixels."""
    h, w = gray.shape
    lo = np.maximum(np.floor(corners.min(axis=0)), [-2 * w, -2 * h]).astype(int)
    hi = np.minimum(np.ceil(corners.max(axis=0)), [3 * w, 3 * h]).astype(int)
    left, top = max(0, -lo[0]) + 8 * (lo[0] < 0), max(0, -lo[1]) + 8 * (lo[1] < 0)
    right, bottom = max(0, hi[0] - w) + 8 * (hi[0] > w), max(0, hi[1] - h) + 8 * (hi[1] > h)
    canvas = cv2.copyMakeBorder(gray, top, bottom, left, right, cv2.BORDER_CONSTANT, value=OUTSIDE)
    scale = min(1.0, side / max(canvas.shape))
    if scale < 1:
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    points = (corners + np.array([left, top], np.float32)) * scale
    width = max(2, round(max(out.shape) / 300))
    cv2.polylines(out, [np.round(points).astype(np.int32).reshape(-1, 1, 2)], True, OUTLINE, width, cv2.LINE_AA)
    return out


def aligned_view(aligned: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """The aligned evidence, light grey where the capture does not cover the page."""
    out = aligned.copy()
    if valid is not None:
        out[~valid] = OUTSIDE
    return out


def overlay(aligned: np.ndarray, valid: np.ndarray | None, boxes: np.ndarray, kinds: np.ndarray,
            contributions: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The aligned evidence (faded) with every measured unit filled blue where it moved as the copy's code
    says and orange where it moved the other way; a line's own (across) movement as a bar in the margin
    beside it. Returns the image (BGR) and how many units agree and were measured."""
    base = aligned_view(aligned, valid).astype(np.float32)
    base = 255 - (255 - base) * 0.55  # faded, so the colours read
    out = cv2.cvtColor(base.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    fill = out.copy()
    bar = max(3, round(max(aligned.shape) / 250))
    measured = contributions != 0
    # a line's bar stays on the capture (a fragment may start mid-line)
    inside = int(np.nonzero(valid)[1].min()) if valid is not None and valid.any() else 0
    for (x0, y0, x1, y1), kind, c in zip(boxes.tolist(), kinds.tolist(), contributions.tolist(), strict=True):
        if c == 0:
            continue
        colour = AGREE if c > 0 else AGAINST
        if kind == UnitKind.line:  # beside the line, left of its first word
            x = max(0, round(x0) - 3 * bar, inside)
            cv2.rectangle(fill, (x, round(y0)), (x + bar, max(round(y1), round(y0) + 1)), colour, -1)
        else:
            cv2.rectangle(fill, (round(x0), round(y0)), (max(round(x1), round(x0) + 1), max(round(y1), round(y0) + 1)),
                          colour, -1)
    out = cv2.addWeighted(fill, 0.55, out, 0.45, 0)
    return _framed(out, valid), int(np.count_nonzero(contributions > 0)), int(np.count_nonzero(measured))


def _framed(image: np.ndarray, valid: np.ndarray | None, margin: float = 0.04) -> np.ndarray:
    """The part of the page the capture covers, with a margin (the whole page for a full capture)."""
    if valid is None or not valid.any():
        return image
    h, w = valid.shape
    ys, xs = np.nonzero(valid)
    pad = round(margin * max(h, w))
    y0, y1 = max(0, int(ys.min()) - pad), min(h, int(ys.max()) + 1 + pad)
    x0, x1 = max(0, int(xs.min()) - pad), min(w, int(xs.max()) + 1 + pad)
    return image[y0:y1, x0:x1]
