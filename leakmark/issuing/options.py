"""What an `issue` run is asked to do: one frozen, keyword-only options object for the CLI and the API,
validated once, and the layer policy. (The register's record of a run's options, `RunRecord`, lives
with the register: `leakmark.ledger.records`.)"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from leakmark.errors import BadRequestError
from leakmark.layers import ALL, DEFAULT_OFF, LayerName
from leakmark.ledger.records import RunRecord
from leakmark.pdf.stamp import StampSpec
from leakmark.recipients import Recipient

LAYERS: tuple[str, ...] = tuple(str(x) for x in ALL)  # page layers first; `file` only with per-copy files


class ExecutorKind(StrEnum):
    local = "local"
    dask = "dask"


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How the copies of a run are made; what `--resume` needs besides the register."""

    jobs: int = 0  # 0: all cores
    executor: str = ExecutorKind.local  # local | dask
    scheduler: str | None = None  # Dask scheduler address (tcp://host:8786)
    password: str | None = None
    batch: int = 0  # copies per batch; 0: from the page size (bounded memory)

    def validate(self) -> None:
        if self.executor not in tuple(ExecutorKind):
            raise BadRequestError(f"unknown executor {self.executor!r} (use one of: "
                                  f"{', '.join(ExecutorKind)})")
        if self.executor == ExecutorKind.dask and not self.scheduler:
            raise BadRequestError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        if self.batch < 0 or self.jobs < 0:
            raise BadRequestError("--jobs and --batch must not be negative")


@dataclass(frozen=True, kw_only=True)
class IssueOptions(RunSettings):
    """A new run: the document, its recipients and where the copies go, plus how to make them."""

    source: Path
    recipients: tuple[Recipient, ...]
    output_dir: Path = Path(".")
    title: str | None = None
    level: str = ""
    reclassify: str | None = None  # the reason: a registered document's level changes to `level` (an event)
    period: str = ""
    dpi: int | None = None  # None: the document's registered dpi, else the workspace default
    delta: int = 1
    issued_by: str = ""
    merge: Path | None = None  # one print-ready PDF with every copy in copy order, instead of one file each
    separator: bool = False  # a page before each copy in the merged file: 份号, recipient, unit
    layers: tuple[str, ...] | None = None  # None: every layer that applies
    repair: bool = False  # accept a damaged PDF as MuPDF repairs it (recorded in the run; refused otherwise)
    vector: bool = True  # pages keep their own content, marked in it, where they allow it (False: page images)
    text_layer: bool = True  # raster pages of a PDF keep their text, invisible and marked like their image
    stamp: StampSpec | None = None  # a visible 份号 stamp on page 1 of each copy (off by default)

    @property
    def chosen_layers(self) -> tuple[LayerName, ...]:
        if self.layers is not None:
            return tuple(x for x in ALL if x in self.layers)
        return tuple(x for x in ALL if x not in DEFAULT_OFF and not (x == LayerName.file and self.merge is not None))

    def validate(self) -> None:
        if self.reclassify is not None and (not self.level.strip() or not self.reclassify.strip()):
            raise BadRequestError("--reclassify needs the new --level and --reason TEXT (kept in the register)")
        if self.layers is not None:
            unknown = [x for x in self.layers if x not in LAYERS]
            if unknown:
                raise BadRequestError(f"layer {', '.join(unknown)} is not available in this version (available: "
                                      f"{', '.join(LAYERS)})")
            if LayerName.shift not in self.layers:
                raise BadRequestError("the shift layer cannot be left out: it is the mark that survives print, "
                                      "scan and photo")
            if LayerName.tone in self.layers and LayerName.blind in self.layers:
                raise BadRequestError("the tone and blind layers cannot be combined on one page in this version "
                                      "(each would overwrite the other's pixels): choose one; tone survives "
                                      "everything blind does on the benchmark pages (docs/layers.md)")
            if LayerName.file in self.layers and self.merge is not None:
                raise BadRequestError("the file layer marks per-copy PDF files; a merged print file (--merge) "
                                      "has none: leave `file` out of --layers")
        if not self.recipients:
            raise BadRequestError("no recipients: give -r 'NAME/UNIT' (repeatable) or --recipients FILE.csv")
        if self.dpi is not None and not 72 <= self.dpi <= 1200:
            raise BadRequestError(f"--dpi {self.dpi} is outside 72..1200")
        if not 1 <= self.delta <= 4:
            raise BadRequestError(f"delta {self.delta} px is outside 1..4")
        if self.separator and self.merge is None:
            raise BadRequestError("--separator needs --merge FILE.pdf (separator pages go into the merged file)")
        if self.stamp is not None:
            self.stamp.validate()
        RunSettings.validate(self)


__all__ = ["LAYERS", "ExecutorKind", "IssueOptions", "RunRecord", "RunSettings"]
