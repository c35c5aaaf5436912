"""Names: document ids, and copy file names that are safe on every file system."""

from __future__ import annotations

import re
from pathlib import Path

from leakmark.ledger import format_copy_no
from leakmark.pdf.stream import part_paths

# path separators and characters Windows refuses, controls (C0, DEL, C1), and the bidi and line-separator
# marks that could make a name display as something else (a U+202E can disguise a file's extension)
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f<>:"/\\\\|?*\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]+')


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


def first_existing(out_dir: Path, merge: Path | None, stem: str, copies: list[tuple[int, str]]) -> Path | None:
    """An output the run would write that already exists (never overwrite someone's file)."""
    if merge is not None:
        return next((p for p in (merge, *part_paths(merge)) if p.exists()), None)
    return next((p for n, name in copies if (p := out_dir / copy_file_name(stem, n, name)).exists()), None)
