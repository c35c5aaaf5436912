"""The `shift` layer inside a page's own content stream: vector copies.

Each unit the tracer measures (word, line, rule, seal) is moved by its keyed ±delta rendering pixels by
editing the operators that draw it, and nothing else changes:
- text: the glyphs of a unit get a horizontal adjustment in a TJ array and a text rise (`Ts`) for the
  vertical part, both undone right after them, so no other glyph moves and no widths need computing;
- paths (rules, strokes of seals): the unit's subpath coordinates are offset;
- images, inline images and form XObjects: wrapped in ``q 1 0 0 1 tx ty cm … Q``.

Which glyphs an operator draws is read from MuPDF itself: in a scratch rendering each text operator gets
its own fill colour, and MuPDF's text trace reports every glyph with its box and that colour. A page is
planned once per run (`plan`); a copy's content is then a join of bytes and a few formatted numbers
(`PagePlan.content`). Pages that cannot be edited safely come back as a reason and stay raster.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leakmark._mupdf import pymupdf
from leakmark.pdf.fontcodes import font_codes
from leakmark.units import PageUnits

_SHOW = {"Tj", "TJ", "'", '"'}
_PAINT = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n"}
_CONSTRUCT = {"m", "l", "c", "v", "y", "re", "h"}
_PICTURE = {"W", "W*", "Do", "INLINE IMAGE", "sh", "gs"}  # left out of a text layer
_NUMERIC = _CONSTRUCT | {"cm", "Tm", "Td", "TD", "Tz", "Ts", "Tf", "Tc", "Tw", "TL", '"'}


_HIDDEN = object()  # a text operator in hidden optional content (see _Planner._text)


class NotEditable(Exception):
    """The page cannot be marked in its content; the message says why (recorded in the register)."""


# -- per-copy moves ----------------------------------------------------------------------------------
def unit_moves(pu: PageUnits, codes: np.ndarray, delta: int) -> np.ndarray:
    """Each slot's move in rendering pixels (x, y), as `shift.apply` moves it: words (line + word move),
    then lines, rules and blobs. Slots are what plan elements refer to."""
    nw, nl, nr = pu.n_words, pu.n_lines, pu.n_rules
    c = codes.astype(np.float64) * delta
    line_axis = np.ones(nl, dtype=np.int64)
    seen: set[int] = set()
    for line, axis in zip(pu.word_line.tolist(), pu.word_axis.tolist(), strict=True):
        if line not in seen:
            seen.add(line)
            line_axis[line] = 1 - axis
    lines = np.zeros((nl, 2))
    moving = pu.lines[:, 2] > pu.lines[:, 0] if nl else np.zeros(0, bool)
    lines[np.arange(nl), line_axis] = np.where(moving, c[nw:nw + nl], 0.0)
    words = lines[pu.word_line].copy() if nw else np.zeros((0, 2))
    words[np.arange(nw), pu.word_axis.astype(np.int64)] += c[:nw]
    rules = np.zeros((nr, 2))
    rules[np.arange(nr), pu.rule_axis.astype(np.int64)] = c[nw + nl:nw + nl + nr]  # the axis it moves along
    blobs = c[nw + nl + nr:].reshape(-1, 2)
    return np.concatenate([words, lines, rules, blobs]).reshape(-1, 2)


def _fmt(x: float) -> bytes:
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return (s if s not in ("", "-0") else "0").encode()


# -- plan elements ------------------------------------------------------------------------------------
@dataclass
class _Text:
    """One text-showing operator: glyph groups, each moved by its slot (-1: stays)."""
    prefix: bytes  # T* (and Tw Tc for ") of the ' and " operators
    rise: float
    per_unit: float  # TJ adjustment per text-space unit: -1000 / (Tfs * Th)
    to_text: np.ndarray  # 2x2: pixel move -> text space (row vectors)
    groups: list[tuple[int, bytes]]  # (slot, serialized TJ elements of the group)

    def render(self, moves: np.ndarray) -> bytes:
        out = [self.prefix] if self.prefix else []
        arr: list[bytes] = []
        rise = self.rise
        for slot, body in self.groups:
            a, b = (moves[slot] @ self.to_text) if slot >= 0 else (0.0, 0.0)
            want = self.rise + b if abs(b) > 1e-9 else self.rise
            if want != rise:
                if arr:
                    out.append(b"[" + b" ".join(arr) + b"] TJ")
                    arr = []
                out.append(_fmt(want) + b" Ts")
                rise = want
            if abs(a) > 1e-9:
                arr += [_fmt(a * self.per_unit), body, _fmt(-a * self.per_unit)]
            else:
                arr.append(body)
        if arr:
            out.append(b"[" + b" ".join(arr) + b"] TJ")
        if rise != self.rise:
            out.append(_fmt(self.rise) + b" Ts")
        return b"\n".join(out)


@dataclass
class _VText:
    """A text operator in a vertical font (writing mode 1), whose moves across the column are along text
    space x, which neither a TJ adjustment nor a text rise can give there: each glyph group is placed with
    its own Tm (the line matrix's linear part, its origin moved), then Tm goes back to the line matrix and a
    TJ of one number leaves the text position where the original operator leaves it, so the operators
    after it (Td is relative to the line matrix, a show to the text position) draw as before."""
    prefix: bytes  # T* (and Tw Tc for ") of the ' and " operators
    tlm: np.ndarray  # 3x3 line matrix (after the prefix)
    size: float
    to_text: np.ndarray  # 2x2: pixel move -> text space (row vectors)
    groups: list[tuple[int, float, bytes]]  # (slot, text space y of the group's start from the line matrix, TJ)
    end: float  # text space y of the text position after the operator

    def render(self, moves: np.ndarray) -> bytes:
        out = [self.prefix] if self.prefix else []
        lin = self.tlm[:2, :2]
        for slot, y, body in self.groups:
            a, b = (moves[slot] @ self.to_text) if slot >= 0 else (0.0, 0.0)
            tx, ty = np.array([a, y + b]) @ lin + self.tlm[2, :2]
            out.append(b" ".join(_fmt(v) for v in (*lin.ravel(), tx, ty)) + b" Tm [" + body + b"] TJ")
        out.append(b" ".join(_fmt(v) for v in (*lin.ravel(), *self.tlm[2, :2])) + b" Tm")
        if abs(self.end) > 1e-9:
            out.append(b"[" + _fmt(-self.end * 1000.0 / self.size) + b"] TJ")
        return b"\n".join(out)


@dataclass
class _Path:
    """Path construction operators of one subpath, offset by their slot's move."""
    ops: list[tuple[str, list[float]]]
    slot: int
    to_user: np.ndarray

    def render(self, moves: np.ndarray) -> bytes:
        ux, uy = moves[self.slot] @ self.to_user
        out = []
        for op, nums in self.ops:
            if op == "re":
                vals = [nums[0] + ux, nums[1] + uy, nums[2], nums[3]]
            else:
                vals = [v + (ux if i % 2 == 0 else uy) for i, v in enumerate(nums)]
            out.append(b" ".join(_fmt(v) for v in vals) + b" " + op.encode())
        return b"\n".join(out)


@dataclass
class _Wrap:
    """An image, inline image or form XObject drawn under an extra translation."""
    body: bytes
    slot: int
    to_user: np.ndarray

    def render(self, moves: np.ndarray) -> bytes:
        ux, uy = moves[self.slot] @ self.to_user
        return b"q 1 0 0 1 " + _fmt(ux) + b" " + _fmt(uy) + b" cm\n" + self.body + b"\nQ"


def _render(parts: list[Any], moves: np.ndarray) -> bytes:
    return b"\n".join(p if isinstance(p, bytes) else p.render(moves) for p in parts)


@dataclass
class PagePlan:
    parts: list[Any]  # bytes, or elements with .render(moves)
    units: PageUnits
    delta: int
    stats: dict = field(default_factory=dict)
    forms: dict[int, list[Any]] = field(default_factory=dict)  # object number -> parts of a form XObject's content

    def content(self, codes: np.ndarray) -> bytes:
        return _render(self.parts, unit_moves(self.units, codes, self.delta))

    def form_contents(self, codes: np.ndarray) -> dict[int, bytes]:
        """The new content of each form XObject with text that the page draws (each drawn once in the file)."""
        moves = unit_moves(self.units, codes, self.delta)
        return {num: _render(parts, moves) for num, parts in self.forms.items()}


# -- planning -----------------------------------------------------------------------------------------
def _mat(m: Any) -> np.ndarray:
    a, b, c, d, e, f = (float(x) for x in m)
    return np.array([[a, b, 0.0], [c, d, 0.0], [e, f, 1.0]])


def _shifted(tlm: np.ndarray, tx: float, ty: float) -> np.ndarray:
    """The line matrix after Td tx ty (PDF 32000 9.4.2: [1 0 0 1 tx ty] x Tlm)."""
    return _mat([1.0, 0.0, 0.0, 1.0, tx, ty]) @ tlm


def _tag(i: int) -> tuple[float, float, float]:
    return ((i & 255) / 255.0, ((i >> 8) & 255) / 255.0, ((i >> 16) & 255) / 255.0)


def _untag(color: tuple) -> int:
    r, g, b = (round(float(x) * 255) for x in color[:3])
    return r | (g << 8) | (b << 16)


_BASE14 = {"Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic", "Helvetica", "Helvetica-Bold",
           "Helvetica-Oblique", "Helvetica-BoldOblique", "Courier", "Courier-Bold", "Courier-Oblique",
           "Courier-BoldOblique", "Symbol", "ZapfDingbats", "Arial", "Arial,Bold", "Arial,Italic", "Arial,BoldItalic",
           "TimesNewRoman", "TimesNewRoman,Bold", "TimesNewRoman,Italic", "TimesNewRoman,BoldItalic", "CourierNew"}


def _embedded(font: Any) -> bool:
    """Whether a font's glyphs travel with the file. A font that is not embedded is drawn by each program
    and printer with a substitute of its own (for CJK fonts often a different design, or nothing), so the
    page would not look like the archived original; the 14 standard fonts have metric-compatible substitutes
    everywhere and count as embedded."""
    import pikepdf

    if font.get("/Subtype") == pikepdf.Name.Type3:
        return True
    desc_font = font
    if font.get("/Subtype") == pikepdf.Name.Type0:
        kids = font.get("/DescendantFonts")
        if not kids:
            return False
        desc_font = kids[0]
    desc = desc_font.get("/FontDescriptor")
    if desc is not None and any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
        return True
    base = str(font.get("/BaseFont", ""))[1:]
    return base.split("+")[-1] in _BASE14


def _form_has_text(xobj: Any, depth: int = 0) -> bool:
    import pikepdf

    if depth > 8:
        return True
    try:
        data = xobj.read_bytes()
    except Exception:
        return True
    if b"BT" in data and any(str(ins.operator) == "BT" for ins in pikepdf.parse_content_stream(xobj)):
        return True
    res = xobj.get("/Resources")
    xobjs = res.get("/XObject") if res is not None else None
    if xobjs is not None:
        for _name, sub in xobjs.items():
            if sub.get("/Subtype") == pikepdf.Name.Form and _form_has_text(sub, depth + 1):
                return True
    return False


@dataclass
class _Stream:
    """A content stream the plan edits: the page's (key 0) or a form XObject's (key: its object number)."""
    key: int
    instrs: list[Any]
    fonts: Any
    xobjects: Any
    matrix: np.ndarray = field(default_factory=lambda: np.eye(3))  # a form's /Matrix


class _Planner:
    def __init__(self, page: Any, mpage: pymupdf.Page, pu: PageUnits, to_px: np.ndarray, scale: float, delta: int,
                 text_only: bool = False) -> None:
        import pikepdf

        self.pikepdf = pikepdf
        self.text_only = text_only  # an invisible text layer: text operators only, drawn in mode 3
        self.page, self.mpage, self.pu, self.delta = page, mpage, pu, delta
        self.to_px = to_px  # user space -> rendering pixels (3x3, row vectors)
        self.scale = scale  # MuPDF page coordinates (points) -> rendering pixels
        try:
            self.instrs = list(pikepdf.parse_content_stream(page))
        except pikepdf.PdfError as exc:
            raise NotEditable(f"content stream does not parse ({exc})") from exc
        res = page.obj.get("/Resources")
        self.fonts = res.get("/Font") if res is not None else None
        self.xobjects = res.get("/XObject") if res is not None else None
        self.page_stream = _Stream(0, self.instrs, self.fonts, self.xobjects)
        # form XObjects with text that the page draws: their content is edited as the page's is (a text
        # layer has no form XObjects)
        self.text_forms: dict[int, _Stream] = {}
        if not text_only:
            self._find_text_forms(self.page_stream, 0)
        nw, nl, nr = pu.n_words, pu.n_lines, pu.n_rules
        grow = np.array([-delta, -delta, delta, delta])
        self.word_boxes = pu.words + grow
        self.line_boxes = np.where((pu.lines[:, 2:3] > pu.lines[:, 0:1]), pu.lines + grow, 0) if nl else pu.lines
        self.rule_boxes = pu.rules + 2 * grow
        self.blob_boxes = pu.blobs + 2 * grow
        self.off_lines, self.off_rules, self.off_blobs = nw, nw + nl, nw + nl + nr
        self.word_axes = pu.word_axis.astype(np.int64)  # the direction of the text (0: along x)
        self.line_axes = np.zeros(nl, dtype=np.int64)
        self.line_axes[pu.word_line] = self.word_axes
        self.moved_slots: set[int] = set()
        self.glyphs: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
        # a glyph whose gap to the glyph drawn before it lies near one of MuPDF's extraction thresholds moves
        # with that glyph (see `_extraction_ties`): (stream, operator, glyph) -> the one before it
        self.ties: dict[tuple[int, int, int], tuple[int, int, int]] = {}
        self.glyph_slots: dict[tuple[int, int], list[int]] = {}  # each operator's glyphs' slots, ties applied
        self.stream_key = 0  # the content stream being planned (0: the page's; a form XObject's number)
        self.form_parts: dict[int, list[Any]] = {}
        self.advance: float | None = None  # set by _text: a vertical operator's advance along text space y

    # which slot a shape (pixels) belongs to: glyphs by their boxes, whole shapes by containment
    def slot_of_glyph(self, box: tuple[float, float, float, float]) -> int:
        """A glyph's unit: its word, else its line, else a mark or rule made of glyphs (a signature set in a
        script font, an underline of underscores), as the image marker would move its pixels. A glyph's box
        spans the font's ascent to descent and its advance, so the centre of a dot of a leader, a comma, a
        quote or a CJK full stop lies outside a word made of such glyphs: a word or line also takes a glyph
        whose box holds it whole across the text and whose centre along the text lies in it, or whose box
        holds it whole (give or take a pixel of antialiasing: a comma's tail can reach below the descent
        MuPDF gives the font)."""
        x0, y0, x1, y1 = box
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
        for boxes, tight, axes, off in ((self.word_boxes, self.pu.words, self.word_axes, 0),
                                        (self.line_boxes, self.pu.lines, self.line_axes, self.off_lines)):
            if not len(boxes):
                continue
            inside_x, inside_y = (boxes[:, 0] <= x) & (x < boxes[:, 2]), (boxes[:, 1] <= y) & (y < boxes[:, 3])
            hit = np.nonzero(inside_x & inside_y)[0]
            if not len(hit):
                held_x = (x0 - 1 <= tight[:, 0]) & (tight[:, 2] <= x1 + 1)
                held_y = (y0 - 1 <= tight[:, 1]) & (tight[:, 3] <= y1 + 1)
                along = np.where(axes == 0, inside_x & held_y, inside_y & held_x)
                hit = np.nonzero((tight[:, 2] > tight[:, 0]) & (along | (held_x & held_y)))[0]
                # of several units held (lines set close), the one nearest the glyph's centre
                far = np.hypot((tight[hit, 0] + tight[hit, 2]) / 2 - x, (tight[hit, 1] + tight[hit, 3]) / 2 - y)
                hit = hit[np.argsort(far, kind="stable")]
            if len(hit):
                return off + int(hit[0])
        for boxes, off in ((self.blob_boxes, self.off_blobs), (self.rule_boxes, self.off_rules)):
            if len(boxes):
                hit = np.nonzero((boxes[:, 0] <= x) & (x < boxes[:, 2]) & (boxes[:, 1] <= y) & (y < boxes[:, 3]))[0]
                if len(hit):
                    return off + int(hit[0])
        return -1

    def slot_of_box(self, x0: float, y0: float, x1: float, y1: float) -> int:
        """The unit whose grown box holds the whole shape, or -1."""
        groups = ((self.word_boxes, 0), (self.line_boxes, self.off_lines), (self.rule_boxes, self.off_rules),
                  (self.blob_boxes, self.off_blobs))
        for boxes, off in groups:
            if not len(boxes):
                continue
            inside = (boxes[:, 0] <= x0) & (x1 <= boxes[:, 2]) & (boxes[:, 1] <= y0) & (y1 <= boxes[:, 3])
            hit = np.nonzero(inside)[0]
            if len(hit):
                return off + int(hit[0])
        return -1

    def _px_box(self, pts: np.ndarray, ctm: np.ndarray) -> tuple[float, float, float, float]:
        h = np.c_[pts, np.ones(len(pts))] @ ctm @ self.to_px
        return float(h[:, 0].min()), float(h[:, 1].min()), float(h[:, 0].max()), float(h[:, 1].max())

    def _to_local(self, ctm: np.ndarray) -> np.ndarray:
        lin = (ctm @ self.to_px)[:2, :2]
        if abs(np.linalg.det(lin)) < 1e-12:
            raise NotEditable("a degenerate transformation")
        return np.linalg.inv(lin)

    def _find_text_forms(self, st: _Stream, depth: int) -> None:
        pk = self.pikepdf
        for ins in st.instrs:
            if str(ins.operator) != "Do" or st.xobjects is None:
                continue
            xobj = st.xobjects.get(str(ins.operands[0]))
            if xobj is None or xobj.get("/Subtype") != pk.Name.Form or not _form_has_text(xobj):
                continue
            num = xobj.objgen[0]
            if depth >= 8:
                raise NotEditable("form XObjects with text nested more than 8 deep")
            if num in self.text_forms or num == 0:
                raise NotEditable("a form XObject with text is drawn more than once on the page")
            try:
                instrs = list(pk.parse_content_stream(xobj))
            except pk.PdfError as exc:
                raise NotEditable(f"the content of a form XObject does not parse ({exc})") from exc
            res = xobj.get("/Resources")  # without its own, a form uses its page's (PDF 1.1)
            fonts, xobjects = (st.fonts, st.xobjects) if res is None else (res.get("/Font"), res.get("/XObject"))
            form = _Stream(num, instrs, fonts, xobjects, _mat(xobj.get("/Matrix", [1, 0, 0, 1, 0, 0])))
            self.text_forms[num] = form
            self._find_text_forms(form, depth + 1)

    def run(self) -> PagePlan:
        self.glyphs = self._glyphs_by_operator()
        parts = self._run_stream(self.page_stream, np.eye(3),
                                 {"font": None, "size": None, "Th": 1.0, "rise": 0.0, "Tc": 0.0, "Tw": 0.0, "TL": 0.0})
        n_slots = self.pu.n_words + self.pu.n_lines + self.pu.n_rules + self.pu.n_blobs
        return PagePlan(parts, self.pu, self.delta, {"slots": n_slots, "moved_slots": len(self.moved_slots),
                                                     "still": self.still()}, self.form_parts)

    def _run_stream(self, st: _Stream, ctm: np.ndarray, ts: dict[str, Any]) -> list[Any]:
        """The parts of one content stream; a form XObject's runs in the state of its Do (`ctm`, `ts`)."""
        saved = self.instrs, self.fonts, self.xobjects, self.stream_key
        self.instrs, self.fonts, self.xobjects, self.stream_key = st.instrs, st.fonts, st.xobjects, st.key
        try:
            return self._run_instrs(st, ctm, ts)
        finally:
            self.instrs, self.fonts, self.xobjects, self.stream_key = saved

    def _run_instrs(self, st: _Stream, ctm: np.ndarray, ts: dict[str, Any]) -> list[Any]:
        pk = self.pikepdf
        parts: list[Any] = []
        pending: list[Any] = []

        def flush() -> None:
            if pending:
                parts.append(pk.unparse_content_stream(pending))
                pending.clear()

        stack: list[tuple[np.ndarray, dict[str, Any]]] = []
        marked: list[bool] = []  # open marked-content sequences: whether each is optional content (/OC)
        tm_lin = np.eye(3)
        # the line matrix, and the text position's offset from it along text space y when known (None once
        # text in a horizontal font has moved it by widths we do not compute): vertical text is placed by it
        tlm, along = np.eye(3), 0.0
        along_known = True
        path: list[tuple[int, str, list[float]]] = []  # current path's construction operators
        clip: Any = None  # the W or W* operator before the path's painting operator
        for i, ins in enumerate(self.instrs):
            op = str(ins.operator)
            nums = [float(x) for x in ins.operands if _is_number(x)] if op in _NUMERIC else []
            if self.text_only:
                if op == "Tr" or op in _CONSTRUCT or op in _PAINT or op in _PICTURE:
                    continue  # nothing but invisible text: no paths, pictures or render modes of its own
                if op == "BT":
                    pending += [ins, pk.ContentStreamInstruction([3], pk.Operator("Tr"))]
                    tm_lin, tlm, along, along_known = np.eye(3), np.eye(3), 0.0, True
                    continue
            if op in ("BMC", "BDC"):
                marked.append(op == "BDC" and bool(ins.operands) and str(ins.operands[0]) == "/OC")
            elif op == "EMC" and marked:
                marked.pop()
            if op == "q":
                stack.append((ctm.copy(), dict(ts)))
            elif op == "Q":
                if stack:
                    ctm, ts = stack.pop()
            elif op == "cm":
                ctm = _mat(nums) @ ctm
            elif op == "BT":
                tm_lin, tlm, along, along_known = np.eye(3), np.eye(3), 0.0, True
            elif op == "Tm":
                tm_lin = _mat([*nums[:4], 0.0, 0.0])
                tlm, along, along_known = _mat(nums[:6]) if len(nums) >= 6 else tm_lin, 0.0, True
            elif op in ("Td", "TD") and len(nums) >= 2:
                tlm, along, along_known = _shifted(tlm, nums[0], nums[1]), 0.0, True
                if op == "TD":
                    ts["TL"] = -nums[1]
            elif op == "T*":
                tlm, along, along_known = _shifted(tlm, 0.0, -ts["TL"]), 0.0, True
            elif op == "Tf":
                ts["font"], ts["size"] = str(ins.operands[0]), float(ins.operands[1])
            elif op == "Tz":
                ts["Th"] = nums[0] / 100.0
            elif op == "Ts":
                ts["rise"] = nums[0]
            elif op in ("Tc", "Tw") or (op == "TL" and nums):
                ts[op] = nums[0]
            elif op == "Tr" and ins.operands:
                ts["Tr"] = int(ins.operands[0])
            if op in _SHOW:
                if op == '"':
                    ts["Tw"], ts["Tc"] = nums[0], nums[1]
                if op in ("'", '"'):
                    tlm, along, along_known = _shifted(tlm, 0.0, -ts["TL"]), 0.0, True
                text = self._text(i, ins, op, ts, tm_lin, ctm, self.glyphs.get((st.key, i), []), any(marked),
                                  (tlm, along) if along_known else None)
                if self.advance is None:
                    along_known = False
                else:
                    along += self.advance
                if text is _HIDDEN:
                    continue  # a text layer holds what the page shows (and what MuPDF extracts) only
                if text is not None:
                    flush()
                    parts.append(text)
                    continue
            elif op in _CONSTRUCT:
                path.append((i, op, nums))
                continue  # emitted with its painting operator
            elif op in ("W", "W*"):
                clip = ins
                continue
            elif op in _PAINT:
                flush()
                parts.extend(self._paint(path, clip, ins, ctm))
                path, clip = [], None
                continue
            elif op == "Do" and (form := self._text_form(ins)) is not None:
                # its fonts are named in its own resources: a font set outside it is not looked up there
                self.form_parts[form.key] = self._run_stream(form, form.matrix @ ctm, {**ts, "font": None})
            elif op == "Do" or op == "INLINE IMAGE":
                element = self._xobject(ins, op, ctm)
                if element is not None:
                    flush()
                    parts.append(element)
                    continue
            elif op == "sh":
                pass  # a shading fills the clip: it never holds a unit by itself
            pending.append(ins)
        flush()
        return parts

    def still(self) -> dict[str, int]:
        """Units that nothing in the content moves, by kind (the image marker moves them all): what a page
        that fails `verify` lacks. A line moves with any of its words."""
        pu, moved = self.pu, np.zeros(self.off_blobs + self.pu.n_blobs, dtype=bool)
        moved[list(self.moved_slots)] = True
        words = moved[:pu.n_words]
        lines = moved[self.off_lines:self.off_rules].copy()
        lines[pu.word_line[words]] = True
        counts = {"words": int((~words).sum()), "lines": int((~lines & (pu.lines[:, 2] > pu.lines[:, 0])).sum()),
                  "rules": int((~moved[self.off_rules:self.off_blobs]).sum()),
                  "blobs": int((~moved[self.off_blobs:]).sum())}
        return {k: v for k, v in counts.items() if v}

    def _text_form(self, ins: Any) -> _Stream | None:
        xobj = self.xobjects.get(str(ins.operands[0])) if self.xobjects is not None else None
        return self.text_forms.get(xobj.objgen[0]) if xobj is not None else None

    def _glyphs_by_operator(self) -> dict[tuple[int, int], list[tuple[float, float, float, float]]]:
        """Glyph boxes (rendering pixels) of every text operator, from MuPDF's trace of a scratch copy
        whose text operators each draw in their own colour. The scratch copy fills all text (render mode
        0): MuPDF traces text drawn in mode 2 or 6 (fill and stroke: the synthetic bold of LibreOffice
        and Word) twice, invisible text (mode 3) without its colour, and clipping-only text (7) not at all."""
        pk = self.pikepdf
        doc = self.mpage.parent
        tags: list[tuple[int, int]] = []  # tag - 1 -> (stream, operator index)
        streams: dict[int, bytes] = {}
        for st in (self.page_stream, *self.text_forms.values()):
            tagged: list[Any] = []
            for i, ins in enumerate(st.instrs):
                op = str(ins.operator)
                if op in _SHOW:
                    tags.append((st.key, i))
                    r, g, b = _tag(len(tags))
                    tagged += [pk.ContentStreamInstruction([r, g, b], pk.Operator("rg")),
                               pk.ContentStreamInstruction([r, g, b], pk.Operator("RG"))]
                elif op == "Tr":
                    ins = pk.ContentStreamInstruction([0], pk.Operator("Tr"))
                tagged.append(ins)
            streams[st.key] = pk.unparse_content_stream(tagged)
        if not tags and not any(str(ins.operator) == "Do" for ins in self.instrs):
            return {}  # no text here (a form XObject may hold some: the trace says so)
        for num in self.text_forms:  # the same objects in MuPDF's scratch copy (one file, one numbering)
            if doc.xref_get_key(num, "Subtype") != ("name", "/Form"):
                raise NotEditable("a form XObject is numbered differently in MuPDF")
            doc.update_stream(num, streams[num])
        xref = doc.get_new_xref()
        doc.update_object(xref, "<<>>")
        doc.update_stream(xref, streams[0])
        self.mpage.set_contents(xref)
        out: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
        m = self.mpage.rotation_matrix
        drawn: list[tuple[tuple[int, int, int], Any, Any]] = []  # every glyph in drawing order, with its span
        for span in self.mpage.get_texttrace():
            tag = _untag(span["color"]) if len(span["color"]) >= 3 else 0
            if not 0 < tag <= len(tags):
                if self.text_only:
                    continue  # text inside a form XObject: not part of this page's text layer
                raise NotEditable("text drawn inside a form XObject or pattern")
            lst = out.setdefault(tags[tag - 1], [])
            for ch in span["chars"]:
                if ch[1] < 0 and lst:  # the 2nd and 3rd letters of a ligature (ffi): no glyph of their own
                    continue
                drawn.append(((*tags[tag - 1], len(lst)), span, ch))
                r = pymupdf.Rect(ch[3]) * m
                lst.append((r.x0 * self.scale, r.y0 * self.scale, r.x1 * self.scale, r.y1 * self.scale))
        self.ties = _extraction_ties(drawn, 2.0 * self.delta / self.scale)
        return out

    def _text(self, i: int, ins: Any, op: str, ts: dict, tm_lin: np.ndarray, ctm: np.ndarray,
              glyphs: list[tuple[float, float, float, float]], optional: bool = False,
              line: tuple[np.ndarray, float] | None = None) -> _Text | _VText | object | None:
        """The operator's plan element; None when it draws nothing the units hold (it stays as it is);
        `_HIDDEN` in a text layer when it lies in optional content that is off (`optional`: inside /OC).
        `line`: the line matrix and the text position's offset from it along y, where known (vertical text
        is placed by it, and `self.advance` is set to how far the operator moves that position)."""
        pk = self.pikepdf
        font = self.fonts.get(ts["font"]) if self.fonts is not None and ts["font"] else None
        if not self.text_only and ts.get("Tr", 0) != 3 and font is not None and not _embedded(font):
            raise NotEditable(f"font {str(font.get('/BaseFont', ts['font']))[1:]} is not embedded: printers and "
                              "other programs would draw it with a font of their own")
        self.advance = None
        codes = font_codes(font)
        if codes is None:
            raise NotEditable(f"font {ts['font']} has an encoding we cannot split into glyphs")
        if codes.vertical and codes.ranges is None:
            raise NotEditable(f"font {ts['font']} writes vertically with a CMap other than Identity-V")
        items = ins.operands[-1]
        elems = list(items) if op == "TJ" else [items]
        seq: list[tuple[str, Any]] = []  # ("g", code) | ("k", number)
        for e in elems:
            if isinstance(e, pk.String):
                split = codes.split(bytes(e))
                if split is None:
                    raise NotEditable(f"a string in font {ts['font']} lies outside its code space")
                seq += [("g", c) for c in split]
            else:
                seq.append(("k", float(e)))
        n = sum(1 for k, _ in seq if k == "g")
        if n and not glyphs and optional:
            # a layer that is off by default (MuPDF draws and extracts none of it): moving it would need its
            # glyphs' places, and leaving it unmoved would put unmarked text in the copy: the page stays raster,
            # and its text layer leaves it out as the original's extracted text does
            if self.text_only:
                return _HIDDEN
            raise NotEditable(f"text in optional content that is hidden (font {ts['font']})")
        if n != len(glyphs):
            raise NotEditable(f"glyph count differs from MuPDF's ({n} codes, {len(glyphs)} glyphs) in font "
                              f"{ts['font']}")
        size, th = ts["size"] or 0.0, ts["Th"]
        offsets: list[float] = []  # vertical: each element's start along text space y from the line matrix
        if codes.vertical:
            if line is None:
                raise NotEditable(f"vertical text in font {ts['font']} after horizontal text on its line")
            y = line[1]
            for kind, v in seq:
                offsets.append(y)
                # PDF 32000 9.4.4: ty = (w1 - Tj/1000) * Tfs + Tc + Tw (Tw for the single byte 32 only)
                y += codes.advance(v) / 1000.0 * size + ts["Tc"] if kind == "g" else -v / 1000.0 * size
            self.advance = y - line[1]
        slots = [self.slot_of_glyph(box) for box in glyphs]
        for g in range(len(slots)):
            if (before := self.ties.get((self.stream_key, i, g))) is not None:
                done = slots if before[:2] == (self.stream_key, i) else self.glyph_slots.get(before[:2])
                slots[g] = done[before[2]] if done is not None else self.slot_of_glyph(
                    self.glyphs[before[:2]][before[2]])
        self.glyph_slots[(self.stream_key, i)] = slots
        if all(s < 0 for s in slots):
            return None
        lin = (tm_lin @ ctm @ self.to_px)[:2, :2]
        if abs(size * th) < 1e-9 or abs(np.linalg.det(lin)) < 1e-12:
            raise NotEditable("text with zero size or scale")
        self.moved_slots.update(s for s in slots if s >= 0)
        groups: list[tuple[int, list[bytes]]] = []
        starts: list[float] = []  # vertical: each group's start along y
        g = 0
        for k, (kind, v) in enumerate(seq):
            if kind == "g":
                s = slots[g]
                g += 1
                if groups and groups[-1][0] == s and groups[-1][1] and groups[-1][1][-1].startswith(b"<"):
                    groups[-1][1][-1] = groups[-1][1][-1][:-1] + v.hex().encode() + b">"
                elif groups and groups[-1][0] == s:
                    groups[-1][1].append(b"<" + v.hex().encode() + b">")
                else:
                    groups.append((s, [b"<" + v.hex().encode() + b">"]))
                    starts.append(offsets[k] if offsets else 0.0)
            elif groups:
                groups[-1][1].append(_fmt(v))
            else:
                groups.append((-1, [_fmt(v)]))
                starts.append(offsets[k] if offsets else 0.0)
        prefix = b""
        if op == "'":
            prefix = b"T*"
        elif op == '"':
            prefix = _fmt(float(ins.operands[0])) + b" Tw " + _fmt(float(ins.operands[1])) + b" Tc T*"
        if codes.vertical and line is not None and self.advance is not None:
            return _VText(prefix=prefix, tlm=line[0], size=size, to_text=np.linalg.inv(lin),
                          groups=[(s, y, b" ".join(b)) for (s, b), y in zip(groups, starts, strict=True)],
                          end=line[1] + self.advance)
        return _Text(prefix=prefix, rise=ts["rise"], per_unit=-1000.0 / (size * th),
                     to_text=np.linalg.inv(lin), groups=[(s, b" ".join(b)) for s, b in groups])

    def _paint(self, path: list[tuple[int, str, list[float]]], clip: Any, paint: Any, ctm: np.ndarray) -> list[Any]:
        pk = self.pikepdf
        out: list[Any] = []
        subpaths: list[list[tuple[int, str, list[float]]]] = []
        for item in path:
            if item[1] in ("m", "re") or not subpaths:
                subpaths.append([])
            subpaths[-1].append(item)
        for sp in subpaths:
            pts = _points(sp)
            slot = -1
            if clip is None and len(pts):  # a clipping path stays: moving it could cut what it clips
                # a shape across several units stays; `verify` measures what that costs the page
                slot = self.slot_of_box(*self._px_box(pts, ctm))
            if slot >= 0:
                self.moved_slots.add(slot)
                out.append(_Path([(op, nums) for _, op, nums in sp], slot, self._to_local(ctm)))
            else:
                out.append(pk.unparse_content_stream([self.instrs[i] for i, _, _ in sp]))
        out.append(pk.unparse_content_stream([*([clip] if clip is not None else []), paint]))
        return out

    def _xobject(self, ins: Any, op: str, ctm: np.ndarray) -> _Wrap | None:
        pk = self.pikepdf
        box = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        if op == "Do":
            xobj = self.xobjects.get(str(ins.operands[0])) if self.xobjects is not None else None
            if xobj is None:
                return None
            if xobj.get("/Subtype") == pk.Name.Form:
                if _form_has_text(xobj):
                    return None  # its glyphs were already refused by the text trace if drawn
                x0, y0, x1, y1 = (float(v) for v in xobj.get("/BBox", [0, 0, 0, 0]))
                fm = _mat(xobj.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                box = (np.c_[np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]), np.ones(4)] @ fm)[:, :2]
        slot = self.slot_of_box(*self._px_box(box, ctm))
        if slot < 0:
            return None
        self.moved_slots.add(slot)
        return _Wrap(pk.unparse_content_stream([ins]), slot, self._to_local(ctm))


