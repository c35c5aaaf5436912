"""leakmark: per-copy invisible marks for confidential documents, a distribution register, and tracing.

Public API::

    from leakmark import Workspace, IssueOptions, issue, TraceOptions, trace, LeakmarkError
"""

__version__ = "0.1.0"

from leakmark.errors import ExitCode, LeakmarkError
from leakmark.issuing import IssueOptions, IssueResult, issue
from leakmark.recipients import Recipient
from leakmark.trace.tracer import TraceOptions, TraceResult, trace
from leakmark.workspace import Workspace

__all__ = [
           "ExitCode",
           "IssueOptions",
           "IssueResult",
           "LeakmarkError",
           "Recipient",
           "TraceOptions",
           "TraceResult",
           "Workspace",
           "__version__",
           "issue",
           "trace",
]
