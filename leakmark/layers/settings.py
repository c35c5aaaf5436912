"""What the register keeps with each copy: its layers and their parameters, as typed frozen records.

This module is the one place where the records are turned into the register's JSON and back. `trace`
measures each copy with exactly what was recorded, so changing a default later never breaks tracing of
old copies. Records written before `format` existed (leakmark 0.1.0) read as format 1; a record of a
format newer than this release is refused rather than misread.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from leakmark.errors import BadRequestError

FORMAT = 1


class LayerName(StrEnum):
    """The layers, in the order they are listed and applied (page layers first)."""

    shift = "shift"
    tone = "tone"
    blind = "blind"
    file = "file"


@dataclass(frozen=True, kw_only=True)
class ShiftSettings:
    delta_px: int = 1


@dataclass(frozen=True, kw_only=True)
class ToneSettings:
    version: str
    cell_mm: float
    alpha: float
    pages: tuple[int, ...] | None = None  # 1-based; None: every page


@dataclass(frozen=True, kw_only=True)
class BlindSettings:
    version: int
    d1: int
    d2: int
    password: int
    bits: int


@dataclass(frozen=True, kw_only=True)
class FileSettings:
    token: str
    where: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CopySettings:
    layers: tuple[LayerName, ...]
    shift: ShiftSettings = ShiftSettings()
    dpi: int | None = None  # absent in the earliest records
    tone: ToneSettings | None = None
    blind: BlindSettings | None = None
    file: FileSettings | None = None
    format: int = FORMAT
    # how each page of the copy was made: "vector" (marked in its own content) or "raster" (a marked image);
    # None in records from before vector copies. Trace measures both the same way.
    page_modes: tuple[str, ...] | None = None

    def carries(self, layer: LayerName | str, page: int) -> bool:
        """Whether the copy carries `layer` on `page` (0-based). Tone goes by default only on the pages it
        helps, and the record lists them (1-based); no list means every page."""
        if layer not in self.layers:
            return False
        if layer == LayerName.tone and self.tone is not None and self.tone.pages is not None:
            return page + 1 in self.tone.pages
        return True

    def to_json(self) -> str:
        out: dict[str, Any] = {"format": self.format, "layers": [str(x) for x in self.layers],
                               "shift": {"delta_px": self.shift.delta_px}, "dpi": self.dpi}
        if self.tone is not None:
            out["tone"] = {"version": self.tone.version, "cell_mm": self.tone.cell_mm, "alpha": self.tone.alpha}
            if self.tone.pages is not None:
                out["tone"]["pages"] = list(self.tone.pages)
        if self.blind is not None:
            b = self.blind
            out["blind"] = {"version": b.version, "d1": b.d1, "d2": b.d2, "password": b.password, "bits": b.bits}
        if self.file is not None:
            out["file"] = {"token": self.file.token, "where": list(self.file.where)}
        if self.page_modes is not None:
            out["page_modes"] = list(self.page_modes)
        return json.dumps(out, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> CopySettings:
        return _parse(text)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> CopySettings:
    """Parsed once per distinct string: trace asks every copy of a document, and a run's copies share one."""
    try:
        d = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise BadRequestError(f"a copy's recorded marking settings are not readable ({exc}); "
                              "run `leakmark log verify`") from None
    fmt = int(d.get("format", 1))
    if fmt > FORMAT:
        raise BadRequestError(f"copies were recorded by a newer leakmark (settings format {fmt}); "
                              "upgrade leakmark to trace them")
    try:
        layers = tuple(LayerName(x) for x in d.get("layers", ["shift"]))
    except ValueError as exc:
        raise BadRequestError(f"a copy carries a layer this release does not know ({exc}); upgrade leakmark") from None
    tone, blind, file = d.get("tone"), d.get("blind"), d.get("file")
    return CopySettings(
        format=fmt, layers=layers, dpi=d.get("dpi"),
        shift=ShiftSettings(delta_px=int(d.get("shift", {}).get("delta_px", 1))),
        tone=None if not isinstance(tone, dict) else ToneSettings(
            version=str(tone.get("version")), cell_mm=float(tone.get("cell_mm", 0.0)),
            alpha=float(tone.get("alpha", 0.0)),
            pages=tuple(int(p) for p in tone["pages"]) if tone.get("pages") is not None else None),
        blind=None if not isinstance(blind, dict) else BlindSettings(
            version=int(blind["version"]), d1=int(blind["d1"]), d2=int(blind["d2"]),
            password=int(blind["password"]), bits=int(blind["bits"])),
        file=None if not isinstance(file, dict) else FileSettings(
            token=str(file["token"]), where=tuple(file["where"])),
        page_modes=tuple(str(m) for m in d["page_modes"]) if d.get("page_modes") is not None else None,
    )
