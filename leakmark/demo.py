"""`leakmark demo`: sample document → 5 marked copies → simulated phone photo of one → trace."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2

from leakmark import register, simulate
from leakmark._progress import Progress
from leakmark.issuing import IssueOptions, IssueResult, issue
from leakmark.recipients import Recipient
from leakmark.rendering import render_page_array
from leakmark.samples import write_samples
from leakmark.trace.tracer import TraceOptions, TraceResult, trace
from leakmark.workspace import Workspace

DEMO_RECIPIENTS = (
    Recipient("张伟", "办公室"), Recipient("李娜", "财务处"), Recipient("王强", "技术处"),
    Recipient("刘洋", "人事处"), Recipient("陈静", "保卫处"),
)
LEAKED = 2  # index of the copy whose first page is "photographed"


@dataclass
class DemoResult:
    folder: Path
    workspace: Path
    issued: IssueResult
    leaked_copy: str
    photo: Path
    traced: TraceResult


def run_demo(folder: Path | None = None, jobs: int = 0, progress: Progress | None = None) -> DemoResult:
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="leakmark-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    ws = Workspace.open(Path(tempfile.mkdtemp(prefix="workspace-", dir=folder)))
    sample = next(p for p in write_samples(folder / "samples") if p.name == "notice-zh.pdf")
    issued = issue(ws, IssueOptions(source=sample, recipients=DEMO_RECIPIENTS, output_dir=folder / "copies",
                                    level="机密", period="1年", jobs=jobs), progress)
    leaked = issued.copies[LEAKED]
    page = render_page_array(Path(leaked.path), 0, 300, mode="rgb")
    photo = simulate.phone_photo(page, seed=7)
    photo_path = folder / "leaked-photo.jpg"
    cv2.imwrite(str(photo_path), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
    traced = trace(ws, TraceOptions(evidence=(photo_path,)))
    register.record_trace(ws, traced)  # as `leakmark trace` does: every trace is recorded
    return DemoResult(folder=folder, workspace=ws.home, issued=issued, leaked_copy=leaked.copy_no, photo=photo_path,
                      traced=traced)
