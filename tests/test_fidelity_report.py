"""benchmarks.fidelity's bookkeeping: page modes as the issue API reports them, the table's cells, and the
JSON that `--add` carries from one run to the next. No issuing here (the benchmark itself does that)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

from benchmarks.fidelity import CopyOutcome, DocRun, cell, mode_summary, report, reported_modes

ENTRY = {"name": "doc", "producer": "pdfTeX", "language": "en", "pages": 3, "sha256": "ab"}


def outcome(differences: list, reported: list | None = None, present: tuple = ("pages", "text", "outline"),
            copy_bytes: int = 1000) -> CopyOutcome:
    return CopyOutcome(original_bytes=1000, copy_bytes=copy_bytes, differences=differences, notes=[],
                       observed=["vector", "raster", "vector"], reported=reported, present=list(present))


def test_reported_modes_per_page_with_reasons() -> None:
    result = SimpleNamespace(stats={"page_modes": ["vector", "raster", "vector"],
                                    "raster_reasons": ["page 2: a Type 3 font draws text"]})
    assert reported_modes(result, 3) == [("vector", ""), ("raster", "a Type 3 font draws text"), ("vector", "")]
    whole_run = SimpleNamespace(stats={"page_modes": ["raster"], "raster_reasons": ["page images were asked for"]})
    assert reported_modes(whole_run, 1) == [("raster", "page images were asked for")]
    assert reported_modes(SimpleNamespace(stats={"units": {}}), 3) is None  # before issue 12: unknown
    assert reported_modes(SimpleNamespace(stats={"page_modes": None}), 3) is None


def test_cells_pass_fail_and_absent() -> None:
    run = DocRun(ENTRY, [outcome([]), outcome([("text", 2, "1 of 9 lines differ")])], 1.0)
    assert cell(run, "text") == "✗"  # one copy failing fails the document
    assert cell(run, "outline") == "✓"
    assert cell(run, "form_fields") == "·"  # the original has none
    assert cell(DocRun(ENTRY, [], 0.1, error="InputFileError: damaged"), "text") == "–"
    assert mode_summary(run) == "unknown"
    reported = [("vector", ""), ("raster", "a Type 3 font"), ("vector", "")]
    assert mode_summary(DocRun(ENTRY, [outcome([], reported)] * 2, 1.0)) == "raster 1, vector 2 (a Type 3 font)"


def test_report_totals_and_json_round_trip(tmp_path: Path) -> None:
    runs = [DocRun(ENTRY, [outcome([]), outcome([])], 2.0),
            DocRun({**ENTRY, "name": "other"}, [outcome([("outline", None, "1 of 3 missing")], copy_bytes=99_999)],
                   3.0)]
    args = SimpleNamespace(name="t", corpus=tmp_path, copies=2, layers=None, jobs=1)
    lines = report(runs, args, "0.1 / 0.1 / 0.1", carried=0)
    totals = next(line for line in lines if line.startswith("| **passed**"))
    cells = [c.strip() for c in totals.split("|")[5:17]]
    assert cells[0] == "2/2" and cells[6] == "1/2" and cells[11] == "2/2"  # pages, outline, text
    assert "| 1/2 |" in totals  # size: 99,999 bytes is over 1.05 × 1,000 + 30 KB = 31,770
    assert any("1 of 3 missing" in line for line in lines)
    again = [DocRun.from_json(d) for d in json.loads(json.dumps([asdict(r) for r in runs]))]
    assert again == runs
