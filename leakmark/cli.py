"""The `leakmark` command: parse, call the API, render, map errors to exit codes. Nothing else."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from leakmark import __version__
from leakmark._progress import NullProgress, TextBar
from leakmark.cli_common import echo, home_option, trust_option, untrusted_warning
from leakmark.cli_common import emit_json as _emit_json
from leakmark.cli_log import log_group
from leakmark.cli_server import serve, user_group
from leakmark.cli_signals import STOP
from leakmark.cli_trace import no_match_line, source_lines, status_text
from leakmark.errors import ExitCode, LeakmarkError, NotRecordedError
from leakmark.ledger import Ledger
from leakmark.recipients import Recipient, parse_option, read_csv
from leakmark.workspace import Workspace

log = logging.getLogger("leakmark")


def _progress(quiet: bool) -> TextBar | NullProgress:
    return TextBar(stop=STOP.check) if not quiet and sys.stderr.isatty() else NullProgress(stop=STOP.check)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakmark")
@click.option("-v", "--verbose", is_flag=True, help="Log details to stderr, and show tracebacks of errors.")
@click.option("--register", "register_url", metavar="postgresql://USER@HOST:PORT/DB", envvar="LEAKMARK_REGISTER",
              help="A register on PostgreSQL shared by several workstations (default: the workspace's config "
              "\"register\", else its own SQLite file). Every workstation needs the workspace's key.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, register_url: str | None) -> None:
    """Mark each issued copy of a document invisibly, keep the register, trace leaks to their copy."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if register_url:  # the workspace reads it from there, and so do the processes this one starts
        os.environ["LEAKMARK_REGISTER"] = register_url
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="leakmark: %(levelname)s: %(message)s")


cli.add_command(log_group)  # `leakmark log ...`: the register's commands (cli_log.py)
cli.add_command(user_group)  # `leakmark user ...`: web accounts (cli_server.py)
cli.add_command(serve)  # `leakmark serve`: the web page


@cli.command()
@home_option
def init(home: Path | None) -> None:
    """Create the workspace (key, ledger, vault). Never overwrites an existing key."""
    ws = Workspace.open(home, create=True)
    with Ledger(ws) as ledger:
        ledger.check()  # records the key's fingerprint in a new register (and checks an existing one)
    echo(f"workspace ready: {ws.home}")
    echo(f"key fingerprint: {ws.key_fingerprint()}  (back up {ws.key_path}: without it nothing traces)")


@cli.command("issue")
@click.argument("document", type=click.Path(path_type=Path), required=False)
@click.option("-r", "--recipient", "recipients", multiple=True, metavar="NAME[/UNIT]", help="A recipient (repeatable).")
@click.option("--recipients", "recipients_file", type=click.Path(path_type=Path),
              help="CSV with a header row: name,unit[,copy_no,note] (UTF-8 or GB18030).")
