"""Uploaded files: never trusted by name, checked by content, copied to the job's folder under a name we choose.

A name with folders or control characters in it is refused (`check_name`: no browser sends one); any other
name is only shown (made safe) and escaped wherever a page shows it; the file on disk is
`NN-<safe name>.<extension of what the content is>` (without `NN-` for index 0: a
document to issue, whose name the copies' names take). Content is recognised by its first bytes: a PDF, or an
image the tracer reads. Sizes are bounded twice: the request (`LimitBody` in app.py) and each file here.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import BinaryIO

from leakmark._io import PRIVATE_FILE, write_error
from leakmark.errors import InputFileError

_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^\w.\-()（）\[\] ]+")


def sniff(head: bytes) -> str | None:
    """The kind of file these first bytes begin: pdf, png, jpeg, tiff, bmp, webp, heic; None if none of them."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif"):
        return "heic"
    return None


EXTENSIONS = {"pdf": ".pdf", "png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "webp": ".webp",
              "heic": ".heic"}


def safe_name(name: str | None, fallback: str = "file") -> str:
    """A file name fit to show and to build a path from: the last component only, no control characters,
    no leading dots, at most 80 characters; `fallback` when nothing is left."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" ._")
    return base[:80] or fallback


def check_name(name: str | None) -> None:
    """Refuse a name no browser sends for a file the user chose: folders in it (`../`, `C:\\`), control
    characters, or nothing but dots. InputFileError saying what to do."""
    raw = name or ""
    only_dots = raw != "" and raw.strip(". ") == ""
    if any(unicodedata.category(ch) == "Cc" for ch in raw) or "/" in raw or "\\" in raw or only_dots:
        shown = "".join(ch if unicodedata.category(ch) != "Cc" else "?" for ch in raw)[:80]
        raise InputFileError(f"the upload's file name {shown!r} names folders or holds control characters: "
                             "upload the file itself, under a plain name")


def save(stream: BinaryIO, name: str | None, folder: Path, index: int, allowed: tuple[str, ...],
         limit: int) -> tuple[Path, str, str]:
    """Copy an uploaded file into `folder`; its path, the name to show and its kind. InputFileError when it is
    empty, too large, or not of an `allowed` kind (nothing is kept then)."""
    check_name(name)
    shown = safe_name(name)
    head = stream.read(1024)
    kind = sniff(head)
    if not head:
        raise InputFileError(f"{shown} is empty")
    if kind not in allowed:
        wanted = " or ".join(EXTENSIONS[k].lstrip(".").upper() for k in allowed)
        raise InputFileError(f"{shown} is not a {wanted} file (its content says so, whatever its name): upload "
                             "the document itself")
    stem = Path(shown).stem[:60] or "file"
    path = folder / ((f"{index:02d}-" if index else "") + f"{stem}{EXTENSIONS[kind]}")
    size = len(head)
    try:
        with open(path, "xb") as out:
            path.chmod(PRIVATE_FILE)
            out.write(head)
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise InputFileError(f"{shown} is larger than the server accepts ({limit // (1 << 20)} MB); "
                                         "ask the administrator to raise web.max_upload_mb")
                out.write(chunk)
    except InputFileError:
        path.unlink(missing_ok=True)
        raise
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    return path, shown, kind
