"""`issue`: register a document and write one marked copy per recipient.

Order of work, so that a failure loses nothing and leaves nothing half-done:
1. check the input and the output names; reserve copy numbers (scratch table, outside the chain);
2. mark every page of every copy (pages in parallel), write each copy to a hidden temp file;
3. archive the original and its page data in the vault (content-addressed, idempotent);
4. one ledger transaction records the document (if new) and every copy;
5. rename the temp files to their final names.
Any failure before 4 removes the temp files and releases the numbers: the ledger is untouched.
"""

from __future__ import annotations

import getpass
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from leakmark import __version__, pdf, vault
from leakmark._io import temp_path_for
from leakmark._parallel import default_jobs, run
from leakmark._progress import NullProgress, Progress
from leakmark.errors import BadRequestError, OutputError
from leakmark.fingerprint import Fingerprint
from leakmark.ledger import Copy, Document, Ledger, format_copy_no, now_iso
from leakmark.recipients import Recipient
from leakmark.watermark import shift
from leakmark.watermark.codes import page_seed
from leakmark.watermark.pipeline import PageJob, PageResult, run_page
from leakmark.workspace import Workspace

log = logging.getLogger(__name__)
LAYERS = ("shift",)


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

    def validate(self) -> None:
        if not self.recipients:
            raise BadRequestError("no recipients: give -r 'NAME/UNIT' (repeatable) or --recipients FILE.csv")
        if self.dpi is not None and not 72 <= self.dpi <= 1200:
            raise BadRequestError(f"--dpi {self.dpi} is outside 72..1200")
        if not 1 <= self.delta <= 4:
            raise BadRequestError(f"delta {self.delta} px is outside 1..4")


@dataclass
class IssuedCopy:
    copy_no: str
    recipient: str
    unit: str
    path: Path


@dataclass
class IssueResult:
    document: Document
    run: str
    copies: list[IssuedCopy]
    stats: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = self.document
        return {"document": {"id": d.id, "title": d.title, "sha256": d.sha256, "pages": d.pages},
                "run": self.run,
                "copies": [{"copy_no": c.copy_no, "recipient": c.recipient, "unit": c.unit, "path": str(c.path)}
                           for c in self.copies]}


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


def issue(workspace: Workspace, options: IssueOptions, progress: Progress | None = None) -> IssueResult:
    options.validate()
    progress = progress or NullProgress()
    info = pdf.inspect(options.source, options.password)
    out_dir = Path(options.output_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc.strerror}") from exc
    key = workspace.key()
    with Ledger(workspace) as ledger:
        existing = ledger.document_by_sha(info.sha256)
        cfg = workspace.config()
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
                           dpi=options.dpi or int(cfg["dpi"]), created_at=now_iso())
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        numbers = ledger.reserve(doc.id, run_id, len(options.recipients),
                                 [r.copy_no for r in options.recipients])
        temps: list[Path] = []
        try:
            finals = [out_dir / f"{safe_name(info.path.stem)}-{format_copy_no(n)}-{safe_name(r.name)}.pdf"
                      for n, r in zip(numbers, options.recipients, strict=True)]
            clash = next((p for p in finals if p.exists()), None)
            if clash is not None:
                raise OutputError(f"{clash} already exists; choose another output folder with -o")
            results = _mark_pages(workspace, key, doc, existing is None, numbers, options, info, progress)
            if existing is None:
                vault.store_original(workspace, doc.sha256, info.path)
                for r in results:
                    vault.store_page(workspace, doc.sha256, r.index, r.original_png or b"", r.units,
                                     Fingerprint(r.fp_points, r.fp_descriptors))
            text_layer = pdf.build_text_layer([(r.width_pt, r.height_pt, r.spans) for r in results])
            for i, final in enumerate(finals):
                try:
                    tmp = temp_path_for(final)
                except OSError as exc:
                    raise OutputError(f"cannot create a file in {final.parent}: {exc.strerror}") from exc
                temps.append(tmp)
                pdf.write_copy(text_layer, [r.images[i] for r in results], tmp)
            settings = json.dumps({"layers": list(LAYERS), "shift": {"delta_px": options.delta}, "dpi": doc.dpi},
                                  sort_keys=True)
            issued_by = options.issued_by or _user()
            stamp = now_iso()
            copies = [Copy(document_id=doc.id, copy_no=n, recipient=r.name, unit=r.unit, note=r.note,
                           issued_at=stamp, issued_by=issued_by, status="issued", run_id=run_id,
                           settings=settings, version=__version__, path=str(final.resolve()))
                      for n, r, final in zip(numbers, options.recipients, finals, strict=True)]
            ledger.record_run(doc, existing is None, copies)
        except BaseException:
            for t in temps:
                t.unlink(missing_ok=True)
            ledger.release(run_id)
            raise
        for tmp, final in zip(temps, finals, strict=True):
            try:
                tmp.replace(final)
            except OSError as exc:  # recorded already: say where the finished file is
                raise OutputError(f"copy recorded in the ledger but could not be renamed to {final}: "
                                  f"{exc.strerror}; the finished file is {tmp}") from exc
    stats = {"pages": doc.pages, "copies": len(numbers),
             "units": {r.index + 1: r.stats for r in results}}
    return IssueResult(document=doc, run=run_id,
                       copies=[IssuedCopy(format_copy_no(n), r.name, r.unit, f)
                               for n, r, f in zip(numbers, options.recipients, finals, strict=True)],
                       stats=stats)


def _mark_pages(workspace: Workspace, key: bytes, doc: Document, new: bool, numbers: list[int],
                options: IssueOptions, info: pdf.SourceInfo, progress: Progress) -> list[PageResult]:
    jobs = []
    for index in range(doc.pages):
        seeds = [page_seed(key, doc.id, n, shift.LAYER, index) for n in numbers]
        known = None if new else vault.load_units_json(workspace, doc.sha256, index)
        jobs.append(PageJob(source=info.path, kind=info.kind, index=index, dpi=doc.dpi, delta=options.delta,
                            password=options.password, seeds=seeds, known_units=known, want_vault=new))
    n_jobs = options.jobs or default_jobs()
    progress.start(doc.pages * len(numbers), "page-copies")
    results: dict[int, PageResult] = {}
    try:
        for r in run(run_page, jobs, n_jobs):
            results[r.index] = r
            progress.advance(len(numbers))
    finally:
        progress.finish()
    return [results[i] for i in range(doc.pages)]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "unknown"
