"""How faithful an issued copy is to its original: what a reader, a viewer or a printer sees, compared aspect by
aspect.

`read_facts(path)` reads a PDF into plain values (`PdfFacts`), once per file; `compare(original, copy)` names
every difference by its aspect and page (`Difference`). The aspects (`ASPECTS`):

- pages: the page count; boxes: the effective MediaBox, CropBox, TrimBox, BleedBox and ArtBox of each page as
  written in the file (CropBox defaults to MediaBox, the other three to CropBox); rotation: /Rotate;
- fonts: per page, the set of (name without its subset tag, type, embedded); a Type 3 font, which has no
  name, is known by its resource name;
- metadata: the Info entries title, author, subject, keywords, creator, creation date and trapped. Producer and
  modification date may change (a program that writes a file says so there; PDF tools update both when they
  save): a change is a note, not a difference (`LENIENT_METADATA`);
- xmp: every property of the original's XMP packet is in the copy's with the same value, except those a copy
  changes by design (`XMP_MAY_CHANGE`: the `file` layer's DocumentID, a new InstanceID, the dates and the
  producer: notes); properties the copy adds are not differences;
- outline: each entry's level, title and destination (target page, kind, point, zoom, URI or file);
- page_labels: the label of every page; links: per page, each link's rectangle and target;
- annotations: per page, how many annotations of each /Subtype (links and widgets included);
- form_fields: the AcroForm's field count and each widget's page, name, type, value and rectangle (a
  flattened field is no longer a widget);
- text: each page's extracted text, exactly (nothing normalised); a difference says how many lines differ and
  shows the first.

`page_mode` tells from a copy's file whether a page became a picture: the raster fallback, observed, whatever
the issuing run reported.
"""

from __future__ import annotations

import difflib
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakmark._mupdf import pymupdf

ASPECTS = ("pages", "boxes", "rotation", "fonts", "metadata", "xmp", "outline", "page_labels", "links",
           "annotations", "form_fields", "text")
METADATA = ("title", "author", "subject", "keywords", "creator", "creationDate", "trapped")
LENIENT_METADATA = ("producer", "modDate")
XMP_MAY_CHANGE = ("xmpMM:DocumentID", "xmpMM:InstanceID", "xmp:ModifyDate", "xmp:MetadataDate", "pdf:Producer")
BOXES = ("MediaBox", "CropBox", "TrimBox", "BleedBox", "ArtBox")
FULL_PAGE = 0.9  # an image covering this share of the page makes it a picture page
SIZE_FACTOR, SIZE_ALLOWANCE = 1.05, 30 * 1024  # issue 12: copy ≤ 1.05 × original + 30 KB (vector pages)

_SUBSET = re.compile(r"^[A-Z]{6}\+")
_NS = {"http://purl.org/dc/elements/1.1/": "dc", "http://ns.adobe.com/xap/1.0/": "xmp",
       "http://ns.adobe.com/xap/1.0/mm/": "xmpMM", "http://ns.adobe.com/pdf/1.3/": "pdf",
       "http://ns.adobe.com/xap/1.0/rights/": "xmpRights", "http://ns.adobe.com/pdfx/1.3/": "pdfx",
       "http://www.aiim.org/pdfa/ns/id/": "pdfaid", "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
       "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef"}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


@dataclass(frozen=True)
class Difference:
    aspect: str  # one of ASPECTS
    page: int | None  # 1-based; None: the document as a whole
    detail: str

    def __str__(self) -> str:
        return f"{self.aspect}" + (f" p{self.page}" if self.page else "") + f": {self.detail}"


@dataclass(frozen=True)
class PageFacts:
    boxes: tuple[tuple[str, tuple[float, ...]], ...]
    rotation: int
    fonts: frozenset[tuple[str, str, bool]]
    label: str
    links: tuple[tuple, ...]
    annotations: tuple[tuple[str, int], ...]
    text: str
    picture: bool  # one image covers at least FULL_PAGE of the page


@dataclass(frozen=True)
class PdfFacts:
    path: Path
    bytes: int
    pages: tuple[PageFacts, ...]
    metadata: tuple[tuple[str, str], ...]
    xmp: tuple[tuple[str, str], ...]
    outline: tuple[tuple, ...]
    fields: int  # the AcroForm's field count (0: none)
    widgets: tuple[tuple, ...]


