"""The web application: pages for clerks and investigators and a JSON API under /api/, over the same library
calls as the CLI. `create_app(workspace)` builds it; `leakmark serve` runs it with uvicorn.

Every page and API call needs a signed-in session (sessions.py) except the login page and /static; every
request that changes something needs the session's CSRF token; each action needs its role's permission
(accounts.PERMISSIONS). Errors are the library's typed errors, shown as a page or as JSON
`{"error": kind, "message": ...}` with an HTTP status (`_STATUS`); nothing the user sends can produce a
traceback in a response.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leakmark import __version__
from leakmark.errors import ExitCode, LeakmarkError
from leakmark.ledger import Ledger
from leakmark.ledger.checkpoint import RegisterState
from leakmark.server.accounts import Account, Accounts
from leakmark.server.jobs import Jobs
from leakmark.server.sessions import LoginLimiter, Session, Sessions
from leakmark.server.texts import LANGS, translate
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)

COOKIE = "leakmark_session"
LOGIN_COOKIE = "leakmark_login"  # the login form's CSRF token (double submit: there is no session yet)
DEFAULT_MAX_UPLOAD_MB = 200
_STATE_TTL = 2.0  # seconds the register's verification status is reused between requests

_STATUS = {ExitCode.bad_input: 400, ExitCode.encrypted_pdf: 400, ExitCode.usage: 400, ExitCode.bad_request: 400,
           ExitCode.not_found: 404, ExitCode.workspace_locked: 503, ExitCode.ledger_integrity: 409,
           ExitCode.workspace_missing: 500, ExitCode.output_error: 507}
_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
             "form-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'")
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


class HTTPError(Exception):
    """A refusal with its HTTP status; `login` sends a page request to the login page instead."""

    def __init__(self, status: int, kind: str, message: str, login: bool = False) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.login = status, kind, message, login


class _TooLarge(Exception):
    pass


class LimitBody:
    """Refuses a request body over `limit` bytes (413): by its Content-Length at once, else while it arrives."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not refused:
                    refused = True  # answered here: whatever the app makes of the error below is not sent
                    if not started:
                        await self._refuse(scope, receive, send)
                    raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            pass

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        mb = self.limit // (1 << 20)
        body = {"error": "too_large", "message": f"the upload is larger than this server accepts ({mb} MB); "
                "ask the administrator to raise web.max_upload_mb in the workspace config"}
        await JSONResponse(body, status_code=413)(scope, receive, send)


