"""Where a run's copies go: one PDF file per copy, or one merged print file. Both write a batch of
copies, say what the register records for it, and after a failure remove what the register does not
vouch for, so that a copy file exists only once the register says so."""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from leakmark import __version__
from leakmark._io import temp_path_for
from leakmark.errors import OutputError
from leakmark.issuing.naming import copy_file_name
from leakmark.ledger import Copy, Document
from leakmark.pdf import copy as pdf_copy
from leakmark.pdf import separator as pdf_separator
from leakmark.pdf import shared as pdf_shared
from leakmark.pdf import stamp as pdf_stamp
from leakmark.pdf.image import PageContent, PageImage, PageOutput
from leakmark.pdf.stream import StreamingPdf


@dataclass(frozen=True)
class Written:
    """What the register records for a batch: (copy number, where) per copy, and for the merged file
    the length of its part that the batch completes."""

    items: list[tuple[int, str]]
    merge_bytes: int = 0


class OutputSink(Protocol):
    def write(self, copies: list[Copy], images: list[list[PageOutput]]) -> Written: ...

    def discard(self, copies: list[Copy], issued: set[int]) -> None:
        """After a failure: remove the batch's output that the register does not record as issued."""
        ...

    def finish(self) -> None: ...

    def close(self) -> None:
        """Release files without finishing (the run stays open for a resume)."""
        ...

    def output_bytes(self, copies: list[Copy]) -> int: ...


class CopyFiles:
    """One PDF per copy: the invisible text layer, the marked page images, (with `file`) the token and (with
    `stamp`) the visible 份号 on page 1."""

    def __init__(self, out_dir: Path, stem: str, text_layer: bytes,
                 token: Callable[[int], bytes] | None, stamp: pdf_stamp.Stamp | None = None) -> None:
        self.out_dir, self.stem, self.text_layer, self.token = out_dir, stem, text_layer, token
        self.stamp = stamp

    def path(self, c: Copy) -> Path:
        return self.out_dir / copy_file_name(self.stem, c.copy_no, c.recipient)

    def remove_unrecorded(self, copies: list[Copy]) -> None:
        """Remove the files (finished or temp) of copies the register does not record as issued."""
        for c in copies:
            final = self.path(c)
            final.unlink(missing_ok=True)
            for t in self.out_dir.glob(f".{glob.escape(final.name)}.*.tmp"):
                t.unlink(missing_ok=True)

    def write(self, copies: list[Copy], images: list[list[PageOutput]]) -> Written:
        items = []
        for c, imgs in zip(copies, images, strict=True):
            final = self.path(c)
            if not all(isinstance(i, PageImage) for i in imgs):
                raise RuntimeError("a raster copy got a content stream")
            try:
                tmp = temp_path_for(final)
            except OSError as exc:
                raise OutputError(f"cannot create a file in {final.parent}: {exc.strerror}") from exc
            pdf_copy.write_copy(self.text_layer, [i.data for i in imgs], tmp,
                                self.token(c.copy_no) if self.token else None, self._stamper(c))
            tmp.replace(final)
            items.append((c.copy_no, str(final)))
        return Written(items)

    def _stamper(self, c: Copy) -> Callable[[object], None] | None:
        st = self.stamp
        if st is None:
            return None
        return lambda page: pdf_stamp.draw_stamp(page, c.label, c.unit, st.level, st.period, st.spec)

    def discard(self, copies: list[Copy], issued: set[int]) -> None:
        self.remove_unrecorded([c for c in copies if c.copy_no not in issued])

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass

    def output_bytes(self, copies: list[Copy]) -> int:
        return sum(Path(c.path).stat().st_size for c in copies if c.status == "issued" and Path(c.path).exists())


class PdfCopyFiles(CopyFiles):
    """One PDF per copy: the original file, each page its marked content stream (vector) or its marked
    image over its marked invisible text (raster)."""

    def __init__(self, out_dir: Path, stem: str, source: Path, token: Callable[[int], bytes] | None,
                 stamp: pdf_stamp.Stamp | None = None) -> None:
        super().__init__(out_dir, stem, b"", token, stamp)
        self.source = source

    def write(self, copies: list[Copy], images: list[list[PageOutput]]) -> Written:
        items = []
        for c, pages in zip(copies, images, strict=True):
            final = self.path(c)
            try:
                tmp = temp_path_for(final)
            except OSError as exc:
                raise OutputError(f"cannot create a file in {final.parent}: {exc.strerror}") from exc
            pdf_copy.write_pdf_copy(self.source, pages, tmp, self.token(c.copy_no) if self.token else None,
                                    self._stamper(c))
            tmp.replace(final)
            items.append((c.copy_no, str(final)))
        return Written(items)


