"""What a page and its API call both do: start an issue or a trace job, change a copy's status, find the jobs
a user may see. Each checks the permission it needs; the caller has checked the session and its CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from leakmark import register
from leakmark.errors import BadRequestError, InputFileError, NotFoundError
from leakmark.recipients import Recipient, parse_csv_bytes, parse_table
from leakmark.server import uploads, work
from leakmark.server.app import Server
from leakmark.server.jobs import Job, Work
from leakmark.server.sessions import Session

DOCUMENT_KINDS = ("pdf", "png", "jpeg", "tiff")
EVIDENCE_KINDS = ("pdf", "png", "jpeg", "tiff", "bmp", "webp", "heic")
MAX_RECIPIENTS = 100_000
STATUS_ACTIONS = ("return", "destroy", "void")


def _recipients(text: str, csv_data: bytes | None) -> list[Recipient]:
    people: list[Recipient] = []
    if text.strip():
        people += parse_table(text, "the recipient table")
    if csv_data:
        people += parse_csv_bytes(csv_data, "the uploaded CSV")
    if not people:
        raise InputFileError("no recipients: paste them one per line (name,unit) or upload a CSV list")
    if len(people) > MAX_RECIPIENTS:
        raise InputFileError(f"{len(people)} recipients: at most {MAX_RECIPIENTS} in one run; split the list")
    return people


def start_issue(server: Server, s: Session, document: tuple[BinaryIO, str | None], recipients_text: str,
                recipients_csv: bytes | None, *, title: str = "", level: str = "", period: str = "",
                layers: str = "", output: str = "copies", separator: bool = False, stamp: bool = False,
                stamp_unit: bool = False, stamp_level: bool = False) -> Job:
    server.allow(s, "issue")
    from leakmark.issuing import LAYERS

    wanted = [x.strip() for x in layers.split(",") if x.strip()] or None
    if wanted and set(wanted) - set(LAYERS):
        raise BadRequestError(f"unknown layer(s) {', '.join(sorted(set(wanted) - set(LAYERS)))} (available: "
                              f"{', '.join(LAYERS)})")
    if output not in ("copies", "merged"):
        raise BadRequestError("output must be copies or merged")
    if not stamp and (stamp_unit or stamp_level):
        raise BadRequestError("the unit and the classification go with the copy-number stamp: tick it too")
    people = _recipients(recipients_text, recipients_csv)
    job = server.jobs.new("issue", s.user, uploads.safe_name(document[1], "document"))
    return _launch(server, job, [document], DOCUMENT_KINDS, 0, lambda saved: work.issue_params(
        saved[0][0], saved[0][1], [{"name": p.name, "unit": p.unit, "copy_no": p.copy_no, "note": p.note}
                                   for p in people],
        title=title.strip(), level=level.strip(), period=period.strip(), layers=wanted, merge=output == "merged",
        separator=separator, stamp=stamp, stamp_unit=stamp_unit, stamp_level=stamp_level), work.run_issue)


def start_trace(server: Server, s: Session, files: list[tuple[BinaryIO, str | None]], doc_id: str = "",
                lang: str = "zh") -> Job:
    server.allow(s, "trace")
    files = [f for f in files if f[1]]
    if not files:
        raise InputFileError("no evidence: upload one or more photos, scans, screenshots or PDFs")
    if len(files) > 50:
        raise InputFileError(f"{len(files)} files: at most 50 in one trace (one leak)")
    job = server.jobs.new("trace", s.user, ", ".join(uploads.safe_name(n) for _f, n in files)[:120])
    return _launch(server, job, files, EVIDENCE_KINDS, 1, lambda saved: {
        "evidence": [str(p) for p, _shown in saved], "shown": [shown for _p, shown in saved],
        "doc_id": doc_id.strip(), "lang": lang}, work.run_trace)


def _launch(server: Server, job: Job, files: list[tuple[BinaryIO, str | None]], kinds: tuple[str, ...], first: int,
            params: Callable[[list[tuple[Path, str]]], dict[str, Any]], run: Work) -> Job:
    """Save the job's uploads in its folder (numbered from `first`; one refused drops the job, folder and all),
    then its parameters (`params` of the saved paths and shown names), then start it."""
    try:
        saved = [uploads.save(stream, name, server.jobs.folder(job), i, kinds, server.max_upload)[:2]
                 for i, (stream, name) in enumerate(files, start=first)]
    except BaseException:
        server.jobs.discard(job)
        raise
    job.params = params(saved)
    server.jobs.save(job)
    server.jobs.start(job, run)
    return job


def change_status(server: Server, s: Session, ref: str, action: str, reason: str) -> register.StatusChange:
    server.allow(s, "status")
    if action == "return":
        return register.return_copy(server.ws, ref, reason, operator=s.user)
    if action == "destroy":
        return register.destroy_copy(server.ws, ref, reason, operator=s.user)
    if action == "void":
        if not reason.strip():
            raise BadRequestError("voiding a copy needs a reason (kept in the register)")
        return register.void_copy(server.ws, ref, reason, operator=s.user)
    raise BadRequestError(f"unknown action {action!r} (return, destroy or void)")


def may_see(server: Server, s: Session, job: Job) -> bool:
    if s.role == "admin" or job.user == s.user:
        return True
    return server.may(s, "issue" if job.kind == "issue" else "trace_reports")


def visible_jobs(server: Server, s: Session) -> list[Job]:
    return [j for j in server.jobs.all() if may_see(server, s, j)]


def job_for(server: Server, s: Session, job_id: str) -> Job:
    job = server.jobs.get(job_id)
    if job is None or not may_see(server, s, job):
        raise NotFoundError(f"no job {job_id!r}")
    return job


def resumable_run(server: Server, job: Job) -> str | None:
    """The open issue run an interrupted issue job left (its copies go to the job's folder), if any."""
    if job.kind != "issue" or job.state not in ("interrupted", "failed"):
        return None
    folder = str(server.jobs.folder(job))
    for run in register.runs(server.ws):
        if str(run.state) == "open" and run.output and run.output.startswith(folder):
            return run.id
    return None


def resume(server: Server, s: Session, job: Job) -> Job:
    server.allow(s, "issue")
    run_id = resumable_run(server, job)
    if run_id is None:
        raise BadRequestError(f"job {job.id} has no interrupted run to resume")
    job.params["resume_run"] = run_id
    job.state, job.error, job.finished_at = "queued", "", ""
    server.jobs.save(job)
    server.jobs.start(job, work.run_issue)
    return job


def trace_rows(server: Server, s: Session) -> list[dict[str, Any]]:
    server.allow(s, "trace_reports")
    jobs = {int(j.result["recorded"]["seq"]): j.id for j in server.jobs.all()  # traces made here: their report
            if j.kind == "trace" and j.state == "done" and (j.result.get("recorded") or {}).get("seq")}
    out = []
    for e in reversed(register.traces(server.ws)):
        r = e.record
        out.append({"seq": e.seq, "ts": e.ts, "operator": r.operator, "verdict": r.verdict,
                    "document": r.document_id, "files": [f.name for f in r.evidence],
                    "named": [f"{c.copy_no:06d}" for c in r.named], "job": jobs.get(e.seq)})
    return out

