"""leakmark: per-copy invisible marks for confidential documents, a distribution register, and tracing.

Public API::

    from leakmark import Workspace, IssueOptions, issue, resume, abandon, RunSettings, TraceOptions, trace
"""

__version__ = "0.1.0"

from leakmark.errors import ExitCode, LeakmarkError
from leakmark.issuing import IssueOptions, IssueResult, RunSettings, abandon, issue, resume
from leakmark.recipients import Recipient
from leakmark.trace.tracer import TraceOptions, TraceResult, trace
from leakmark.workspace import Workspace

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
