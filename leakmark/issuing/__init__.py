"""Issuing copies: options (`options`), the run's lifecycle (`run`), its page cache (`cache`), the per-page
work done in worker processes (`worker`) and where the copies go (`sinks`: per-copy files or one merged
print file)."""

from leakmark.issuing.options import LAYERS, IssueOptions, RunRecord, RunSettings
from leakmark.issuing.run import IssuedCopy, IssueResult, abandon, copy_settings, issue, resume

__all__ = ["LAYERS", "IssueOptions", "IssueResult", "IssuedCopy", "RunRecord", "RunSettings", "abandon",
           "copy_settings", "issue", "resume"]