# MuPDF's text extraction (stext device) compares each glyph's origin with the pen (the glyph before it, plus
# its advance), in em of the glyph's size: along the line, a gap of 0.15 or more becomes a space and one of
# 0.8 or more (or -0.8 or less) a line break; across it, an offset of 0.8 or more starts a new line.
_EXTRACTION_ALONG = (-0.8, 0.15, 0.8)
_EXTRACTION_ACROSS = 0.8


def _extraction_ties(drawn: list[tuple[tuple[int, int, int], Any, Any]], reach: float
                     ) -> dict[tuple[int, int, int], tuple[int, int, int]]:
    """Glyphs that must move as the glyph drawn before them does, so a copy's extracted text is the
    original's: those whose gap to it lies within `reach` (points: the most two units can move apart) of a
    threshold of MuPDF's extraction (`_EXTRACTION_ALONG`). A thin space (0.166 em, TeX's \\,) between two
    words that move apart by 2 delta would otherwise vanish from the text. Horizontal and vertical lines of
    text only: a glyph's advance is read from its box, which is only exact for those."""
    ties: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    prev: tuple[tuple[int, int, int], np.ndarray] | None = None  # the glyph before, and the pen after it
    for ident, span, ch in drawn:
        (dx, dy), size = span["dir"], float(span["size"])
        if span.get("wmode", 0) or size <= 0 or min(abs(dx), abs(dy)) > 1e-3:
            prev = None
            continue
        origin = np.array(ch[2], dtype=np.float64)
        x0, y0, x1, y1 = ch[3]
        advance = (x1 - x0) if abs(dx) > abs(dy) else (y1 - y0)
        d = np.array([dx, dy], dtype=np.float64)
        if prev is not None:
            gap = origin - prev[1]
            along, across = float(gap @ d) / size, float(gap @ np.array([-dy, dx])) / size
            margin = reach / size + 0.01  # and a hundredth of an em for rounding in the copy's numbers
            near = abs(abs(across) - _EXTRACTION_ACROSS) <= margin or (
                abs(across) < _EXTRACTION_ACROSS and any(abs(along - t) <= margin for t in _EXTRACTION_ALONG))
            if near:
                ties[ident] = prev[0]
        prev = (ident, origin + advance * d)
    return ties


