"""Traces in the register (a mixin of `store.Ledger`): every trace is a `trace` event, hash-chained and
authenticated like the others, so who traced what evidence, when, and which copies it named stays on record.

The event changes no view (documents, runs and copies are as they were): `verify.py` replays it as a record
only. Its payload (`TraceRecord`) holds the evidence files (name, path, size, SHA-256), the verdict, the
document and pages found, the named copies and the top scored ones (score, false-accusation probability),
the threshold, the layers scored, the register the names came from (count, head, verified), and the chain of
custody: operator, host, leakmark version, the key's fingerprint. The event's own time is the UTC time it
was recorded. Reads check each event against its hash and HMAC once `check()` ran, like the history reads.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from leakmark.errors import OutputError
from leakmark.ledger.checkpoint import RegisterState
from leakmark.ledger.guard import ChainGuard
from leakmark.ledger.models import format_copy_no, now_iso

log = logging.getLogger(__name__)

KIND = "trace"
# trace.decide.Verdict's values (kept here so that reading the register never loads the tracer)
VERDICTS = ("identified", "inconclusive", "no-match")


def _number(value: Any) -> float | None:
    """A score or probability as JSON can hold it (the hash chain's canonical JSON has no NaN or inf)."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


@dataclass(frozen=True)
class TracedFile:
    """One evidence file as it was traced: its name, the path given, its size and SHA-256."""

    name: str
    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class ScoredCopy:
    """A copy the trace scored: its score and false-accusation probability, rounded as the result shows them."""

    document_id: str
    copy_no: int
    score: float | None
    fap: float | None

    @property
    def label(self) -> str:
        return format_copy_no(self.copy_no)

    def to_json(self) -> dict[str, Any]:
        return {"document_id": self.document_id, "copy_no": self.copy_no, "label": self.label, "score": self.score,
                "false_accusation_probability": self.fap}

    @staticmethod
    def from_json(d: dict[str, Any]) -> ScoredCopy:
        return ScoredCopy(document_id=str(d.get("document_id", "")), copy_no=int(d.get("copy_no", 0)),
                          score=_number(d.get("score")), fap=_number(d.get("false_accusation_probability")))


@dataclass(frozen=True)
class TraceRecord:
    """What a `trace` event records (its payload)."""

    verdict: str
    document_id: str | None
    pages: tuple[int, ...]
    named: tuple[ScoredCopy, ...]  # the copies the verdict names, best first
    top: tuple[ScoredCopy, ...]  # the best scored copies (named ones first), as the result lists them
    candidates: int  # issued copies scored
    threshold: float
    layers: tuple[str, ...]  # the layers scored
    evidence: tuple[TracedFile, ...]
    register: RegisterState  # the register the names came from, as the trace checked it
    operator: str
    host: str
    version: str  # leakmark's
    key_fingerprint: str

    def payload(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "document_id": self.document_id, "pages": list(self.pages),
                "named": [c.to_json() for c in self.named], "top": [c.to_json() for c in self.top],
                "candidates": self.candidates, "threshold": self.threshold, "layers": list(self.layers),
                "evidence": [f.to_json() for f in self.evidence], "register": self.register.to_json(),
                "operator": self.operator, "host": self.host, "leakmark_version": self.version,
                "key_fingerprint": self.key_fingerprint}

    @staticmethod
    def from_payload(p: dict[str, Any]) -> TraceRecord:
        reg = p.get("register") or {}
        doc = p.get("document_id")
        return TraceRecord(
            verdict=str(p.get("verdict", "")), document_id=None if doc is None else str(doc),
            pages=tuple(int(x) for x in p.get("pages", ())),
            named=tuple(ScoredCopy.from_json(c) for c in p.get("named", ())),
            top=tuple(ScoredCopy.from_json(c) for c in p.get("top", ())),
            candidates=int(p.get("candidates", 0)), threshold=float(p.get("threshold", 0.0)),
            layers=tuple(str(x) for x in p.get("layers", ())),
            evidence=tuple(TracedFile(name=str(f.get("name", "")), path=str(f.get("path", "")),
                                      size=int(f.get("size", 0)), sha256=str(f.get("sha256", "")))
                           for f in p.get("evidence", ())),
            register=RegisterState(count=int(reg.get("count", 0)), head=str(reg.get("head", "")),
                                   verified=bool(reg.get("verified", False)), problem=str(reg.get("problem", ""))),
            operator=str(p.get("operator", "")), host=str(p.get("host", "")),
            version=str(p.get("leakmark_version", "")), key_fingerprint=str(p.get("key_fingerprint", "")))

    def names(self, document_id: str, copy_no: int) -> bool:
        """Whether the verdict named this copy."""
        return any(c.document_id == document_id and c.copy_no == copy_no for c in self.named)

    def note_for(self, document_id: str, copy_no: int) -> str:
        """A copy's history line for this trace: the verdict, its probability and the evidence names."""
        fap = next((c.fap for c in self.named if c.document_id == document_id and c.copy_no == copy_no), None)
        return (self.verdict + (f", false-accusation probability {fap:.2g}" if fap is not None else "")
                + f"; evidence {', '.join(f.name for f in self.evidence)}")


@dataclass(frozen=True)
class TraceEvent:
    """A recorded trace: its event number, the UTC time it was recorded, and what it recorded."""

    seq: int
    ts: str
    record: TraceRecord

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, **self.record.payload()}


@dataclass(frozen=True)
class RecordedTrace:
    """Where a trace was recorded: its event number, and the register's head hash after it (that event's)."""

    seq: int
    head: str
    ts: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "head": self.head, "ts": self.ts}


class TraceEvents(ChainGuard):
    """Appending and reading `trace` events; `store.Ledger` provides the connection and the transaction."""

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _append(self, kind: str, payload: dict, ts: str | None = None) -> int:
        raise NotImplementedError

    def record_trace(self, record: TraceRecord) -> RecordedTrace:
        """Append a `trace` event in one transaction (the chain is checked first, as before every write;
        LedgerIntegrityError when it fails: nothing is written). It changes no view, so a register whose rows
        failed a reader's check (`--trust-register`) still records it, with `record.register` saying so."""
        ts, seq = now_iso(), 0
        try:
            with self.transaction():
                seq = self._append(KIND, record.payload(), ts=ts)
        except OutputError as exc:
            if not seq or self._cp is None or self._cp.seq != seq:
                raise
            # committed, only the head file was not rewritten: it may lag one transaction (the next write
            # brings it level), so the trace is recorded and saying otherwise would be false
            log.warning("trace recorded as event %d, but %s", seq, exc.message)
        assert self._cp is not None and self._cp.seq == seq  # the checkpoint the transaction sealed
        return RecordedTrace(seq=seq, head=self._cp.hash, ts=ts)

    def trace_events(self) -> list[TraceEvent]:
        """Every recorded trace, oldest first; after `check()` each event is checked against its hash and HMAC."""
        return [TraceEvent(seq=seq, ts=ts, record=TraceRecord.from_payload(p)) for seq, ts, p in self._trace_rows()]

    def _trace_rows(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        return self._events_of(KIND)
