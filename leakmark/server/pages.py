"""The HTML pages (server-rendered; the only script is the job page's progress poll)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from leakmark import register
from leakmark.ledger import CopyStatus, Ledger
from leakmark.server import actions, work
from leakmark.server.app import COOKIE, LOGIN_COOKIE, REPORT_CSP, HTTPError, Server, SessionDep, server_of
from leakmark.server.sessions import Session

router = APIRouter(include_in_schema=False)
_MAX_ROWS = 500  # copies listed on the register page (search narrows them)



def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/login")
def login_form(request: Request) -> Response:
    return server_of(request).login_page(request)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    server = server_of(request)
    token = request.cookies.get(LOGIN_COOKIE) or ""
    if not token or not secrets_equal(token, csrf):
        return server.login_page(request, "the sign-in form expired: try again", status=403)
    session, message, status = sign_in(server, request, name, password)
    if session is None:
        return server.login_page(request, message, status=status)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = _see_other(target)
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict", secure=server.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE)
    return response


def secrets_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def sign_in(server: Server, request: Request, name: str, password: str) -> tuple[Session | None, str, int]:
    """(session, "", 200) or (None, why, HTTP status); failures count towards the rate limit."""
    client = request.client.host if request.client else "?"
    keys = (f"name:{name.strip()}", f"addr:{client}")
    wait = server.limiter.retry_after(*keys)
    if wait > 0:
        return None, f"too many failed sign-ins: try again in {int(wait // 60) + 1} minutes", 429
    account = server.accounts.authenticate(name.strip(), password)
    if account is None:
        server.limiter.failed(*keys)
        return None, "wrong user name or password (or the account is disabled)", 401
    server.limiter.succeeded(keys[0])
    return server.sessions.create(account.name, account.role), "", 200


@router.post("/logout")
def logout(request: Request, s: SessionDep, csrf: Annotated[str, Form()] = "") -> Response:
    server = server_of(request)
    server.csrf(s, csrf)
    server.sessions.drop(s.token)
    response = _see_other("/login")
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, s: SessionDep) -> Response:
    server = server_of(request)
    docs = register.list_documents(server.ws, trust_register=True)  # counts only: the banner says if it failed
    return server.page(request, "home.html.j2", session=s, documents=len(docs),
                       copies=sum(len(d.copies) for d in docs), jobs=actions.visible_jobs(server, s)[:10])


@router.get("/issue", response_class=HTMLResponse)
def issue_form(request: Request, s: SessionDep) -> Response:
    server = server_of(request)
    server.allow(s, "issue")
    return server.page(request, "issue.html.j2", session=s)


@router.post("/issue")
def issue(request: Request, s: SessionDep, document: Annotated[UploadFile, File()],
          csrf: Annotated[str, Form()] = "",
          recipients: Annotated[str, Form()] = "", recipients_csv: Annotated[UploadFile | None, File()] = None,
          title: Annotated[str, Form()] = "", level: Annotated[str, Form()] = "",
          period: Annotated[str, Form()] = "", layers: Annotated[str, Form()] = "",
          output: Annotated[str, Form()] = "copies", separator: Annotated[str, Form()] = "",
          stamp: Annotated[str, Form()] = "", stamp_unit: Annotated[str, Form()] = "",
          stamp_level: Annotated[str, Form()] = "") -> Response:
    server = server_of(request)
    server.csrf(s, csrf)
    csv_data = recipients_csv.file.read(server.max_upload) if recipients_csv and recipients_csv.filename else None
    job = actions.start_issue(server, s, (document.file, document.filename), recipients, csv_data, title=title,
                              level=level, period=period, layers=layers, output=output, separator=bool(separator),
                              stamp=bool(stamp), stamp_unit=bool(stamp_unit), stamp_level=bool(stamp_level))
    return _see_other(f"/jobs/{job.id}")


@router.get("/trace", response_class=HTMLResponse)
def trace_form(request: Request, s: SessionDep) -> Response:
    server = server_of(request)
    server.allow(s, "trace")
    return server.page(request, "trace.html.j2", session=s)


@router.post("/trace")
def trace(request: Request, s: SessionDep, evidence: Annotated[list[UploadFile], File()],
          csrf: Annotated[str, Form()] = "", doc_id: Annotated[str, Form()] = "") -> Response:
    server = server_of(request)
    server.csrf(s, csrf)
    job = actions.start_trace(server, s, [(f.file, f.filename) for f in evidence], doc_id, server.lang(request))
    return _see_other(f"/jobs/{job.id}")


@router.get("/jobs", response_class=HTMLResponse)
def jobs(request: Request, s: SessionDep) -> Response:
    server = server_of(request)
    return server.page(request, "jobs.html.j2", session=s, jobs=actions.visible_jobs(server, s))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, s: SessionDep, job_id: str) -> Response:
    server = server_of(request)
    job = actions.job_for(server, s, job_id)
    resumable = server.may(s, "issue") and actions.resumable_run(server, job) is not None
    return server.page(request, "job.html.j2", session=s, job=job, resumable=resumable)


@router.post("/jobs/{job_id}/resume")
def job_resume(request: Request, s: SessionDep, job_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    server = server_of(request)
    server.csrf(s, csrf)
    job = actions.resume(server, s, actions.job_for(server, s, job_id))
    return _see_other(f"/jobs/{job.id}")


@router.get("/jobs/{job_id}/download")
def job_download(request: Request, s: SessionDep, job_id: str) -> Response:
    server = server_of(request)
    server.allow(s, "issue")
    job = actions.job_for(server, s, job_id)
    if job.kind != "issue":
        raise HTTPError(404, "not_found", "this job made no copies")
    name, content = work.issue_files(server.jobs.store, job)
    if isinstance(content, bytes):
        return Response(content, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return FileResponse(content, media_type="application/pdf", filename=name)


@router.post("/jobs/{job_id}/remove")
def job_remove(request: Request, s: SessionDep, job_id: str, csrf: Annotated[str, Form()] = "",
               confirm: Annotated[str, Form()] = "") -> Response:
    server = server_of(request)
    server.csrf(s, csrf)
    server.allow(s, "issue")
    if not confirm:
        raise HTTPError(400, "unconfirmed", "tick the confirmation: the copies cannot be downloaded again")
    work.remove_files(server.jobs.store, actions.job_for(server, s, job_id))
    return _see_other(f"/jobs/{job_id}")


@router.get("/jobs/{job_id}/report")
def job_report(request: Request, s: SessionDep, job_id: str) -> Response:
    server = server_of(request)
    server.allow(s, "trace_reports")
    job = actions.job_for(server, s, job_id)
    path = server.jobs.folder(job) / "report.html"
    if job.kind != "trace" or job.state != "done" or not path.exists():
        raise HTTPError(404, "not_found", "this job has no evidence report")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, s: SessionDep, q: str = "", status: str = "", doc: str = "") -> Response:
    server = server_of(request)
    server.allow(s, "register")
    with Ledger(server.ws) as ledger:  # one check for both reads
        docs = register.list_documents(ledger)
        entries = register.search(ledger, q, doc_id=doc.strip() or None, status=status or None)
    copies = [{"document_id": e.copy.document_id, "title": e.document.title, "copy_no": e.copy.label,
               "recipient": e.copy.recipient, "unit": e.copy.unit, "issued_at": e.copy.issued_at or "",
               "status": str(e.copy.status)} for e in entries[:_MAX_ROWS]]
    return server.page(request, "register.html.j2", session=s, q=q, status=status, doc=doc,
                       statuses=[str(x) for x in CopyStatus],
                       documents=[{"id": d.document.id, "title": d.document.title, "level": d.document.level,
                                   "pages": d.document.pages, "copies": len(d.copies)} for d in docs],
                       copies=copies, more=max(0, len(entries) - _MAX_ROWS))


@router.get("/register/export.csv")
def export(request: Request, s: SessionDep) -> Response:
    server = server_of(request)
    server.allow(s, "export")
    return Response(register.export_csv(server.ws, headers="zh" if server.lang(request) == "zh" else "en"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="register.csv"'})


@router.get("/register/{doc_id}/{copy_no}", response_class=HTMLResponse)
def copy_page(request: Request, s: SessionDep, doc_id: str, copy_no: str) -> Response:
    server = server_of(request)
    server.allow(s, "register")
    detail = register.show(server.ws, f"{doc_id}/{copy_no}")
    c = detail.copy
    return server.page(request, "copy.html.j2", session=s, d=detail.document,
                       c={"document_id": c.document_id, "copy_no": c.label, "recipient": c.recipient,
                          "unit": c.unit, "status": str(c.status)},
                       history=[h.to_json() for h in detail.history])


@router.post("/register/{doc_id}/{copy_no}/status")
def copy_status(request: Request, s: SessionDep, doc_id: str, copy_no: str, csrf: Annotated[str, Form()] = "",
                action: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                confirm: Annotated[str, Form()] = "") -> Response:
    server = server_of(request)
    server.csrf(s, csrf)
    if not confirm:
        raise HTTPError(400, "unconfirmed", "tick the confirmation: the change is recorded in the register for good")
    actions.change_status(server, s, f"{doc_id}/{copy_no}", action, reason)
    return _see_other(f"/register/{doc_id}/{copy_no}")


@router.get("/traces", response_class=HTMLResponse)
def traces_page(request: Request, s: SessionDep) -> Response:
    server = server_of(request)
    return server.page(request, "traces.html.j2", session=s, traces=actions.trace_rows(server, s))