def _is_number(x: Any) -> bool:
    import decimal

    return isinstance(x, (int, float, decimal.Decimal)) and not isinstance(x, bool)


def _points(sp: list[tuple[int, str, list[float]]]) -> np.ndarray:
    pts: list[tuple[float, float]] = []
    for _, op, nums in sp:
        if op == "re" and len(nums) == 4:
            x, y, w, h = nums
            pts += [(x, y), (x + w, y + h)]
        else:
            pts += [(nums[k], nums[k + 1]) for k in range(0, len(nums) - 1, 2)]
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


def plan(source_bytes: bytes, index: int, pu: PageUnits, dpi: int, delta: int,
         password: str | None = None, *, text_only: bool = False, forms: bool = True) -> PagePlan:
    """The page's vector plan; NotEditable with the reason when it must stay raster. `text_only`: the
    invisible text layer of a raster page instead, its glyphs moved as the page image's units move.
    `forms`: whether text inside form XObjects may be moved by editing them (not in a merged print file,
    whose copies share the original's objects)."""
    import pikepdf

    if password is not None:
        raise NotEditable("the source is encrypted: its copies are made as images")

    try:
        pdf = pikepdf.open(_bytes_io(source_bytes))
    except pikepdf.PdfError as exc:
        raise NotEditable(f"qpdf cannot read the file ({exc})") from exc
    with pdf:
        page = pdf.pages[index]
        mdoc = pymupdf.open("pdf", source_bytes)
        try:
            mpage = mdoc[index]
            if mdoc.xref_get_key(mpage.xref, "Annots")[0] != "null":  # scratch only: the trace is of content
                mdoc.xref_set_key(mpage.xref, "Annots", "null")
                mpage = mdoc.reload_page(mpage)
            scale = dpi / 72.0
            to_px = _mat(tuple(mpage.transformation_matrix * mpage.rotation_matrix * pymupdf.Matrix(scale, scale)))
            planner = _Planner(page, mpage, pu, to_px, scale, delta, text_only)
            if planner.text_forms:
                if not forms:
                    raise NotEditable("text drawn inside a form XObject, which a merged print file shares "
                                      "between its copies")
                uses = _form_uses(pdf, hashlib.sha256(source_bytes).digest())
                if any(uses.get(num, 0) != 1 for num in planner.text_forms):
                    raise NotEditable("text drawn inside a form XObject that other pages or forms draw too")
            result = planner.run()
            # a blank page (a book's empty verso): nothing to mark and nothing to leak, so it stays as it is
            # rather than becoming an image of white paper
            blank = pu.n_codes == 0 and not mpage.get_text("text").strip() and not mpage.get_images() \
                and not mpage.get_drawings()
        finally:
            mdoc.close()
    if not result.stats.get("moved_slots") and not text_only and not blank:
        raise NotEditable("no unit could be moved in the content")
    return result


