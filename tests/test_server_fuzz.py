"""Schemathesis against the API's OpenAPI document: generated requests (valid and invalid by the schema) to
every operation, signed in as an admin with the CSRF token, must never produce a server error."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis")

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from leakmark.server import create_app
from leakmark.server.accounts import Accounts
from leakmark.server.app import COOKIE


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    from lmtest import seeded_workspace

    ws = seeded_workspace(tmp_path_factory.mktemp("fuzz") / "ws", b"fuzz")
    Accounts(ws).add("ada", "admin", "correct horse battery", "test")
    return create_app(ws, workers=1, max_upload_mb=2)


def test_no_server_errors(app) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    server = app.state.server
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:
        if op.path == "/api/logout":  # would end the session; tested in test_server.py
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        def run(case) -> None:
            s = server.sessions.create("ada", "admin")  # a fresh session each case (no argon2 round per case)
            response = case.call(headers={"X-CSRF-Token": s.csrf}, cookies={COOKIE: s.token})
            case.validate_response(response, checks=(not_a_server_error,))
            print("CASE", case.method, case.path, response.status_code)

        run()
