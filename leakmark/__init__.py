"""leakmark: per-copy invisible marks for confidential documents, a distribution register, and tracing.

Public API::

    from leakmark import Workspace, IssueOptions, issue, TraceOptions, trace, LeakmarkError
"""

__version__ = "0.1.0"

from leakmark.errors import ExitCode, LeakmarkError  # noqa: E402
from leakmark.issuing import IssueOptions, IssueResult, issue  # noqa: E402
from leakmark.recipients import Recipient  # noqa: E402
from leakmark.trace.tracer import TraceOptions, TraceResult, trace  # noqa: E402
from leakmark.workspace import Workspace  # noqa: E402

__all__ = ["ExitCode", "IssueOptions", "IssueResult", "LeakmarkError", "Recipient", "TraceOptions",
           "TraceResult", "Workspace", "issue", "trace", "__version__"]