@dataclass(frozen=True)
class Comparison:
    original: PdfFacts
    copy: PdfFacts
    differences: tuple[Difference, ...]
    notes: tuple[Difference, ...] = field(default=())  # allowed changes, reported

    @property
    def equal(self) -> bool:
        return not self.differences

    def failed(self, aspect: str) -> list[Difference]:
        return [d for d in self.differences if d.aspect == aspect]

    def ok(self, aspect: str) -> bool:
        return not self.failed(aspect)

    @property
    def size_ratio(self) -> float:
        return self.copy.bytes / self.original.bytes if self.original.bytes else float("inf")

    @property
    def size_target(self) -> int:
        return size_target(self.original.bytes)

    @property
    def size_ok(self) -> bool:
        return self.copy.bytes <= self.size_target

    def page_modes(self) -> list[str]:
        return [page_mode(a, b) for a, b in zip(self.original.pages, self.copy.pages, strict=False)]


def size_target(original_bytes: int) -> int:
    """The largest a copy of all-vector pages may be (issue 12)."""
    return int(SIZE_FACTOR * original_bytes + SIZE_ALLOWANCE)


def page_mode(original: PageFacts, copy: PageFacts) -> str:
    """'raster' when the copy's page is a picture and the original's is not; 'vector' when neither is;
    'picture' when the original page already is one (a scan: the file cannot tell)."""
    if original.picture:
        return "picture"
    return "raster" if copy.picture else "vector"


# -- reading ------------------------------------------------------------------------------------------------

def read_facts(path: Path, password: str | None = None) -> PdfFacts:
    path = Path(path)
    doc = pymupdf.open(path)
    try:
        if doc.needs_pass and not doc.authenticate(password or ""):
            raise ValueError(f"{path} is encrypted and the password is missing or wrong")
        meta = doc.metadata or {}
        pages = tuple(_page_facts(doc, page) for page in doc.pages())
        widgets = tuple((page.number + 1, w.field_name or "", w.field_type_string or "", str(w.field_value),
                         _rect(w.rect)) for page in doc.pages() for w in page.widgets())
        return PdfFacts(path=path, bytes=path.stat().st_size, pages=pages,
                        metadata=tuple((k, str(meta.get(k) or "")) for k in (*METADATA, *LENIENT_METADATA)),
                        xmp=tuple(sorted(xmp_properties(doc.get_xml_metadata() or "").items())),
                        outline=tuple(_outline(doc)), fields=int(doc.is_form_pdf or 0), widgets=widgets)
    finally:
        doc.close()


def _page_facts(doc: pymupdf.Document, page: pymupdf.Page) -> PageFacts:
    fonts = set()
    for _xref, ext, kind, base, ref, _enc in page.get_fonts():
        name = _SUBSET.sub("", base) if base else f"{kind} /{ref}"
        fonts.add((name, kind, ext != "n/a"))
    links = []
    for link in page.get_links():
        target = link.get("to")
        links.append((link.get("kind", 0), _rect(link["from"]), link.get("uri") or "", link.get("page", -1),
                      (round(target.x, 1), round(target.y, 1)) if isinstance(target, pymupdf.Point) else None,
                      link.get("file") or ""))
    subtypes = Counter(doc.xref_get_key(x, "Subtype")[1].lstrip("/") for x, *_ in page.annot_xrefs())
    area = abs(page.rect) or 1.0
    picture = any(abs(pymupdf.Rect(i["bbox"]) & page.rect) >= FULL_PAGE * area for i in page.get_image_info())
    return PageFacts(boxes=_boxes(doc, page.xref), rotation=page.rotation % 360, fonts=frozenset(fonts),
                     label=page.get_label(), links=tuple(sorted(links, key=repr)),
                     annotations=tuple(sorted(subtypes.items())), text=page.get_text("text"), picture=picture)


def _boxes(doc: pymupdf.Document, xref: int) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """The five page boxes as written (MediaBox and CropBox inherited from the page tree), with defaults."""
    own = {}
    for key in BOXES:
        node, value, depth = xref, None, 0
        while node and value is None and depth < 64:  # a damaged page tree may loop
            value = _array(doc, node, key)
            if key not in ("MediaBox", "CropBox"):
                break
            kind, parent = doc.xref_get_key(node, "Parent")
            node, depth = (int(parent.split()[0]) if kind == "xref" else 0), depth + 1
        own[key] = value
    media = own["MediaBox"] or (0.0, 0.0, 612.0, 792.0)
    crop = own["CropBox"] or media
    return (("MediaBox", media), ("CropBox", crop),
            *((k, own[k] or crop) for k in ("TrimBox", "BleedBox", "ArtBox")))


