"""What the server's jobs do: an issue run and a trace, through the same library calls as the CLI, with the
signed-in user as the operator recorded in the register."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from leakmark.errors import BadRequestError, NotFoundError, NotRecordedError
from leakmark.server.jobs import Job, JobProgress, JobStore
from leakmark.workspace import Workspace


def issue_params(document: Path, shown: str, recipients: list[dict[str, Any]], *, title: str, level: str,
                 period: str, layers: list[str] | None, merge: bool, separator: bool, stamp: bool,
                 stamp_unit: bool, stamp_level: bool) -> dict[str, Any]:
    return {"document": str(document), "shown": shown, "recipients": recipients, "title": title, "level": level,
            "period": period, "layers": layers, "merge": merge, "separator": separator, "stamp": stamp,
            "stamp_unit": stamp_unit, "stamp_level": stamp_level}


def run_issue(ws: Workspace, jobs: JobStore, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Issue the job's document (or resume its interrupted run: the same numbers and marks)."""
    from leakmark.issuing import IssueOptions, RunSettings, issue, resume
    from leakmark.pdf.stamp import GBT9704, StampSpec
    from leakmark.recipients import Recipient

    p, folder = job.params, jobs.folder(job)
    if p.get("resume_run"):
        result = resume(ws, p["resume_run"], RunSettings(), progress)
    else:
        people = tuple(Recipient(name=r["name"], unit=r.get("unit", ""), copy_no=r.get("copy_no"),
                                 note=r.get("note", "")) for r in p["recipients"])
        stamp = StampSpec(position=GBT9704, include_unit=p["stamp_unit"], include_level=p["stamp_level"]) \
            if p["stamp"] else None
        out = folder / "copies"
        out.mkdir(mode=0o700, exist_ok=True)
        result = issue(ws, IssueOptions(source=Path(p["document"]), recipients=people, output_dir=out,
                                        title=p["title"] or Path(p["shown"]).stem, level=p["level"],
                                        period=p["period"], layers=tuple(p["layers"]) if p["layers"] else None,
                                        merge=folder / "merged.pdf" if p["merge"] else None,
                                        separator=p["separator"], issued_by=job.user, stamp=stamp), progress)
        Path(p["document"]).unlink(missing_ok=True)  # the vault keeps the original: no second unmarked copy here
    out_json = result.to_json()
    for c in out_json.get("copies", []):  # the server's own paths stay on the server
        c["file"] = Path(c.pop("path", "") or "").name
    out_json["merged"] = bool(result.merged)
    return out_json


def remove_files(jobs: JobStore, job: Job) -> int:
    """Delete the job's marked copies (and merged file) from the server once they are handed out: copies of a
    classified document should not stay where they are not needed. The register keeps every record; the
    files cannot be downloaded again. Returns how many files went."""
    import shutil

    if job.kind != "issue" or job.state != "done":
        raise BadRequestError(f"job {job.id} is not a finished issue run: it has no copies to remove")
    folder = jobs.folder(job)
    files = [*(folder / "copies").glob("*.pdf"), *folder.glob("merged.pdf")]
    shutil.rmtree(folder / "copies", ignore_errors=True)
    (folder / "merged.pdf").unlink(missing_ok=True)
    job.result["files_removed"] = True
    jobs.save(job)
    return len(files)


def issue_files(jobs: JobStore, job: Job) -> tuple[str, bytes | Path]:
    """What `download` sends: (file name, a path or the bytes of a ZIP of every copy)."""
    folder = jobs.folder(job)
    if job.state != "done":
        raise BadRequestError(f"job {job.id} is {job.state}: its copies can be downloaded when it is done")
    if job.result.get("files_removed"):
        raise NotFoundError(f"the copies of job {job.id} were removed from the server after they were handed out")
    merged = folder / "merged.pdf"
    if job.result.get("merged") and merged.exists():
        return f"{job.result['document']['id']}-merged.pdf", merged
    copies = sorted((folder / "copies").glob("*.pdf"))
    if not copies:
        raise NotFoundError(f"job {job.id} has no copies on the server")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # PDFs are compressed already
        for c in copies:
            z.write(c, c.name)
    return f"{job.result['document']['id']}-copies.zip", buf.getvalue()


def run_trace(ws: Workspace, jobs: JobStore, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Trace the job's evidence, record it in the register with the user, and write its evidence report."""
    from leakmark import register, report
    from leakmark.trace.tracer import TraceOptions, trace

    p, folder = job.params, jobs.folder(job)
    options = TraceOptions(evidence=tuple(Path(e) for e in p["evidence"]), doc_id=p.get("doc_id") or None,
                           keep_artifacts=True)
    result = trace(ws, options, progress=progress)
    not_recorded = None
    try:
        register.record_trace(ws, result, operator=job.user)
    except NotRecordedError as exc:
        not_recorded = exc.message
    report.write_report(ws, result, options, folder / "report.html", lang=p.get("lang"), operator=job.user,
                        recorded_event=result.recorded.to_json() if result.recorded is not None else None)
    out = result.to_json()
    names = dict(zip(p["evidence"], p["shown"], strict=True))
    for e in out["evidence"]:
        e["path"] = names.get(e["path"], Path(e["path"]).name)
    out["named"] = result.named
    out["not_recorded"] = not_recorded
    return out
