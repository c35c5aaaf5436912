"""Sample documents: a 3-page Chinese 公文-style notice and a 2-page English memo with a table; and three
low-text pages (a full-page photograph, a chart report page, a ruled form) for the layers that do not
need text.

Used by `leakmark demo`, the tests and the benchmarks. The text is our own; fonts are PyMuPDF's
built-in ones (the CJK font "china-s" ships inside PyMuPDF), so generation works offline.
"""

from __future__ import annotations

from pathlib import Path

from leakmark._io import atomic_write_bytes
from leakmark.samples.lowtext import chart_page, form_page
from leakmark.samples.photo import photo_page, synthetic_photo
from leakmark.samples.text import chinese_notice, english_memo

SAMPLES = {"notice-zh.pdf": chinese_notice, "memo-en.pdf": english_memo}


def write_samples(folder: Path) -> list[Path]:
    """Write every sample PDF into `folder` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in SAMPLES.items():
        path = folder / name
        atomic_write_bytes(path, make())
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------- low-text pages
# Pages where the shift layer has little or nothing to move: a full-page photograph, a chart report page and
# a ruled form. Everything is drawn here with fixed seeds (no external files): the same bytes on every run.


LOWTEXT_SAMPLES = {"photo.pdf": photo_page, "chart.pdf": chart_page, "form.pdf": form_page}


def write_lowtext_samples(folder: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """Write the low-text sample pages (photo, chart, form; or the `names` given, without .pdf) into
    `folder` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in LOWTEXT_SAMPLES.items():
        if names is not None and name.removesuffix(".pdf") not in names:
            continue
        path = folder / name
        atomic_write_bytes(path, make())
        paths.append(path)
    return paths


__all__ = ["LOWTEXT_SAMPLES", "SAMPLES", "chart_page", "chinese_notice", "english_memo", "form_page", "photo_page",
           "synthetic_photo", "write_lowtext_samples", "write_samples"]