def _array(doc: pymupdf.Document, xref: int, key: str) -> tuple[float, ...] | None:
    kind, value = doc.xref_get_key(xref, key)
    if kind == "xref":
        value, kind = doc.xref_object(int(value.split()[0]), compressed=True), "array"
    if kind != "array":
        return None
    try:
        return tuple(round(float(x), 3) for x in value.strip("[] \n").split())
    except ValueError:
        return None


def _rect(r: Any) -> tuple[float, float, float, float]:
    r = pymupdf.Rect(r)
    return (round(r.x0, 1), round(r.y0, 1), round(r.x1, 1), round(r.y1, 1))


def _outline(doc: pymupdf.Document) -> Iterable[tuple]:
    for level, title, page, dest in doc.get_toc(simple=False):
        d = dest if isinstance(dest, dict) else {}
        to = d.get("to")
        yield (level, title, page, d.get("kind", 0),
               (round(to.x, 1), round(to.y, 1)) if isinstance(to, pymupdf.Point) else None,
               round(float(d.get("zoom") or 0), 3), d.get("uri") or "", d.get("file") or "")


def xmp_properties(packet: str) -> dict[str, str]:
    """An XMP packet's properties: `prefix:name` → its value as text (structures and arrays flattened in
    document order). An unparsable packet is one pseudo-property holding its text."""
    if not packet.strip():
        return {}
    body = re.sub(r"<\?xpacket[^>]*\?>", "", packet).strip()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {"(unparsable XMP)": " ".join(packet.split())}
    props: dict[str, str] = {}
    for desc in root.iter(f"{{{_RDF}}}Description"):
        for k, v in desc.attrib.items():
            if not k.startswith(f"{{{_RDF}}}"):
                props[_qname(k)] = v
        for child in desc:
            props[_qname(child.tag)] = _flatten(child)
    return props


def _qname(tag: str) -> str:
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return f"{_NS.get(ns, ns)}:{local}"
    return tag


def _flatten(el: ET.Element) -> str:
    parts = []
    for node in el.iter():
        parts += [f"{_qname(k)}={v}" for k, v in sorted(node.attrib.items()) if not k.startswith(f"{{{_RDF}}}")]
        if node.text and node.text.strip():
            parts.append(node.text.strip())
    return " | ".join(parts)


# -- comparing ----------------------------------------------------------------------------------------------

def compare(original: PdfFacts | Path, copy: PdfFacts | Path) -> Comparison:
    a = original if isinstance(original, PdfFacts) else read_facts(original)
    b = copy if isinstance(copy, PdfFacts) else read_facts(copy)
    diffs: list[Difference] = []
    notes: list[Difference] = []
    if len(a.pages) != len(b.pages):
        diffs.append(Difference("pages", None, f"{len(a.pages)} pages, copy has {len(b.pages)}"))
    for n, (pa, pb) in enumerate(zip(a.pages, b.pages, strict=False), start=1):
        diffs += _compare_page(n, pa, pb)
    ma, mb = dict(a.metadata), dict(b.metadata)
    for k in METADATA:
        if ma.get(k, "") != mb.get(k, ""):
            diffs.append(Difference("metadata", None, f"{k} {ma.get(k, '')!r} → {mb.get(k, '')!r}"))
    for k in LENIENT_METADATA:
        if ma.get(k, "") != mb.get(k, ""):
            notes.append(Difference("metadata", None, f"{k} {ma.get(k, '')!r} → {mb.get(k, '')!r} (allowed)"))
    xa, xb = dict(a.xmp), dict(b.xmp)
    missing = [k for k in xa if k not in xb]
    changed = [k for k in xa if k in xb and xa[k] != xb[k] and k not in XMP_MAY_CHANGE]
    if missing:
        diffs.append(Difference("xmp", None, f"{len(missing)} of {len(xa)} properties missing: "
                                + ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "")))
    for k in changed:
        diffs.append(Difference("xmp", None, f"{k} {_short(xa[k])!r} → {_short(xb[k])!r}"))
    notes += [Difference("xmp", None, f"{k} changed (allowed)") for k in xa
              if k in xb and xa[k] != xb[k] and k in XMP_MAY_CHANGE]
    diffs += _compare_sequence("outline", None, a.outline, b.outline, lambda e: f"{'  ' * (e[0] - 1)}{e[1]!r}"
                               f" → p{e[2]}")
    if a.fields != b.fields:
        diffs.append(Difference("form_fields", None, f"AcroForm has {a.fields} fields, copy {b.fields}"))
    diffs += _compare_sequence("form_fields", None, a.widgets, b.widgets,
                               lambda w: f"p{w[0]} {w[1]!r} ({w[2]}) = {_short(w[3])!r}")
    return Comparison(original=a, copy=b, differences=tuple(diffs), notes=tuple(notes))


