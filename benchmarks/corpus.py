"""Build the fidelity corpus: real PDFs of many producers, Chinese and English, into a cache folder.

    python -m benchmarks corpus [--dir DIR] [--force] [--only NAME,...] [--list]

The tools and sources come from Debian's packages (all 37 files, as measured on 2026-12-02):
    apt-get install --no-install-recommends chromium ghostscript qpdf fonts-noto-cjk fonts-wqy-microhei \
        libreoffice-writer-nogui texlive-latex-base-doc texlive-latex-extra-doc texlive-latex-recommended-doc \
        texlive-lang-chinese texlive-xetex texlive-luatex texlive-pictures-doc texlive-science-doc

What goes in (each file at most about 40 pages; `manifest.json` lists name, producer, language, pages,
bytes, sha256, source and the structures found in the file):
- TeX Live and Debian documentation as shipped (pdfTeX, LuaTeX, XeTeX/xdvipdfmx with ctex and xeCJK,
  dvipdfm, Acrobat Distiller from dvips): outlines, links, page labels, AcroForm fields; a long one is cut
  with `qpdf --pages` (which keeps the outline, labels and links of the pages kept);
- LibreOffice Writer exports (tagged PDF, form fields exported) of .odt and .docx files that this script
  makes from generated HTML (Writer's HTML import turns <input> into form controls);
- Chromium print-to-PDF of generated HTML (outline from headings, links, tables, CJK in TrueType and in
  CFF fonts, which Skia writes as Type 3);
- Ghostscript pdfwrite rewrites of other corpus files;
- PyMuPDF-made files (`corpus_sources`): metadata and XMP, outline, page labels, links, live widgets,
  /Rotate 90 and 270, CropBox/TrimBox/BleedBox/ArtBox, annotations;
- scans: pages of other corpus files rendered, tilted, noised and wrapped as image-only PDFs.

Idempotent: a file already in the folder whose recipe is unchanged is kept (`--force` remakes it). A file
that MuPDF has to repair is left out (leakmark refuses it without --repair).
Deterministic where the tools allow: TeX Live files are copied byte for byte, qpdf runs with
--deterministic-id, PyMuPDF files and scans are seeded with fixed dates; LibreOffice, Chromium and
Ghostscript stamp the current time (and Ghostscript a fresh /ID), so their bytes differ run to run, not
their content. A recipe whose source or tool is missing is skipped with the reason (see `--list`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import corpus_sources as src
from benchmarks.common import argument_parser, arguments, log

DEFAULT_DIR = Path.home() / ".cache" / "leakmark" / "corpus"
MANIFEST = "manifest.json"
FORMAT = "leakmark-corpus/1"
RECIPES_VERSION = 2  # bump to remake every file
TEXDOC = Path("/usr/share/doc/texlive-doc")
TIMEOUT = 300


class CorpusError(Exception):
    """A recipe could not be built (missing tool or source, or the tool failed)."""


@dataclass(frozen=True)
class Recipe:
    name: str  # file stem in the corpus folder
    producer: str  # the family: pdfTeX, XeTeX, LuaTeX, LibreOffice, Chromium, Ghostscript, PyMuPDF, scan, ...
    language: str  # en | zh
    kind: str  # file | slice | libreoffice | chromium | ghostscript | pymupdf | scan
    source: str  # a path, another recipe's name, or a generator's name
    params: dict = field(default_factory=dict)

    @property
    def signature(self) -> str:
        return json.dumps([RECIPES_VERSION, self.kind, self.source, self.params], sort_keys=True, ensure_ascii=False)


def _tex(name: str, producer: str, lang: str, path: str, pages: int | None = None) -> Recipe:
    return Recipe(name, producer, lang, "slice" if pages else "file", path,
                  {"pages": pages, "object_streams": "disable"} if pages else {})


RECIPES: tuple[Recipe, ...] = (
    # TeX Live and Debian documentation, as shipped
    _tex("tex-pdftex-l3pdffield-textfield", "pdfTeX", "en",
         f"{TEXDOC}/latex/pdfmanagement-testphase/l3pdffield-textfield.pdf"),
    _tex("tex-pdftex-l3pdffield-radiobutton", "pdfTeX", "en",
         f"{TEXDOC}/latex/pdfmanagement-testphase/l3pdffield-radiobutton.pdf"),
    _tex("tex-pdftex-microtype", "pdfTeX", "en", f"{TEXDOC}/latex/microtype/microtype.pdf"),
    _tex("tex-pdftex-fontconfig-user", "pdfTeX", "en", "/usr/share/doc/fontconfig/fontconfig-user.pdf.gz"),
    _tex("tex-luatex-adigraph", "LuaTeX", "en", f"{TEXDOC}/latex/adigraph/adigraph_documentation.pdf"),
    _tex("tex-luatex-fancyvrb", "LuaTeX", "en", f"{TEXDOC}/latex/fancyvrb/fancyvrb-doc.pdf"),
    _tex("tex-xelatex-unicode-math", "XeTeX", "en", f"{TEXDOC}/latex/unicode-math/unicode-math.pdf"),
    _tex("tex-xelatex-zhlipsum", "XeTeX", "zh", f"{TEXDOC}/latex/zhlipsum/zhlipsum.pdf"),
    _tex("tex-xelatex-tlmgr-intro-zh", "XeTeX", "zh", f"{TEXDOC}/support/tlmgr-intro-zh-cn/tlmgr-intro-zh-cn.pdf"),
    _tex("tex-xelatex-qyxf-book", "XeTeX", "zh", f"{TEXDOC}/latex/qyxf-book/qyxf-book-doc.pdf"),
    _tex("tex-xetex-zhspacing", "XeTeX", "zh", f"{TEXDOC}/generic/zhspacing/zhs-man.pdf"),
    _tex("tex-xelatex-exam-zh", "XeTeX", "zh", f"{TEXDOC}/xelatex/exam-zh/examples/example-multiple.pdf"),
    _tex("tex-xelatex-ctex-p1-24", "XeTeX", "zh", f"{TEXDOC}/latex/ctex/ctex.pdf", pages=24),
    _tex("tex-dvipdfm-cjkpunct", "dvipdfm", "zh", f"{TEXDOC}/latex/cjkpunct/CJKpunct.pdf"),
    _tex("tex-distiller-fancyref", "Acrobat Distiller", "en", f"{TEXDOC}/latex/fancyref/fancyref.pdf"),
    # LibreOffice Writer: generated HTML → .odt / .docx → PDF
    Recipe("lo-odt-en-report", "LibreOffice", "en", "libreoffice", "report",
           {"via": "odt", "title": "Records review 2024", "sections": 6, "seed": 11}),
    Recipe("lo-odt-zh-notice", "LibreOffice", "zh", "libreoffice", "notice",
           {"via": "odt", "title": "关于加强涉密文件管理的通知", "sections": 6, "seed": 12,
            "font": "Noto Serif CJK SC"}),
    Recipe("lo-docx-en-memo", "LibreOffice", "en", "libreoffice", "memo",
           {"via": "docx", "title": "Memorandum: secure printing", "sections": 4, "seed": 13}),
    Recipe("lo-docx-zh-report", "LibreOffice", "zh", "libreoffice", "report",
           {"via": "docx", "title": "年度保密工作报告", "sections": 8, "seed": 14, "font": "WenQuanYi Micro Hei"}),
    Recipe("lo-odt-zh-form", "LibreOffice", "zh", "libreoffice", "form",
           {"via": "odt", "title": "涉密文件签收单", "sections": 2, "seed": 15, "form": True,
            "font": "AR PL SungtiL GB"}),
    Recipe("lo-docx-en-form", "LibreOffice", "en", "libreoffice", "form",
           {"via": "docx", "title": "Copy receipt form", "sections": 2, "seed": 16, "form": True}),
    # Chromium print-to-PDF of generated HTML
    Recipe("cr-en-article", "Chromium", "en", "chromium", "article",
           {"title": "Handling controlled documents", "sections": 6, "seed": 21, "font": "DejaVu Serif",
            "css": "@page { size: A4; margin: 20mm; }"}),
    Recipe("cr-zh-notice-noto", "Chromium", "zh", "chromium", "notice",
           {"title": "关于开展保密检查的通知", "sections": 5, "seed": 22, "font": "Noto Serif CJK SC",
            "css": "@page { size: A4; margin: 28mm 26mm; }"}),
    Recipe("cr-zh-table-wqy", "Chromium", "zh", "chromium", "table",
           {"title": "涉密文件分发登记表", "sections": 4, "seed": 23, "font": "WenQuanYi Micro Hei",
            "css": "@page { size: A4 landscape; margin: 15mm; }"}),
    Recipe("cr-en-letter", "Chromium", "en", "chromium", "letter",
           {"title": "Print room procedures", "sections": 8, "seed": 24, "font": "DejaVu Sans",
            "css": "@page { size: letter; margin: 1in; }"}),
    Recipe("cr-zh-en-bilingual", "Chromium", "zh", "chromium", "bilingual",
           {"title": "保密协议 Confidentiality agreement", "sections": 4, "seed": 25, "font": "AR PL SungtiL GB",
            "css": "@page { size: A4; margin: 22mm; }", "form": True}),
    # PyMuPDF-made
    Recipe("mu-en-structured", "PyMuPDF", "en", "pymupdf", "structured"),
    Recipe("mu-zh-form", "PyMuPDF", "zh", "pymupdf", "form-zh"),
    Recipe("mu-geometry", "PyMuPDF", "en", "pymupdf", "geometry"),
    Recipe("mu-en-annotations", "PyMuPDF", "en", "pymupdf", "annotations"),
    # Ghostscript pdfwrite rewrites of corpus files
    Recipe("gs-pdftex-l3pdffield-textfield", "Ghostscript", "en", "ghostscript", "tex-pdftex-l3pdffield-textfield",
           {"settings": "/default"}),
    Recipe("gs-xelatex-zhlipsum", "Ghostscript", "zh", "ghostscript", "tex-xelatex-zhlipsum",
           {"settings": "/prepress"}),
    Recipe("gs-lo-odt-en-report", "Ghostscript", "en", "ghostscript", "lo-odt-en-report", {"settings": "/ebook"}),
    Recipe("gs-cr-zh-notice-noto", "Ghostscript", "zh", "ghostscript", "cr-zh-notice-noto",
           {"settings": "/printer"}),
    # scans: image-only pages made from corpus files
    Recipe("scan-en-gray", "scan", "en", "scan", "tex-pdftex-fontconfig-user",
           {"pages": 3, "dpi": 200, "seed": 31, "angle": 0.6, "mode": "gray-jpeg"}),
    Recipe("scan-zh-bilevel", "scan", "zh", "scan", "cr-zh-notice-noto",
           {"pages": 3, "dpi": 300, "seed": 32, "angle": -0.4, "mode": "bilevel"}),
    Recipe("scan-zh-colour", "scan", "zh", "scan", "lo-odt-zh-form",
           {"pages": 2, "dpi": 150, "seed": 33, "angle": 1.1, "mode": "rgb-jpeg"}),
)


# -- tools --------------------------------------------------------------------------------------------------

def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CorpusError(f"{name} is not installed")
    return path


def run(cmd: list[str], cwd: Path | None = None) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1704067200", "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CorpusError(f"{Path(cmd[0]).name} took more than {TIMEOUT} s") from exc
    if proc.returncode != 0:
        raise CorpusError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")


def soffice(args: list[str], work: Path) -> None:
    profile = (work / "lo-profile").as_uri()  # its own profile: no clash with a running LibreOffice
    run([tool("soffice"), f"-env:UserInstallation={profile}", "--headless", "--norestore", *args], cwd=work)


PDF_EXPORT = "pdf:writer_pdf_Export:" + json.dumps(
    {k: {"type": "boolean", "value": "true"} for k in ("ExportFormFields", "UseTaggedPDF", "ExportBookmarks")})


# -- builders: each writes `out` (a temp name) or raises CorpusError ------------------------------------------

def build_file(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    path = Path(r.source)
    if not path.exists():
        raise CorpusError(f"{path} is not installed")
    data = path.read_bytes()
    out.write_bytes(gzip.decompress(data) if path.suffix == ".gz" else data)


def build_slice(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    whole = work / "whole.pdf"
    build_file(r, whole, corpus, work)
    # without object streams: MuPDF repairs qpdf 11's --pages output with them (an object listed in a stream
    # that does not hold it), and leakmark refuses a file MuPDF had to repair
    run([tool("qpdf"), "--deterministic-id", f"--object-streams={r.params['object_streams']}", str(whole),
         "--pages", ".", f"1-{r.params['pages']}", "--", str(out)])


def _html(r: Recipe, chromium: bool) -> str:
    p = r.params
    return src.html_document(title=p["title"], zh=r.language == "zh", seed=p["seed"], sections=p["sections"],
                             form=p.get("form", False), font=p.get("font", ""), css=p.get("css", ""),
                             chromium=chromium)


def build_libreoffice(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    via = r.params["via"]
    page = work / f"{r.name}.html"
    page.write_text(_html(r, chromium=False), encoding="utf-8")
    soffice(["--infilter=HTML (StarWriter)", "--convert-to", via, "--outdir", str(work / "doc"), str(page)], work)
    document = work / "doc" / f"{r.name}.{via}"
    if not document.exists():
        raise CorpusError(f"LibreOffice made no .{via} from the generated HTML")
    soffice(["--convert-to", PDF_EXPORT, "--outdir", str(work / "pdf"), str(document)], work)
    made = work / "pdf" / f"{r.name}.pdf"
    if not made.exists():
        raise CorpusError(f"LibreOffice made no PDF from {document.name}")
    shutil.move(made, out)


def build_chromium(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    page = work / f"{r.name}.html"
    page.write_text(_html(r, chromium=True), encoding="utf-8")
    browser = shutil.which("chromium") or tool("chromium-browser")
    run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={work / 'profile'}",
         "--no-pdf-header-footer", "--generate-pdf-document-outline", f"--print-to-pdf={out}", page.as_uri()])


def build_ghostscript(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    source = corpus / f"{r.source}.pdf"
    if not source.exists():
        raise CorpusError(f"its source {r.source} is not in the corpus")
    run([tool("gs"), "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
         f"-dPDFSETTINGS={r.params['settings']}", f"-sOutputFile={out}", str(source)])


def build_pymupdf(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    src.PYMUPDF_DOCS[r.source](out)


def build_scan(r: Recipe, out: Path, corpus: Path, work: Path) -> None:
    source = corpus / f"{r.source}.pdf"
    if not source.exists():
        raise CorpusError(f"its source {r.source} is not in the corpus")
    p = r.params
    src.scan_pdf(source, out, pages=p["pages"], dpi=p["dpi"], seed=p["seed"], angle=p["angle"], mode=p["mode"],
                 title=f"scan of {r.source}")


BUILDERS: dict[str, Callable[[Recipe, Path, Path, Path], None]] = {
    "file": build_file, "slice": build_slice, "libreoffice": build_libreoffice, "chromium": build_chromium,
    "ghostscript": build_ghostscript, "pymupdf": build_pymupdf, "scan": build_scan}


# -- manifest -----------------------------------------------------------------------------------------------

def describe(path: Path) -> dict:
    """What the file holds, read from the file itself: pages, producer, and the structures that fidelity
    checks (outline entries, links, labelled pages, form fields, rotated and cropped pages, tagging, XMP)."""
    from leakmark._mupdf import pymupdf

    data = path.read_bytes()
    with pymupdf.open(path) as doc:
        if doc.is_repaired:  # leakmark refuses such a file without --repair: not a fidelity case
            raise CorpusError("MuPDF had to repair the file")
        meta = doc.metadata or {}
        cat = doc.pdf_catalog()
        features = {
            "outline": len(doc.get_toc()),
            "links": sum(len(p.get_links()) for p in doc),
            "page_labels": bool(doc.get_page_labels()),
            "widgets": sum(1 for p in doc for _ in p.widgets()),
            "annotations": sum(1 for p in doc for _ in p.annots()),
            "rotated_pages": sum(1 for p in doc if p.rotation),
            "cropped_pages": sum(1 for p in doc if p.cropbox != p.mediabox),
            "tagged": doc.xref_get_key(cat, "StructTreeRoot")[0] != "null",
            "xmp": bool(doc.get_xml_metadata()),
            "image_only": all(not p.get_text().strip() for p in doc),
        }
        return {"pages": doc.page_count, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "producer_string": meta.get("producer") or "", "creator": meta.get("creator") or "",
                "features": features}


def load_manifest(folder: Path) -> dict[str, dict]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    return {d["name"]: d for d in data.get("docs", [])}


def save_manifest(folder: Path, docs: dict[str, dict]) -> None:
    order = [r.name for r in RECIPES]
    listed = sorted(docs.values(), key=lambda d: order.index(d["name"]) if d["name"] in order else len(order))
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"format": FORMAT, "docs": listed}, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def build(folder: Path = DEFAULT_DIR, *, force: bool = False, only: set[str] | None = None) -> dict[str, dict]:
    """Make every missing or changed corpus file; return the manifest (name → entry). A recipe that cannot be
    built is logged and left out."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = load_manifest(folder)
    for r in RECIPES:
        if only and r.name not in only:
            continue
        path = folder / f"{r.name}.pdf"
        known = docs.get(r.name)
        if (not force and known and known.get("recipe") == r.signature and path.exists()
                and path.stat().st_size == known.get("bytes")):
            continue
        with tempfile.TemporaryDirectory(prefix="leakmark-corpus-") as tmp_s:
            tmp = Path(tmp_s)
            made = tmp / "out.pdf"
            try:
                BUILDERS[r.kind](r, made, folder, tmp)
                if not made.exists():
                    raise CorpusError("the tool wrote no file")
                entry = describe(made)
            except CorpusError as exc:
                log(f"corpus: {r.name} skipped: {exc}")
                docs.pop(r.name, None)
                path.unlink(missing_ok=True)
                continue
            staged = folder / f".{path.name}.tmp"  # same folder: the rename is atomic
            shutil.copyfile(made, staged)
            os.replace(staged, path)
        docs[r.name] = {"name": r.name, "file": path.name, "producer": r.producer, "language": r.language,
                        "source": r.source if r.kind in ("file", "slice") else f"{r.kind}: {r.source}",
                        "recipe": r.signature, **entry}
        log(f"corpus: {r.name}: {entry['pages']} pages, {entry['bytes']:,} bytes ({entry['producer_string']})")
        save_manifest(folder, docs)
    save_manifest(folder, docs)
    return docs