_USES: dict[bytes, dict[int, int]] = {}  # per source file (by digest): one walk per document, not per page


def _form_uses(pdf: Any, digest: bytes) -> dict[int, int]:
    """How often each form XObject or pattern (by object number) is named in the resources of the file's pages
    (counted per page: pages that share a resource dictionary may all draw what it names), of their forms,
    patterns and annotations' appearances (2 for an appearance stream): each copy edits a form's content
    for one place on one page, so a form with text may be edited only where this count is 1."""
    if digest in _USES:
        return _USES[digest]
    import pikepdf

    seen: dict[int, int] = {}

    def walk(res: Any, walked: set[tuple[int, int]], depth: int) -> None:
        if not isinstance(res, pikepdf.Dictionary) or depth > 8:
            return
        for kind in ("/XObject", "/Pattern"):
            entries = res.get(kind)
            if not isinstance(entries, pikepdf.Dictionary):
                continue
            for _name, obj in entries.items():
                if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                    continue
                seen[obj.objgen[0]] = seen.get(obj.objgen[0], 0) + 1
                if obj.objgen not in walked:  # each form's resources once per page: no cycles, no blow-up
                    walked.add(obj.objgen)
                    walk(obj.get("/Resources"), walked, depth + 1)

    for page in pdf.pages:
        walked: set[tuple[int, int]] = set()
        walk(page.obj.get("/Resources"), walked, 0)
        for annot in page.obj.get("/Annots", []):
            ap = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
            for state in (ap.values() if isinstance(ap, pikepdf.Dictionary) else []):
                for stream in (state.values() if isinstance(state, pikepdf.Dictionary) else [state]):
                    if isinstance(stream, pikepdf.Stream):
                        seen[stream.objgen[0]] = 2  # an appearance, not the page's content
                        walk(stream.get("/Resources"), walked, 1)
    if len(_USES) >= 4:
        _USES.pop(next(iter(_USES)))
    _USES[digest] = seen
    return seen


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


