"""The protocol every layer follows, for issuing (prepare a page, derive each copy's material) and for
tracing (measure a page of evidence aligned to the original)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from leakmark.layers.codes import page_seed
from leakmark.layers.settings import LayerName

if TYPE_CHECKING:
    import numpy as np

    from leakmark.units import PageUnits


@dataclass(frozen=True)
class MeasureContext:
    """One located page of evidence, aligned to the archived original's rendering."""

    aligned: np.ndarray  # evidence warped onto the original (gray, original's shape)
    valid: np.ndarray  # where the evidence covers the page
    original: np.ndarray  # the original rendering (gray)
    units: PageUnits
    dpi: int
    delta: float  # the shift amplitude the copies were made with


@dataclass
class Measurement:
    """One value per code position of the layer on that page (0 = not measured); a copy's score is the
    dot product with its ±1 codeword over the norm. `counts` say what was measured, for the report."""

    values: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)


class Layer(Protocol):
    """A way of marking a page (or the file). Page layers are scored as codewords (`measure`); the
    `blind` and `file` layers carry a payload that is read and verified with the key instead."""

    name: ClassVar[LayerName]
    codeword: ClassVar[bool]  # scored by correlating a measurement with each copy's ±1 codeword
    on_pages: ClassVar[bool]  # marks page pixels (False: the file layer)

    def material(self, key: bytes, doc_id: str, copy_no: int, page: int) -> bytes:
        """What a worker needs to mark one copy's page: derived from the key, never the key itself."""
        ...

    def prepare(self, base: np.ndarray, gray: np.ndarray, dpi: int) -> tuple[np.ndarray, ...]:
        """Per-run planes computed once per page (kept in the run's page cache); () when none."""
        ...

    def measure(self, ctx: MeasureContext) -> Measurement | None:
        """The codeword measurement on one aligned page (None for layers read as a payload)."""
        ...


class CodewordLayer:
    """A page layer scored as a codeword: each copy's page pattern comes from its HMAC seed."""

    name: ClassVar[LayerName]
    codeword: ClassVar[bool] = True
    on_pages: ClassVar[bool] = True

    def material(self, key: bytes, doc_id: str, copy_no: int, page: int) -> bytes:
        return page_seed(key, doc_id, copy_no, self.name, page)
