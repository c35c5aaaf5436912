"""Reading the register's views (a mixin of `store.Ledger`): documents, runs and copies, each copies read
compared with its document's digest once `check()` ran."""

from __future__ import annotations

from leakmark.errors import (
    NotFoundError,
)
from leakmark.ledger.history import HistoryReads
from leakmark.ledger.models import (
    Copy,
    Document,
    Run,
    copy_from_row,
    document_from_row,
    format_copy_no,
    run_from_row,
)


class ViewReads(HistoryReads):
    """Queries on the `documents`, `runs` and `copies` views."""

    def document_by_sha(self, sha256: str) -> Document | None:
        row = self.db.execute("SELECT * FROM documents WHERE sha256=?", (sha256,)).fetchone()
        return document_from_row(row) if row else None

    def document(self, doc_id: str) -> Document:
        row = self.db.execute("SELECT * FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id!r} in the ledger; `leakmark log list` shows them")
        return document_from_row(row)

    def documents(self) -> list[Document]:
        rows = self.db.execute("SELECT * FROM documents ORDER BY created_at, id").fetchall()
        return [document_from_row(r) for r in rows]

    def documents_with_layer(self, layer: str) -> set[str]:
        """The documents of which some copy carries `layer` (one query, however many copies: the tracer asks
        it before a keyless read that costs seconds). A copy's settings name the layer only if it carries it."""
        rows = self.db.execute("SELECT DISTINCT document_id FROM copies WHERE settings LIKE ?",
                               (f'%"{layer}"%',)).fetchall()
        return {r[0] for r in rows}

    def run(self, run_id: str) -> Run:
        if run_id == "last":
            row = self.db.execute("SELECT * FROM runs WHERE state='open' ORDER BY created_at DESC, rowid DESC "
                                  "LIMIT 1").fetchone()
            if row is None:
                raise NotFoundError("there is no unfinished run; `leakmark log runs` lists the runs")
        else:
            row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run {run_id!r} in the ledger; `leakmark log runs` lists the runs")
        return run_from_row(row)

    def runs(self) -> list[Run]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY created_at, rowid").fetchall()
        return [run_from_row(r) for r in rows]

    def run_copies(self, run_id: str) -> list[Copy]:
        rows = self.db.execute("SELECT * FROM copies WHERE run_id=? ORDER BY copy_no", (run_id,)).fetchall()
        if self._verifying:
            for d in sorted({r["document_id"] for r in rows}):
                self.copies(d)
        return [copy_from_row(r) for r in rows]

    def copies(self, doc_id: str | None = None) -> list[Copy]:
        """A document's copies (every copy: None), in copy order; after `check()` compared with the digests."""
        args: tuple = ()
        if doc_id is None:
            where = "ORDER BY document_id, copy_no"
        else:
            where, args = "WHERE document_id=? ORDER BY copy_no", (doc_id,)
        if self._verifying:
            rows = self._checked_copies(where, args, None if doc_id is None else [doc_id])
        else:
            rows = self.db.execute(f"SELECT * FROM copies {where}", args).fetchall()
        return [copy_from_row(r) for r in rows]

    def find_copy(self, ref: str) -> Copy:
        """`DOCID/000123` or a bare `000123` / `123` when only one document has that number."""
        doc_id, _, num = ref.rpartition("/")
        try:
            copy_no = int(num)
        except ValueError:
            raise NotFoundError(f"{ref!r} is not a copy reference; write DOCUMENT/COPY, e.g. D1a2b3c4d5/000012") \
                from None
        if doc_id:
            rows = self.db.execute("SELECT * FROM copies WHERE copy_no=? AND document_id=?",
                                   (copy_no, doc_id)).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM copies WHERE copy_no=?", (copy_no,)).fetchall()
        if not rows:
            raise NotFoundError(f"no issued copy {ref!r} in the ledger; `leakmark log list` shows the copies")
        if len(rows) > 1:
            docs = ", ".join(r["document_id"] for r in rows)
            raise NotFoundError(f"copy {format_copy_no(copy_no)} exists in several documents ({docs}); "
                                f"write DOCUMENT/{format_copy_no(copy_no)}")
        if self._verifying and rows[0]["document_id"] not in self._verified_docs:
            return next(c for c in self.copies(rows[0]["document_id"]) if c.copy_no == copy_no)
        return copy_from_row(rows[0])
