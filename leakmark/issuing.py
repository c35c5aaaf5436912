"""`issue`: register a document and make its marked copies in a run that survives interruption.

1. check the input, the output names and the copy numbers (nothing written yet);
2. render each page once for the whole run into the run's page cache; for a new document also find
   the units and archive the original and its page data in the vault (content-addressed, idempotent);
3. one ledger transaction: the document (if new), the run and all its copies as `reserved`;
4. batches of copies, in copy order: workers mark every page of the batch (they get page images,
   units and per-copy seeds, never the key); the parent writes the files (temp + rename, or appends
   to the merged file and syncs it); one ledger transaction records the batch as `issued`;
5. the merged file is finished and renamed, the run is closed, the page cache removed.
If the process dies anywhere, the ledger says which copies are issued, and `issue --resume` makes the
rest with the same numbers and the same marks (a mark depends only on key, document, copy and page).
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import json
import logging
import math
import re
import secrets
import shutil
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from leakmark import __version__, pdf, pdfstream, vault
from leakmark._io import temp_path_for
from leakmark._parallel import Executor, make_executor
from leakmark._progress import NullProgress, Progress
from leakmark.errors import BadRequestError, LeakmarkError, OutputError, RunInterruptedError, WorkspaceLockedError
from leakmark.fingerprint import Fingerprint
from leakmark.ledger import Copy, Document, Ledger, Planned, Run, format_copy_no, now_iso
from leakmark.pdfstream import PageImage, StreamingPdf
from leakmark.recipients import Recipient
from leakmark.watermark import blind, filemark, shift, tone
from leakmark.watermark.codes import page_seed
from leakmark.watermark.pipeline import (
    MarkJob,
    MarkResult,
    PrepJob,
    PrepResult,
    layer_files,
    mark_copies,
    prepare_page,
)
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)
LAYERS = ("shift", "tone", "blind", "file")  # page layers first; `file` only where there is a per-copy file
# `blind` is opt-in: on the benchmark pages it adds no identification to tone and shift (README,
# benchmarks/results/lowtext-blind.md); it is for offices that want a lossless digital leak readable
# elsewhere. `tone` goes by default only on the pages it helps (tone.PICTURE_SHARE).
DEFAULT_OFF = ("blind",)
EXECUTORS = ("local", "dask")
BATCH_BYTES = 192 * 2**20  # encoded images held per batch; two batches are in flight at most
MAX_BATCH = 64


@dataclass(frozen=True)
class RunSettings:
    """How the copies of a run are made and where they go; what `--resume` needs besides the ledger."""

    jobs: int = 0  # 0: all cores
    executor: str = "local"  # local | dask
    scheduler: str | None = None  # Dask scheduler address (tcp://host:8786)
    password: str | None = None
    batch: int = 0  # copies per batch; 0: from the page size (bounded memory)

    def validate(self) -> None:
        if self.executor not in EXECUTORS:
            raise BadRequestError(f"unknown executor {self.executor!r} (use one of: {', '.join(EXECUTORS)})")
        if self.executor == "dask" and not self.scheduler:
            raise BadRequestError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        if self.batch < 0 or self.jobs < 0:
            raise BadRequestError("--jobs and --batch must not be negative")


@dataclass(frozen=True)
class IssueOptions:
    source: Path
    recipients: tuple[Recipient, ...]
    output_dir: Path = Path(".")
    title: str | None = None
    level: str = ""
    period: str = ""
    dpi: int | None = None  # None: the document's registered dpi, else the workspace default
    delta: int = 1
    jobs: int = 0  # 0: all cores
    password: str | None = None
    issued_by: str = ""
    merge: Path | None = None  # one print-ready PDF with every copy in copy order, instead of one file each
    separator: bool = False  # a page before each copy in the merged file: 份号, recipient, unit
    executor: str = "local"
    scheduler: str | None = None
    batch: int = 0
    layers: tuple[str, ...] | None = None  # None: every layer that applies

    @property
    def chosen_layers(self) -> tuple[str, ...]:
        if self.layers is not None:
            return tuple(x for x in LAYERS if x in self.layers)
        return tuple(x for x in LAYERS if x not in DEFAULT_OFF and not (x == "file" and self.merge is not None))

    def validate(self) -> None:
        if self.layers is not None:
            unknown = [x for x in self.layers if x not in LAYERS]
            if unknown:
                raise BadRequestError(f"layer {', '.join(unknown)} is not available in this version (available: "
                                      f"{', '.join(LAYERS)})")
            if "shift" not in self.layers:
                raise BadRequestError("the shift layer cannot be left out: it is the mark that survives print, "
                                      "scan and photo")
            if "tone" in self.layers and "blind" in self.layers:
                raise BadRequestError("the tone and blind layers cannot be combined on one page in this version "
                                      "(each would overwrite the other's pixels): choose one; tone survives "
                                      "everything blind does on the benchmark pages (docs/layers.md)")
            if "file" in self.layers and self.merge is not None:
                raise BadRequestError("the file layer marks per-copy PDF files; a merged print file (--merge) "
                                      "has none: leave `file` out of --layers")
        if not self.recipients:
            raise BadRequestError("no recipients: give -r 'NAME/UNIT' (repeatable) or --recipients FILE.csv")
        if self.dpi is not None and not 72 <= self.dpi <= 1200:
            raise BadRequestError(f"--dpi {self.dpi} is outside 72..1200")
        if not 1 <= self.delta <= 4:
            raise BadRequestError(f"delta {self.delta} px is outside 1..4")
        if self.separator and self.merge is None:
            raise BadRequestError("--separator needs --merge FILE.pdf (separator pages go into the merged file)")
        self.settings.validate()

    @property
    def settings(self) -> RunSettings:
        return RunSettings(jobs=self.jobs, executor=self.executor, scheduler=self.scheduler,
                           password=self.password, batch=self.batch)


@dataclass
class IssuedCopy:
    copy_no: str
    recipient: str
    unit: str
    path: Path | str


@dataclass
class IssueResult:
    document: Document
    run: str
    copies: list[IssuedCopy]
    stats: dict = field(default_factory=dict)
    merged: Path | None = None

    def to_json(self) -> dict:
        d = self.document
        return {"document": {"id": d.id, "title": d.title, "sha256": d.sha256, "pages": d.pages},
                "run": self.run, "merged": str(self.merged) if self.merged else None,
                "copies": [{"copy_no": c.copy_no, "recipient": c.recipient, "unit": c.unit, "path": str(c.path)}
                           for c in self.copies],
                "summary": {k: v for k, v in self.stats.items() if k != "units"}}


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def safe_name(text: str, limit: int = 90) -> str:
    """A file-name-safe form of a name: CJK and letters kept, separators replaced, at most `limit` UTF-8
    bytes (file systems count bytes, and a CJK character takes three)."""
    s = _UNSAFE.sub("_", text).strip(" ._")
    s = re.sub(r"\s+", "_", s)
    while len(s.encode("utf-8")) > limit:
        s = s[:-1]
    return s or "recipient"


def document_id(sha256: str) -> str:
    return "D" + sha256[:10]


def copy_file_name(stem: str, copy_no: int, recipient: str) -> str:
    return f"{safe_name(stem)}-{format_copy_no(copy_no)}-{safe_name(recipient)}.pdf"


# -- entry points ------------------------------------------------------------------------------------
def issue(workspace: Workspace, options: IssueOptions, progress: Progress | None = None) -> IssueResult:
    """Start a run and carry it out. On failure the run stays open in the ledger for `resume`."""
    options.validate()
    progress = progress or NullProgress()
    t0 = time.monotonic()
    info = pdf.inspect(options.source, options.password)
    out_dir = Path(options.output_dir).resolve()
    merge = Path(options.merge).resolve() if options.merge else None
    _make_folder(merge.parent if merge else out_dir)
    key = workspace.key()
    with Ledger(workspace) as ledger:
        _sweep_page_caches(workspace, ledger)
        existing = ledger.document_by_sha(info.sha256)
        if existing is not None:
            if options.dpi is not None and options.dpi != existing.dpi:
                raise BadRequestError(
                    f"document {existing.id} was registered at {existing.dpi} dpi; its copies must be made at the "
                    f"same resolution (omit --dpi or pass --dpi {existing.dpi})")
            doc = existing
        else:
            doc = Document(id=document_id(info.sha256), sha256=info.sha256,
                           title=options.title or info.title, level=options.level, period=options.period,
                           pages=info.pages, source_name=info.path.name, kind=info.kind,
                           dpi=options.dpi or int(workspace.config()["dpi"]), created_at=now_iso())
        for r in ledger.runs():
            if r.state == "open" and r.document_id == doc.id:
                log.warning("run %s of this document is unfinished (%d of %d copies issued); finish it with "
                            "`leakmark issue --resume %s` or close it with `--abandon %s`", r.id, r.done, r.copies,
                            r.id, r.id)
        numbers = ledger.plan_numbers(doc.id, [r.copy_no for r in options.recipients])
        clash = _first_existing(out_dir, merge, info.path.stem,
                                [(n, r.name) for n, r in zip(numbers, options.recipients, strict=True)])
        if clash is not None:
            raise OutputError(f"{clash} already exists; choose another output " +
                              ("file with --merge" if merge else "folder with -o"))
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        cache = _page_cache(workspace, run_id)
        with _run_lock(cache, run_id), _executors(options.settings) as (local, marker):
            try:
                prep = _prepare(workspace, doc, info.path, existing is None, cache, options.delta, options.password,
                                local, progress, options.chosen_layers, auto_tone=options.layers is None)
                if existing is None:
                    vault.store_original(workspace, doc.sha256, info.path)
                    for r in prep:
                        vault.store_page(workspace, doc.sha256, r.index, r.original_png or b"", r.units,
                                         Fingerprint(r.fp_points, r.fp_descriptors))
                layers, tone_pages = _layers_for(options, prep)
                run_options = {"source_stem": info.path.stem, "output_dir": str(out_dir),
                               "merge": str(merge) if merge else None, "separator": options.separator,
                               "delta": options.delta, "encrypted": options.password is not None,
                               "layers": list(layers), "tone_pages": tone_pages}
                run = Run(id=run_id, document_id=doc.id, created_at=now_iso(), created_by=options.issued_by or _user(),
                          state="open", options=json.dumps(run_options, ensure_ascii=False, sort_keys=True),
                          copies=len(numbers), done=0, merge_bytes=0)
                planned = [Planned(r.name, r.unit, r.note, r.copy_no) for r in options.recipients]
                reserved = ledger.start_run(doc, existing is None, run, planned,
                                            _copy_settings(layers, options.delta, doc.dpi, tone_pages),
                                            __version__)
                if [c.copy_no for c in reserved] != numbers:  # a concurrent run took ours a moment ago
                    clash = _first_existing(out_dir, merge, info.path.stem,
                                            [(c.copy_no, c.recipient) for c in reserved])
                    if clash is not None:
                        ledger.end_run(run.id, "abandoned", f"{clash} already existed")
                        raise OutputError(f"{clash} already exists; choose another output folder with -o (run "
                                          f"{run.id} was closed and its copy numbers recorded as void)")
            except BaseException:
                shutil.rmtree(cache, ignore_errors=True)
                raise
            return _carry_out(workspace, ledger, key, doc, run, prep, options.settings, marker, progress, t0)


def resume(workspace: Workspace, run_ref: str, settings: RunSettings | None = None,
           progress: Progress | None = None) -> IssueResult:
    """Finish an interrupted run (`last`: the most recent open one) with its own numbers and marks."""
    settings = settings or RunSettings()
    settings.validate()
    progress = progress or NullProgress()
    t0 = time.monotonic()
    key = workspace.key()
    with Ledger(workspace) as ledger:
        run = ledger.run(run_ref)
        if run.state != "open":
            raise BadRequestError(f"run {run.id} is {run.state}; there is nothing to resume")
        doc = ledger.document(run.document_id)
        opts = run.options_dict
        if opts.get("encrypted") and settings.password is None:
            raise BadRequestError(f"the document of run {run.id} is password-protected: pass --password")
        source = next(workspace.doc_dir(doc.sha256).glob("original.*"), None)
        if source is None:
            raise BadRequestError(f"the vault has no original of document {doc.id}; restore the workspace")
        cache = _page_cache(workspace, run.id)
        with _run_lock(cache, run.id), _executors(settings) as (local, marker):
            prep = _prepare(workspace, doc, source, False, cache, int(opts["delta"]),
                            settings.password, local, progress, opts.get("layers", ["shift"]),
                            tone_pages=opts.get("tone_pages"))
            return _carry_out(workspace, ledger, key, doc, run, prep, settings, marker, progress, t0)


def abandon(workspace: Workspace, run_ref: str, note: str = "") -> Run:
    """Close an unfinished run for good: copies not yet issued become `void`, the unfinished merged
    file and the page cache are removed. Copies already issued stay issued."""
    with Ledger(workspace) as ledger:
        run = ledger.run(run_ref)
        if run.state != "open":
            raise BadRequestError(f"run {run.id} is already {run.state}")
        run = ledger.end_run(run.id, "abandoned", note)
    merge = run.options_dict.get("merge")
    if merge:
        pdfstream.discard(Path(merge))
    shutil.rmtree(_page_cache(workspace, run.id), ignore_errors=True)
    return run


def _layers_for(options: IssueOptions, prep: list[PrepResult]) -> tuple[tuple[str, ...], list[int] | None]:
    """The run's layers, and the pages (0-based) that carry tone when it goes only where it helps (None:
    every page; the clerk chose the layers)."""
    layers = options.chosen_layers
    if options.layers is not None or tone.LAYER not in layers:
        return layers, None
    pages = [r.index for r in prep if r.stats.get("tone")]  # prepare_page decided, by tone.PICTURE_SHARE
    return (layers if pages else tuple(x for x in layers if x != tone.LAYER)), pages or None


def _page_layers(opts: dict, index: int) -> list[str]:
    layers = opts.get("layers", ["shift"])
    pages = opts.get("tone_pages")
    return [x for x in layers if x != tone.LAYER or pages is None or index in pages]


def _copy_settings(layers: tuple[str, ...], delta: int, dpi: int, tone_pages: list[int] | None = None) -> str:
    """What the ledger keeps with each copy: its layers and their parameters (trace uses exactly these)."""
    recorded: dict[str, Any] = {"layers": list(layers), "shift": {"delta_px": delta}, "dpi": dpi}
    if "tone" in layers:
        recorded["tone"] = {"version": tone.VERSION, "cell_mm": tone.CELL_MM, "alpha": tone.ALPHA}
        if tone_pages is not None:
            recorded["tone"]["pages"] = [p + 1 for p in tone_pages]
    if "blind" in layers:
        recorded["blind"] = {"version": blind.FORMAT_VERSION, "d1": blind.D1, "d2": blind.D2,
                             "password": blind.PASSWORD_IMG, "bits": blind.PAYLOAD_BITS}
    if "file" in layers:
        recorded["file"] = {"token": "hmac-sha256-128/v1", "where": ["trailer-id", "xmp-documentid"]}
    return json.dumps(recorded, sort_keys=True)


def _first_existing(out_dir: Path, merge: Path | None, stem: str, copies: list[tuple[int, str]]) -> Path | None:
    """An output this run would write that already exists (never overwrite someone's file)."""
    if merge is not None:
        return next((p for p in (merge, *pdfstream.part_paths(merge)) if p.exists()), None)
    return next((p for n, name in copies if (p := out_dir / copy_file_name(stem, n, name)).exists()), None)


# -- the run -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _run_lock(cache: Path, run_id: str) -> Iterator[None]:
    """One process at a time carries out a run: a second `--resume` of a running run would write its
    copies twice. An advisory lock on a file in the run's page cache (POSIX; none on Windows)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "a+") as fh:
        try:
            import fcntl
        except ImportError:
            yield
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise WorkspaceLockedError(f"run {run_id} is being carried out by another leakmark process; wait for "
                                       "it to finish (`leakmark log runs` shows its progress)") from None
        yield


@contextlib.contextmanager
def _executors(settings: RunSettings) -> Iterator[tuple[Executor, Executor]]:
    """(local, marker): rendering always runs locally (only the client has the PDF); marking runs on the
    same local pool or on the Dask cluster, which is reached first so that a wrong address costs nothing."""
    marker = make_executor("dask", 0, settings.scheduler) if settings.executor == "dask" else None
    ok, local = False, None
    try:
        local = make_executor("local", settings.jobs, None)
        yield local, marker or local
        ok = True
    finally:
        for e in (local, marker):
            if e is not None:
                e.close(cancel=not ok)


def _carry_out(ws: Workspace, ledger: Ledger, key: bytes, doc: Document, run: Run, prep: list[PrepResult],
               settings: RunSettings, executor: Executor, progress: Progress, t0: float) -> IssueResult:
    opts = run.options_dict
    merge = Path(opts["merge"]) if opts.get("merge") else None
    out_dir = Path(opts["output_dir"])
    pending = [c for c in ledger.run_copies(run.id) if c.status == "reserved"]
    if merge is None:  # what a killed process left of copies the ledger does not have
        _remove_unrecorded(out_dir, opts["source_stem"], pending)
    total_pages = doc.pages + (1 if opts.get("separator") else 0)
    writer: StreamingPdf | None = None
    current: list[Copy] = []  # the batch being written
    progress.start(run.copies, "copies", scale=doc.pages, done=run.done)
    try:
        if merge is not None and (pending or not merge.exists()):
            writer = StreamingPdf(merge, committed=run.merge_bytes)
        text_layer = None if merge else pdf.build_text_layer([(r.width_pt, r.height_pt, r.spans) for r in prep])
        pages = [executor.share(r.index, layer_files(_page_cache(ws, run.id) / _cache_name(r.index),
                                                     _page_layers(opts, r.index))) for r in prep]
        batch = settings.batch or _batch_size(prep, executor.workers)
        batches = [pending[i:i + batch] for i in range(0, len(pending), batch)]
        inflight: deque[tuple[list[Copy], list[Any]]] = deque()
        for b in batches[:2]:
            inflight.append((b, _submit(executor, key, doc, prep, pages, b, opts)))
        queued = 2
        while inflight:
            copies, futures = inflight.popleft()
            current = copies
            results: list[MarkResult] = [f.result() for f in futures]
            if queued < len(batches):
                inflight.append((batches[queued], _submit(executor, key, doc, prep, pages, batches[queued], opts)))
                queued += 1
            images = _by_copy(results, doc.pages, len(copies))
            if writer is not None:
                items = _append_merged(writer, doc, prep, copies, images, bool(opts.get("separator")))
                ledger.mark_issued(run.id, items, merge_bytes=writer.commit())
            else:
                tokens = ([filemark.token(key, doc.id, c.copy_no) for c in copies]
                          if "file" in opts.get("layers", ["shift"]) else [None] * len(copies))
                items = _write_files(out_dir, opts["source_stem"], text_layer or b"", copies, images, tokens)
                ledger.mark_issued(run.id, items)
            progress.advance(len(copies))
        if writer is not None:
            writer.finish(title=f"{doc.title} — run {run.id}", producer=f"leakmark {__version__}")
            writer = None
        ledger.end_run(run.id, "finished")
    except BaseException as exc:
        if merge is None and current:  # a copy file exists only once the ledger says so; resume remakes it
            try:
                issued = {c.copy_no for c in ledger.run_copies(run.id) if c.status == "issued"}
            except Exception:  # the ledger cannot tell: keep the files, a resume overwrites them
                issued = {c.copy_no for c in current}
            _remove_unrecorded(out_dir, opts["source_stem"], [c for c in current if c.copy_no not in issued])
        if writer is not None:
            writer.close()
        err = _stopped(ledger, run.id, exc)
        if err is exc:
            raise
        raise err from exc
    finally:
        progress.finish()
    shutil.rmtree(_page_cache(ws, run.id), ignore_errors=True)
    copies = ledger.run_copies(run.id)
    wall = time.monotonic() - t0
    made = len(pending)
    size = merge.stat().st_size if merge else sum(Path(c.path).stat().st_size for c in copies
                                                   if c.status == "issued" and Path(c.path).exists())
    stats = {"copies": len(copies), "made_now": made, "pages": doc.pages, "page_copies": made * doc.pages,
             "separator_pages": made if opts.get("separator") else 0, "seconds": round(wall, 2),
             "page_copies_per_s": round(made * doc.pages / wall, 2) if wall > 0 else None,
             "output_bytes": size, "executor": settings.executor, "jobs": executor.workers,
             "units": {r.index + 1: r.stats for r in prep}, "pages_per_copy_in_file": total_pages}
    return IssueResult(document=doc, run=run.id, merged=merge, stats=stats,
                       copies=[IssuedCopy(c.label, c.recipient, c.unit, c.path) for c in copies])


def _append_merged(writer: StreamingPdf, doc: Document, prep: list[PrepResult], copies: list[Copy],
                   images: list[list[PageImage]], separator: bool) -> list[tuple[int, str]]:
    """Append a batch to the merged file; returns (copy number, `file#pages=a-b`) for the ledger."""
    items = []
    for c, imgs in zip(copies, images, strict=True):
        if separator:
            w, h = prep[0].width_pt, prep[0].height_pt
            writer.add_page(w, h, pdf.separator_image(doc, c, w, h))
        first = writer.pages + 1
        for r, img in zip(prep, imgs, strict=True):
            writer.add_page(r.width_pt, r.height_pt, img)
        items.append((c.copy_no, f"{writer.final}#pages={first}-{writer.pages}"))
    return items


def _write_files(out_dir: Path, stem: str, text_layer: bytes, copies: list[Copy], images: list[list[PageImage]],
                 tokens: list[bytes | None]) -> list[tuple[int, str]]:
    """One PDF per copy (temp + rename); the caller records them, or removes them on failure."""
    items = []
    for c, imgs, tok in zip(copies, images, tokens, strict=True):
        final = out_dir / copy_file_name(stem, c.copy_no, c.recipient)
        tmp = _temp(final)
        pdf.write_copy(text_layer, [i.data for i in imgs], tmp, tok)
        tmp.replace(final)
        items.append((c.copy_no, str(final)))
    return items


def _remove_unrecorded(out_dir: Path, stem: str, copies: list[Copy]) -> None:
    """Remove the files (finished or temp) of copies the ledger does not record as issued."""
    for c in copies:
        final = out_dir / copy_file_name(stem, c.copy_no, c.recipient)
        final.unlink(missing_ok=True)
        for t in out_dir.glob(f".{glob.escape(final.name)}.*.tmp"):
            t.unlink(missing_ok=True)


def _submit(executor: Executor, key: bytes, doc: Document, prep: list[PrepResult], pages: list[Any],
            copies: list[Copy], opts: dict) -> list[Any]:
    """One job per page and slice of the batch: enough jobs to keep every worker busy."""
    slices = max(1, math.ceil(2 * executor.workers / len(prep)))
    step = math.ceil(len(copies) / slices)
    futures = []
    for r, page in zip(prep, pages, strict=True):
        for s in range(0, len(copies), step):
            part = copies[s:s + step]
            seeds = [page_seed(key, doc.id, c.copy_no, shift.LAYER, r.index) for c in part]
            layers = _page_layers(opts, r.index)
            tone_seeds = ([page_seed(key, doc.id, c.copy_no, tone.LAYER, r.index) for c in part]
                          if tone.LAYER in layers else None)
            blind_bits = ([np.packbits(blind.payload_bits(key, doc.id, c.copy_no)).tobytes() for c in part]
                          if blind.LAYER in layers else None)
            local = isinstance(page[0], str)  # file names here; arrays already on the Dask workers
            job = MarkJob(index=r.index, units=r.units, delta=int(opts["delta"]), seeds=seeds,
                          page_files=page if local else None, tone_seeds=tone_seeds, blind_bits=blind_bits,
                          dpi=doc.dpi)
            futures.append(executor.submit(mark_copies, job, None if local else page))
    return futures


def _by_copy(results: list[MarkResult], pages: int, n: int) -> list[list[PageImage]]:
    """Results come per page and slice, in submission order: regroup them as pages of each copy."""
    per_page: list[list[PageImage]] = [[] for _ in range(pages)]
    for r in results:
        per_page[r.index].extend(r.images)
    return [[per_page[p][i] for p in range(pages)] for i in range(n)]


def _batch_size(prep: list[PrepResult], workers: int) -> int:
    """Copies per batch so that a batch's encoded pages stay near BATCH_BYTES (JPEG q92 ≈ 0.1 byte/pixel)."""
    per_copy = sum(math.prod(r.shape) for r in prep) * 0.1
    return max(1, min(MAX_BATCH, int(BATCH_BYTES // max(per_copy, 1))))


def _prepare(ws: Workspace, doc: Document, source: Path, new: bool, cache: Path, delta: int,
             password: str | None, executor: Executor, progress: Progress,
             layers: list[str] | tuple[str, ...], *, auto_tone: bool = False,
             tone_pages: list[int] | None = None) -> list[PrepResult]:
    """Render every page once for the run (locally, also with Dask: only the client has the PDF), with the
    tone planes where tone goes: decided per page (`auto_tone`), or the run's recorded pages (a resume)."""
    cache.mkdir(parents=True, exist_ok=True)

    def tone_mode(i: int) -> str:
        if tone.LAYER not in layers:
            return "off"
        if auto_tone:
            return "auto"
        return "on" if tone_pages is None or i in tone_pages else "off"

    jobs = [PrepJob(source=source, kind=doc.kind, index=i, dpi=doc.dpi, delta=delta, password=password,
                    cache=cache / _cache_name(i), known_units=None if new else vault.load_units_json(ws, doc.sha256, i),
                    want_vault=new, tone=tone_mode(i), blind=blind.LAYER in layers) for i in range(doc.pages)]
    progress.start(doc.pages, "pages rendered")
    try:
        futures = [executor.submit(prepare_page, j) for j in jobs]
        results = []
        for f in futures:
            results.append(f.result())
            progress.advance(1)
    finally:
        progress.finish()
    return results


def _stopped(ledger: Ledger, run_id: str, exc: BaseException) -> BaseException:
    """The error to report when a run stops: what was done, and how to finish it."""
    try:
        run = ledger.run(run_id)
        where = f"run {run_id} stopped with {run.done} of {run.copies} copies issued"
    except Exception:  # the ledger itself failed: say nothing we cannot check
        where = f"run {run_id} stopped"
    hint = (f"{where}; the others are reserved. Finish it with `leakmark issue --resume {run_id}`, "
            f"or close it with `leakmark issue --abandon {run_id}`")
    if isinstance(exc, KeyboardInterrupt):
        return RunInterruptedError(f"interrupted: {hint}")
    if isinstance(exc, LeakmarkError):
        return type(exc)(f"{exc.message}. {hint}")
    if isinstance(exc, OSError):
        return OutputError(f"{exc.strerror or exc}. {hint}")
    return exc


def _temp(final: Path) -> Path:
    try:
        return temp_path_for(final)
    except OSError as exc:
        raise OutputError(f"cannot create a file in {final.parent}: {exc.strerror}") from exc


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder}: {exc.strerror}") from exc


def _page_cache(ws: Workspace, run_id: str) -> Path:
    return ws.home / "runs" / run_id


def _cache_name(index: int) -> str:
    return f"page-{index + 1:03d}.npy"


def _sweep_page_caches(ws: Workspace, ledger: Ledger) -> None:
    """Remove page caches of runs that are closed or were never recorded (a crash before step 3)."""
    folder = ws.home / "runs"
    if not folder.is_dir():
        return
    open_runs = {r.id for r in ledger.runs() if r.state == "open"}
    for d in folder.iterdir():
        if d.is_dir() and d.name not in open_runs and time.time() - d.stat().st_mtime > 3600:
            shutil.rmtree(d, ignore_errors=True)  # an hour's grace: another run may be starting right now


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "unknown"
