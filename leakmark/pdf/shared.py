"""What the vector pages of a merged print file share: each source page's resources, written once per file.

A vector copy's page differs from the original only in its content stream, so in a merged file of 2,000
copies every copy's page 3 names the same fonts, images and form XObjects. Here the closure of each
vector page's /Resources (and its /Group) is copied from the source, renumbered into the streamed file,
once, before the first copy; each copy's page is then a small dictionary (`PageFrame.entries`) and its
marked content. A raster page shares its fonts only, for its invisible text layer under the page image.
The copy goes through pikepdf's object model, never through text substitution, so a string that
happens to read "12 0 R" stays a string.

The objects are written with the first batch and committed with it: a resumed run finds each page's
resources again by their role in the part's index (`StreamingPdf.page_resources`) and never rewrites them.
"""

from __future__ import annotations

import decimal
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakmark._mupdf import pymupdf
from leakmark.errors import OutputError
from leakmark.pdf.stream import _GROUP, _RES, StreamingPdf

_NOT_SHARED = ("/Page", "/Pages", "/Catalog")  # a resource pointing back into the document: left out (null)


@dataclass(frozen=True)
class PageFrame:
    """What every copy's page of one source page repeats, and the page as viewed (for the stamp)."""

    entries: bytes  # /MediaBox … /CropBox … /Rotate … /Resources N 0 R [/Group G 0 R]
    view: tuple[float, float]  # width, height as viewed (after /Rotate and the CropBox)
    to_user: tuple[float, float, float, float, float, float]  # viewed page (pt, y down) -> user space
    resources: int = 0  # the shared object: the page's /Resources, or (a raster page's text layer) its /Font
    from_user: bytes = b""  # `cm` operands: user space -> an image page [0 0 width height] of the viewed page


def printable_annotations(source: Path) -> list[int]:
    """Pages (0-based) with annotations other than links: a merged print file carries no annotations, so
    these keep their raster form, which shows them as printed."""
    out = []
    with pymupdf.open(source) as doc:
        for page in doc:
            kind, value = doc.xref_get_key(page.xref, "Annots")
            if kind == "null":
                continue
            try:
                refs = [int(x) for x in value.strip("[]").split()[::3]] if kind == "array" else []
            except ValueError:  # annotation dictionaries written into the array: count them as printable
                kind = "odd"
            if kind != "array" or any(doc.xref_get_key(x, "Subtype")[1] != "/Link" for x in refs):
                out.append(page.number)
    return out


def frames(writer: StreamingPdf, source: Path, pages: list[int],
           extra_fonts: dict[int, dict[str, int]] | None = None, fonts_only: frozenset[int] = frozenset()
           ) -> dict[int, PageFrame]:
    """The frame of each page in `pages` (0-based, ascending): its shared objects written now, or, in a
    resumed part, found again. `extra_fonts`: per page, fonts to add to its /Font (the stamp's).
    `fonts_only`: raster pages whose invisible text layer needs only their fonts (shared: their /Font)."""
    import pikepdf

    if not pages:
        return {}
    extra_fonts = extra_fonts or {}
    try:
        pdf = pikepdf.open(source)
    except pikepdf.PdfError as exc:
        raise OutputError(f"cannot read the document's original {source}: {exc}") from exc
    with pdf, pymupdf.open(source) as mdoc:
        found = writer.page_resources()
        if not found:
            found = _write(writer, [pdf.pages[i].obj for i in pages], [extra_fonts.get(i, {}) for i in pages],
                           [i in fonts_only for i in pages])
        if len(found) != len(pages):
            raise OutputError(f"the unfinished merged file {writer.part} holds the resources of {len(found)} pages, "
                              f"not {len(pages)}; it cannot be completed. Abandon the run and issue the remaining "
                              "copies again")
        out = {}
        for i, (res, group) in zip(pages, found, strict=True):
            page = pdf.pages[i].obj
            media = _box(_inherited(page, "/MediaBox"))
            crop = _box(_inherited(page, "/CropBox")) if _inherited(page, "/CropBox") is not None else media
            rotate = int(_inherited(page, "/Rotate") or 0)
            entries = b"/MediaBox %s /CropBox %s /Rotate %d /Resources %d 0 R" % (media, crop, rotate, res)
            if group is not None:
                entries += b" /Group %d 0 R" % group
            mpage = mdoc[i]
            a, b, c, d, e, f = (float(x) for x in mpage.derotation_matrix * ~mpage.transformation_matrix)
            flip = pymupdf.Matrix(1, 0, 0, -1, 0, mpage.rect.height)  # viewed (y down) -> image page (y up)
            cm = b" ".join(f"{float(v):.6f}".encode() for v in ~pymupdf.Matrix(a, b, c, d, e, f) * flip)
            out[i] = PageFrame(entries, (mpage.rect.width, mpage.rect.height), (a, b, c, d, e, f), res, cm)
    return out


