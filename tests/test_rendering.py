"""leakmark.rendering: the same pixels as the PyMuPDF calls it replaced, in every mode."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest

from leakmark.errors import EncryptedPdfError
from leakmark.rendering import page_array, render_page_array, render_pages


def _direct(path, index: int, dpi: int, space) -> np.ndarray:
    """What the tests and benchmarks wrote out by hand before the helper."""
    with pymupdf.open(path) as doc:
        pix = doc[index].get_pixmap(dpi=dpi, colorspace=space, alpha=False)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n).copy()


@pytest.mark.parametrize("dpi", [72, 150])
def test_modes_match_pymupdf(samples_dir, dpi):
    src = samples_dir / "notice-zh.pdf"  # a red header: grey and colour renderings differ
    gray, rgb = _direct(src, 1, dpi, pymupdf.csGRAY)[:, :, 0], _direct(src, 1, dpi, pymupdf.csRGB)
    assert np.array_equal(render_page_array(src, 1, dpi), gray)
    assert np.array_equal(render_page_array(str(src), 1, dpi, mode="rgb"), rgb)
    bgr = render_page_array(src, 1, dpi, mode="bgr")
    assert np.array_equal(bgr, rgb[:, :, ::-1]) and bgr.flags.c_contiguous and bgr.flags.writeable
    assert np.array_equal(render_page_array(src.read_bytes(), 1, dpi), gray)
    assert [p.shape for p in render_pages(src, dpi, mode="rgb")][1] == rgb.shape
    with pymupdf.open(src) as doc:
        assert np.array_equal(page_array(doc[1], dpi), gray)
    with pytest.raises(ValueError, match="mode"):
        render_page_array(src, 0, 72, mode="cmyk")  # type: ignore[arg-type]


def test_encrypted_pdf_needs_its_password(samples_dir, tmp_path):
    locked = tmp_path / "locked.pdf"
    with pymupdf.open(samples_dir / "memo-en.pdf") as doc:
        doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="owner")
    assert render_page_array(locked, 0, 72, password="pw").shape == render_page_array(
        samples_dir / "memo-en.pdf", 0, 72).shape
    with pytest.raises(EncryptedPdfError, match="give its password"):
        render_page_array(locked, 0, 72)
    with pytest.raises(EncryptedPdfError, match="wrong"):
        render_page_array(locked, 0, 72, password="nope")
