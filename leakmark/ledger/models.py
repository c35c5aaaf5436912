"""What the register holds: documents, runs and copies as frozen dataclasses, and their states.

The dataclass fields are the columns of the register's tables (see schema.py), in the same order; the
statuses and states are `StrEnum`s, so the strings stored in the database, hashed into the event chain
and printed as JSON are exactly the plain strings they always were.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from leakmark.layers.settings import CopySettings
from leakmark.ledger.records import RunRecord


class CopyStatus(StrEnum):
    """Where a copy stands. A run reserves its numbers (`reserved`), a finished batch makes them `issued`,
    an abandoned run makes its unmade ones `void`; a clerk records `returned` and `destroyed`, and voids a
    copy issued by mistake (`void`, with a reason: a `void` event). A void copy's number is never reused."""

    reserved = "reserved"
    issued = "issued"
    returned = "returned"
    destroyed = "destroyed"
    void = "void"

    @classmethod
    def read(cls, value: str) -> CopyStatus | str:
        """The member for a stored string; an unknown string (a register altered outside leakmark) is
        kept verbatim, so listing still shows what is there and `log verify` names the row."""
        return _COPY_STATUSES.get(value, value)  # a dict lookup: trace reads 100,000s of rows


_COPY_STATUSES: dict[str, CopyStatus] = {s.value: s for s in CopyStatus}
# what a clerk may set with a status event; `reserved` belongs to runs, `void` has its own event (with a reason)
CLERK_STATUSES = (CopyStatus.issued, CopyStatus.returned, CopyStatus.destroyed)
# what a clerk may void: a copy that was made (a reserved one is voided by abandoning its run)
VOIDABLE = (CopyStatus.issued, CopyStatus.returned)


class RunState(StrEnum):
    """An issue run: `open` (resumable), `finished`, or `abandoned` (its unmade copies are void)."""

    open = "open"
    finished = "finished"
    abandoned = "abandoned"

    @classmethod
    def read(cls, value: str) -> RunState | str:
        """The member for a stored string; an unknown string is kept verbatim (see CopyStatus.read)."""
        return _RUN_STATES.get(value, value)


_RUN_STATES: dict[str, RunState] = {s.value: s for s in RunState}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def format_copy_no(n: int) -> str:
    return f"{n:06d}"


@dataclass(frozen=True)
class Document:
    id: str
    sha256: str
    title: str
    level: str
    period: str
    pages: int
    source_name: str
    kind: str  # "pdf" or "images"
    dpi: int
    created_at: str


@dataclass(frozen=True)
class Copy:
    document_id: str
    copy_no: int
    recipient: str
    unit: str
    note: str
    issued_at: str
    issued_by: str
    status: CopyStatus | str  # a CopyStatus; a plain str only in a register altered outside leakmark
    run_id: str
    settings: str
    version: str
    path: str

    @property
    def label(self) -> str:
        return format_copy_no(self.copy_no)

    @property
    def ref(self) -> str:
        """`DOCUMENT/000123`: the reference `find_copy` always resolves."""
        return f"{self.document_id}/{self.label}"

    @property
    def marking(self) -> CopySettings:
        """The copy's recorded layers and parameters; parsed once per distinct record (a run's copies share
        one, and trace asks every copy per page and layer)."""
        return CopySettings.from_json(self.settings)


@dataclass(frozen=True)
class Run:
    id: str
    document_id: str
    created_at: str
    created_by: str
    state: RunState | str  # a RunState; a plain str only in a register altered outside leakmark
    options: str  # JSON: output folder or merged file, marking settings, what a resume needs
    copies: int
    done: int
    merge_bytes: int  # bytes of the merged file's .part that belong to issued copies

    @property
    def record(self) -> RunRecord:
        return RunRecord.from_json(self.options)


@dataclass(frozen=True)
class Planned:
    """A copy to reserve: who gets it and which number (None: next free)."""
    recipient: str
    unit: str = ""
    note: str = ""
    copy_no: int | None = None


@dataclass(frozen=True)
class VerifyReport:
    events: int
    documents: int
    copies: int
    runs: int = 0

    def to_json(self) -> dict[str, int]:
        return {"events": self.events, "documents": self.documents, "runs": self.runs, "copies": self.copies}


def _columns(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


DOC_FIELDS = _columns(Document)
COPY_FIELDS = _columns(Copy)
RUN_FIELDS = _columns(Run)


def document_from_row(row: Any) -> Document:
    return Document(**{k: row[k] for k in DOC_FIELDS})


def copy_from_row(row: Any) -> Copy:
    values = {k: row[k] for k in COPY_FIELDS}
    values["status"] = CopyStatus.read(values["status"])
    return Copy(**values)


def run_from_row(row: Any) -> Run:
    values = {k: row[k] for k in RUN_FIELDS}
    values["state"] = RunState.read(values["state"])
    return Run(**values)
