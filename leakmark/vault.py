"""The vault: archived originals and what tracing needs of each page, content-addressed by sha256.

Per document ``vault/<sha256>/``: ``original.pdf`` (or ``.png`` …), and per page ``page-NNN.png`` (the
greyscale rendering every copy was made from), ``units-NNN.json`` (the shift units as recorded at
registration) and ``fp-NNN.npz`` (feature fingerprint, with keypoint sizes since the page index). Files
are written atomically and never change once written: later runs and `trace` use exactly these. Folders are
0700 and files 0600 (the originals are the secret documents themselves).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from leakmark._io import atomic_write_bytes, private_dir, temp_path_for, write_error
from leakmark.errors import WorkspaceMissingError
from leakmark.fingerprint import Fingerprint
from leakmark.units import PageUnits
from leakmark.workspace import Workspace


def _doc_folder(ws: Workspace, sha256: str) -> Path:
    private_dir(ws.vault)
    return private_dir(ws.doc_dir(sha256))


def store_original(ws: Workspace, sha256: str, source: Path) -> Path:
    folder = _doc_folder(ws, sha256)
    target = folder / ("original" + (source.suffix.lower() or ".bin"))
    if not target.exists():
        tmp = None
        try:
            tmp = temp_path_for(target)  # 0600; copyfile keeps the mode of an existing target
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        except OSError as exc:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise write_error(target, exc) from exc
    return target


def store_page(ws: Workspace, sha256: str, index: int, png: bytes, units: dict, fp: Fingerprint) -> None:
    folder = _doc_folder(ws, sha256)
    atomic_write_bytes(folder / f"page-{index + 1:03d}.png", png)
    atomic_write_bytes(folder / f"units-{index + 1:03d}.json", json.dumps(units).encode())
    buf = io.BytesIO()
    if fp.sizes is None:
        np.savez_compressed(buf, points=fp.points, descriptors=fp.descriptors)
    else:
        np.savez_compressed(buf, points=fp.points, descriptors=fp.descriptors, sizes=fp.sizes)
    atomic_write_bytes(folder / f"fp-{index + 1:03d}.npz", buf.getvalue())


def _need(path: Path) -> Path:
    if not path.exists():
        raise WorkspaceMissingError(f"the vault file {path} is missing; restore the workspace from backup")
    return path


def load_units(ws: Workspace, sha256: str, index: int) -> PageUnits:
    return PageUnits.from_json(json.loads(_need(ws.doc_dir(sha256) / f"units-{index + 1:03d}.json").read_text()))


def load_units_json(ws: Workspace, sha256: str, index: int) -> dict:
    return json.loads(_need(ws.doc_dir(sha256) / f"units-{index + 1:03d}.json").read_text())


def load_page(ws: Workspace, sha256: str, index: int) -> np.ndarray:
    path = _need(ws.doc_dir(sha256) / f"page-{index + 1:03d}.png")
    img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise WorkspaceMissingError(f"the vault file {path} is damaged; restore the workspace from backup")
    return img


def load_fingerprint(ws: Workspace, sha256: str, index: int) -> Fingerprint:
    with np.load(_need(ws.doc_dir(sha256) / f"fp-{index + 1:03d}.npz"), allow_pickle=False) as z:
        return Fingerprint(points=z["points"], descriptors=z["descriptors"],
                           sizes=z["sizes"] if "sizes" in z.files else None)
