"""The web application (`leakmark serve`) through FastAPI's TestClient: sessions, CSRF, roles, uploads, and
issue → download → trace → report → return end to end, with the user recorded in the register."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from fastapi.testclient import TestClient
from lmtest import run_main

import leakmark
from leakmark import register, simulate
from leakmark.ledger import Ledger
from leakmark.rendering import render_page_array
from leakmark.server import api, create_app, pages
from leakmark.server.accounts import Accounts
from leakmark.server.sessions import FAILURES, LoginLimiter, Sessions

PASSWORD = "correct horse battery"
ROLES = {"ada": "admin", "clerk": "clerk", "ivan": "investigator", "audrey": "auditor"}


@pytest.fixture
def web(ws_copy: leakmark.Workspace) -> leakmark.Workspace:
    accounts = Accounts(ws_copy)
    for name, role in ROLES.items():
        accounts.add(name, role, PASSWORD, "test")
    return ws_copy


def client(ws: leakmark.Workspace, **options: object) -> TestClient:
    return TestClient(create_app(ws, workers=1, **options))  # type: ignore[arg-type]


def signed_in(ws: leakmark.Workspace, name: str, **options: object) -> tuple[TestClient, str]:
    c = client(ws, **options)
    r = c.post("/api/login", json={"name": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf"]


def wait(c: TestClient, job_id: str, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end")


def _dummy(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_page_and_api_call_needs_a_session(web: leakmark.Workspace) -> None:
    app = create_app(web, workers=1)
    c = TestClient(app)
    open_paths = {"/login", "/api/login", "/api/openapi.json"}
    checked = 0
    for route in [*pages.router.routes, *api.router.routes]:  # every route the app includes
        path = getattr(route, "path", "")
        if path in open_paths or path.startswith("/static") or not getattr(route, "methods", None):
            continue
        for method in route.methods - {"HEAD"}:
            r = c.request(method, _dummy(path), follow_redirects=False)
            if path.startswith("/api/"):
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.json()["error"] == "unauthenticated"
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 25


def test_csrf_is_required_for_every_change(web: leakmark.Workspace, issued) -> None:
    c, _csrf = signed_in(web, "ada")
    ref = f"{issued.result.document.id}/000001"
    for token in ("", "wrong"):
        r = c.post(f"/api/copies/{ref}/status", json={"action": "return"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 403 and r.json()["error"] == "csrf"
        r = c.post(f"/register/{ref}/status", data={"csrf": token, "action": "return", "confirm": "1"})
        assert r.status_code == 403
        r = c.post("/logout", data={"csrf": token}, follow_redirects=False)
        assert r.status_code == 403
    assert register.show(web, ref).copy.status == "issued"  # nothing changed
    # the login form: its token must match the cookie the form page set (no session yet)
    fresh = client(web)
    r = fresh.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403


def test_roles(web: leakmark.Workspace, issued, tmp_path: Path) -> None:
    ref = f"{issued.result.document.id}/000002"
    pdf = issued.source.read_bytes()
    clerk, clerk_csrf = signed_in(web, "clerk")
    auditor, auditor_csrf = signed_in(web, "audrey")
    ivan, ivan_csrf = signed_in(web, "ivan")
    # an auditor reads the register and the traces but neither issues nor changes a status
    assert auditor.get("/register").status_code == 200
    assert auditor.get("/api/traces").status_code == 200
    r = auditor.post("/api/issue", files={"document": ("d.pdf", pdf)}, data={"recipients": "A,B"},
                     headers={"X-CSRF-Token": auditor_csrf})
    assert r.status_code == 403 and "auditor" in r.json()["message"]
    r = auditor.post(f"/api/copies/{ref}/status", json={"action": "return"}, headers={"X-CSRF-Token": auditor_csrf})
    assert r.status_code == 403
    assert auditor.get("/issue").status_code == 403
    # a clerk cannot trace nor read trace reports (unless the workspace allows it)
    assert clerk.get("/traces").status_code == 403
    assert clerk.get("/api/traces").status_code == 403
    r = clerk.post("/api/trace", files={"evidence": ("p.pdf", pdf)}, headers={"X-CSRF-Token": clerk_csrf})
    assert r.status_code == 403
    # an investigator cannot issue or change a status
    r = ivan.post("/api/issue", files={"document": ("d.pdf", pdf)}, data={"recipients": "A,B"},
                  headers={"X-CSRF-Token": ivan_csrf})
    assert r.status_code == 403
    assert register.show(web, ref).copy.status == "issued"
    cfg = json.loads(web.config_path.read_text(encoding="utf-8")) if web.config_path.exists() else {}
    web.config_path.write_text(json.dumps({**cfg, "web": {"clerks_read_traces": True}}), encoding="utf-8")
    assert clerk.get("/api/traces").status_code == 200


def test_a_disabled_account_loses_its_session_and_cannot_sign_in(web: leakmark.Workspace) -> None:
    c, _csrf = signed_in(web, "clerk")
    assert c.get("/api/me").status_code == 200
    Accounts(web).set_disabled("clerk", True, "ada")
    assert c.get("/api/me").status_code == 401
    r = client(web).post("/api/login", json={"name": "clerk", "password": PASSWORD})
    assert r.status_code == 401
    with Ledger(web) as ledger:
        ledger.check()
        events = [(e.name, e.action, e.role, e.operator) for e in ledger.account_events()]
    assert ("clerk", "disable", "clerk", "ada") in events and ("ada", "add", "admin", "test") in events
    assert register.verify(web).events > 0


def test_login_is_rate_limited(web: leakmark.Workspace) -> None:
    c = client(web)
    for _ in range(FAILURES):
        assert c.post("/api/login", json={"name": "ada", "password": "wrong password"}).status_code == 401
    r = c.post("/api/login", json={"name": "ada", "password": PASSWORD})  # right, but too late
    assert r.status_code == 429 and "too many" in r.json()["message"]


def test_limiter_and_sessions_expire_with_time() -> None:
    now = [1000.0]
    limiter = LoginLimiter(clock=lambda: now[0])
    for _ in range(FAILURES):
        limiter.failed("name:a")
    assert limiter.retry_after("name:a") > 0
    now[0] += 15 * 60 + 1
    assert limiter.retry_after("name:a") == 0
    sessions = Sessions(clock=lambda: now[0])
    s = sessions.create("a", "clerk")
    assert sessions.get(s.token) is s
    now[0] += 31 * 60
    assert sessions.get(s.token) is None


def test_uploads_hostile_names_oversize_and_wrong_content(web: leakmark.Workspace, issued) -> None:
    c, csrf = signed_in(web, "ada", max_upload_mb=1)
    h = {"X-CSRF-Token": csrf}
    r = c.post("/api/issue", files={"document": ("memo.pdf", b"MZ\x90\x00 not a pdf at all" * 10)},
               data={"recipients": "A,B"}, headers=h)
    assert r.status_code == 400 and "is not a PDF" in r.json()["message"]
    r = c.post("/api/issue", files={"document": ("big.pdf", b"%PDF-1.7\n" + b"0" * (2 << 20))},
               data={"recipients": "A,B"}, headers=h)
    assert r.status_code == 413 and "max_upload_mb" in r.json()["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        yield (b'--B\r\nContent-Disposition: form-data; name="evidence"; filename="a.pdf"\r\n'
               b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n")
        for _ in range(3):
            yield b"0" * (1 << 20)
        yield b"\r\n--B--\r\n"

    r = c.post("/api/trace", content=chunked(), headers={**h, "Content-Type": "multipart/form-data; boundary=B"})
    assert r.status_code == 413 and "max_upload_mb" in r.json()["message"]
    r = c.post("/api/issue", files={"document": ("memo.pdf", issued.source.read_bytes())}, data={"recipients": " "},
               headers=h)
    assert r.status_code == 400 and "no recipients" in r.json()["message"].lower()
    pdf = issued.copy_path(1).read_bytes()
    for hostile in (b"../../../etc/passwd.pdf", b"..\\..\\boot.ini.pdf", b"memo\x00.pdf", b"memo\x1b[2J.pdf"):
        body = (b"--B\r\nContent-Disposition: form-data; name=\"evidence\"; filename=\"" + hostile + b"\"\r\n"
                b"Content-Type: application/pdf\r\n\r\n" + pdf + b"\r\n--B--\r\n")  # the raw bytes a client sent
        r = c.post("/api/trace", content=body, headers={**h, "Content-Type": "multipart/form-data; boundary=B"})
        assert r.status_code == 400 and "names folders or holds control characters" in r.json()["message"], hostile
    assert not any((web.home / "server" / "jobs").iterdir())  # nothing kept of refused uploads
    odd = "<b onmouseover=alert(1)>机密（第2版）.pdf"  # odd but possible: kept, stored tame, shown escaped
    r = c.post("/api/trace", files={"evidence": (odd, pdf)}, headers=h)
    assert r.status_code == 202
    job = r.json()
    wait(c, job["id"])
    folder = web.home / "server" / "jobs" / job["id"]
    saved = [p.name for p in folder.iterdir() if p.name not in ("job.json", "report.html")]
    assert len(saved) == 1 and re.fullmatch(r"01-[\w()（）\-. ]+\.pdf", saved[0]), saved  # in the job's folder
    assert "<b onmouseover" not in c.get(f"/jobs/{job['id']}").text


def test_issue_download_trace_report_return_through_the_web(web: leakmark.Workspace, tmp_path: Path,
                                                             issued) -> None:
    clerk, clerk_csrf = signed_in(web, "clerk")
    people = "\n".join(f"Person {i}\tUnit {i}" for i in range(1, 6))
    r = clerk.post("/issue", data={"csrf": clerk_csrf, "recipients": people},  # the memo again: copies 6 to 10
                   files={"document": ("memo.pdf", issued.source.read_bytes(), "application/pdf")},
                   follow_redirects=False)
    assert r.status_code == 303
    job_id = r.headers["location"].rsplit("/", 1)[-1]
    job = wait(clerk, job_id)
    assert job["state"] == "done", job["error"]
    copies = job["result"]["copies"]
    assert [c["recipient"] for c in copies] == [f"Person {i}" for i in range(1, 6)]
    assert [c["copy_no"] for c in copies] == [f"{n:06d}" for n in range(6, 11)]
    assert not (web.home / "server" / "jobs" / job_id / "memo.pdf").exists()  # the upload: the vault has it
    z = zipfile.ZipFile(io.BytesIO(clerk.get(f"/jobs/{job_id}/download").content))
    assert len(z.namelist()) == 5
    doc_id = job["result"]["document"]["id"]
    r = clerk.post(f"/jobs/{job_id}/remove", data={"csrf": clerk_csrf}, follow_redirects=False)
    assert r.status_code == 400  # not confirmed: nothing removed
    assert clerk.get(f"/jobs/{job_id}/download").status_code == 200
    leaked = tmp_path / "leaked.pdf"
    leaked.write_bytes(z.read(sorted(z.namelist())[2]))
    photo = simulate.phone_photo(render_page_array(leaked, 0, 300, mode="rgb"), seed=5)
    ivan, ivan_csrf = signed_in(web, "ivan")
    r = ivan.post("/api/trace", files={"evidence": ("photo.jpg", cv2.imencode(".jpg", photo)[1].tobytes())},
                  headers={"X-CSRF-Token": ivan_csrf})
    trace_job = wait(ivan, r.json()["id"])
    result = trace_job["result"]
    assert trace_job["state"] == "done" and result["verdict"] == "identified"
    assert result["document"]["id"] == doc_id and result["suspects"][0]["recipient"] == copies[2]["recipient"]
    report = ivan.get(f"/jobs/{trace_job['id']}/report")
    assert report.status_code == 200 and "img-src data:" in report.headers["content-security-policy"]
    assert clerk.get(f"/jobs/{trace_job['id']}/report").status_code in (403, 404)
    assert f"/jobs/{trace_job['id']}/report" in ivan.get("/traces").text  # the history links its report
    recorded = register.traces(web)[-1].record
    assert recorded.operator == "ivan" and recorded.named[0].copy_no == int(copies[2]["copy_no"])
    # the clerk records the return of copy 2
    ref = f"{doc_id}/{copies[1]['copy_no']}"
    r = clerk.post(f"/register/{ref}/status", data={"csrf": clerk_csrf, "action": "return", "reason": "back",
                                                     "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303
    detail = register.show(web, ref)
    assert detail.copy.status == "returned" and detail.history[-1].operator == "clerk"
    # the copies are handed out: the clerk removes them from the server; the register keeps everything
    r = clerk.post(f"/jobs/{job_id}/remove", data={"csrf": clerk_csrf, "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert not list((web.home / "server" / "jobs" / job_id).rglob("*.pdf"))
    assert clerk.get(f"/jobs/{job_id}/download").status_code == 404
    assert "已从服务器删除" in clerk.get(f"/jobs/{job_id}").text
    assert detail.copy.issued_by == "clerk"
    assert register.verify(web).copies >= 10
    page = clerk.get(f"/register?doc={doc_id}").text
    assert "Person 3" in page and "已收回" in page


def test_an_interrupted_job_is_marked_so_after_a_restart(web: leakmark.Workspace) -> None:
    c, _csrf = signed_in(web, "ada")
    server = c.app.state.server  # type: ignore[attr-defined]
    job = server.jobs.new("trace", "ada", "photo.jpg")
    job.state = "running"
    server.jobs.save(job)
    again, _ = signed_in(web, "ada")
    seen = again.get(f"/api/jobs/{job.id}").json()
    assert seen["state"] == "interrupted" and "stopped" in seen["error"]


def test_openapi_document_lists_the_api(web: leakmark.Workspace) -> None:
    doc = client(web).get("/api/openapi.json").json()
    assert {"/api/login", "/api/issue", "/api/trace", "/api/jobs/{job_id}", "/api/copies"} <= set(doc["paths"])
    assert not any(p.startswith("/register") for p in doc["paths"])  # pages are not API


def test_user_commands(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "ws"

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return run_main(capsys, "user", *args, "--home", home)

    code, out, _ = run("add", "李明", "--role", "clerk", stdin=PASSWORD + "\n")
    assert code == 0 and "李明" in out
    code, _, err = run("add", "李明", "--role", "admin", stdin=PASSWORD + "\n")
    assert code == 10 and "exists already" in err
    code, _, err = run("add", "bob", "--role", "clerk", stdin="short\n")
    assert code == 10 and "too short" in err
    code, _, err = run("add", "bob", "--role", "clerk")
    assert code == 10 and "no password on stdin" in err
    code, _, err = run("add", "a/b", "--role", "clerk", stdin=PASSWORD + "\n")
    assert code == 10 and "not allowed" in err
    assert run("role", "李明", "auditor")[0] == 0
    code, out, _ = run("list", "--json")
    assert [(u["name"], u["role"]) for u in json.loads(out)] == [("李明", "auditor")]
    accounts = json.loads((home / "accounts.json").read_text(encoding="utf-8"))
    assert accounts["users"]["李明"]["hash"].startswith("$argon2id$") and PASSWORD not in json.dumps(accounts)
    assert (home / "accounts.json").stat().st_mode & 0o777 == 0o600


def test_four_clerks_issuing_at_once_get_distinct_numbers(web: leakmark.Workspace, issued) -> None:
    from concurrent.futures import ThreadPoolExecutor

    accounts = Accounts(web)
    for i in range(4):
        accounts.add(f"clerk{i}", "clerk", PASSWORD, "test")
    app = create_app(web, workers=4)
    pdf = issued.source.read_bytes()

    def one(i: int) -> list[str]:
        c = TestClient(app)
        csrf = c.post("/api/login", json={"name": f"clerk{i}", "password": PASSWORD}).json()["csrf"]
        r = c.post("/api/issue", files={"document": ("memo.pdf", pdf)},
                   data={"recipients": "\n".join(f"C{i} person {k}" for k in range(3))}, headers={"X-CSRF-Token": csrf})
        job = wait(c, r.json()["id"], timeout=300)
        assert job["state"] == "done", job["error"]
        return [c["copy_no"] for c in job["result"]["copies"]]

    with ThreadPoolExecutor(4) as pool:
        numbers = [n for batch in pool.map(one, range(4)) for n in batch]
    assert len(numbers) == 12 and len(set(numbers)) == 12 and set(numbers) == {f"{n:06d}" for n in range(6, 18)}
    v = register.verify(web)
    assert v.copies == 17
    by = {c.issued_by for c in register.list_documents(web)[0].copies if c.copy_no > 5}
    assert by == {f"clerk{i}" for i in range(4)}


def test_an_issue_run_interrupted_by_a_restart_resumes_with_its_numbers(web: leakmark.Workspace, issued,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from leakmark.errors import RunInterruptedError
    from leakmark.issuing import run as run_module

    c, csrf = signed_in(web, "clerk")
    server = c.app.state.server  # type: ignore[attr-defined]
    job = server.jobs.new("issue", "clerk", "memo.pdf")
    job.state = "running"
    server.jobs.save(job)

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the server stopped in the middle of marking

    monkeypatch.setattr(run_module, "mark_copies", boom)
    with pytest.raises(RunInterruptedError):
        leakmark.issue(web, leakmark.IssueOptions(
            source=issued.source, recipients=(leakmark.Recipient("Late One"), leakmark.Recipient("Late Two")),
            output_dir=server.jobs.folder(job) / "copies", jobs=1, issued_by="clerk"))
    monkeypatch.undo()
    again, csrf = signed_in(web, "clerk")  # the server started again
    seen = again.get(f"/api/jobs/{job.id}").json()
    assert seen["state"] == "interrupted" and seen["resumable"]
    assert "/resume" in again.get(f"/jobs/{job.id}").text
    r = again.post(f"/jobs/{job.id}/resume", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    done = wait(again, job.id)
    assert done["state"] == "done", done["error"]
    assert [(x["copy_no"], x["recipient"]) for x in done["result"]["copies"]] == [("000006", "Late One"),
                                                                                  ("000007", "Late Two")]
    assert register.verify(web).copies == 7


def test_a_merged_print_file_with_stamps_through_the_api(web: leakmark.Workspace, issued) -> None:
    import pymupdf

    c, csrf = signed_in(web, "clerk")
    r = c.post("/api/issue", files={"document": ("memo.pdf", issued.source.read_bytes())},
               data={"recipients": "姓名,单位\n周杰,办公室\n吴敏,财务处", "output": "merged", "separator": "true",
                     "stamp": "true", "stamp_unit": "true"}, headers={"X-CSRF-Token": csrf})
    job = wait(c, r.json()["id"])
    assert job["state"] == "done", job["error"]
    got = c.get(f"/jobs/{job['id']}/download")
    assert got.headers["content-type"] == "application/pdf"
    with pymupdf.open(stream=got.content, filetype="pdf") as merged:
        assert merged.page_count == 2 * (1 + issued.result.document.pages)  # a separator page before each copy
    numbers = [x["copy_no"] for x in job["result"]["copies"]]
    detail = register.show(web, f"{issued.result.document.id}/{numbers[0]}")
    assert detail.copy.recipient == "周杰" and detail.stamp_lines and "办公室" in " ".join(detail.stamp_lines)


def test_a_collusion_trace_on_the_job_page_names_each_source(web: leakmark.Workspace, issued) -> None:
    """Two pages of two copies uploaded as one trace: both starred, and the page says they are each one of the
    sources (the report says where each was found)."""
    ivan, csrf = signed_in(web, "ivan")
    files = [("evidence", (f"p{i + 1}.png", cv2.imencode(".png", render_page_array(issued.copy_path(n), i, 300))[1]
                           .tobytes())) for i, n in enumerate((2, 4))]
    r = ivan.post("/api/trace", files=files, headers={"X-CSRF-Token": csrf})
    job = wait(ivan, r.json()["id"])
    assert job["state"] == "done" and job["result"]["named"] == 2
    assert {s["copy_no"] for s in job["result"]["suspects"][:2]} == {"000002", "000004"}
    page = ivan.get(f"/jobs/{job['id']}").text
    assert page.count("<td>★</td>") == 2 and "以上标 ★ 者均为来源副本" in page