class MergedFile:
    """Every copy in copy order in one print file, streamed to `NAME.part` (see `pdf.stream`). With `stamp`,
    page 1 of each copy shows its 份号; the font is written once, subset to the digits, the stamp's 密级
    line and the `units` of every copy of the run (the same subset when the run is resumed). The
    `vector_pages` of the `source` PDF are its own content over its resources, written once (`pdf.shared`);
    its `text_pages` (raster) have their invisible text layer under the image, over their shared fonts."""

    def __init__(self, final: Path, committed: int, doc: Document, sizes: list[tuple[float, float]],
                 separator: bool, run_id: str, write: bool = True, stamp: pdf_stamp.Stamp | None = None,
                 units: tuple[str, ...] = (), source: Path | None = None, vector_pages: tuple[int, ...] = (),
                 text_pages: tuple[int, ...] = ()) -> None:
        self.final, self.doc, self.sizes, self.separator, self.run_id = final, doc, sizes, separator, run_id
        self.writer: StreamingPdf | None = StreamingPdf(final, committed=committed) if write else None
        self.stamp, self.stamp_font, self.stamp_ref = stamp, None, 0
        if stamp is not None and self.writer is not None:
            self.stamp_font = pdf_stamp.font_for("".join("".join(stamp.lines("", u)) for u in sorted(set(units))))
            ref = self.writer.shared()
            self.stamp_ref = ref if ref is not None else self.writer.add_shared(pdf_stamp.FONT_OBJECTS,
                                                                                self.stamp_font.objects)
        self.frames: dict[int, pdf_shared.PageFrame] = {}
        if (vector_pages or text_pages) and self.writer is not None:
            if source is None:
                raise RuntimeError("vector pages or text layers in a merged file need the source PDF")
            stamped = {0: {pdf_stamp.FONT_RESOURCE: self.stamp_ref}} if self.stamp_font is not None else None
            self.frames = pdf_shared.frames(self.writer, source, sorted({*vector_pages, *text_pages}), stamped,
                                            frozenset(text_pages))

    def write(self, copies: list[Copy], images: list[list[PageOutput]]) -> Written:
        w = self.writer
        if w is None:
            raise RuntimeError("a finished or closed merged file takes no more pages")
        items = []
        for c, imgs in zip(copies, images, strict=True):
            if self.separator:
                width, height = self.sizes[0]
                w.add_page(width, height, pdf_separator.separator_image(self.doc, c, width, height))
            first = w.pages + 1
            for i, ((width, height), img) in enumerate(zip(self.sizes, imgs, strict=True)):
                if isinstance(img, PageContent):
                    if img.forms:  # its shared objects would hold the forms' unmarked text (run.py plans none)
                        raise RuntimeError("a merged file's vector page with edited form XObjects")
                    w.add_content_page(self.frames[i].entries, self._content(i, img.data, c))
                    continue
                frame = self.frames.get(i)
                if img.text and frame is not None:  # its invisible text layer under the image, in its fonts
                    over = (pdf_stamp.snippet(self.stamp_font, self.stamp.lines(c.label, c.unit), self.stamp.spec,
                                              width, height)
                            if i == 0 and self.stamp is not None and self.stamp_font is not None else b"")
                    w.add_page(width, height, img, over, under=b"q %s cm\n%s\nQ" % (frame.from_user, img.text),
                               font_dict=frame.resources)
                elif i == 0 and self.stamp is not None and self.stamp_font is not None:
                    lines = self.stamp.lines(c.label, c.unit)
                    w.add_page(width, height, img, pdf_stamp.snippet(self.stamp_font, lines, self.stamp.spec, width,
                                                                     height), {pdf_stamp.FONT_RESOURCE: self.stamp_ref})
                else:
                    w.add_page(width, height, img)
            items.append((c.copy_no, f"{w.final}#pages={first}-{w.pages}"))
        return Written(items, merge_bytes=w.commit())

    def _content(self, i: int, data: bytes, c: Copy) -> bytes:
        """A vector page's marked content, on page 1 with the stamp over it (in the page's own geometry)."""
        if i != 0 or self.stamp is None or self.stamp_font is None:
            return data
        frame, font, spec = self.frames[0], self.stamp_font, self.stamp.spec
        placed = pdf_stamp.layout(self.stamp.lines(c.label, c.unit), font, spec, *frame.view)
        # the page's own content may leave a changed graphics state behind: wrapped, as draw_stamp does
        return b"q\n" + data + b"\nQ\n" + pdf_stamp.content(placed, font, spec.size_pt, frame.to_user)

    def discard(self, copies: list[Copy], issued: set[int]) -> None:
        pass  # a resume truncates the part to the length the register records

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.finish(title=f"{self.doc.title} — run {self.run_id}", producer=f"leakmark {__version__}")
            self.writer = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def output_bytes(self, copies: list[Copy]) -> int:
        return self.final.stat().st_size