# -- the check before a page is issued as vector ------------------------------------------------------
MIN_AGREEMENT = 0.9  # share of measured units whose sign is the test code's, on a clean rendering
STRAY_SHARE = 1e-4  # share of the page allowed to change outside the units' boxes (antialiasing only)


def verify(plan_: PagePlan, source_bytes: bytes, index: int, gray: np.ndarray, dpi: int,
           password: str | None = None) -> dict:
    """Render the page with a test code and measure it as the tracer would: the vector page must carry
    the code (as well as the raster page does) and change nothing outside the units. Returns figures;
    NotEditable when the page must stay raster."""
    import cv2

    from leakmark.layers import shift
    from leakmark.layers.codes import signs
    from leakmark.layers.shift_measure import measure_shift
    from leakmark.rendering import page_array

    pu, delta = plan_.units, plan_.delta
    codes = signs(b"leakmark/v1 vector check", pu.n_codes)
    doc = pymupdf.open("pdf", source_bytes)
    try:
        page = doc[index]
        xref = doc.get_new_xref()
        doc.update_object(xref, "<<>>")
        doc.update_stream(xref, plan_.content(codes))
        page.set_contents(xref)
        for num, data in plan_.form_contents(codes).items():
            doc.update_stream(num, data)
        marked = cv2.cvtColor(page_array(page, dpi, mode="rgb"), cv2.COLOR_RGB2GRAY)  # as prepare_page's grey
    finally:
        doc.close()
    if marked.shape != gray.shape:
        raise NotEditable("the edited page renders at another size")
    raster = shift.apply(gray, pu, codes, delta)
    valid = np.ones(gray.shape, dtype=bool)
    figures = {}
    for name, img in (("vector", marked), ("raster", raster)):
        v = measure_shift(img, valid, gray, pu, delta).values
        ok = np.abs(v) > 0.25
        figures[name] = (int(ok.sum()), float((np.sign(v[ok]) == codes[ok]).mean()) if ok.any() else 0.0)
    (nv, av), (nr, ar) = figures["vector"], figures["raster"]
    if nv < 0.9 * nr or av < min(MIN_AGREEMENT, ar - 0.05):
        still = ", ".join(f"{v} {k if v > 1 else k[:-1]}" for k, v in plan_.stats.get("still", {}).items())
        raise NotEditable(f"the content edit carries the marks worse than the image would ({nv} units measured, "
                          f"{av:.0%} right; raster {nr}, {ar:.0%}" + (f"; not moved: {still})" if still else ")"))
    inside = np.zeros(gray.shape, dtype=bool)
    pad = 2 * delta + 2
    for boxes in (pu.words, pu.lines, pu.rules, pu.blobs):
        for x0, y0, x1, y1 in boxes.tolist():
            if x1 > x0:
                inside[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad] = True
    stray = int(((np.abs(marked.astype(np.int16) - gray.astype(np.int16)) > 48) & ~inside).sum())
    if stray > STRAY_SHARE * gray.size:
        raise NotEditable(f"the content edit changes {stray} pixels outside the units")
    return {"measured": nv, "agreement": round(av, 3), "raster_measured": nr, "raster_agreement": round(ar, 3)}
