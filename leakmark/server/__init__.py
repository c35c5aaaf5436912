"""`leakmark serve`: the web page for clerks and investigators and its JSON API (FastAPI, server-rendered
Jinja2 pages, every asset packaged: it works on an air-gapped network). Needs the `server` extra:
``pip install 'leakmark[server]'``.

    from leakmark.server import create_app
    app = create_app(Workspace.open(home, create=False))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leakmark.errors import BadRequestError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from leakmark.workspace import Workspace


def create_app(workspace: Workspace, **options: Any) -> FastAPI:
    """The web application over `workspace` (see `leakmark.server.app.create_app`)."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
    except ImportError as exc:
        raise BadRequestError("the web page needs the server extra: pip install 'leakmark[server]' "
                              f"({exc.name} is missing)") from exc
    from leakmark.server.app import create_app as make

    return make(workspace, **options)
