"""`issue`: register a document and make its marked copies in a run that survives interruption.

1. check the input, the output names and the copy numbers (nothing written yet);
2. render each page once for the whole run into the run's page cache (`cache`); for a new document also
   find the units and archive the original and its page data in the vault (content-addressed, idempotent);
3. one register transaction: the document (if new), the run and all its copies as `reserved`;
4. batches of copies, in copy order: workers mark every page of the batch (`worker`: they get page images,
   units and per-copy material, never the key); the output sink writes them (`sinks`: per-copy files, or
   the merged print file); one register transaction records the batch as `issued`;
5. the merged file is finished, the run is closed, the page cache removed.
If the process dies anywhere, the register says which copies are issued, and `issue --resume` makes the
rest with the same numbers and the same marks (a mark depends only on key, document, copy and page).
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leakmark import __version__, layers, vault
from leakmark import index as page_index
from leakmark._parallel import Executor, make_executor
from leakmark._progress import NullProgress, Progress
from leakmark.errors import BadRequestError, LeakmarkError, OutputError, RunInterruptedError
from leakmark.fingerprint import Fingerprint
from leakmark.issuing import cache
from leakmark.issuing.naming import document_id, first_existing
from leakmark.issuing.options import IssueOptions, RunRecord, RunSettings
from leakmark.issuing.sinks import CopyFiles, MergedFile, OutputSink, PdfCopyFiles
from leakmark.issuing.worker import (
    MarkJob,
    MarkResult,
    PrepJob,
    PrepResult,
    ToneMode,
    layer_files,
    mark_copies,
    prepare_page,
)
from leakmark.layers import CopySettings, LayerName, blind, tone
from leakmark.layers import file as filemark
from leakmark.layers.settings import ShiftSettings
from leakmark.ledger import Copy, Document, Ledger, Planned, Run, format_copy_no, now_iso
from leakmark.pdf import copy as pdf_copy
from leakmark.pdf import shared as pdf_shared
from leakmark.pdf import stamp as pdf_stamp
from leakmark.pdf import stream as pdf_stream
from leakmark.pdf.image import PageOutput
from leakmark.pdf.read import check_pages, inspect
from leakmark.recipients import Recipient
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)
BATCH_BYTES = 192 * 2**20  # encoded images held per batch; two batches are in flight at most
MAX_BATCH = 64


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


# -- entry points ------------------------------------------------------------------------------------
def issue(workspace: Workspace, options: IssueOptions, progress: Progress | None = None) -> IssueResult:
    """Start a run and carry it out. On failure the run stays open in the register for `resume`."""
    options.validate()
    progress = progress or NullProgress()
    t0 = time.monotonic()
    info = inspect(options.source, options.password, repair=options.repair)
    out_dir = Path(options.output_dir).resolve()
    merge = Path(options.merge).resolve() if options.merge else None
    _make_folder(merge.parent if merge else out_dir)
    key = workspace.key()
    with Ledger(workspace) as ledger:
        ledger.check(for_write=True)  # exit 7 for a register that fails verification: nothing is reserved or made
        cache.sweep(workspace)  # page caches a killed process left behind
        existing = ledger.document_by_sha(info.sha256)
        if existing is not None:
            if options.dpi is not None and options.dpi != existing.dpi:
                raise BadRequestError(
                    f"document {existing.id} was registered at {existing.dpi} dpi; its copies must be made at the "
                    f"same resolution (omit --dpi or pass --dpi {existing.dpi})")
            doc = existing
            reclassify = bool(options.level) and options.level != existing.level
            if reclassify:
                if options.reclassify is None:
                    raise BadRequestError(
                        f"document {existing.id} is registered as {existing.level or 'no level'}, not "
                        f"{options.level}: omit --level, or change its classification with --reclassify --reason "
                        "TEXT (recorded in the register)")
            elif options.reclassify is not None:
                raise BadRequestError(f"document {existing.id} is already registered as {existing.level}; "
                                      "--reclassify needs a different --level")
        elif options.reclassify is not None:
            raise BadRequestError("--reclassify changes the level of a registered document; this one is new: "
                                  "omit --reclassify")
        else:
            reclassify = False
            doc = Document(id=document_id(info.sha256), sha256=info.sha256,
                           title=options.title or info.title, level=options.level, period=options.period,
                           pages=info.pages, source_name=info.path.name, kind=info.kind,
                           dpi=options.dpi or int(workspace.config()["dpi"]), created_at=now_iso())
        check_pages(info, doc.dpi)  # neither a speck nor gigapixels, before anything is rendered
        for r in ledger.runs():
            if r.state == "open" and r.document_id == doc.id:
                log.warning("run %s of this document is unfinished (%d of %d copies issued); finish it with "
                            "`leakmark issue --resume %s` or close it with `--abandon %s`", r.id, r.done, r.copies,
                            r.id, r.id)
        numbers = ledger.plan_numbers(doc.id, [r.copy_no for r in options.recipients])
        clash = first_existing(out_dir, merge, info.path.stem,
                               [(n, r.name) for n, r in zip(numbers, options.recipients, strict=True)])
        if clash is not None:
            raise OutputError(f"{clash} already exists; choose another output " +
                              ("file with --merge" if merge else "folder with -o"))
        stamp = None
        if options.stamp is not None:  # as the document is now (a reclassification below changes its level)
            level = options.level if reclassify else doc.level
            stamp = (pdf_stamp.Stamp(options.stamp, level, doc.period) if options.stamp.include_level
                     else pdf_stamp.Stamp(options.stamp))
            if info.kind == "pdf":  # an image's page size in pt is known once it is rendered
                _check_stamp(stamp, options.recipients, numbers, info.page_sizes[0])
        if reclassify and options.reclassify is not None:  # after every check of the inputs and outputs
            doc = ledger.reclassify(doc.id, options.level, options.reclassify, workspace.operator(options.issued_by))
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        with cache.run_lock(workspace, run_id), _executors(options) as (local, marker):
            try:
                # copies are the original PDF file, except of images or of an encrypted PDF (whose copies are made
                # as before: page images over a text layer, not encrypted); a merged print file takes the pages
                # marked in their content (raster ones over their text layer), without annotations (pages that
                # have some stay images)
                pdf_source = doc.kind == "pdf" and options.password is None
                annotated = set(pdf_shared.printable_annotations(info.path)) if (
                    merge is not None and pdf_source and options.vector) else set()
                prep = _prepare(workspace, doc, info.path, existing is None, run_id, options.delta,
                                options.password, local, progress, options.chosen_layers,
                                auto_tone=options.layers is None,
                                vector=lambda i: options.vector and pdf_source and i not in annotated,
                                text_layer=pdf_source and options.text_layer,
                                vector_forms=merge is None)  # a merged file's copies share the forms
                for page in prep:
                    if page.index in annotated:
                        page.mode_reason = ("it has annotations, which a merged print file does not carry (its "
                                            "image shows them)")
                if stamp is not None:
                    _check_stamp(stamp, options.recipients, numbers, (prep[0].width_pt, prep[0].height_pt))
                if existing is None:
                    vault.store_original(workspace, doc.sha256, info.path)
                    fps: list[Fingerprint] = []
                    outlines: list[Fingerprint] = []
                    for page in prep:
                        if page.fp_points is None or page.fp_descriptors is None or page.outline is None:
                            raise RuntimeError(f"page {page.index + 1} was prepared without its fingerprint")
                        fps.append(Fingerprint(page.fp_points, page.fp_descriptors, page.fp_sizes))
                        outlines.append(page.outline)
                        vault.store_page(workspace, doc.sha256, page.index, page.original_png or b"", page.units,
                                         fps[-1])
                    # after the vault (its truth): a crash in between is mended by the next trace, from the vault
                    page_index.add_document(workspace, doc.sha256, fps, outlines)
                chosen, tone_pages = _layers_for(options, prep)
                record = RunRecord(source_stem=info.path.stem, output_dir=str(out_dir),
                                   merge=str(merge) if merge else None, separator=options.separator,
                                   delta=options.delta, encrypted=options.password is not None, layers=chosen,
                                   tone_pages=None if tone_pages is None else tuple(tone_pages),
                                   repaired=info.repaired, text_layer=options.text_layer, stamp=stamp,
                                   **_modes(prep, pdf_source, options.vector, doc.kind, options.password is not None))
                run = Run(id=run_id, document_id=doc.id, created_at=now_iso(),
                          created_by=workspace.operator(options.issued_by),
                          state="open", options=record.to_json(), copies=len(numbers), done=0, merge_bytes=0)
                planned = [Planned(r.name, r.unit, r.note, r.copy_no) for r in options.recipients]
                reserved = ledger.start_run(doc, existing is None, run, planned,
                                            copy_settings(chosen, options.delta, doc.dpi, tone_pages,
                                                          record.page_modes).to_json(),
                                            __version__)
                if [c.copy_no for c in reserved] != numbers:  # a concurrent run took ours a moment ago
                    clash = first_existing(out_dir, merge, info.path.stem,
                                           [(c.copy_no, c.recipient) for c in reserved])
                    if clash is not None:
                        ledger.end_run(run.id, "abandoned", f"{clash} already existed")
                        raise OutputError(f"{clash} already exists; choose another output folder with -o (run "
                                          f"{run.id} was closed and its copy numbers recorded as void)")
            except BaseException:
                cache.remove(workspace, run_id)
                raise
            return _carry_out(workspace, ledger, key, doc, run, prep, options, marker, progress, t0)


def resume(workspace: Workspace, run_ref: str, settings: RunSettings | None = None,
           progress: Progress | None = None) -> IssueResult:
    """Finish an interrupted run (`last`: the most recent open one) with its own numbers and marks."""
    settings = settings or RunSettings()
    settings.validate()
    progress = progress or NullProgress()
    t0 = time.monotonic()
    key = workspace.key()
    with Ledger(workspace) as ledger:
        ledger.check(for_write=True)
        run = ledger.run(run_ref)
        if run.state != "open":
            raise BadRequestError(f"run {run.id} is {run.state}; there is nothing to resume")
        ledger.ensure_reservation(run)  # the process may have stopped before the vault's record was written
        doc = ledger.document(run.document_id)
        record = run.record
        if record.encrypted and settings.password is None:
            raise BadRequestError(f"the document of run {run.id} is password-protected: pass --password")
        source = next(workspace.doc_dir(doc.sha256).glob("original.*"), None)
        if source is None:
            raise BadRequestError(f"the vault has no original of document {doc.id}; restore the workspace")
        with cache.run_lock(workspace, run.id), _executors(settings) as (local, marker):
            run = ledger.run(run.id)  # as it is now that we hold it: another process may have just finished it
            if run.state != "open":
                raise BadRequestError(f"run {run.id} is {run.state}; there is nothing to resume")
            prep = _prepare(workspace, doc, source, False, run.id, record.delta, settings.password, local, progress,
                            record.layers, tone_pages=None if record.tone_pages is None else list(record.tone_pages),
                            vector=record.vector_page,
                            text_layer=record.page_modes is not None and record.text_layer,
                            vector_forms=record.merge is None)
            if any(record.vector_page(r.index) and r.mode != "vector" for r in prep):
                bad = next(r for r in prep if record.vector_page(r.index) and r.mode != "vector")
                raise BadRequestError(f"run {run.id} makes vector copies, but page {bad.index + 1} can no longer be "
                                      f"marked in its content ({bad.mode_reason}); abandon the run with "
                                      f"`leakmark issue --abandon {run.id}` and issue the remaining copies again")
            return _carry_out(workspace, ledger, key, doc, run, prep, settings, marker, progress, t0)


def abandon(workspace: Workspace, run_ref: str, note: str = "", operator: str | None = None) -> Run:
    """Close an unfinished run for good: copies not yet issued become `void`, the unfinished merged
    file and the page cache are removed. Copies already issued stay issued. `operator`: who (default: the
    workspace config's `operator`, else the OS user)."""
    with Ledger(workspace) as ledger:
        ledger.check(for_write=True)
        run = ledger.run(run_ref)
        if run.state != "open":
            raise BadRequestError(f"run {run.id} is already {run.state}")
        run = ledger.end_run(run.id, "abandoned", note, workspace.operator(operator))
    merge = run.record.merge
    if merge:
        pdf_stream.discard(Path(merge))
    cache.remove(workspace, run.id)
    return run


def _layers_for(options: IssueOptions, prep: list[PrepResult]) -> tuple[tuple[LayerName, ...], list[int] | None]:
    """The run's layers, and the pages (0-based) that carry tone when it goes only where it helps (None:
    every page; the clerk chose the layers)."""
    chosen = options.chosen_layers
    if options.layers is not None or LayerName.tone not in chosen:
        return chosen, None
    pages = [r.index for r in prep if r.stats.get("tone")]  # prepare_page decided, by tone.PICTURE_SHARE
    return (chosen if pages else tuple(x for x in chosen if x != LayerName.tone)), pages or None


def _modes(prep: list[PrepResult], pdf_source: bool, vector: bool, kind: str, encrypted: bool) -> dict[str, Any]:
    """How the run's copies are made: each page vector where its content can carry the marks, else raster,
    with the reasons; or (page images, encrypted PDFs) rebuilt from page images."""
    if not pdf_source:
        why = "the source is page images" if kind != "pdf" else "the source PDF is encrypted"
        return {"page_modes": None, "raster_reasons": (why,)}
    if not vector:
        return {"page_modes": tuple("raster" for _ in prep),
                "raster_reasons": ("page images were asked for (--raster)",)}
    return {"page_modes": tuple(r.mode for r in prep),
            "raster_reasons": tuple(f"page {r.index + 1}: {r.mode_reason}" for r in prep if r.mode != "vector")}


def copy_settings(chosen: tuple[LayerName, ...], delta: int, dpi: int,
                  tone_pages: list[int] | None = None, page_modes: tuple[str, ...] | None = None) -> CopySettings:
    """What the register keeps with each copy: its layers and their parameters (trace uses exactly these)."""
    return CopySettings(layers=chosen, shift=ShiftSettings(delta_px=delta), dpi=dpi,
                        tone=tone.settings(tone_pages) if LayerName.tone in chosen else None,
                        blind=blind.SETTINGS if LayerName.blind in chosen else None,
                        file=filemark.SETTINGS if LayerName.file in chosen else None, page_modes=page_modes)


# -- the run -----------------------------------------------------------------------------------------
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


def _check_stamp(stamp: pdf_stamp.Stamp, recipients: tuple[Recipient, ...], numbers: list[int],
                 size: tuple[float, float]) -> None:
    """Refuse, before anything is reserved, a stamp that would not fit on page 1 or has a character its font
    lacks (BadRequestError)."""
    units = sorted({r.unit for r in recipients})
    label = format_copy_no(max(numbers, default=0))
    font = pdf_stamp.font_for("".join("".join(stamp.lines(label, u)) for u in units))
    for u in units:
        pdf_stamp.layout(stamp.lines(label, u), font, stamp.spec, *size)


def _sink(ws: Workspace, key: bytes, doc: Document, run: Run, record: RunRecord, prep: list[PrepResult],
          pending: list[Copy], units: tuple[str, ...]) -> OutputSink:
    token = (lambda n: filemark.token(key, doc.id, n)) if LayerName.file in record.layers else None
    source = next(ws.doc_dir(doc.sha256).glob("original.*"), None)
    if record.pdf_copies:
        if source is None:
            raise BadRequestError(f"the vault has no original of document {doc.id}; restore the workspace")
        vfiles = PdfCopyFiles(Path(record.output_dir), record.source_stem, source, token, record.stamp)
        vfiles.remove_unrecorded(pending)
        return vfiles
    if record.merge is not None:
        merge = Path(record.merge)
        return MergedFile(merge, run.merge_bytes, doc, [(r.width_pt, r.height_pt) for r in prep], record.separator,
                          run.id, write=bool(pending) or not merge.exists(), stamp=record.stamp, units=units,
                          source=source, vector_pages=tuple(r.index for r in prep if record.vector_page(r.index)),
                          text_pages=tuple(r.index for r in prep if r.text_plan is not None
                                           and record.page_modes is not None and not record.vector_page(r.index)))
    files = CopyFiles(Path(record.output_dir), record.source_stem,
                      pdf_copy.build_text_layer([(r.width_pt, r.height_pt, r.spans) for r in prep]),
                      token, record.stamp)
    files.remove_unrecorded(pending)  # what a killed process left of copies the register does not have
    return files


def _carry_out(ws: Workspace, ledger: Ledger, key: bytes, doc: Document, run: Run, prep: list[PrepResult],
               settings: RunSettings, executor: Executor, progress: Progress, t0: float) -> IssueResult:
    record = run.record
    every = ledger.run_copies(run.id)
    pending = [c for c in every if c.status == "reserved"]
    current: list[Copy] = []  # the batch being written
    sink: OutputSink | None = None
    progress.start(run.copies, "copies", scale=doc.pages, done=run.done)
    try:
        sink = _sink(ws, key, doc, run, record, prep, pending, tuple(c.unit for c in every))
        pages = [executor.share(r.index, layer_files(cache.page_file(ws, run.id, r.index),
                                                     record.page_layers(r.index))) for r in prep]
        batch = settings.batch or _batch_size(prep, executor.workers)
        batches = [pending[i:i + batch] for i in range(0, len(pending), batch)]
        inflight: deque[tuple[list[Copy], list[Any]]] = deque()
        for b in batches[:2]:
            inflight.append((b, _submit(executor, key, doc, prep, pages, b, record)))
        queued = 2
        while inflight:
            copies, futures = inflight.popleft()
            current = copies
            results: list[MarkResult] = [f.result() for f in futures]
            if queued < len(batches):
                inflight.append((batches[queued], _submit(executor, key, doc, prep, pages, batches[queued], record)))
                queued += 1
            written = sink.write(copies, _by_copy(results, doc.pages, len(copies)))
            ledger.mark_issued(run.id, written.items, merge_bytes=written.merge_bytes)
            progress.advance(len(copies))
        sink.finish()
        ledger.end_run(run.id, "finished")
    except BaseException as exc:
        if sink is not None:
            if current:  # a copy file exists only once the register says so; resume remakes it
                try:
                    issued = {c.copy_no for c in ledger.run_copies(run.id) if c.status == "issued"}
                except Exception:  # the register cannot tell: keep the files, a resume overwrites them
                    issued = {c.copy_no for c in current}
                sink.discard(current, issued)
            sink.close()
        err = _stopped(ledger, run.id, exc)
        if err is exc:
            raise
        raise err from exc
    finally:
        progress.finish()
    cache.remove(ws, run.id)
    copies = ledger.run_copies(run.id)
    wall = time.monotonic() - t0
    made = len(pending)
    merge = Path(record.merge) if record.merge else None
    stats = {"copies": len(copies), "made_now": made, "pages": doc.pages, "page_copies": made * doc.pages,
             "separator_pages": made if record.separator else 0, "seconds": round(wall, 2),
             "page_copies_per_s": round(made * doc.pages / wall, 2) if wall > 0 else None,
             "output_bytes": sink.output_bytes(copies), "executor": settings.executor, "jobs": executor.workers,
             "units": {r.index + 1: r.stats for r in prep},
             "page_modes": list(record.page_modes) if record.page_modes is not None else None,
             "vector_pages": sum(1 for m in record.page_modes or () if m == "vector"),
             "raster_reasons": list(record.raster_reasons),
             "pages_per_copy_in_file": doc.pages + (1 if record.separator else 0)}
    return IssueResult(document=doc, run=run.id, merged=merge, stats=stats,
                       copies=[IssuedCopy(c.label, c.recipient, c.unit, c.path) for c in copies])


def _submit(executor: Executor, key: bytes, doc: Document, prep: list[PrepResult], pages: list[Any],
            copies: list[Copy], record: RunRecord) -> list[Any]:
    """One job per page and slice of the batch: enough jobs to keep every worker busy."""
    slices = max(1, math.ceil(2 * executor.workers / len(prep)))
    step = math.ceil(len(copies) / slices)
    futures = []
    for r, page in zip(prep, pages, strict=True):
        on_page = [x for x in record.page_layers(r.index) if layers.get(x).on_pages]
        for s in range(0, len(copies), step):
            part = copies[s:s + step]
            material = {x: [layers.get(x).material(key, doc.id, c.copy_no, r.index) for c in part] for x in on_page}
            local = isinstance(page[0], str)  # file names here; arrays already on the Dask workers
            job = MarkJob(index=r.index, units=r.units, delta=record.delta, material=material,
                          page_files=page if local else None, dpi=doc.dpi,
                          vector_plan=r.vector_plan if record.vector_page(r.index) else None,
                          text_plan=r.text_plan if record.page_modes is not None and not record.vector_page(r.index)
                          else None)
            futures.append(executor.submit(mark_copies, job, None if local else page))
    return futures


def _by_copy(results: list[MarkResult], pages: int, n: int) -> list[list[PageOutput]]:
    """Results come per page and slice, in submission order: regroup them as pages of each copy."""
    per_page: list[list[PageOutput]] = [[] for _ in range(pages)]
    for r in results:
        per_page[r.index].extend(r.images)
    return [[per_page[p][i] for p in range(pages)] for i in range(n)]


def _batch_size(prep: list[PrepResult], workers: int) -> int:
    """Copies per batch so that a batch's encoded pages stay near BATCH_BYTES (JPEG q92 ≈ 0.1 byte/pixel)."""
    per_copy = sum(math.prod(r.shape) for r in prep) * 0.1
    return max(1, min(MAX_BATCH, int(BATCH_BYTES // max(per_copy, 1))))


def _prepare(ws: Workspace, doc: Document, source: Path, new: bool, run_id: str, delta: int,
             password: str | None, executor: Executor, progress: Progress,
             chosen: tuple[LayerName, ...], *, auto_tone: bool = False,
             tone_pages: list[int] | None = None, vector: Callable[[int], bool] = lambda i: False,
             text_layer: bool = False, vector_forms: bool = True) -> list[PrepResult]:
    """Render every page once for the run (locally, also with Dask: only the client has the PDF), with the
    tone planes where tone goes: decided per page (`auto_tone`), or the run's recorded pages (a resume)."""

    def tone_mode(i: int) -> ToneMode:
        if LayerName.tone not in chosen:
            return ToneMode.off
        if auto_tone:
            return ToneMode.auto
        return ToneMode.on if tone_pages is None or i in tone_pages else ToneMode.off

    jobs = [PrepJob(source=source, kind=doc.kind, index=i, dpi=doc.dpi, delta=delta, password=password,
                    cache=cache.page_file(ws, run_id, i),
                    known_units=None if new else vault.load_units_json(ws, doc.sha256, i),
                    want_vault=new, tone=tone_mode(i), blind=LayerName.blind in chosen, vector=vector(i),
                    text_layer=text_layer, vector_forms=vector_forms)
            for i in range(doc.pages)]
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


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder}: {exc.strerror}") from exc