@click.option("-o", "--output", "output_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the marked copies (one PDF per copy).")
@click.option("--merge", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every copy into this one print-ready PDF, in copy order (no per-copy files).")
@click.option("--separator", is_flag=True, help="With --merge: a page before each copy with 份号, recipient, unit.")
@click.option("--title", help="Title in the register (default: the PDF's title or the file name).")
@click.option("--level", default="", help="Classification 密级, e.g. 机密 (a registered document keeps its own).")
@click.option("--reclassify", is_flag=True, help="Change a registered document's --level (needs --reason).")
@click.option("--reason", help="With --reclassify: why (kept in the register).")
@click.option("--period", default="", help="保密期限, e.g. 1年.")
@click.option("--operator", metavar="NAME", help="Who issues (default: the config's `operator`, else the OS user).")
@click.option("--layers", help="Mark layers, comma-separated, from shift,tone,blind,file (default: shift, tone on "
              "pages that are mostly pictures, file for per-copy files; blind only when asked, never with tone).")
@click.option("--dpi", type=int, help="Rendering resolution (default 300; fixed per document once registered).")
@click.option("--jobs", type=int, default=0, help="Local worker processes (default: all cores).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where pages are marked: local processes, or a Dask cluster (needs --scheduler).")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
@click.option("--batch", type=int, default=0, help="Copies per batch (default: from the page size).")
@click.option("--resume", "resume_run", metavar="RUN|last", help="Finish an interrupted run instead of starting one.")
@click.option("--abandon", "abandon_run", metavar="RUN", help="Close an unfinished run; its unmade copies become void.")
@click.option("--password", help="Password of an encrypted PDF.")
@click.option("--repair", is_flag=True, help="Issue a damaged PDF as MuPDF repairs it (refused otherwise; the run "
              "records it). Check the copies page by page.")
@click.option("--raster", is_flag=True, help="Make every page of the copies a marked image over its marked, "
              "invisible text (default: each page is marked in its own content where it allows it).")
@click.option("--no-text-layer", is_flag=True, help="Image pages of the copies carry no invisible text (not "
              "searchable or copyable).")
@click.option("--stamp", is_flag=True, help="Print the copy number (份号) visibly on page 1, as GB/T 9704 places it "
              "(top-left of the type area); recorded in the register.")
@click.option("--stamp-position", metavar="gbt9704|top-right|X,Y",
              help="With --stamp: where (default gbt9704; X,Y in mm from the page's top-left corner).")
@click.option("--stamp-unit", is_flag=True, help="With --stamp: the recipient's unit after the number.")
@click.option("--stamp-level", is_flag=True, help="With --stamp: the document's 密级★保密期限 on the line below.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@home_option
def issue_cmd(document: Path | None, recipients: tuple[str, ...], recipients_file: Path | None, output_dir: Path,
              merge: Path | None, separator: bool, title: str | None, level: str, reclassify: bool,
              reason: str | None, period: str, operator: str | None, layers: str | None,
              dpi: int | None, jobs: int, executor: str, scheduler: str | None, batch: int, resume_run: str | None,
              abandon_run: str | None, password: str | None, repair: bool, raster: bool, no_text_layer: bool,
              stamp: bool, stamp_position: str | None, stamp_unit: bool, stamp_level: bool, as_json: bool,
              quiet: bool, home: Path | None) -> None:
    """Write one marked copy of DOCUMENT (PDF or page image) per recipient and record them.

    A run reserves its copy numbers in the register first; if it is interrupted (Ctrl-C, a crash, a full
    disk), `leakmark issue --resume last` finishes it with the same numbers and marks.
    """
    from leakmark.issuing import LAYERS, IssueOptions, RunSettings, abandon, issue, resume
    from leakmark.pdf.stamp import GBT9704, StampSpec

    if not stamp and (stamp_position is not None or stamp_unit or stamp_level):
        raise click.UsageError("--stamp-position, --stamp-unit and --stamp-level go with --stamp")

    if abandon_run is not None:
        run = abandon(Workspace.open(home, create=False), abandon_run, operator=operator)
        echo(f"run {run.id} abandoned: {run.done} of {run.copies} copies were issued; the other "
             f"{run.copies - run.done} copy numbers are recorded as void")
        return
    if resume_run is not None:
        if (document is not None or recipients or recipients_file or merge or separator or output_dir != Path(".")
                or stamp):
            raise click.UsageError("--resume takes no document, recipients, outputs or stamp: the run has them")
        result = resume(Workspace.open(home, create=False), resume_run,
                        RunSettings(jobs=jobs, executor=executor, scheduler=scheduler, password=password,
                                    batch=batch), _progress(quiet or as_json))
    else:
        if document is None:
            raise click.UsageError("give the DOCUMENT to issue (or --resume RUN / --abandon RUN)")
        wanted = tuple(x.strip() for x in layers.split(",") if x.strip()) if layers else None
        unknown = [x for x in wanted or () if x not in LAYERS]
        if unknown:
            raise click.BadParameter(f"{', '.join(unknown)} not available in this version (available: "
                                     f"{', '.join(LAYERS)})", param_hint="--layers")
        if reason is not None and not reclassify:
            raise click.UsageError("--reason goes with --reclassify (a change of a registered document's --level)")
        people: list[Recipient] = [parse_option(r) for r in recipients]
        if recipients_file is not None:
            people += read_csv(recipients_file)
        ws = Workspace.open(home, create=True)
        result = issue(ws, IssueOptions(source=document, recipients=tuple(people), output_dir=output_dir,
                                        title=title, level=level, period=period, dpi=dpi, jobs=jobs,
                                        password=password, merge=merge, separator=separator, executor=executor,
                                        scheduler=scheduler, batch=batch, layers=wanted, repair=repair,
                                        issued_by=operator or "", reclassify=(reason or "") if reclassify else None,
                                        vector=not raster, text_layer=not no_text_layer,
                                        stamp=StampSpec(position=stamp_position or GBT9704, include_unit=stamp_unit,
                                                        include_level=stamp_level) if stamp else None),
                       _progress(quiet or as_json))
    if as_json:
        _emit_json(result.to_json())
        return
    d, st = result.document, result.stats
    echo(f"document {d.id}  {d.title}  ({d.pages} pages, {d.dpi} dpi)  run {result.run}")
    for c in result.copies:
        unit = f" / {c.unit}" if c.unit else ""
        echo(f"  {c.copy_no}  {c.recipient}{unit}  ->  {c.path}")
    if result.merged:
        echo(f"merged print file: {result.merged}")
    echo(f"done: {st['copies']} copies x {st['pages']} pages ({st['made_now']} copies made now) in "
         f"{_duration(st['seconds'])}, {st['page_copies_per_s'] or 0:.1f} page-copies/s, "
         f"output {_size(st['output_bytes'])}")
    modes, reasons = st.get("page_modes"), st.get("raster_reasons") or []
    if modes is not None:
        echo(f"copies are the original PDF (text, fonts, links, outline, form fields and metadata kept): "
             f"{st['vector_pages']} of {len(modes)} pages marked in their own content (vector)" +
             ("" if st["vector_pages"] == len(modes) else ", the others marked images over their marked text"))
    if reasons:
        echo("image pages: " + "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else ""))


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


@cli.command("trace")
@click.argument("evidence", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--each", is_flag=True, help="Trace every file as its own leak (a FOLDER: each file in it): one result "
              "per file, then a summary table. Without it, all the files given are one leak.")
@click.option("--recursive", is_flag=True, help="With --each: the files in a folder's subfolders too.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="With --each: also write the summary table to PATH.csv (UTF-8 with BOM, opens in Excel and WPS) "
              "or PATH.json.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), metavar="PATH",
              help="Also write the evidence report: self-contained HTML, or an A4 PDF when PATH ends in .pdf; with "
              "--each PATH is a folder: one HTML report per evidence file, named after it.")
@click.option("--doc", "doc_id", help="Only consider this registered document.")
@click.option("--threshold", type=float, default=1e-6, show_default=True,
              help="False-accusation probability below which a copy is named.")
@click.option("--password", help="Password of an encrypted evidence PDF.")
@click.option("--layers", help="Score only these layers, comma-separated (default: every layer the copies carry).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr (shown only when stderr is a terminal).")
@click.option("--operator", metavar="NAME", help="Who traces, recorded with the trace in the register (default: the "
              "config's `operator`, else the OS user).")
@click.option("--lang", type=click.Choice(["zh", "en"]),
              help="Language of --report (default: Chinese when the document or the register is Chinese).")
@trust_option
@home_option
def trace_cmd(evidence: tuple[Path, ...], each: bool, recursive: bool, summary_path: Path | None,
              report_path: Path | None, doc_id: str | None, threshold: float, password: str | None,
              layers: str | None, as_json: bool, quiet: bool, operator: str | None, lang: str | None,
              trust_register: bool, home: Path | None) -> None:
    """Find which issued copy the EVIDENCE (photos, scans, screenshots, PDFs of one leak) came from.

    With --each, every file (every file of a FOLDER) is traced as a separate leak. Every trace is recorded in
    the register (`leakmark log traces`). If the register cannot record it, the result is still shown and the
    command exits with the register's error code (6, 7 or 9). --report also writes the evidence report.
    """
    from leakmark import report
    from leakmark.cli_each import check_summary_path, run_each
    from leakmark.trace.tracer import SCORED_LAYERS, TraceOptions, trace

    only = tuple(x.strip() for x in layers.split(",") if x.strip()) if layers else None
    if only is not None and set(only) - set(SCORED_LAYERS):
        raise click.BadParameter(f"unknown layer(s) {', '.join(sorted(set(only) - set(SCORED_LAYERS)))} "
                                 f"(choose from {', '.join(SCORED_LAYERS)})", param_hint="--layers")
    if not each and (recursive or summary_path is not None):
        raise click.UsageError(f"{'--recursive' if recursive else '--summary'} goes with --each (each file traced "
                               "as its own leak)")
    check_summary_path(summary_path)
    if report_path is not None and not each:
        report.check_target(report_path, evidence)  # before the trace: it can take minutes
    options = TraceOptions(evidence=evidence, doc_id=doc_id, threshold=threshold, password=password, layers=only,
                           trust_register=trust_register, keep_artifacts=report_path is not None)
    ws = Workspace.open(home, create=False)
    if each:
        run_each(ws, evidence, options, recursive=recursive, as_json=as_json, summary_path=summary_path,
                 report_dir=report_path, bar=_progress(quiet), operator=operator, lang=lang)
        return
    result = trace(ws, options, progress=_progress(quiet))
    not_recorded = _record(ws, result, operator)
    if report_path is not None:
        report.write_report(ws, result, options, report_path, lang=lang, operator=operator,
                            recorded_event=result.recorded.to_json() if result.recorded is not None else None)
    if as_json:
        out = result.to_json()
        if result.register is not None:
            out["register"] = result.register.to_json()
        _emit_json(out)
        if result.register is not None and not result.register.verified:
            echo(untrusted_warning(result.register), err=True)
    else:
        render_trace(result)
    if report_path is not None:
        echo(f"report written: {report_path}", err=as_json)
    if not_recorded is not None:
        raise not_recorded


def _record(ws: Workspace, result: Any, operator: str | None) -> NotRecordedError | None:
    """Record the trace in the register; the error when it cannot be (raised after the result is shown)."""
    from leakmark import register

    try:
        register.record_trace(ws, result, operator=operator)
    except NotRecordedError as exc:
        return exc
    return None


def render_trace(result: Any) -> None:
    state = getattr(result, "register", None)
    if state is not None and not state.verified:
        echo(untrusted_warning(state))
    echo(f"verdict: {result.verdict}")
    if result.document is not None:
        d = result.document
        echo(f"document: {d.id}  {d.title}  page(s) {', '.join(map(str, result.pages))}  "
             f"({result.candidates} issued copies scored)")
    for e in result.evidence:
        echo(f"evidence: {e.path} page {e.page}: {'aligned' if e.aligned else 'not aligned'}"
             f"{' — ' + e.detail if e.detail else ''}")
    if result.suspects:
        echo(f"{'':2}{'copy':>6}  {'recipient':<16} {'unit':<14} {'score':>7}  {'false-accusation prob.':<22}  status")
        for i, s in enumerate(result.suspects):
            mark = "*" if i < result.named else " "
            c = s.copy
            echo(f"{mark} {c.label:>6}  {c.recipient:<16} {c.unit:<14} {s.score:7.2f}  {s.fap:<22.2g}  "
                 f"{status_text(c.status, s.status_date)}")
    for line in source_lines(result):
        echo(line)
    if result.verdict == "no-match":
        echo(no_match_line(result))
    if state is not None:
        echo(state.summary())
    recorded = getattr(result, "recorded", None)
    if recorded is not None:
        echo(f"trace recorded: register event {recorded.seq}, head {recorded.head}")


@cli.group("index")
def index_group() -> None:
    """The page index that finds the registered page an evidence image shows."""


@index_group.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@home_option
def index_rebuild(as_json: bool, quiet: bool, home: Path | None) -> None:
    """Make the page index again from the vault (after restoring a workspace, or when it is damaged)."""
    from leakmark import index as page_index

    r = page_index.rebuild(Workspace.open(home, create=False), progress=_progress(quiet))
    if as_json:
        _emit_json(r.to_json())
        return
    if r.replaced:
        echo(f"replaced: {r.replaced}")
    echo(f"page index rebuilt: {r.pages} pages of {r.documents} documents, {_size(r.size)} ({r.path})")


@cli.command()
@click.option("-o", "--output", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's files (default: a new temporary folder).")
@click.option("--jobs", type=int, default=0, help="Pages processed in parallel (default: all cores).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def demo(output_dir: Path | None, jobs: int, quiet: bool) -> None:
    """Sample document → 5 marked copies → simulated phone photo of one → trace → verdict."""
    from leakmark.demo import run_demo

    echo("leakmark demo: issuing a 3-page 公文 sample to 5 recipients, photographing copy "
         "page 1 with a simulated phone, tracing the photo...", err=True)
    r = run_demo(output_dir, jobs=jobs, progress=_progress(quiet))
    t = r.traced
    echo(f"issued {len(r.issued.copies)} copies of {r.issued.document.title} ({r.issued.document.id})")
    echo(f"leaked: copy {r.leaked_copy} (simulated phone photo: {r.photo})")
    render_trace(t)
    echo("files:")
    echo(f"  workspace: {r.workspace}")
    for c in r.issued.copies:
        echo(f"  copy {c.copy_no}: {c.path}")
    echo(f"  photo: {r.photo}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group, map LeakmarkError to its exit code without a traceback."""
    args = argv if argv is not None else sys.argv[1:]
    verbose = "-v" in args or "--verbose" in args
    STOP.install()  # a print room stopping a job with `kill` gets the same clean stop as Ctrl-C
    try:
        rv = cli.main(args=argv, prog_name="leakmark", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        echo("leakmark: interrupted", err=True)
        sys.exit(ExitCode.interrupted)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LeakmarkError as exc:
        if verbose:
            log.exception("error")
        echo(f"leakmark: error: {exc.message}", err=True)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        echo("leakmark: interrupted; nothing half-written was kept", err=True)
        sys.exit(ExitCode.interrupted)
    sys.exit(rv if isinstance(rv, int) else 0)