def corpus_files(folder: Path = DEFAULT_DIR) -> list[tuple[dict, Path]]:
    """The manifest's entries with their files, in recipe order (only files that exist and match the manifest)."""
    docs = load_manifest(folder)
    out = []
    for r in RECIPES:
        d = docs.get(r.name)
        path = folder / f"{r.name}.pdf"
        if d and path.exists() and path.stat().st_size == d["bytes"]:
            out.append((d, path))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = arguments(argv)
    ap = argument_parser(__file__, __doc__)
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"corpus folder (default {DEFAULT_DIR})")
    ap.add_argument("--force", action="store_true", help="remake every file")
    ap.add_argument("--only", default="", help="comma-separated recipe names")
    ap.add_argument("--list", action="store_true", help="list the manifest and build nothing")
    args = ap.parse_args(argv)
    docs = load_manifest(args.dir) if args.list else build(
        args.dir, force=args.force, only=set(filter(None, args.only.split(","))) or None)
    width = max((len(n) for n in docs), default=4)
    for d in docs.values():
        f = d["features"]
        print(f"{d['name']:{width}}  {d['producer']:17} {d['language']}  {d['pages']:3} p  {d['bytes']:>9,} B  "
              f"outline {f['outline']:3}  links {f['links']:4}  labels {'y' if f['page_labels'] else '-'}  "
              f"widgets {f['widgets']:3}  rot {f['rotated_pages']}  crop {f['cropped_pages']}")
    by_producer: dict[str, int] = {}
    for d in docs.values():
        by_producer[d["producer"]] = by_producer.get(d["producer"], 0) + 1
    print(f"{len(docs)} files, {sum(d['pages'] for d in docs.values())} pages in {args.dir}: "
          + ", ".join(f"{k} {v}" for k, v in by_producer.items()), file=sys.stderr)
    missing = [r.name for r in RECIPES if r.name not in docs]
    if missing and not args.list:
        print(f"not built: {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
