"""Typed errors. Each carries an exit code and a message that says what to do.

The CLI maps them to exit codes in one place (`cli.main`); the library only raises.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    ok = 0
    internal_error = 1
    usage = 2  # click's own code for bad options
    bad_input = 3  # missing, unreadable, empty, not a PDF or image, zero pages, damaged, degenerate size
    encrypted_pdf = 4  # needs --password, or the password is wrong
    workspace_missing = 5  # no workspace, its key is gone, the key is not the register's, or its server unreachable
    workspace_locked = 6  # another leakmark process holds the ledger
    ledger_integrity = 7  # the register fails verification (edited, deleted, inserted, reordered, rolled back)
    not_found = 8  # unknown document id or copy number
    output_error = 9  # cannot write an output or workspace file (permissions, disk full, name clash)
    bad_request = 10  # the request contradicts the ledger (e.g. a different dpi for a document)
    interrupted = 130


class LeakmarkError(Exception):
    """Base of every user-facing error."""

    exit_code: ExitCode = ExitCode.internal_error

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputFileError(LeakmarkError):
    exit_code = ExitCode.bad_input


class EvidenceFolderError(InputFileError):
    """A folder given as the evidence of one leak: `trace_each` traces each file in it as its own leak."""


class EncryptedPdfError(LeakmarkError):
    exit_code = ExitCode.encrypted_pdf


class WorkspaceMissingError(LeakmarkError):
    exit_code = ExitCode.workspace_missing


class WrongKeyError(WorkspaceMissingError):
    """The key file holds another key than the one the register was written with (nothing is written)."""


class WorkspaceLockedError(LeakmarkError):
    exit_code = ExitCode.workspace_locked


class LedgerIntegrityError(LeakmarkError):
    """The register fails verification. `problem` is what is wrong, without the advice around it (the
    message), so that a caller can word its own refusal or show it beside results (`--trust-register`)."""

    exit_code = ExitCode.ledger_integrity

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem if problem is not None else message


class NotFoundError(LeakmarkError):
    exit_code = ExitCode.not_found


class OutputError(LeakmarkError):
    exit_code = ExitCode.output_error


class BadRequestError(LeakmarkError):
    exit_code = ExitCode.bad_request


class NotRecordedError(LeakmarkError):
    """A trace whose result stands but which the register could not record (locked: 6, cannot be written: 9,
    fails verification: 7; the exit code is the cause's). The message says so first, then why and what to do."""

    def __init__(self, cause: LeakmarkError) -> None:
        super().__init__(f"the trace was NOT recorded in the register (its result stands): {cause.message}")
        self.exit_code = cause.exit_code
        self.cause = cause


class RunInterruptedError(LeakmarkError):
    """Ctrl-C or SIGTERM during a run: the copies made so far are recorded, the rest stay reserved."""

    exit_code = ExitCode.interrupted


EXIT_CODE_TABLE: list[tuple[int, str, str]] = [
    (0, "ok", "the command did its job, whatever the trace verdict (no-match is a verdict, not an error)"),
    (1, "internal error", "a bug: run again with -v and report the traceback"),
    (2, "usage", "unknown option or missing argument (click)"),
    (3, "bad input file", "missing, unreadable, empty, not a PDF or image, a PDF with no pages, a damaged PDF "
                          "(without --repair), a page too small to carry a mark or too large to render; a folder "
                          "as evidence without --each; with --each: one or more of the files could not be traced "
                          "(the others were: see the summary)"),
    (4, "encrypted PDF", "the PDF needs a password: pass --password, or the password given is wrong"),
    (5, "workspace missing", "no workspace at --home / LEAKMARK_HOME, its key file is gone, the key is not the "
        "one the register was written with, or the PostgreSQL register (--register) cannot be reached"),
    (6, "workspace locked", "another leakmark process is writing the ledger; wait and retry (trace: its result is "
        "shown but NOT recorded)"),
    (7, "ledger integrity", "the register fails verification (an edited, deleted, inserted or reordered row, or a "
        "roll-back): checked by log verify and before every write, trace and read (trace --trust-register with a "
        "broken chain: its result is shown but NOT recorded)"),
    (8, "not found", "unknown document id or copy number"),
    (9, "output error", "an output or workspace file cannot be written (permissions, disk full, existing file; "
        "trace: the register is not writable, its result is shown but NOT recorded)"),
    (10, "bad request", "the request contradicts the ledger (e.g. another dpi than the document's)"),
    (130, "interrupted", "Ctrl-C or SIGTERM; nothing half-written is kept, an issue run can be resumed"),
]
