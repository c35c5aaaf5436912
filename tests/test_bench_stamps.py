"""benchmarks/: the package entry point, the provenance stamps and the sidecar they are recorded in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks import SCRIPTS
from benchmarks.__main__ import main as bench_main
from benchmarks.common import ROOT, STAMP_FORMAT, Results, Stamp, read_sidecar


def test_listing_names_every_script_and_each_has_a_main(capsys) -> None:
    assert bench_main([]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in SCRIPTS)
    assert all((ROOT / "benchmarks" / f"{name}.py").exists() for name in SCRIPTS)
    assert bench_main(["no-such-script"]) == 2


def test_stamp_records_commit_machine_and_command() -> None:
    stamp = Stamp.take("roundtrip", ["--copies", "2", "--leaks", "jpeg-q30"])
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert stamp.commit == head and isinstance(stamp.dirty, bool)
    assert stamp.command == "python -m benchmarks roundtrip --copies 2 --leaks jpeg-q30"
    assert {"cpu", "cores", "ram_gib", "os", "python", "numpy", "opencv", "pymupdf"} <= set(stamp.machine)
    assert stamp.utc.endswith("Z") and Stamp.from_dict(json.loads(json.dumps(stamp.as_dict()))) == stamp


def _stamp(n: int) -> Stamp:
    return Stamp(id=f"run{n}", script="throughput", commit=f"{n:040x}", dirty=False, changed=[],
                 utc=f"2026-12-0{n}T10:00:00Z", command=f"python -m benchmarks throughput --n {n}", invocation="",
                 machine={}, machine_line="test machine")


def test_results_sidecar_moves_rewritten_files_and_keeps_carried_parts(tmp_path: Path) -> None:
    first = Results(tmp_path, _stamp(1), "throughput")
    first.write_markdown("throughput.md", "# Throughput\n\nbody", parts=["issue", "trace"])
    first.write_text("other.csv", "a,b\n")
    text = (tmp_path / "throughput.md").read_text(encoding="utf-8").split("\n")
    assert text[0] == "# Throughput" and text[1] == "" and "throughput.stamp.json" in text[2]
    assert text[3].startswith("Written by `python -m benchmarks throughput --n 1` at commit `0000000` (clean)")
    assert text[4] == "Machine: test machine" and text[-2:] == ["body", ""]

    second = Results(tmp_path, _stamp(2), "throughput")
    second.write_markdown("throughput.md", "# Throughput\n\nbody", parts=["trace"], carried=["issue", "old"])
    runs = {r["id"]: r for r in read_sidecar(tmp_path / "throughput.stamp.json")["runs"]}
    assert read_sidecar(tmp_path / "throughput.stamp.json")["format"] == STAMP_FORMAT
    assert runs["run1"]["files"] == ["other.csv", "throughput.md#issue"]  # its issue section was kept
    assert runs["run2"]["files"] == ["throughput.md", "throughput.md#trace"]
    assert runs["unstamped"]["files"] == ["throughput.md#old"] and runs["unstamped"]["commit"] is None


def test_stale_check_runs_on_the_checkout() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "stale"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "benchmarks/results/robustness.csv" in proc.stdout and "unknown provenance" in proc.stdout
