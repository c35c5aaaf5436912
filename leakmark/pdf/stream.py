"""A PDF written as a stream: pages go to disk as they come, so memory stays bounded.

A run's merged print file can hold tens of thousands of page images; PyMuPDF would build it in memory.
Here each page's objects are appended to `<name>.part`, and an index beside it (`.part.idx`) keeps
every object's number and offset. The ledger records, with each batch of issued copies, how many bytes
of the part belong to them: a resumed run truncates the part to that point and carries on, so the
finished file has every copy exactly once and in order. `finish` writes the page tree, the catalogue
and the cross-reference table, then renames the part to its final name.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from leakmark.errors import OutputError
from leakmark.pdf.image import PageImage

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
KIDS_PER_NODE = 256  # a two-level page tree: viewers handle it faster than one flat /Kids array
_REC = struct.Struct("<QQB")  # object number, offset, role
_OTHER, _PAGE, _NODE, _SHARED = 0, 1, 2, 3  # _SHARED: a resource every page may name (the stamp's font)
_RES, _GROUP = 4, 5  # a source page's shared /Resources and its /Group (pdf.shared), in page order
_CATALOG, _ROOT = 1, 2  # written last, numbers fixed


def part_paths(final: Path) -> tuple[Path, Path]:
    return final.with_name(final.name + ".part"), final.with_name(final.name + ".part.idx")


def discard(final: Path) -> None:
    """Remove an unfinished merged file (an abandoned run)."""
    for p in part_paths(final):
        p.unlink(missing_ok=True)


class StreamingPdf:
    """Append-only writer of pages (images, or content over shared resources). `committed` is the byte
    count the ledger vouches for (0: new)."""

    def __init__(self, final: Path, committed: int = 0) -> None:
        self.final = Path(final)
        self.part, self.index = part_paths(self.final)
        self.records: list[tuple[int, int, int]] = []
        try:
            if committed == 0:
                with open(self.part, "wb") as fh:
                    fh.write(HEADER)
                self.index.write_bytes(b"")
                self.pos = len(HEADER)
            else:
                self._restore(committed)
            self._fh = open(self.part, "r+b")  # held open for the whole run
            self._fh.seek(self.pos)
            self._ih = open(self.index, "ab")
        except OSError as exc:
            raise OutputError(f"cannot write the merged file {self.part}: {exc.strerror or exc}") from exc
        self.next_obj = max([r[0] for r in self.records] + [_ROOT]) + 1
        self.pages = sum(1 for r in self.records if r[2] == _PAGE)

    def _restore(self, committed: int) -> None:
        if not self.part.exists() or self.part.stat().st_size < committed:
            raise OutputError(f"the unfinished merged file {self.part} is missing or shorter than the ledger "
                              "records; it cannot be completed. Abandon the run (`leakmark issue --abandon RUN`) "
                              "and issue the remaining copies again")
        raw = self.index.read_bytes() if self.index.exists() else b""
        raw = raw[: len(raw) - len(raw) % _REC.size]  # a torn last record
        records = [_REC.unpack_from(raw, i) for i in range(0, len(raw), _REC.size)]
        self.records = [r for r in records if r[1] < committed]
        with open(self.part, "r+b") as fh:
            fh.truncate(committed)
        with open(self.index, "r+b") as fh:
            fh.truncate(len(self.records) * _REC.size)
        self.pos = committed

    def _object(self, body: bytes, role: int = _OTHER, stream: bytes | None = None) -> int:
        num = self.next_obj
        self.next_obj += 1
        self._write_object(num, body, stream, role)
        return num

    def _write_object(self, num: int, body: bytes, stream: bytes | None, role: int) -> None:
        chunks = [b"%d 0 obj\n" % num, body]
        if stream is not None:
            chunks += [b"\nstream\n", stream, b"\nendstream"]
        chunks.append(b"\nendobj\n")
        data = b"".join(chunks)
        try:
            self._fh.write(data)
            self._ih.write(_REC.pack(num, self.pos, role))
        except OSError as exc:
            raise OutputError(f"cannot write the merged file {self.part}: {exc.strerror or exc}") from exc
        self.records.append((num, self.pos, role))
        self.pos += len(data)

    def add_shared(self, count: int, objects: Callable[[list[int]], list[tuple[bytes, bytes | None]]]) -> int:
        """Write a resource once for the whole file (before its pages): `objects(numbers)` gives its `count`
        objects as (dictionary entries, raw stream or None), the last one the resource pages name. Returns
        that object's number; `shared()` finds it again in a resumed part."""
        nums = list(range(self.next_obj, self.next_obj + count))
        for i, (entries, stream) in enumerate(objects(nums)):
            role = _SHARED if i == count - 1 else _OTHER
            if stream is None:
                self._object(b"<< %s >>" % entries, role)
            else:
                packed = zlib.compress(stream, 6)
                self._object(b"<< %s /Length %d /Filter /FlateDecode >>" % (entries, len(packed)), role, packed)
        return nums[-1]

    def shared(self) -> int | None:
        """The number of the resource `add_shared` wrote into this part, if it did."""
        return next((r[0] for r in self.records if r[2] == _SHARED), None)

    def reserve(self, count: int) -> list[int]:
        """Numbers for `count` objects to be written with `add_object` (so they can name each other)."""
        nums = list(range(self.next_obj, self.next_obj + count))
        self.next_obj += count
        return nums

    def add_object(self, num: int, entries: bytes, stream: bytes | None = None, role: int = _OTHER) -> None:
        """A reserved object: a dictionary (`entries` without the brackets), with `stream` as it is (its
        /Filter among `entries`)."""
        if stream is None:
            self._write_object(num, b"<< %s >>" % entries, None, role)
        else:
            self._write_object(num, b"<< %s /Length %d >>" % (entries, len(stream)), stream, role)

    def page_resources(self) -> list[tuple[int, int | None]]:
        """(resources, group or None) of each source page `pdf.shared` wrote into this part, in order."""
        out: list[tuple[int, int | None]] = []
        for num, _off, role in self.records:
            if role == _RES:
                out.append((num, None))
            elif role == _GROUP and out:
                out[-1] = (out[-1][0], num)
        return out

    def add_content_page(self, entries: bytes, content: bytes) -> None:
        """A page of its own content (Flate-compressed here); `entries`: the rest of its page dictionary
        (boxes, /Rotate, /Resources, /Group)."""
        parent = self._parent()
        packed = zlib.compress(content, 6)
        data = self._object(b"<< /Length %d /Filter /FlateDecode >>" % len(packed), stream=packed)
        self._object(b"<< /Type /Page /Parent %d 0 R %s /Contents %d 0 R >>" % (parent, entries, data), role=_PAGE)
        self.pages += 1

    def _parent(self) -> int:
        """The page-tree node of the next page (a new one every KIDS_PER_NODE pages, written by finish())."""
        if self.pages % KIDS_PER_NODE == 0:
            num = self.next_obj
            self.next_obj += 1
            self.records.append((num, self.pos, _NODE))
            self._ih.write(_REC.pack(num, self.pos, _NODE))
        return next(r[0] for r in reversed(self.records) if r[2] == _NODE)

    def add_page(self, width_pt: float, height_pt: float, image: PageImage, overlay: bytes = b"",
                 fonts: dict[str, int] | None = None, under: bytes = b"", font_dict: int | None = None) -> None:
        """A page showing `image`, then the content `overlay` (e.g. the stamp) using `fonts` (name: object);
        `under`: content drawn first (an invisible text layer), with the font dictionary `font_dict`."""
        parent = self._parent()
        if image.bilevel:
            fmt = b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode"
        else:
            space = b"RGB" if image.colour else b"Gray"
            fmt = b"/ColorSpace /Device%s /BitsPerComponent 8 /Filter /DCTDecode" % space
        img = self._object(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d %s /Length %d >>"
                           % (image.width, image.height, fmt, len(image.data)), stream=image.data)
        draw = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (width_pt, height_pt)
        if overlay:
            draw += b"\n" + overlay
        if under:
            packed = zlib.compress(under + b"\n" + draw, 6)
            content = self._object(b"<< /Length %d /Filter /FlateDecode >>" % len(packed), stream=packed)
        else:
            content = self._object(b"<< /Length %d >>" % len(draw), stream=draw)
        font = b"".join(b"/%s %d 0 R " % (k.encode(), v) for k, v in (fonts or {}).items())
        font_entry = (b"/Font %d 0 R " % font_dict if font_dict is not None
                      else b"/Font << %s>> " % font if font else b"")
        self._object(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.4f %.4f] /Resources << /XObject "
                     b"<< /Im0 %d 0 R >> %s>> /Contents %d 0 R >>"
                     % (parent, width_pt, height_pt, img, font_entry, content), role=_PAGE)
        self.pages += 1

    def commit(self) -> int:
        """Make everything written so far durable; returns the byte count to record in the ledger."""
        try:
            for fh in (self._fh, self._ih):
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write the merged file {self.part}: {exc.strerror or exc}") from exc
        return self.pos

    def close(self) -> None:
        self._fh.close()
        self._ih.close()

    def finish(self, title: str = "", producer: str = "leakmark") -> Path:
        """Write the page tree, catalogue and xref; rename the part to the final name."""
        if self.pages == 0:
            raise OutputError(f"the merged file {self.final} would have no pages")
        pages = [r[0] for r in self.records if r[2] == _PAGE]
        nodes = [r[0] for r in self.records if r[2] == _NODE]
        for i, node in enumerate(nodes):
            kids = pages[i * KIDS_PER_NODE:(i + 1) * KIDS_PER_NODE]
            self._write_object(node, b"<< /Type /Pages /Parent %d 0 R /Count %d /Kids [%s] >>"
                               % (_ROOT, len(kids), b" ".join(b"%d 0 R" % k for k in kids)), None, _OTHER)
        self._write_object(_ROOT, b"<< /Type /Pages /Count %d /Kids [%s] >>"
                           % (len(pages), b" ".join(b"%d 0 R" % n for n in nodes)), None, _OTHER)
        self._write_object(_CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % _ROOT, None, _OTHER)
        info = self._object(b"<< /Title <%s> /Producer <%s> >>" % (_pdf_text(title), _pdf_text(producer)))
        offsets = {num: off for num, off, role in self.records if role != _NODE}  # nodes: their real record
        size = max(offsets) + 1
        xref = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        xref += [(b"%010d 00000 n \n" % offsets[n]) if n in offsets else b"0000000000 65535 f \n"
                 for n in range(1, size)]
        doc_id = os.urandom(16).hex().encode()
        trailer = b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
            size, _CATALOG, info, doc_id, doc_id, self.pos)
        try:
            self._fh.write(b"".join(xref) + trailer)
            self.commit()
            self.close()
            os.replace(self.part, self.final)
        except OSError as exc:
            raise OutputError(f"cannot finish the merged file {self.final}: {exc.strerror or exc}") from exc
        self.index.unlink(missing_ok=True)
        return self.final


def _pdf_text(text: str) -> bytes:
    """A PDF text string as UTF-16BE hex with BOM: any script, no escaping."""
    return ("feff" + text.encode("utf-16-be").hex()).encode()
