"""How long the register's checks take as it grows to a million copy rows: full `log verify` against the
incremental check that runs before every write, trace and read (issue 13, "Anchored chain").

The register is built through the ledger API in big runs (documents of `--per-document` copies, each
reserved in one run, issued in one batch, finished), so its events, views, checkpoint, digests, head file
and vault reservation records are exactly what `leakmark issue` writes. It is measured at each size in
`--sizes` (grown in place): the full verification (`leakmark.register.verify`, what `log verify` runs, and
`leakmark log verify` as a child process), the incremental check of a write (an empty write transaction:
check the chain since the last checkpoint, move the checkpoint, write the head file) and of a read command
(`Ledger.check`: also every documents and runs row), one document's copies checked against their digest (what
trace and `issue` add for the document they use), and a whole `log return` (open, check, write).

    python benchmarks/register_verify.py                      # 10,000 / 100,000 / 1,000,000 copy rows
    python benchmarks/register_verify.py --sizes 20000 --no-report

Writes benchmarks/results/register-verify.md (unless --no-report) with the commit, machine and command on top.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, Results, Stamp, argument_parser, arguments, script_name
from leakmark import register
from leakmark.ledger import Document, Ledger, Planned, Run, now_iso
from leakmark.ledger.records import RunRecord
from leakmark.workspace import Workspace

NAME = script_name(__file__)
# what `issue` records per copy for a text page with the default layers (the length matters, not the values)
SETTINGS = ('{"blind":null,"dpi":300,"file":{"bits":128,"version":1},"layers":["shift","file"],'
            '"shift":{"delta_px":1,"rules":true,"seals":true,"version":2},"tone":null}')


def build(ws: Workspace, first_doc: int, docs: int, per_doc: int) -> None:
    """Register `docs` documents with `per_doc` copies each: one run reserved, issued in one batch, finished."""
    record = RunRecord(source_stem="memo", output_dir="/srv/copies", merge=None, separator=False, delta=1,
                       encrypted=False, layers=(), tone_pages=None).to_json()
    with Ledger(ws) as ledger:
        ledger.check(for_write=True)
        for i in range(first_doc, first_doc + docs):
            sha = hashlib.sha256(f"register benchmark document {i}".encode()).hexdigest()
            doc = Document(id="D" + sha[:10], sha256=sha, title=f"关于加强涉密文件管理的通知 第{i}号", level="机密",
                           period="10年", pages=3, source_name=f"notice-{i}.pdf", kind="pdf", dpi=300,
                           created_at=now_iso())
            run = Run(id=f"bench-{i:05d}", document_id=doc.id, created_at=now_iso(), created_by="clerk", state="open",
                      options=record, copies=per_doc, done=0, merge_bytes=0)
            planned = [Planned(recipient=f"收件人 {n:06d}", unit=f"第{n % 97}处") for n in range(1, per_doc + 1)]
            copies = ledger.start_run(doc, True, run, planned, SETTINGS, "0.1.0")
            ledger.mark_issued(run.id, [(c.copy_no, f"/srv/copies/notice-{i}-{c.copy_no:06d}.pdf") for c in copies])
            ledger.end_run(run.id, "finished")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best and median wall seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def measure(ws: Workspace, repeat: int, cli: bool) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    out["full verify (register.verify, as log verify)"] = timed(lambda: register.verify(ws), 1)
    if cli:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        out["leakmark log verify (child process)"] = timed(lambda: subprocess.run(
            [sys.executable, "-m", "leakmark", "log", "verify", "--home", str(ws.home)], env=env, check=True,
            capture_output=True), 1)
        try:  # the largest child so far: sizes grow, so this one
            import resource

            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
            out["peak memory of that child process (MiB)"] = (peak, peak)
        except ImportError:
            pass
    with Ledger(ws) as ledger:
        def write_check() -> None:
            with ledger.transaction():
                pass

        out["pre-write check (empty write transaction)"] = timed(write_check, repeat)

        def read_check() -> None:
            ledger.state, ledger._cp = None, None  # as a new command would: nothing checked yet
            ledger.check()

        out["read check (Ledger.check)"] = timed(read_check, repeat)
        doc = ledger.documents()[-1]

        def doc_check() -> None:
            ledger._verified_docs.clear()
            ledger.copies(doc.id)

        out["one document's copies read and checked"] = timed(doc_check, repeat)

    def unchecked() -> None:
        with Ledger(ws) as plain:
            plain.copies(doc.id)

    out["the same copies read without the check"] = timed(unchecked, repeat)
    flip = iter(range(10**9))

    def clerk_write() -> None:  # open, check, one status event
        i = next(flip)
        (register.return_copy if i % 2 == 0 else register.set_status)(ws, f"{doc.id}/{i // 2 + 1}", *(
            () if i % 2 == 0 else ("issued",)))

    out["log return COPY (open, check, write)"] = timed(clerk_write, repeat)
    return out


def report(rows: list[tuple[int, int, int, float, dict[str, tuple[float, float]]]], argv: list[str],
           started: str, repeat: int) -> str:
    names = list(rows[0][4])
    head = "| measurement | " + " | ".join(f"{copies:,} copies ({docs} documents, {events} events)"
                                          for copies, docs, events, _, _ in rows) + " |"
    lines = [
        "# Register verification at scale: full `log verify` against the incremental checks",
        "",
        f"Measured: {started} – {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC"
        + (f"; load average {os.getloadavg()[0]:.1f} at the end (machine shared)" if hasattr(os, "getloadavg")
           else ""),
        "",
        "The register is built through the ledger API (one run per document, reserved, issued in one batch,",
        "finished), then measured at each size: wall seconds, best of one full verification and best / median",
        f"of {repeat} runs of each incremental measurement.",
        "",
        head,
        "|---|" + "---:|" * len(rows),
    ]
    for name in names:
        cells = []
        for *_, m in rows:
            best, med = m[name]
            cells.append(f"{best:.0f}" if name.startswith("peak") else
                         f"{best:.2f}" if name.startswith(("full", "leakmark")) else f"{best:.4f} / {med:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| size | time to build it (s) |", "|---:|---:|"]
    lines += [f"| {copies:,} | {built:.1f} |" for copies, _, _, built, _ in rows]
    per_doc = rows[-1][0] // rows[-1][1]
    lines += [
        "",
        "What each line measures:",
        "",
        "- **full verify**: replays every event (hash, HMAC, state), compares every view row with the replay,",
        "  then recomputes every view digest and checks the checkpoint, the head file and the vault's",
        "  reservation records; `log verify` as a child process adds interpreter start and imports (its peak",
        "  resident memory is the next line: the replay holds every copy in memory).",
        "- **pre-write check**: what every write transaction adds before and after its own statements: the",
        "  chain since the last checkpoint (its event's hash and HMAC, none after it), the checkpoint's HMAC, the",
        "  head file, a hash of the digests table (one row per document and view), then the new checkpoint and",
        "  head file. It does not grow with the copies, only (slightly) with the documents.",
        "- **read check**: the same check as `trace` and the `log` readers run first, plus every documents and",
        "  runs row against its digest.",
        "- **one document's copies read and checked**: trace and `issue` read the copies of the document they",
        f"  use ({per_doc:,} here) and compare them with its digest (one HMAC per row); the line below is the same",
        "  read without the check, so the difference is the check's cost.",
        "- **log return COPY**: a clerk's whole write: open, read check, the document's copies checked, one",
        "  status event with its checkpoint and head file.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args_list = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="copy rows to measure at, comma-separated, increasing (default: %(default)s)")
    ap.add_argument("--per-document", type=int, default=10_000,
                    help="copies per document, at most 999,999 (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each incremental measurement (default: 5)")
    ap.add_argument("--no-cli", action="store_true", help="skip `leakmark log verify` as a child process")
    ap.add_argument("--tmp", type=Path, help="folder for the workspace (default: a temporary one, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the workspace")
    ap.add_argument("--no-report", action="store_true", help="print only; do not write register-verify.md")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(args_list)
    stamp = Stamp.take(NAME, args_list)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if not 1 <= args.per_document <= 999_999 or any(s % args.per_document for s in sizes) or sizes != sorted(sizes):
        ap.error("--sizes must be increasing multiples of --per-document (at most 999,999)")
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    base = Path(tempfile.mkdtemp(prefix="register-verify-", dir=args.tmp))
    ws = Workspace.open(base / "ws")
    rows = []
    try:
        docs = 0
        for size in sizes:
            t = time.perf_counter()
            want = size // args.per_document
            build(ws, docs, want - docs, args.per_document)
            built = time.perf_counter() - t
            docs = want
            print(f"built {size:,} copy rows ({docs} documents) in {built:.1f} s", file=sys.stderr, flush=True)
            m = measure(ws, args.repeat, not args.no_cli)
            with Ledger(ws) as ledger:
                events = ledger.check().count
            rows.append((size, docs, events, built, m))
            for name, (best, med) in m.items():
                print(f"  {name:<50} best {best:9.4f} s   median {med:9.4f} s", flush=True)
    finally:
        if args.keep:
            print(f"workspace kept: {ws.home}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    text = report(rows, args_list, started, args.repeat)
    print()
    print(text)
    if not args.no_report:
        print(f"written: {Results(args.results, stamp, 'register-verify').write_markdown('register-verify.md', text)}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
