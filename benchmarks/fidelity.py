"""Fidelity of issued copies over the real-PDF corpus (issue 12): is a copy the original, marked?

    python -m benchmarks fidelity [--corpus DIR] [--only NAME,...] [--copies 2] [--layers shift,file]
                                  [--jobs 1] [--name fidelity]

For every corpus PDF (`python -m benchmarks corpus` builds it; this script builds what is missing) a fresh
workspace registers it and issues `--copies` copies through the library API (`leakmark.issue`), and each copy
is compared with the original by `leakmark.pdf.compare`: page count, the five boxes, /Rotate, fonts per page,
Info metadata (producer and modification date may change: noted, not failed), XMP (the original's properties
all kept; DocumentID may change: the `file` layer), outline, page labels, links, annotations by type, form
fields (still widgets), extracted text per page (exact). A document passes an aspect when every copy does;
`·` says the original has none of that structure (and the copy added none where adding is a difference).

Size: a copy of vector pages may be at most 1.05 × the original + 30 KB. Page modes: as the issuing run
reports them (vector, or raster and why: `stats["page_modes"]`, `stats["raster_reasons"]`); "unknown" when the
issue API does not report them (before issue 12). Observed
modes are read from the copy itself: a page that became one picture is raster.

Writes benchmarks/results/NAME.md, NAME.csv (one row per copy) and NAME.json (every difference, rewritten after
each document), stamped (group `fidelity`). `--add` keeps the documents of NAME.json that this run does not
measure: it finishes an interrupted run, or re-measures the `--only` documents of a finished one. The baseline
of raster copies (before issue 12) is `--name fidelity-raster-baseline`.

`ghostscript_print` rasterises one page of a PDF as a printer driver does (Ghostscript, 600 dpi, 8-bit gray,
no anti-aliasing): the print simulation issue 12's robustness checks start from.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import corpus as corpus_mod
from benchmarks.common import RESULTS, Results, Stamp, argument_parser, arguments, log, script_name
from leakmark import IssueOptions, IssueResult, LeakmarkError, Recipient, Workspace, issue
from leakmark.pdf.compare import ASPECTS, Comparison, PdfFacts, compare, read_facts, size_target

NAME = script_name(__file__)
SHORT = {"pages": "pages", "boxes": "boxes", "rotation": "rot", "fonts": "fonts", "metadata": "meta",
         "xmp": "xmp", "outline": "outline", "page_labels": "labels", "links": "links", "annotations": "annots",
         "form_fields": "forms", "text": "text"}
JSON_FORMAT = "leakmark-fidelity/1"


def ghostscript_print(pdf: Path, page: int, out_png: Path, dpi: int = 600) -> Path:
    """Page `page` (1-based) of `pdf` as a printer driver rasterises it: Ghostscript, `dpi`, 8-bit gray, the
    CropBox, no anti-aliasing. Returns `out_png`; RuntimeError when Ghostscript is missing or fails."""
    gs = shutil.which("gs")
    if gs is None:
        raise RuntimeError("Ghostscript (gs) is not installed: apt-get install ghostscript")
    cmd = [gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", f"-r{dpi}", "-dUseCropBox",
           "-dTextAlphaBits=1", "-dGraphicsAlphaBits=1", f"-dFirstPage={page}", f"-dLastPage={page}",
           f"-sOutputFile={out_png}", str(pdf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0 or not out_png.exists():
        raise RuntimeError(f"gs failed on {pdf} page {page}: {proc.stderr.strip()[-300:]}")
    return out_png


def reported_modes(result: IssueResult, pages: int) -> list[tuple[str, str]] | None:
    """Per page (mode, reason) as the run reports them (issue 12: `stats["page_modes"]`, one mode per page for
    every copy of the run, and `stats["raster_reasons"]` as "page N: why"); None while the API reports none."""
    modes = result.stats.get("page_modes")
    if not isinstance(modes, list | tuple) or len(modes) != pages:
        return None
    why: dict[int, str] = {}
    other = []  # reasons for the whole run ("page images were asked for (--raster)")
    for text in result.stats.get("raster_reasons") or ():
        m = re.match(r"page (\d+): (.*)", str(text), re.S)
        if m:
            why[int(m.group(1))] = m.group(2)
        else:
            other.append(str(text))
    general = "; ".join(other)
    return [(str(mode), "" if mode == "vector" else why.get(p, general)) for p, mode in enumerate(modes, start=1)]


@dataclass
class CopyOutcome:
    """One copy against its original, as plain values (kept in NAME.json, so a later `--add` run can carry it)."""

    original_bytes: int
    copy_bytes: int
    differences: list[tuple[str, int | None, str]]  # (aspect, page, detail)
    notes: list[str]  # allowed changes
    observed: list[str]  # per page: vector | raster | picture, read from the copy
    reported: list[tuple[str, str]] | None  # per page (mode, reason) from the run; None: not reported
    present: list[str]  # the aspects whose structure the original has

    @classmethod
    def of(cls, c: Comparison, reported: list[tuple[str, str]] | None) -> CopyOutcome:
        return cls(original_bytes=c.original.bytes, copy_bytes=c.copy.bytes,
                   differences=[(d.aspect, d.page, d.detail) for d in c.differences],
                   notes=[n.detail for n in c.notes], observed=c.page_modes(), reported=reported,
                   present=[a for a in ASPECTS if _has(c.original, a)])

    @classmethod
    def from_json(cls, d: dict) -> CopyOutcome:
        d = dict(d)
        d["differences"] = [tuple(x) for x in d["differences"]]
        d["reported"] = None if d["reported"] is None else [tuple(x) for x in d["reported"]]
        return cls(**d)

    def failed(self, aspect: str) -> list[str]:
        return [f"{a}" + (f" p{p}" if p else "") + f": {detail}" for a, p, detail in self.differences if a == aspect]

    def ok(self, aspect: str) -> bool:
        return not self.failed(aspect)

    @property
    def size_target(self) -> int:
        return size_target(self.original_bytes)

    @property
    def size_ok(self) -> bool:
        return self.copy_bytes <= self.size_target

    @property
    def ratio(self) -> float:
        return self.copy_bytes / self.original_bytes if self.original_bytes else float("inf")


@dataclass
class DocRun:
    entry: dict
    copies: list[CopyOutcome]
    seconds: float
    error: str = ""

    @classmethod
    def from_json(cls, d: dict) -> DocRun:
        return cls(entry=d["entry"], copies=[CopyOutcome.from_json(c) for c in d["copies"]], seconds=d["seconds"],
                   error=d.get("error", ""))


def run_one(entry: dict, path: Path, copies: int, layers: tuple[str, ...] | None, jobs: int, tmp: Path) -> DocRun:
    ws = Workspace.open(tmp / "ws")
    people = tuple(Recipient(f"读者 {i + 1}" if entry["language"] == "zh" else f"Reader {i + 1}", "fidelity")
                   for i in range(copies))
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = issue(ws, IssueOptions(source=path, recipients=people, output_dir=tmp / "out", layers=layers,
                                            jobs=jobs, title=entry["name"]))
    except LeakmarkError as exc:
        return DocRun(entry, [], time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc.message}")
    seconds = time.perf_counter() - t0
    original: PdfFacts = read_facts(path)
    outcomes = [CopyOutcome.of(compare(original, Path(c.path)), reported_modes(result, entry["pages"]))
                for c in result.copies]
    return DocRun(entry, outcomes, seconds)


# -- reporting ----------------------------------------------------------------------------------------------

def _has(facts: PdfFacts, aspect: str) -> bool:
    """Whether the document has any of the structure an aspect checks (else a pass means nothing was kept)."""
    pages = facts.pages
    return {"xmp": bool(facts.xmp), "outline": bool(facts.outline), "page_labels": any(p.label for p in pages),
            "links": any(p.links for p in pages), "annotations": any(p.annotations for p in pages),
            "form_fields": bool(facts.widgets or facts.fields)}.get(aspect, True)


def cell(run: DocRun, aspect: str) -> str:
    if run.error:
        return "–"
    if not all(c.ok(aspect) for c in run.copies):
        return "✗"
    return "✓" if any(aspect in c.present for c in run.copies) else "·"


def mode_summary(run: DocRun) -> str:
    if run.error:
        return "–"
    modes = [c.reported for c in run.copies]
    if not modes or any(m is None for m in modes):
        return "unknown"
    counts = Counter(m for copy in modes if copy for m, _ in copy)
    reasons = Counter(r for copy in modes if copy for m, r in copy if m != "vector" and r)
    text = ", ".join(f"{k} {v // len(modes)}" for k, v in sorted(counts.items()))
    return text + (f" ({'; '.join(r for r, _ in reasons.most_common(2))})" if reasons else "")


def observed_summary(run: DocRun) -> str:
    if not run.copies:
        return "–"
    c = Counter(run.copies[0].observed)
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))


def size_cell(run: DocRun) -> tuple[str, str]:
    if not run.copies:
        return "–", "–"
    worst = max(run.copies, key=lambda c: c.copy_bytes)
    ok = all(c.size_ok for c in run.copies)
    return (f"{worst.original_bytes / 1024:,.0f} → {worst.copy_bytes / 1024:,.0f} KB (×{worst.ratio:.2f})",
            "✓" if ok else "✗")


def report(runs: list[DocRun], args: Any, machine_load: str, carried: int) -> list[str]:
    done = [r for r in runs if not r.error]
    lines = [f"# Fidelity of issued copies: {args.name}", "",
             f"- corpus: {len(runs)} PDFs, {sum(r.entry['pages'] for r in runs)} pages "
             f"(`python -m benchmarks corpus`, {args.corpus}); {args.copies} copies each, layers "
             f"{','.join(args.layers) if args.layers else 'default'}, jobs {args.jobs}; load at start {machine_load}"
             + (f"; {carried} documents carried from the earlier run in {args.name}.json" if carried else ""),
             "- an aspect passes for a document when every copy keeps it; `·`: passes, but the original has none of "
             "it; `–`: the document could not be issued",
             "- size: largest copy against the original; the target for vector pages is ≤ 1.05 × original + 30 KB",
             "- modes reported: by the issuing run (\"unknown\": the issue API does not report them); observed: "
             "read from the copy (raster = the page became one picture; picture = the original page is one)", "",
             "| document | producer | lang | pages | " + " | ".join(SHORT[a] for a in ASPECTS)
             + " | size | ≤ target | modes reported | observed | issue s |",
             "|---|---|---|---:|" + ":-:|" * len(ASPECTS) + "---|:-:|---|---|---:|"]
    for r in runs:
        size, size_ok = size_cell(r)
        e = r.entry
        lines.append(f"| {e['name']} | {e['producer']} | {e['language']} | {e['pages']} | "
                     + " | ".join(cell(r, a) for a in ASPECTS)
                     + f" | {size} | {size_ok} | {mode_summary(r)} | {observed_summary(r)} | {r.seconds:.1f} |")
    totals = []
    for a in ASPECTS:
        applicable = [c for c in (cell(r, a) for r in done) if c != "·"]
        totals.append(f"{applicable.count('✓')}/{len(applicable)}")
    size_pass = sum(1 for r in done if size_cell(r)[1] == "✓")
    lines.append("| **passed** (of documents that have it) | | | | " + " | ".join(totals)
                 + f" | | {size_pass}/{len(done)} | | | |")
    lines += ["", "## Differences (first copy of each document; at most 2 per aspect)", ""]
    for r in runs:
        if r.error:
            lines.append(f"- **{r.entry['name']}**: not issued: {_md(r.error)}")
            continue
        c = r.copies[0]
        if not c.differences and not c.notes:
            continue
        by = Counter(a for a, _, _ in c.differences)
        lines.append(f"- **{r.entry['name']}**: " + (", ".join(f"{a} {n}" for a, n in by.items()) or "equal"))
        for a in by:
            lines += [f"  - {_md(d)}" for d in c.failed(a)[:2]]
        if c.notes:
            lines.append("  - allowed changes: " + _md("; ".join(c.notes[:3])))
    fallbacks = [(r.entry["name"], p, mode, reason) for r in runs if r.copies and r.copies[0].reported
                 for p, (mode, reason) in enumerate(r.copies[0].reported, start=1) if mode != "vector"]
    if fallbacks:
        lines += ["", "## Pages that fell back to raster, and why", ""]
        lines += [f"- {name} p{p}: {mode}" + (f": {_md(reason)}" if reason else "")
                  for name, p, mode, reason in fallbacks]
    return lines


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


CSV_FIELDS = ["document", "producer", "language", "pages", "copy", "original_bytes", "copy_bytes", "ratio",
              "size_target", "size_ok", "modes_reported", "modes_observed", "issue_seconds",
              *(f"{a}_diffs" for a in ASPECTS), "notes"]


def csv_rows(run: DocRun) -> list[dict]:
    e = run.entry
    head = {"document": e["name"], "producer": e["producer"], "language": e["language"], "pages": e["pages"]}
    if run.error:
        return [{**head, "issue_seconds": round(run.seconds, 2), "notes": run.error}]
    rows = []
    for i, c in enumerate(run.copies):
        rows.append({**head, "copy": i + 1, "original_bytes": c.original_bytes, "copy_bytes": c.copy_bytes,
                     "ratio": round(c.ratio, 4), "size_target": c.size_target, "size_ok": c.size_ok,
                     "modes_reported": "unknown" if c.reported is None else
                     " ".join(f"{m}:{r}" if r else m for m, r in c.reported),
                     "modes_observed": " ".join(c.observed), "issue_seconds": round(run.seconds, 2),
                     "notes": "; ".join(c.notes), **{f"{a}_diffs": len(c.failed(a)) for a in ASPECTS}})
    return rows


def load_runs(path: Path) -> dict[str, DocRun]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        return {}
    return {d["entry"]["name"]: DocRun.from_json(d) for d in data["docs"]}


def save_runs(results: Results, name: str, runs: list[DocRun]) -> None:
    results.write_json(f"{name}.json", {"format": JSON_FORMAT, "docs": [asdict(r) for r in runs]})


def main(argv: list[str] | None = None) -> int:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--corpus", type=Path, default=corpus_mod.DEFAULT_DIR)
    ap.add_argument("--only", default="", help="comma-separated corpus names")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--layers", default="", help="comma-separated layers (default: the issue default)")
    ap.add_argument("--jobs", type=int, default=1, help="issue worker processes (default 1: the machine is shared)")
    ap.add_argument("--name", default="fidelity", help="results file stem (fidelity-raster-baseline for the baseline)")
    ap.add_argument("--add", action="store_true",
                    help="keep the documents of the earlier run in NAME.json that this run does not measure (an "
                         "interrupted run, or one document re-measured)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    args.layers = tuple(filter(None, args.layers.split(","))) or None
    stamp = Stamp.take(NAME, argv)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    wanted = set(filter(None, args.only.split(",")))
    # only what is measured (and what it is made from: a Ghostscript rewrite or a scan of another file)
    needed = wanted | {r.source for r in corpus_mod.RECIPES if r.name in wanted}
    corpus_mod.build(args.corpus, only=needed or None)
    files = corpus_mod.corpus_files(args.corpus)
    earlier = load_runs(args.results / f"{args.name}.json") if args.add else {}
    results = Results(args.results, stamp, "fidelity", derived_from=[f"{args.name}.json"] if earlier else [])
    fresh: dict[str, DocRun] = {}

    def in_order() -> list[DocRun]:
        runs = []
        for entry, _ in files:
            run = fresh.get(entry["name"]) or earlier.get(entry["name"])
            if run is not None and run.entry.get("sha256") == entry["sha256"]:
                runs.append(run)
        return runs

    for entry, path in files:
        if (wanted and entry["name"] not in wanted) or (args.add and not wanted and entry["name"] in earlier
                                                         and earlier[entry["name"]].entry["sha256"] == entry["sha256"]):
            continue
        with tempfile.TemporaryDirectory(prefix="leakmark-fidelity-") as tmp:
            run = run_one(entry, path, args.copies, args.layers, args.jobs, Path(tmp))
        fresh[entry["name"]] = run
        save_runs(results, args.name, in_order())  # after every document: an interrupted run keeps them (--add)
        failed = [SHORT[a] for a in ASPECTS if run.copies and not all(c.ok(a) for c in run.copies)]
        log(f"{entry['name']}: {run.error or ('equal' if not failed else 'differs in ' + ', '.join(failed))} "
            f"({run.seconds:.1f} s)")
    runs = in_order()
    carried = sum(1 for r in runs if r.entry["name"] not in fresh)
    csv = results.csv(f"{args.name}.csv", CSV_FIELDS)
    for run in runs:
        for row in csv_rows(run):
            csv.add(row)
    lines = report(runs, args, load, carried)
    print("\n".join(lines))
    log(f"wrote {results.write_markdown(f'{args.name}.md', lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
