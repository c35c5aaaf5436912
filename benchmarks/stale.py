"""Which results are older than the code they measure.

    python -m benchmarks stale [--results benchmarks/results] [--docs docs] [--strict]

Lists every file in the results folder (recursively) and the generated images in docs/, each with the
commit its stamp records (`*.stamp.json` sidecars, see benchmarks/common.py; `*` = the run's code had
uncommitted changes) and whether the code it measures changed since that commit: leakmark/, the script that
wrote it and the benchmark modules that script uses (`benchmarks.SCRIPTS`), by `git diff --quiet COMMIT --
PATHS` (so uncommitted changes count too). A file rebuilt from others (the stamp's `derived_from`, e.g. the
tables `report` rebuilds from a run's CSVs) is as old as the oldest of them; a file whose parts come from
several runs (throughput.md's sections) as its oldest part.

A file without a stamp is of unknown provenance. The commit that last changed it (not counting commits that
only added a blockquote note at the top) bounds its age from above: when the code changed after that
commit, the file is stale for certain. `--strict` exits 1 when any
file is stale or of unknown provenance.
"""

from __future__ import annotations

import fnmatch
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks import SCRIPTS
from benchmarks.common import (
    CODE_PATHS,
    DOCS,
    RESULTS,
    ROOT,
    STAMP_SUFFIX,
    argument_parser,
    arguments,
    git,
    read_sidecar,
)

# the script that wrote each results file from before stamps (first match wins), for its measured code
LEGACY = (
    ("robustness-recheck/*", "robustness"), ("robustness*", "robustness"), ("null-*", "robustness"),
    ("innocent-*", "robustness"), ("lowtext*", "lowtext"), ("throughput*", "throughput"),
    ("printrun*", "printrun"), ("roundtrip*", "roundtrip"), ("blind-layer*", "blind_layer"),
    ("layer-cost*", "layer_cost"),
)
# generated images in docs/ (the rest of docs/ is written by hand)
DOCS_GENERATED = (("shift-crop-form.png", "layer_crops"), ("shift-crop-*.png", "visual_check"),
                  ("*-crop-*.png", "layer_crops"), ("halftone-600dpi-*.png", "layer_crops"))
ORDER = {"current": 0, "unknown": 1, "stale": 2}


@dataclass(frozen=True)
class Verdict:
    state: str  # current, stale, unknown
    commit: str  # as shown: 7 hex digits (+ `*`: run with uncommitted changes), or "no stamp"
    status: str  # short
    reason: str = ""  # the long story, printed once as a numbered note
    older: bool = False  # unknown provenance, but certainly older than the code


def measured_paths(script: str | None) -> list[str]:
    """leakmark/ and the benchmark modules whose code shapes `script`'s results."""
    if script not in SCRIPTS:
        return ["leakmark", "benchmarks"]  # unknown writer: any benchmark code counts
    return ["leakmark", *(f"benchmarks/{m}.py" for m in (script, *SCRIPTS[script].uses))]


def changes_since(commit: str, paths: list[str]) -> str | None:
    """What of `paths` differs from `commit` now ("" if nothing); None: the commit is not in this repository."""
    if git("cat-file", "-e", f"{commit}^{{commit}}") is None:
        return None
    lib, scripts = "", []
    for path in paths:
        same = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", commit, "--", path],
                              capture_output=True, check=False).returncode == 0
        if same:
            continue
        if path == "leakmark":
            n = int(git("rev-list", "--count", f"{commit}..HEAD", "--", path) or 0)
            lib = f"leakmark/ ({n} commit{'s' if n != 1 else ''})" if n else "leakmark/ (uncommitted changes)"
        else:
            scripts.append(path.removeprefix("benchmarks/").removesuffix(".py"))
    return "; ".join(filter(None, [lib, "benchmarks/ " + ", ".join(scripts) if scripts else ""]))


def judge_run(run: dict) -> Verdict:
    commit = run.get("commit")
    if not commit:
        return Verdict("unknown", "no stamp", "unknown provenance (kept from before stamps)")
    shown = commit[:7] + ("*" if run.get("dirty") else "")
    changed = changes_since(commit, measured_paths(run.get("script")))
    if changed is None:
        return Verdict("unknown", shown, "unknown: its commit is not in this repository")
    if changed:
        return Verdict("stale", shown, "STALE", f"changed since {commit[:7]}: {changed}")
    return Verdict("current", shown, "current" + (" (run with uncommitted changes)" if run.get("dirty") else ""))


def _only_adds_a_note(commit: str, rel: str) -> bool:
    """Did `commit` only add blockquote lines (a hand-written "stale" note) to the file?"""
    diff = git("diff", "--unified=0", f"{commit}^", commit, "--", rel)
    if not diff:
        return False
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return bool(changed) and all(line.startswith("+") and (line[1:].startswith(">") or not line[1:].strip())
                                 for line in changed)  # (a binary file's diff has no lines)


