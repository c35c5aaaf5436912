"""The JSON API under /api/ (its OpenAPI document: /api/openapi.json), used by scripts and by the job page.

Sign in with `POST /api/login` {"name", "password"}: the answer sets the session cookie and gives the CSRF
token, which every POST must send back in the `X-CSRF-Token` header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from leakmark import register
from leakmark.server import actions, work
from leakmark.server.app import COOKIE, HTTPError, SessionDep, server_of
from leakmark.server.pages import sign_in

router = APIRouter(prefix="/api", tags=["api"])
Csrf = Annotated[str, Header(alias="X-CSRF-Token")]


class Login(BaseModel):
    name: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class StatusRequest(BaseModel):
    action: str = Field(description="return, destroy or void", max_length=20)
    reason: str = Field(default="", max_length=2000)



@router.post("/login")
def login(request: Request, body: Login) -> JSONResponse:
    server = server_of(request)
    session, message, status = sign_in(server, request, body.name, body.password)
    if session is None:
        raise HTTPError(status, "login_failed" if status == 401 else "rate_limited", message)
    response = JSONResponse({"user": session.user, "role": session.role, "csrf": session.csrf})
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict", secure=server.secure_cookies)
    return response


@router.post("/logout")
def logout(request: Request, s: SessionDep, x_csrf_token: Csrf = "") -> dict[str, bool]:
    server = server_of(request)
    server.csrf(s, x_csrf_token)
    server.sessions.drop(s.token)
    return {"ok": True}


@router.get("/me")
def me(request: Request, s: SessionDep) -> dict[str, Any]:
    server = server_of(request)
    return {"user": s.user, "role": s.role, "csrf": s.csrf,
            "may": [a for a in ("issue", "status", "register", "export", "trace", "trace_reports")
                    if server.may(s, a)]}


@router.get("/register/state")
def register_state(request: Request, s: SessionDep) -> dict[str, Any]:
    return server_of(request).register_state().to_json()


@router.get("/register/verify")
def verify(request: Request, s: SessionDep) -> dict[str, Any]:
    server = server_of(request)
    server.allow(s, "register")
    return register.verify(server.ws).to_json()


@router.get("/documents")
def documents(request: Request, s: SessionDep) -> list[dict[str, Any]]:
    server = server_of(request)
    server.allow(s, "register")
    return [d.to_json() for d in register.list_documents(server.ws)]


@router.get("/copies")
def copies(request: Request, s: SessionDep, q: str = "", doc: str = "", status: str = "") -> list[dict[str, str]]:
    server = server_of(request)
    server.allow(s, "register")
    return [e.to_json() for e in register.search(server.ws, q, doc_id=doc or None, status=status or None)]


@router.get("/copies/{doc_id}/{copy_no}")
def copy(request: Request, s: SessionDep, doc_id: str, copy_no: str) -> dict[str, Any]:
    server = server_of(request)
    server.allow(s, "register")
    out = register.show(server.ws, f"{doc_id}/{copy_no}").to_json()
    out["copy"].pop("path", None)  # the server's own path
    return out


@router.post("/copies/{doc_id}/{copy_no}/status")
def copy_status(request: Request, s: SessionDep, doc_id: str, copy_no: str, body: StatusRequest,
                x_csrf_token: Csrf = "") -> dict[str, Any]:
    server = server_of(request)
    server.csrf(s, x_csrf_token)
    return actions.change_status(server, s, f"{doc_id}/{copy_no}", body.action, body.reason).to_json()


@router.post("/issue", status_code=202)
def issue(request: Request, s: SessionDep, document: Annotated[UploadFile, File()],
          recipients: Annotated[str, Form()] = "", recipients_csv: Annotated[UploadFile | None, File()] = None,
          title: Annotated[str, Form()] = "", level: Annotated[str, Form()] = "",
          period: Annotated[str, Form()] = "", layers: Annotated[str, Form()] = "",
          output: Annotated[str, Form()] = "copies", separator: Annotated[bool, Form()] = False,
          stamp: Annotated[bool, Form()] = False, stamp_unit: Annotated[bool, Form()] = False,
          stamp_level: Annotated[bool, Form()] = False, x_csrf_token: Csrf = "") -> dict[str, Any]:
    """Start an issue run (a job): poll /api/jobs/{id}; download its copies when it is done."""
    server = server_of(request)
    server.csrf(s, x_csrf_token)
    csv_data = recipients_csv.file.read(server.max_upload) if recipients_csv and recipients_csv.filename else None
    return actions.start_issue(server, s, (document.file, document.filename), recipients, csv_data, title=title,
                               level=level, period=period, layers=layers, output=output, separator=separator,
                               stamp=stamp, stamp_unit=stamp_unit, stamp_level=stamp_level).to_json()


@router.post("/trace", status_code=202)
def trace(request: Request, s: SessionDep, evidence: Annotated[list[UploadFile], File()],
          doc_id: Annotated[str, Form()] = "", lang: Annotated[str, Form()] = "zh",
          x_csrf_token: Csrf = "") -> dict[str, Any]:
    """Start a trace of the evidence files of one leak (a job): poll /api/jobs/{id} for its result."""
    server = server_of(request)
    server.csrf(s, x_csrf_token)
    return actions.start_trace(server, s, [(f.file, f.filename) for f in evidence], doc_id,
                               lang if lang in ("zh", "en") else "zh").to_json()


@router.get("/jobs")
def jobs(request: Request, s: SessionDep) -> list[dict[str, Any]]:
    server = server_of(request)
    return [j.to_json() for j in actions.visible_jobs(server, s)]


@router.get("/jobs/{job_id}")
def job(request: Request, s: SessionDep, job_id: str) -> dict[str, Any]:
    server = server_of(request)
    found = actions.job_for(server, s, job_id)
    out = found.to_json()
    out["resumable"] = server.may(s, "issue") and actions.resumable_run(server, found) is not None
    return out


@router.post("/jobs/{job_id}/remove")
def job_remove(request: Request, s: SessionDep, job_id: str, x_csrf_token: Csrf = "") -> dict[str, int]:
    """Delete a finished issue run's copies from the server (handed out; the register keeps the records)."""
    server = server_of(request)
    server.csrf(s, x_csrf_token)
    server.allow(s, "issue")
    return {"removed": work.remove_files(server.jobs.store, actions.job_for(server, s, job_id))}


@router.get("/traces")
def traces(request: Request, s: SessionDep) -> list[dict[str, Any]]:
    return actions.trace_rows(server_of(request), s)
