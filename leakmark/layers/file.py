"""The `file` layer: a per-copy token in the PDF file itself, for a copy forwarded as a file.

The token is HMAC-SHA256(key, "leakmark/v1 file" ‖ document ‖ copy), 128 bits: opaque (no name, no
number), unforgeable without the key. It is written as the first element of the trailer /ID (the
"permanent" identifier, which PDF tools keep when they re-save) and as the XMP DocumentID. Anyone can strip
it by rebuilding the file; the page layers are what survive that.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from leakmark.layers.base import MeasureContext, Measurement
from leakmark.layers.settings import FileSettings, LayerName

if TYPE_CHECKING:
    import pymupdf

LAYER = LayerName.file
TOKEN_BYTES = 16
# A match is exact: an innocent copy's token equals the evidence's with probability 2^-128 (the
# tracer turns that into a score, `trace.decide.exact_score`).
MATCH_BITS = 8 * TOKEN_BYTES


def token(key: bytes, doc_id: str, copy_no: int) -> bytes:
    msg = b"\0".join([b"leakmark/v1", b"file", doc_id.encode(), f"{copy_no:06d}".encode()])
    return hmac.new(key, msg, hashlib.sha256).digest()[:TOKEN_BYTES]


def xmp(tok: bytes) -> str:
    """XMP packet with the token as DocumentID (uuid form, as PDF tools expect)."""
    uid = uuid.UUID(bytes=tok)
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">'
            f'<xmpMM:DocumentID>uuid:{uid}</xmpMM:DocumentID></rdf:Description></rdf:RDF></x:xmpmeta>'
            '<?xpacket end="w"?>')


def stamp(doc: pymupdf.Document, tok: bytes) -> None:
    """Put the token into an open document before it is saved."""
    doc.set_xml_metadata(xmp(tok))
    doc.xref_set_key(-1, "ID", f"[<{tok.hex()}><{tok.hex()}>]")  # MuPDF renews the second on save


def stamp_keeping(doc: pymupdf.Document, tok: bytes) -> None:
    """`stamp`, keeping the document's own XMP metadata: only its DocumentID becomes the token."""
    old = doc.get_xml_metadata() or ""
    uid = f"uuid:{uuid.UUID(bytes=tok)}"
    if "</rdf:RDF>" not in old:
        doc.set_xml_metadata(xmp(tok))
    else:
        element = re.compile(r"<xmpMM:DocumentID>[^<]*</xmpMM:DocumentID>")
        attribute = re.compile(r'xmpMM:DocumentID="[^"]*"')
        if element.search(old):
            new = element.sub(f"<xmpMM:DocumentID>{uid}</xmpMM:DocumentID>", old, count=1)
        elif attribute.search(old):
            new = attribute.sub(f'xmpMM:DocumentID="{uid}"', old, count=1)
        else:
            new = old.replace("</rdf:RDF>", '<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">'
                              f"<xmpMM:DocumentID>{uid}</xmpMM:DocumentID></rdf:Description></rdf:RDF>", 1)
        doc.set_xml_metadata(new)
    doc.xref_set_key(-1, "ID", f"[<{tok.hex()}><{tok.hex()}>]")


_HEX = re.compile(r"<([0-9A-Fa-f]{32})>")
_UUID = re.compile(r"uuid:([0-9a-fA-F-]{36})")


def read(path: Path, password: str | None = None) -> set[bytes]:
    """Every candidate token in a PDF: both /ID elements and the XMP DocumentID. Empty when unreadable."""
    from leakmark._mupdf import pymupdf

    try:
        doc = pymupdf.open(path)
    except Exception:  # not a PDF or damaged: the page layers decide
        return set()
    try:
        if doc.needs_pass and not doc.authenticate(password or ""):
            return set()
        found = {bytes.fromhex(h) for h in _HEX.findall(doc.xref_get_key(-1, "ID")[1] or "")}
        for u in _UUID.findall(doc.get_xml_metadata() or ""):
            try:
                found.add(uuid.UUID(u).bytes)
            except ValueError:
                continue
        return found
    finally:
        doc.close()


def match(key: bytes, found: set[bytes], copies: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The (document, copy) pairs whose token is among `found`."""
    if not found:
        return []
    return [(d, n) for d, n in copies if token(key, d, n) in found]


SETTINGS = FileSettings(token="hmac-sha256-128/v1", where=("trailer-id", "xmp-documentid"))


class FileLayer:
    """Marks the PDF file, not its pages: `material` is the copy's token, read back by `read`."""

    name = LAYER
    codeword = False
    on_pages = False

    def material(self, key: bytes, doc_id: str, copy_no: int, page: int) -> bytes:
        return token(key, doc_id, copy_no)

    def prepare(self, base: np.ndarray, gray: np.ndarray, dpi: int) -> tuple[np.ndarray, ...]:
        return ()

    def measure(self, ctx: MeasureContext) -> Measurement | None:
        return None


LAYER_IMPL = FileLayer()