class Server:
    """What the routes share: the workspace, accounts, sessions, jobs and the page templates."""

    def __init__(self, workspace: Workspace, *, secure_cookies: bool, workers: int, max_upload: int) -> None:
        self.ws = workspace
        self.accounts = Accounts(workspace)
        self.sessions = Sessions()
        self.limiter = LoginLimiter()
        self.jobs = Jobs(workspace, workspace.home / "server" / "jobs", workers=workers)
        self.secure_cookies = secure_cookies
        self.max_upload = max_upload
        self.env = Environment(loader=PackageLoader("leakmark.server", "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))
        self.env.filters["when"] = local_time
        self._state: tuple[float, RegisterState | None] = (0.0, None)

    @property
    def clerks_read_traces(self) -> bool:
        return bool(self.ws.config().get("web", {}).get("clerks_read_traces", False))

    def register_state(self) -> RegisterState:
        """The register's incremental check (reused for _STATE_TTL seconds): shown on every page."""
        t, state = self._state
        if state is not None and time.monotonic() - t < _STATE_TTL:
            return state
        with Ledger(self.ws) as ledger:
            state = ledger.check(trust=True)
        self._state = (time.monotonic(), state)
        return state

    # -- who asks ------------------------------------------------------------------------------------
    def session(self, request: Request) -> Session:
        s = self.sessions.get(request.cookies.get(COOKIE))
        if s is None:
            raise HTTPError(401, "unauthenticated", "sign in first", login=not _is_api(request))
        account = self.accounts.get(s.user)
        if account is None or account.disabled or account.role != s.role:  # changed since: sign in again
            self.sessions.drop(s.token)
            raise HTTPError(401, "unauthenticated", "your account changed: sign in again", login=not _is_api(request))
        return s

    def allow(self, s: Session, action: str) -> None:
        """Refuse (403) what the session's role may not do (`session()` checked the role is the account's)."""
        if not self.may(s, action):
            raise HTTPError(403, "forbidden", f"the role {s.role} may not {action.replace('_', ' ')}; ask an "
                            "administrator for another role")

    def may(self, s: Session | None, action: str) -> bool:
        return s is not None and Account(s.user, s.role, "").may(action, self.clerks_read_traces)

    @staticmethod
    def csrf(s: Session, given: str | None) -> None:
        if not s.csrf_ok(given):
            raise HTTPError(403, "csrf", "the form has expired or did not come from this page: reload it and try "
                            "again")

    # -- pages -----------------------------------------------------------------------------------------
    def lang(self, request: Request) -> str:
        q = request.query_params.get("lang")
        if q in LANGS:
            return str(q)
        c = request.cookies.get("lang")
        return c if c in LANGS else "zh"

    def page(self, request: Request, template: str, code: int = 200, session: Session | None = None,
             **values: Any) -> HTMLResponse:
        lang = self.lang(request)
        state = None
        if session is not None:
            try:
                state = self.register_state()
            except LeakmarkError as exc:
                state = RegisterState(count=0, head="", verified=False, problem=exc.message)
        html = self.env.get_template(template).render(
            t=lambda key: translate(key, lang), lang=lang, session=session, state=state, version=__version__,
            may=lambda action: self.may(session, action), **values)
        response = HTMLResponse(html, status_code=code)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict", secure=self.secure_cookies)
        return response

    def login_page(self, request: Request, message: str = "", status: int = 200) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        nxt = request.query_params.get("next") or "/"
        response = self.page(request, "login.html.j2", code=status, login_csrf=token, message=message,
                             next=nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=self.secure_cookies)
        return response


def server_of(request: Request) -> Server:
    """The application's shared state (set by create_app)."""
    return request.app.state.server


def current_session(request: Request) -> Session:
    """The signed-in session (a dependency: it runs before the request's form is validated, so a request
    without a session is refused as such, whatever it carries)."""
    return server_of(request).session(request)


SessionDep = Annotated[Session, Depends(current_session)]


def local_time(stamp: str | None) -> str:
    """A stored UTC time in the server's local zone, to the second (the office's clock); as it is if unreadable."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when.tzinfo is not None else stamp


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(server: Server, request: Request, status: int, kind: str, message: str,
                   session: Session | None = None) -> Response:
    if _is_api(request):
        return JSONResponse({"error": kind, "message": message}, status_code=status)
    return server.page(request, "error.html.j2", code=status, session=session, message=message)


def create_app(workspace: Workspace, *, secure_cookies: bool = False, workers: int = 2,
               max_upload_mb: int | None = None) -> FastAPI:
    """The web application over `workspace` (which must exist). `secure_cookies` when it is served over HTTPS."""
    from leakmark.server import api, pages

    cfg = workspace.config().get("web", {})
    mb = int(max_upload_mb or cfg.get("max_upload_mb") or DEFAULT_MAX_UPLOAD_MB)
    server = Server(workspace, secure_cookies=secure_cookies, workers=workers, max_upload=mb << 20)
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        server.jobs.close()

    app = FastAPI(title="leakmark", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.server = server
    app.mount("/static", StaticFiles(packages=[("leakmark.server", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.exception_handler(HTTPError)
    async def refused(request: Request, exc: HTTPError) -> Response:
        if exc.login:
            return RedirectResponse("/login?next=" + quote(request.url.path, safe="/"), status_code=303)
        return error_response(server, request, exc.status, exc.kind, exc.message,
                              server.sessions.get(request.cookies.get(COOKIE)))

    @app.exception_handler(LeakmarkError)
    async def library_error(request: Request, exc: LeakmarkError) -> Response:
        status = _STATUS.get(ExitCode(int(exc.exit_code)) if int(exc.exit_code) in ExitCode._value2member_map_
                             else ExitCode.internal_error, 500)
        return error_response(server, request, status, exc.__class__.__name__, exc.message,
                              server.sessions.get(request.cookies.get(COOKIE)))

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(server, request, 404, "not_found", "no such page",
                              server.sessions.get(request.cookies.get(COOKIE)))

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(LimitBody, limit=server.max_upload)
    return app
