"""The marking layers: one module per layer behind one protocol (`base.Layer`), used by issuing and tracing.

`settings` holds the typed records the register keeps per copy. The layer modules load numpy and OpenCV,
so they are imported on first use (`get`), not with this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from leakmark.layers.settings import CopySettings, LayerName

if TYPE_CHECKING:
    from leakmark.layers.base import Layer

ALL: tuple[LayerName, ...] = tuple(LayerName)
DEFAULT_OFF: tuple[LayerName, ...] = (LayerName.blind,)  # opt-in: adds no identification on the benchmark
# pages (benchmarks/results/lowtext-blind.md); for offices that want a lossless leak readable elsewhere
CODEWORD: tuple[LayerName, ...] = (LayerName.shift, LayerName.tone)
_MODULES = {LayerName.shift: "shift", LayerName.tone: "tone", LayerName.blind: "blind", LayerName.file: "file"}


def get(name: LayerName | str) -> Layer:
    """The layer object of `name` (its module is imported on first use)."""
    layer = LayerName(name)
    module = importlib.import_module(f"leakmark.layers.{_MODULES[layer]}")
    found: Layer = module.LAYER_IMPL
    return found


__all__ = ["ALL", "CODEWORD", "DEFAULT_OFF", "CopySettings", "LayerName", "get"]
