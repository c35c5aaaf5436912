"""The distribution register: documents, runs and copies, and hash-chained, authenticated events.

    models.py   Document, Copy, Run, Planned, VerifyReport; CopyStatus and RunState (StrEnum)
    schema.py   the tables, their version (PRAGMA user_version) and the migrations
    store.py    Ledger: connection, transactions, event appends, writes and queries
    verify.py   replay of the chain and comparison of every view row
    chain.py    the hash chain and HMACs
    checkpoint.py   the anchored chain: checkpoints, view digests, the head file, the incremental check
    reservations.py the vault's record of reserved copy numbers
    witness.py  witness files (`log anchor`, `log verify --against`)
    traces.py   the `trace` events: what a trace records, appending and reading them

The register as an application sees it (listings, search, export, JSON shapes) is `leakmark.register`.
"""

from leakmark.ledger.checkpoint import RegisterState
from leakmark.ledger.models import (
    Copy,
    CopyStatus,
    Document,
    Planned,
    Run,
    RunState,
    VerifyReport,
    format_copy_no,
    now_iso,
)
from leakmark.ledger.schema import SCHEMA_VERSION
from leakmark.ledger.store import Ledger
from leakmark.ledger.traces import RecordedTrace, ScoredCopy, TracedFile, TraceEvent, TraceRecord

__all__ = [
    "SCHEMA_VERSION",
    "Copy",
    "CopyStatus",
    "Document",
    "Ledger",
    "Planned",
    "RecordedTrace",
    "RegisterState",
    "Run",
    "RunState",
    "ScoredCopy",
    "TraceEvent",
    "TraceRecord",
    "TracedFile",
    "VerifyReport",
    "format_copy_no",
    "now_iso",
]
