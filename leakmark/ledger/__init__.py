"""The distribution register: documents, runs, copies and hash-chained, authenticated events."""

from leakmark.ledger.store import Copy, Document, Ledger, Planned, Run, VerifyReport, format_copy_no, now_iso

__all__ = ["Copy", "Document", "Ledger", "Planned", "Run", "VerifyReport", "format_copy_no", "now_iso"]
