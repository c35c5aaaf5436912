"""The register's typed record of a run's options (the `run` event): what a resume needs to finish it.

Copies' marking records are `leakmark.layers.settings.CopySettings`; both are turned into JSON and back
only here and there. A run record carries `format` from version 2 on (a run with a visible stamp); records
without it are format 1 and written back exactly as they were; a newer format is refused, not misread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from leakmark.errors import BadRequestError
from leakmark.layers.settings import LayerName
from leakmark.pdf.stamp import Stamp, StampSpec

FORMAT = 2  # 2: `stamp`, `page_modes` (vector copies)


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """A run's options as the register keeps them (the `run` event): what a resume needs to finish it."""

    source_stem: str
    output_dir: str
    merge: str | None
    separator: bool
    delta: int
    encrypted: bool
    layers: tuple[LayerName, ...]
    tone_pages: tuple[int, ...] | None  # 0-based; None: every page (or no tone)
    repaired: bool = False  # the source was a damaged PDF, issued as MuPDF repaired it (`issue --repair`)
    # copies are the original PDF, each page "vector" (marked in its own content, pdf.vector) or "raster" (its
    # marked image over its invisible, equally marked text); None: copies of page images over a text layer
    page_modes: tuple[str, ...] | None = None
    raster_reasons: tuple[str, ...] = ()  # why pages stay images: "page N: reason"
    text_layer: bool = True  # raster pages keep their text (invisible); `issue --no-text-layer`: they don't
    stamp: Stamp | None = None  # the visible 份号 stamp on page 1 (`issue --stamp`); None: none

    def page_layers(self, index: int) -> tuple[LayerName, ...]:
        """The layers page `index` (0-based) carries."""
        return tuple(x for x in self.layers
                     if x != LayerName.tone or self.tone_pages is None or index in self.tone_pages)

    def to_json(self) -> str:
        out: dict[str, Any] = {"source_stem": self.source_stem, "output_dir": self.output_dir,
                               "merge": self.merge, "separator": self.separator, "delta": self.delta,
                               "encrypted": self.encrypted, "layers": [str(x) for x in self.layers],
                               "tone_pages": None if self.tone_pages is None else list(self.tone_pages)}
        if self.repaired:  # only then: the records of other runs stay as they were
            out["repaired"] = True
        if self.page_modes is not None:  # likewise: an older leakmark resuming it would make image copies
            out["format"] = FORMAT
            out["page_modes"] = list(self.page_modes)
        if self.raster_reasons:
            out["raster_reasons"] = list(self.raster_reasons)
        if not self.text_layer:
            out["text_layer"] = False
        if self.stamp is not None:  # likewise; an older leakmark resuming it would make copies without one
            sp = self.stamp.spec
            out["format"] = FORMAT
            out["stamp"] = {"position": sp.position, "unit": sp.include_unit, "level": sp.include_level,
                            "size_pt": sp.size_pt, "level_text": self.stamp.level, "period": self.stamp.period}
        return json.dumps(out, ensure_ascii=False, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> RunRecord:
        d = json.loads(text or "{}")
        if int(d.get("format", 1)) > FORMAT:
            raise BadRequestError(f"this run was recorded by a newer leakmark (run format {d['format']}); upgrade "
                                  "leakmark to resume or read it")
        pages = d.get("tone_pages")
        st = d.get("stamp")
        return RunRecord(source_stem=d.get("source_stem", ""), output_dir=d.get("output_dir", ""), merge=d.get("merge"),
                         separator=bool(d.get("separator")), delta=int(d.get("delta", 1)),
                         encrypted=bool(d.get("encrypted")),
                         layers=tuple(LayerName(x) for x in d.get("layers", ["shift"])),
                         tone_pages=None if pages is None else tuple(int(p) for p in pages),
                         repaired=bool(d.get("repaired")),
                         stamp=None if not isinstance(st, dict) else Stamp(
                             StampSpec(position=str(st.get("position", "gbt9704")), include_unit=bool(st.get("unit")),
                                       include_level=bool(st.get("level")), size_pt=float(st.get("size_pt", 16.0))),
                             level=str(st.get("level_text", "")), period=str(st.get("period", ""))),
                         page_modes=None if d.get("page_modes") is None else tuple(str(x) for x in d["page_modes"]),
                         raster_reasons=tuple(str(x) for x in d.get("raster_reasons", ())),
                         text_layer=bool(d.get("text_layer", True)))

    @property
    def pdf_copies(self) -> bool:
        """Copies are files of their own, each the original PDF file (with vector or raster pages)."""
        return self.page_modes is not None and self.merge is None

    def vector_page(self, index: int) -> bool:
        return self.page_modes is not None and self.page_modes[index] == "vector"