def _write(writer: StreamingPdf, pages: list[Any], extra: list[dict[str, int]],
           fonts_only: list[bool]) -> list[tuple[int, int | None]]:
    """Write the closure of every page's resources and group once, then each page's /Resources (and /Group),
    or for a `fonts_only` page its /Font."""
    roots = []
    for page, only in zip(pages, fonts_only, strict=True):
        res = _inherited(page, "/Resources")
        if only:
            fonts = res.get("/Font") if res is not None else None
            roots += [fonts] if fonts is not None else []
            continue
        roots += [v for _k, v in res.items()] if res is not None else []
        if "/Group" in page:
            roots.append(page.Group)
    objects = _closure(roots)
    nums = dict(zip(objects, writer.reserve(len(objects)), strict=True))
    for key in objects:
        obj = objects[key]
        if _is_stream(obj):
            entries = b" ".join(b"%s %s" % (_name(k), _ser(v, nums)) for k, v in obj.stream_dict.items()
                                if k != "/Length")
            writer.add_object(nums[key], entries, obj.read_raw_bytes())
        else:
            writer.add_object(nums[key], _entries(obj, nums) if _is_dict(obj) else b"", None)
    out: list[tuple[int, int | None]] = []
    for page, fonts, only in zip(pages, extra, fonts_only, strict=True):
        res = _inherited(page, "/Resources")
        items = dict(res.items()) if res is not None else {}
        if only:
            own = items.get("/Font")
            entries = _entries(own, nums) if _is_dict(own) else b""
            entries += b"".join(b" /%s %d 0 R" % (n.encode(), x) for n, x in fonts.items())
            res_num = writer.reserve(1)[0]
            writer.add_object(res_num, entries, None, _RES)
            out.append((res_num, None))
            continue
        body = []
        for k, v in items.items():
            if k == "/Font" and fonts:
                entries = _entries(v, nums) if _is_dict(v) else b""
                entries += b"".join(b" /%s %d 0 R" % (n.encode(), x) for n, x in fonts.items())
                body.append(b"/Font << %s >>" % entries)
            else:
                body.append(b"%s %s" % (_name(k), _ser(v, nums)))
        if fonts and "/Font" not in items:
            body.append(b"/Font << %s >>" % b" ".join(b"/%s %d 0 R" % (n.encode(), x) for n, x in fonts.items()))
        res_num = writer.reserve(1)[0]
        writer.add_object(res_num, b" ".join(body), None, _RES)
        group = None
        if "/Group" in page:
            group = writer.reserve(1)[0]
            writer.add_object(group, _entries(page.Group, nums), None, _GROUP)
        out.append((res_num, group))
    return out


def _is_stream(obj: Any) -> bool:
    import pikepdf

    return isinstance(obj, pikepdf.Stream)


def _is_dict(obj: Any) -> bool:
    import pikepdf

    return isinstance(obj, pikepdf.Dictionary)


def _key(obj: Any) -> tuple[int, int] | None:
    """The object's (number, generation) when it is an indirect object of the source worth sharing."""
    import pikepdf

    if not isinstance(obj, pikepdf.Object) or not obj.is_indirect:
        return None
    if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)) and str(obj.get("/Type", "")) in _NOT_SHARED:
        return None
    return obj.objgen


def _children(obj: Any) -> list[Any]:
    import pikepdf

    if isinstance(obj, pikepdf.Stream):
        return [v for _k, v in obj.stream_dict.items()]
    if isinstance(obj, pikepdf.Dictionary):
        return [v for _k, v in obj.items()]
    if isinstance(obj, pikepdf.Array):
        return list(obj)
    return []


def _closure(roots: list[Any]) -> dict[tuple[int, int], Any]:
    """Every indirect object reachable from `roots`, by (number, generation), in a stable order."""
    import pikepdf

    seen: dict[tuple[int, int], Any] = {}
    todo: deque[Any] = deque(roots)
    while todo:
        obj = todo.popleft()
        key = _key(obj)
        if key is not None:
            if key in seen:
                continue
            seen[key] = obj
        elif isinstance(obj, pikepdf.Object) and obj.is_indirect:
            continue  # a page, the page tree or the catalogue: written as null, not followed
        todo.extend(_children(obj))
    return seen


def _name(k: str) -> bytes:
    import pikepdf

    return pikepdf.Name(k).unparse()


def _entries(obj: Any, nums: dict[tuple[int, int], int]) -> bytes:
    return b" ".join(b"%s %s" % (_name(k), _ser(v, nums)) for k, v in obj.items())


def _ser(obj: Any, nums: dict[tuple[int, int], int], top: bool = False) -> bytes:
    """A PDF object as bytes, its references to source objects renumbered (`top`: the object itself inline
    even when it is indirect in the source)."""
    import pikepdf

    if isinstance(obj, bool):
        return b"true" if obj else b"false"
    if obj is None:
        return b"null"
    if isinstance(obj, int):
        return b"%d" % obj
    if isinstance(obj, float):
        return repr(obj).encode()
    if isinstance(obj, decimal.Decimal):
        return f"{obj:f}".encode()
    if not top:
        key = _key(obj)
        if key is not None:
            return b"%d 0 R" % nums[key]
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            return b"null"  # a page, the page tree or the catalogue: not carried into the print file
    if isinstance(obj, pikepdf.Stream):
        raise OutputError("a direct stream in a PDF resource")  # cannot happen: streams are indirect
    if isinstance(obj, pikepdf.Dictionary):
        return b"<< " + _entries(obj, nums) + b" >>"
    if isinstance(obj, pikepdf.Array):
        return b"[" + b" ".join(_ser(v, nums) for v in obj) + b"]"
    return bytes(obj.unparse())  # names, strings, operators: pikepdf writes them escaped


def _inherited(page: Any, key: str) -> Any:
    """A page attribute, from the page or the nearest ancestor in the page tree."""
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            return node[key]
        node = node.get("/Parent")
        depth += 1
    return None


def _box(value: Any) -> bytes:
    if value is None:
        return b"[0 0 612 792]"
    return b"[" + b" ".join(f"{float(v):.4f}".rstrip("0").rstrip(".").encode() for v in value) + b"]"
