"""The register's typed record of a run's options (the `run` event): what a resume needs to finish it.

Copies' marking records are `leakmark.layers.settings.CopySettings`; both are turned into JSON and back
only here and there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from leakmark.layers.settings import LayerName


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
        if self.page_modes is not None:
            out["page_modes"] = list(self.page_modes)
        if self.raster_reasons:
            out["raster_reasons"] = list(self.raster_reasons)
        if not self.text_layer:
            out["text_layer"] = False
        return json.dumps(out, ensure_ascii=False, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> RunRecord:
        d = json.loads(text or "{}")
        pages = d.get("tone_pages")
        return RunRecord(source_stem=d.get("source_stem", ""), output_dir=d.get("output_dir", ""), merge=d.get("merge"),
                         separator=bool(d.get("separator")), delta=int(d.get("delta", 1)),
                         encrypted=bool(d.get("encrypted")),
                         layers=tuple(LayerName(x) for x in d.get("layers", ["shift"])),
                         tone_pages=None if pages is None else tuple(int(p) for p in pages),
                         repaired=bool(d.get("repaired")),
                         page_modes=None if d.get("page_modes") is None else tuple(str(x) for x in d["page_modes"]),
                         raster_reasons=tuple(str(x) for x in d.get("raster_reasons", ())),
                         text_layer=bool(d.get("text_layer", True)))

    @property
    def pdf_copies(self) -> bool:
        """Copies are the original PDF file (with vector or raster pages), not a rebuilt one."""
        return self.page_modes is not None

    def vector_page(self, index: int) -> bool:
        return self.page_modes is not None and self.page_modes[index] == "vector"
