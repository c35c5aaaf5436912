"""Make tests/resources/legacy-v0.1/: copies issued with leakmark 0.1.0, and what 0.1.0 traced them to.

    PYTHONPATH=. python tests/resources/make_legacy_fixture.py [--out DIR] [--force]

DO NOT REGENERATE THIS FIXTURE to make tests/test_legacy_fixture.py pass. Its point is that the workspace,
the ledger and the evidence were made by an OLD release and must go on tracing, with the same verdicts and
scores, under every later one. Regenerating it with new code proves nothing. Regenerate only for a
deliberate, documented format change (and then keep the old folder too, under its own version name).

What it does, with the code it runs under (0.1.0 when it was made):
1. a workspace with a fixed test key (written over the random one before anything is issued), so the
   marks are the same on every generation;
2. two small documents (one page each: every registered page costs trace time, and the vault bytes):
   - memo.pdf: page 1 of the sample memo (`leakmark.samples.english_memo`), A4 text with a table;
   - photo.pdf: an A5 page, almost all a colour photograph (`leakmark.samples.synthetic_photo`, tinted),
     with a one-line caption;
3. three runs at 150 dpi (small vault, small evidence), jobs=1:
   - memo to 5 recipients, default layers (shift, file): copies 1-5;
   - photo to 4 recipients, default layers (tone goes on by itself, the page being mostly picture:
     shift, tone, file with tone pages [1]): copies 1-4 of that document;
   - photo to 2 more recipients with layers shift, blind, file: copies 5-6 (blind is for picture pages: on
     a text page the shift layer, applied after it, moves the marked word blocks and the payload no longer
     reads, not even from the issued file);
4. evidence from specific copies (evidence/): a copy's page image as lossless PNG, JPEG q60, seeded phone
   photos, an issued copy PDF as it was handed out, and a crop of the unmarked original (names nobody);
5. traces every evidence file and writes expected.json: per file the full `TraceResult.to_json()`, plus the
   unrounded scores (`exact`) and the per-evidence details; and per document every copy's ledger record;
6. copies the workspace (key, ledger.sqlite, ledger.head, config.json, vault/) into workspace/.

Nondeterministic parts, harmless: run ids and timestamps in the ledger, the output paths recorded per copy
(a temporary folder), and the bytes of the copy PDF (MuPDF renews the second /ID element and the dates on
save). The marks and the evidence images depend only on the key, the code and the libraries (OpenCV's JPEG
encoder, MuPDF's rendering): two runs on one machine give identical images and identical traces. The vault
keeps `original.pdf` although trace does not read it: `issue --resume` and re-issuing the same document do.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pymupdf

import leakmark
from leakmark import simulate
from leakmark.ledger import Ledger
from leakmark.samples import english_memo, synthetic_photo

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "legacy-v0.1"
KEY = hashlib.sha256(b"leakmark legacy fixture v0.1").digest()  # a TEST key: never use it for real copies
DPI = 150
MEMO_PEOPLE = (("Alice Archer", "Registry"), ("Bob Baker", "Structures"), ("Chen Jing", "Test lab"),
               ("张伟", "办公室"), ("Eve Evans", ""))
PHOTO_PEOPLE = (("Ivan Ivanov", "Site A"), ("Julia Jones", "Site B"), ("Kim Min", "Site C"), ("李娜", "保卫处"))
BLIND_PEOPLE = (("Frank Fisher", "Audit"), ("Grace Gao", "Finance"))
PHONE = {"megapixels": 1.5, "quality": 70}  # a small phone photo: the fixture stays small, the page still traces


def memo_pdf(path: Path) -> Path:
    """Page 1 of the sample memo, alone."""
    doc = pymupdf.open()
    with pymupdf.open(stream=english_memo(), filetype="pdf") as memo:
        doc.insert_pdf(memo, from_page=0, to_page=0)
    doc.set_metadata({"title": "Handling of restricted documents, Q4 (page 1)", "creator": "leakmark fixture"})
    doc.save(path, garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return path


def photo_pdf(path: Path) -> Path:
    """An A5 page that is almost all a colour photograph, with a caption. (On an A6 page a phone photo left
    the tone layer too few cells to name the copy.)"""
    gray = synthetic_photo(1160, 800, seed=5).astype(np.float32)
    bgr = np.clip(np.dstack([gray * 0.8 + 20, gray * 0.95, gray * 1.05 + 10]), 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("could not encode the photograph")
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=595)
    page.insert_image(pymupdf.Rect(24, 24, 396, 540), stream=jpg.tobytes(), keep_proportion=False)
    page.insert_text((24, 565), "Fig. 1  Site overview, October 2025", fontname="helv", fontsize=10)
    doc.set_metadata({"title": "Site overview photograph", "creator": "leakmark fixture"})
    doc.save(path, garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return path


def render_gray(pdf_path: Path, index: int, dpi: int) -> np.ndarray:
    with pymupdf.open(pdf_path) as doc:
        pix = doc[index].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
        return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).copy()


def render_bgr(pdf_path: Path, index: int, dpi: int) -> np.ndarray:
    with pymupdf.open(pdf_path) as doc:
        pix = doc[index].get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
        rgb = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def page_image(pdf_path: Path, index: int) -> np.ndarray:
    """The page's image as embedded in an issued copy, decoded to grey: the copy's own pixels. (A render at
    the issue dpi is not pixel-exact: the image is stretched over the page, whose size in pixels need not
    be whole, and MuPDF resamples it; the blind payload did not read from such a render of the A5 page.)"""
    with pymupdf.open(pdf_path) as doc:
        images = doc[index].get_images()
        if len(images) != 1:
            raise RuntimeError(f"{pdf_path} page {index + 1} has {len(images)} images, expected 1")
        data = doc.extract_image(images[0][0])["image"]
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def _write(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    if not cv2.imwrite(str(path), image, params or []):
        raise RuntimeError(f"could not write {path}")


def _issue(ws: leakmark.Workspace, source: Path, people, out: Path, **kw) -> leakmark.IssueResult:
    return leakmark.issue(ws, leakmark.IssueOptions(
        source=source, recipients=tuple(leakmark.Recipient(n, u) for n, u in people), output_dir=out, dpi=DPI,
        jobs=1, issued_by="legacy-fixture", **kw))


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


def _record(result: leakmark.TraceResult, evidence_dir: Path) -> dict:
    """What the test compares: the JSON report (paths relative to evidence/) and the unrounded numbers."""
    report = result.to_json()
    for e in report["evidence"]:
        e["path"] = Path(e["path"]).relative_to(evidence_dir).as_posix()
    exact = {
        "verdict": result.verdict,
        "document": result.document.id if result.document else None,
        "pages": result.pages,
        "named": result.named,
        "candidates": result.candidates,
        "suspects": [{"copy_no": s.copy.copy_no, "score": s.score, "fap": s.fap, "layers": s.layers}
                     for s in result.suspects],
        "candidate_numbers": result.candidate_numbers,
        "layer_scores": {k: _nan_to_none(v) for k, v in result.layer_scores.items()},
        "evidence": [{"page": e.page, "aligned": e.aligned, "document_page": e.document_page, "detail": e.detail,
                      "blind": e.blind} for e in result.evidence],
    }
    return {"report": report, "exact": exact}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="replace an existing fixture (read the docstring first)")
    args = ap.parse_args()
    out: Path = args.out.resolve()
    if out.exists():
        if not args.force:
            sys.exit(f"{out} exists. Regenerating it defeats its purpose (see the docstring); pass --force for a "
                     "deliberate format change")
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="leakmark-legacy-") as tmp:
        root = Path(tmp)
        ws = leakmark.Workspace.open(root / "ws", create=True)
        ws.key_path.write_bytes(KEY)  # before anything is issued: every mark below derives from this key
        ws = leakmark.Workspace.open(root / "ws", create=False)
        assert ws.key() == KEY
        (root / "src").mkdir()
        memo = memo_pdf(root / "src" / "memo.pdf")
        photo = photo_pdf(root / "src" / "photo.pdf")
        copies = root / "copies"
        r_memo = _issue(ws, memo, MEMO_PEOPLE, copies / "memo")
        r_photo = _issue(ws, photo, PHOTO_PEOPLE, copies / "photo")
        r_blind = _issue(ws, photo, BLIND_PEOPLE, copies / "photo-blind", layers=("shift", "blind", "file"))
        path = {("memo", int(c.copy_no)): Path(c.path) for c in r_memo.copies}
        path |= {("photo", int(c.copy_no)): Path(c.path) for c in r_photo.copies + r_blind.copies}

        ev = out / "evidence"
        ev.mkdir(parents=True)
        described: dict[str, str] = {}

        def add(name: str, what: str, image: np.ndarray | None = None, params: list[int] | None = None) -> None:
            if image is not None:
                _write(ev / name, image, params)
            described[name] = what

        add("memo-c2-phone.jpg", "memo copy 000002 (Bob Baker) rendered at 150 dpi, simulate.phone_photo"
            f"(seed=7, {PHONE})", simulate.phone_photo(render_gray(path[("memo", 2)], 0, DPI), seed=7, **PHONE))
        shutil.copyfile(path[("memo", 4)], ev / "memo-c4.pdf")
        add("memo-c4.pdf", "memo copy 000004 (张伟) as issued: the copy PDF itself (file layer and page)")
        add("memo-original-crop-q60.jpg", "the unmarked original memo at 150 dpi, simulate.crop(keep=0.5, seed=2), "
            "JPEG quality 60: names nobody", simulate.crop(render_gray(memo, 0, DPI), 0.5, seed=2),
            [cv2.IMWRITE_JPEG_QUALITY, 60])
        add("photo-c2-q60.jpg", "photo copy 000002 (Julia Jones) rendered at 150 dpi in colour, JPEG quality 60",
            render_bgr(path[("photo", 2)], 0, DPI), [cv2.IMWRITE_JPEG_QUALITY, 60])
        add("photo-c3-phone.jpg", "photo copy 000003 (Kim Min) rendered at 150 dpi, simulate.phone_photo"
            f"(seed=11, {PHONE})", simulate.phone_photo(render_gray(path[("photo", 3)], 0, DPI), seed=11, **PHONE))
        add("photo-c6.png", "photo copy 000006 (Grace Gao, the blind run): its page image taken out of the copy PDF, "
            "greyscale, lossless PNG (the blind payload reads and verifies)", page_image(path[("photo", 6)], 0))

        traces = {}
        for name in described:
            result = leakmark.trace(ws, leakmark.TraceOptions(evidence=(ev / name,)))
            traces[name] = {"from": described[name], **_record(result, ev)}
            print(f"{name}: {result.verdict}, named {[s.copy.label for s in result.suspects[:result.named]]}, "
                  f"{result.timings}", file=sys.stderr)

        with Ledger(ws) as ledger:
            report = ledger.verify()
            documents = {d.id: {"title": d.title, "sha256": d.sha256, "pages": d.pages, "dpi": d.dpi,
                                "copies": [{"copy_no": c.copy_no, "recipient": c.recipient, "unit": c.unit,
                                            "status": c.status, "settings": json.loads(c.settings)}
                                           for c in ledger.copies(d.id)]}
                         for d in ledger.documents()}
        if any(ws.home.glob("ledger.sqlite-*")):  # WAL left behind: the copied file would miss events
            raise RuntimeError("the ledger's WAL was not checkpointed")
        with sqlite3.connect(ws.ledger_path) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        target = out / "workspace"
        target.mkdir()
        for name in ("key", "ledger.sqlite", "ledger.head", "config.json"):
            shutil.copy2(ws.home / name, target / name)
        shutil.copytree(ws.vault, target / "vault")
        try:  # the last commit that changed the library (not the tests)
            commit = subprocess.run(["git", "-C", str(HERE), "log", "-1", "--format=%H", "--", "../../leakmark"],
                                    capture_output=True, text=True, check=True).stdout.strip() or "unknown"
            dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--", "../../leakmark"],
                                   capture_output=True, text=True, check=True).stdout.strip()
            commit += " (with uncommitted changes)" if dirty else ""
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
        expected = {
            "made_by": "tests/resources/make_legacy_fixture.py",
            "leakmark_version": leakmark.__version__,
            "library_commit": commit,
            "python": sys.version.split()[0],
            "packages": {name: importlib.metadata.version(name) for name in
                         ("numpy", "opencv-python", "pymupdf", "PyWavelets", "blind-watermark", "pillow")},
            "key_fingerprint": ws.key_fingerprint(),
            "ledger": {"events": report.events, "documents": report.documents, "copies": report.copies,
                       "runs": report.runs},
            "documents": documents,
            "evidence": traces,
        }
        (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
