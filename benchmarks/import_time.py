"""How long `import leakmark`, `leakmark --version` and `leakmark --help` take, and which heavy modules they
load: each in a fresh interpreter, best and median of N runs, for the checkout and (with --against REV) for
an earlier commit checked out in a temporary git worktree.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, Results, Stamp, argument_parser, arguments, git, script_name

NAME = script_name(__file__)
HEAVY = ("numpy", "cv2", "pymupdf", "PIL", "onnxruntime")
CASES = {
    "import leakmark": ["-c", "import leakmark"],
    "leakmark --version": ["-m", "leakmark", "--version"],
    "leakmark --help": ["-m", "leakmark", "--help"],
    "python -c pass (floor)": ["-c", "pass"],
}
# run the command in-process, then list the heavy modules it left loaded (on stderr)
PROBE = """import sys
args = {args!r}
if args:
    from leakmark.cli import main
    try:
        main(args)
    except SystemExit:
        pass
else:
    import leakmark
print(",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def timed(tree: Path, args: list[str], runs: int) -> tuple[float, float]:
    """Best and median wall time of `python ARGS` in `tree` (its cwd first on sys.path)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def heavy_loaded(tree: Path, args: list[str]) -> str:
    """Which heavy modules the command leaves loaded."""
    cli_args = args[2:] if args[:2] == ["-m", "leakmark"] else []
    r = subprocess.run([sys.executable, "-c", PROBE.format(args=cli_args, heavy=HEAVY)], cwd=tree,
                       env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True, check=True)
    lines = r.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def measure(tree: Path, label: str, runs: int) -> list[str]:
    rows = []
    for case, args in CASES.items():
        best, median = timed(tree, args, runs)
        loaded = heavy_loaded(tree, args) if case != "python -c pass (floor)" else ""
        row = f"| {label} | {case} | {best:.3f} | {median:.3f} | {loaded or 'none'} |"
        print(row, flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--runs", type=int, default=9, help="runs per case (default 9)")
    ap.add_argument("--against", metavar="REV", help="also measure this earlier commit (a temporary worktree)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    output = Results(args.results, Stamp.take(NAME, argv), "import-time")
    lines = ["# Import time", "",
             f"Wall time of each command in a fresh interpreter, best and median of {args.runs} runs, seconds; "
             "`heavy modules` are those of " + ", ".join(HEAVY) + " the command leaves loaded.", "",
             "| code | command | best s | median s | heavy modules |", "|---|---|---:|---:|---|"]
    if args.against:
        with tempfile.TemporaryDirectory(prefix="leakmark-import-") as tmp:
            tree = Path(tmp) / "tree"
            git("worktree", "add", "--detach", str(tree), args.against)
            try:
                lines += measure(tree, f"`{args.against[:10]}`", args.runs)
            finally:
                git("worktree", "remove", "--force", str(tree))
    lines += measure(ROOT, "this checkout", args.runs)
    print(f"wrote {output.write_markdown('import-time.md', lines)}")


if __name__ == "__main__":
    main()
