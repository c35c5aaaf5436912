"""The distribution register: documents, copies and hash-chained, authenticated events."""

from leakmark.ledger.store import Copy, Document, Ledger, VerifyReport, format_copy_no, now_iso

__all__ = ["Copy", "Document", "Ledger", "VerifyReport", "format_copy_no", "now_iso"]
