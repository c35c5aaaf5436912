"""One issue run in a fresh process, for throughput's issue section: its time and peak memory as JSON.

    python -c "import sys; from benchmarks._issue_probe import main; main(*sys.argv[1:])" \
        SAMPLE COPIES JOBS DPI TMP          # from the checkout: what throughput runs

Not a benchmark of its own (so not listed by `python -m benchmarks`). Kept apart from throughput.py so
that the process's peak memory is the issue run's own (this module imports leakmark only: not
blind-watermark, nor the other sections' code and state), and `python -c` leaves spawned pool workers no
main module to re-import.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from leakmark import IssueOptions, Recipient, Workspace, issue


def main(sample: str, copies: str, jobs: str, dpi: str, tmp: str) -> None:
    ws = Workspace.open(Path(tmp) / "ws")
    people = tuple(Recipient(f"r{i}") for i in range(int(copies)))
    t0 = time.perf_counter()
    issue(ws, IssueOptions(source=Path(sample), recipients=people, output_dir=Path(tmp) / "out", jobs=int(jobs),
                           dpi=int(dpi)))
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "parent_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
