"""leakmark: per-copy invisible marks for confidential documents, a distribution register, and tracing.

Public API::

    from leakmark import Workspace, IssueOptions, issue, resume, abandon, RunSettings, TraceOptions, trace

The names are loaded on first use (PEP 562): `import leakmark` loads neither NumPy, OpenCV nor PyMuPDF,
and changes no process-wide setting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "ExitCode": "leakmark.errors",
    "LeakmarkError": "leakmark.errors",
    "IssueOptions": "leakmark.issuing",
    "IssueResult": "leakmark.issuing",
    "RunSettings": "leakmark.issuing",
    "abandon": "leakmark.issuing",
    "issue": "leakmark.issuing",
    "resume": "leakmark.issuing",
    "Recipient": "leakmark.recipients",
    "TraceOptions": "leakmark.trace.tracer",
    "TraceResult": "leakmark.trace.tracer",
    "Workspace": "leakmark.workspace",
}

if TYPE_CHECKING:
    from leakmark._progress import Progress
    from leakmark.errors import ExitCode, LeakmarkError
    from leakmark.issuing import IssueOptions, IssueResult, RunSettings, abandon, issue, resume
    from leakmark.recipients import Recipient
    from leakmark.trace.tracer import TraceOptions, TraceResult
    from leakmark.workspace import Workspace

# The subpackage `leakmark.trace` and the function `leakmark.trace` share a name. Importing a subpackage
# for the first time sets it as an attribute of its parent, so it is imported now (it is light), and the
# function defined below keeps the name whatever is imported later.
importlib.import_module("leakmark.trace")


def trace(workspace: Workspace, options: TraceOptions, progress: Progress | None = None) -> TraceResult:
    """Trace evidence to the issued copies: `leakmark.trace.tracer.trace`."""
    from leakmark.trace.tracer import trace as run

    return run(workspace, options, progress)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'leakmark' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "ExitCode",
    "IssueOptions",
    "IssueResult",
    "LeakmarkError",
    "Recipient",
    "RunSettings",
    "TraceOptions",
    "TraceResult",
    "Workspace",
    "__version__",
    "abandon",
    "issue",
    "resume",
    "trace",
]