def _compare_page(n: int, a: PageFacts, b: PageFacts) -> list[Difference]:
    out = []
    for (key, va), (_, vb) in zip(a.boxes, b.boxes, strict=True):
        if va != vb:
            out.append(Difference("boxes", n, f"{key} {list(va)} → {list(vb)}"))
    if a.rotation != b.rotation:
        out.append(Difference("rotation", n, f"/Rotate {a.rotation} → {b.rotation}"))
    if a.fonts != b.fonts:
        gone, new = sorted(a.fonts - b.fonts), sorted(b.fonts - a.fonts)
        out.append(Difference("fonts", n, "; ".join(filter(None, (
            "missing " + ", ".join(_font(f) for f in gone[:4]) + (" …" if len(gone) > 4 else "") if gone else "",
            "added " + ", ".join(_font(f) for f in new[:4]) + (" …" if len(new) > 4 else "") if new else "")))))
    if a.label != b.label:
        out.append(Difference("page_labels", n, f"label {a.label!r} → {b.label!r}"))
    out += _compare_sequence("links", n, a.links, b.links, lambda x: f"{x[2] or 'page ' + str(x[3] + 1)} at {x[1]}")
    if a.annotations != b.annotations:
        out.append(Difference("annotations", n, f"{dict(a.annotations)} → {dict(b.annotations)}"))
    if a.text != b.text:
        out.append(Difference("text", n, text_diff_summary(a.text, b.text)))
    return out


def _compare_sequence(aspect: str, page: int | None, a: tuple, b: tuple, show: Any) -> list[Difference]:
    """Entries missing from the copy and entries it added (as multisets), the first few of each shown."""
    if a == b:
        return []
    ca, cb = Counter(a), Counter(b)
    gone, new = list((ca - cb).elements()), list((cb - ca).elements())
    if not gone and not new:
        return [Difference(aspect, page, f"same {len(a)} entries in another order")]
    parts = []
    if gone:
        parts.append(f"{len(gone)} of {len(a)} missing: " + "; ".join(show(x) for x in gone[:3])
                     + (" …" if len(gone) > 3 else ""))
    if new:
        parts.append(f"{len(new)} added: " + "; ".join(show(x) for x in new[:3]) + (" …" if len(new) > 3 else ""))
    return [Difference(aspect, page, " / ".join(parts))]


def text_diff_summary(a: str, b: str) -> str:
    """'k of n lines differ' and the first differing pair from 20 characters before they part, cut to 60."""
    la, lb = a.splitlines(), b.splitlines()
    sm = difflib.SequenceMatcher(None, la, lb, autojunk=False)
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal")
    first = next(((i1, i2, j1, j2) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"), None)
    head = f"{changed} of {max(len(la), len(lb))} lines differ ({len(a)} → {len(b)} chars)"
    if first is None:  # same lines, different line ends or trailing blanks
        return f"{head}; line breaks or trailing characters differ"
    i1, i2, j1, j2 = first
    old = la[i1] if i1 < i2 else ""
    new = lb[j1] if j1 < j2 else ""
    k = next((i for i, (x, y) in enumerate(zip(old, new, strict=False)) if x != y), min(len(old), len(new)))
    start = max(0, k - 20)  # show where the lines part, not only their (perhaps equal) beginnings
    cut = "…" if start else ""
    return (f"{head}; first at line {i1 + 1}: {cut + _short(old[start:])!r} → {cut + _short(new[start:])!r}")


def _font(f: tuple[str, str, bool]) -> str:
    return f"{f[0]} ({f[1]}{'' if f[2] else ', not embedded'})"


def _short(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