def judge_unstamped(path: Path, script: str | None) -> Verdict:
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    log = (git("log", "--format=%H %cs", "--", rel) or "").splitlines()
    # the commit that last changed the data: commits that only added a note at the top do not count
    last = next((line for line in log if not _only_adds_a_note(line.split()[0], rel)), None)
    if not last:
        return Verdict("unknown", "no stamp", "unknown provenance (never committed)")
    commit, day = last.split()
    changed = changes_since(commit, measured_paths(script))
    if changed:
        return Verdict("unknown", "no stamp", "unknown provenance, older than the code",
                       f"data last changed in {commit[:7]} ({day}); changed since: {changed}", older=True)
    return Verdict("unknown", "no stamp", "unknown provenance",
                   f"data last changed in {commit[:7]} ({day}); the code is unchanged since")


def load_entries(folder: Path) -> dict[Path, dict[str, list[dict]]]:
    """Per sidecar folder: file key (`name` or `name#part`) → the runs recorded for it."""
    entries: dict[Path, dict[str, list[dict]]] = {}
    for sidecar in sorted(folder.rglob(f"*{STAMP_SUFFIX}")):
        data = read_sidecar(sidecar)
        if data is None:
            continue
        keys = entries.setdefault(sidecar.parent, {})
        for run in data.get("runs", []):
            for key in run.get("files", []):
                keys.setdefault(key, []).append(run)
    return entries


def judge_file(path: Path, entries: dict[Path, dict[str, list[dict]]], legacy_script: str | None,
               seen: frozenset[Path] = frozenset()) -> list[tuple[str, Verdict]]:
    """(label, verdict) for the file's own runs, its parts and what it was derived from."""
    keys = entries.get(path.parent, {})
    found = [(k, run) for k, runs in keys.items() if k == path.name or k.startswith(f"{path.name}#")
             for run in runs]
    if not found:
        return [("", judge_unstamped(path, legacy_script))]
    out = []
    for key, run in sorted(found, key=lambda kr: kr[0]):
        label = key[len(path.name):]
        out.append((label, judge_run(run)))
        for src in run.get("derived_from") or []:
            src_path = path.parent / src
            if src_path in seen or src_path == path:
                continue
            for sub_label, v in judge_file(src_path, entries, legacy_script, seen | {path}):
                out.append((f"{label} ← {src}{sub_label}".strip(), v))
    return out


def legacy_script(rel: str, table: tuple[tuple[str, str], ...]) -> str | None:
    return next((script for pattern, script in table if fnmatch.fnmatch(rel, pattern)), None)


def collect(folder: Path, table: tuple[tuple[str, str], ...], only_generated: bool
            ) -> list[tuple[Path, list[tuple[str, Verdict]]]]:
    """Every results file in `folder` (only stamped or known generated files when `only_generated`)."""
    if not folder.is_dir():
        return []
    entries = load_entries(folder)
    stamped = {where / key.split("#")[0] for where, keys in entries.items() for key in keys}
    rows = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.endswith(STAMP_SUFFIX) or path.name.startswith("."):
            continue
        script = legacy_script(path.relative_to(folder).as_posix(), table)
        if only_generated and path not in stamped and script is None:
            continue
        rows.append((path, judge_file(path, entries, script)))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--results", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    ap.add_argument("--docs", type=Path, default=DOCS, help="folder with generated images (default docs/)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if any file is stale or of unknown provenance")
    args = ap.parse_args(argv)
    head = git("rev-parse", "--short", "HEAD")
    if head is None:
        raise SystemExit(f"{ROOT} is not a git checkout: nothing to compare the stamps with")
    rows = collect(args.results.resolve(), LEGACY, False) + collect(args.docs.resolve(), DOCS_GENERATED, True)
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS))
    print(f"Results against the code at {head}{' with uncommitted changes' if dirty else ''} (leakmark/ and the "
          "script that wrote each file; `*` = run with uncommitted changes):\n")
    notes: dict[str, int] = {}

    def note(v: Verdict) -> str:
        return f" [{notes.setdefault(v.reason, len(notes) + 1)}]" if v.reason else ""

    lines: list[tuple[str, str, str]] = []
    counts = dict.fromkeys(ORDER, 0)
    older = 0
    for path, verdicts in rows:
        worst = max((v for _, v in verdicts), key=lambda v: ORDER[v.state])
        counts[worst.state] += 1
        older += worst.older
        rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        if len(verdicts) == 1:
            lines.append((rel, worst.commit, worst.status + note(worst)))
            continue
        lines.append((rel, "", f"{worst.status if worst.state != 'current' else 'current'}: as its oldest part "
                      "or source"))
        lines += [(f"  {label or '(the file)'}", v.commit, v.status + note(v)) for label, v in verdicts]
    width = max((len(a) for a, _, _ in lines), default=0)
    for a, b, c in lines:
        print(f"{a:{width}}  {b:9}  {c}")
    if notes:
        print()
        for reason, n in notes.items():
            print(f"[{n}] {reason}")
    n = len(rows)
    print(f"\n{n} file{'s' if n != 1 else ''}: {counts['current']} current, {counts['stale']} stale, "
          f"{counts['unknown']} of unknown provenance ({older} of them committed before the code they measure "
          "last changed)")
    return 1 if args.strict and (counts["stale"] or counts["unknown"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
