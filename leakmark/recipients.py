"""Recipients from `-r NAME/UNIT` options or a CSV file (UTF-8, UTF-8 with BOM, GB18030), with English or
Chinese column names (`name,unit,copy_no,note` or `姓名,单位,份号,备注`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from leakmark.errors import InputFileError

# the columns' Chinese names, as a 分发登记表 has them
HEADER_ALIASES = {"姓名": "name", "收件人": "name", "单位": "unit", "部门": "unit", "份号": "copy_no", "备注": "note"}


@dataclass(frozen=True)
class Recipient:
    name: str
    unit: str = ""
    copy_no: int | None = None
    note: str = ""


def parse_option(value: str) -> Recipient:
    """`NAME` or `NAME/UNIT` (the unit may itself contain slashes)."""
    name, _, unit = value.partition("/")
    name, unit = name.strip(), unit.strip()
    if not name:
        raise InputFileError(f"recipient {value!r} has no name; write -r 'NAME/UNIT'")
    return Recipient(name=name, unit=unit)


def _decode(data: bytes, path: Path) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path} starts as UTF-8 (with a BOM) but is not UTF-8 at byte {exc.start + 3}; "
                                 "save it again as UTF-8 CSV") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputFileError(f"{path} is neither UTF-8 nor GB18030 text; save it as UTF-8 CSV") from None


def read_csv(path: Path) -> list[Recipient]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such recipient list") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror})") from exc
    return parse_csv(_decode(data, path), str(path))


def parse_csv_bytes(data: bytes, source: str) -> list[Recipient]:
    """Recipients from the bytes of a CSV file (UTF-8 with or without BOM, or GB18030); `source` names it."""
    return parse_csv(_decode(data, Path(source)), source)


def parse_table(text: str, source: str = "the recipient table") -> list[Recipient]:
    """Recipients pasted as a table: CSV with a header row (`name,unit` or `姓名,单位`), or rows copied from a
    spreadsheet (tab-separated) or typed one per line as `NAME,UNIT`, `NAME/UNIT` or `NAME` without a header."""
    lines = [ln for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]
    if not lines:
        raise InputFileError(f"{source} is empty: give one recipient per line (NAME,UNIT)")
    sep = "\t" if "\t" in lines[0] else ","
    first = [HEADER_ALIASES.get(c.strip(), c.strip().lower()) for c in lines[0].split(sep)]
    if "name" in first:
        if sep == "\t":  # rows copied from a spreadsheet: cells may hold commas, so write them as CSV
            buf = io.StringIO()
            csv.writer(buf).writerows(ln.split("\t") for ln in lines)
            return parse_csv(buf.getvalue(), source)
        return parse_csv("\n".join(lines), source)
    out = []
    for line_no, line in enumerate(lines, start=1):
        if sep in line:
            name, _, unit = (c.strip() for c in line.partition(sep))
        else:
            name, _, unit = (c.strip() for c in line.partition("/"))
        if not name:
            raise InputFileError(f"{source}, line {line_no}: the name is empty")
        out.append(Recipient(name=name, unit=unit.strip(sep).strip()))
    return out


def parse_csv(text: str, path: str) -> list[Recipient]:
    """Recipients from CSV text with a header row (see `read_csv`); `path` names it in messages."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # e.g. a NUL byte, or a line break inside an unquoted field
        raise InputFileError(f"{path} is not a readable CSV file ({exc}); save it again as CSV (UTF-8) from "
                             "your spreadsheet") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputFileError(f"{path} is empty; it needs a header row `name,unit` (or `姓名,单位`) and one row per "
                             "recipient")
    header = [HEADER_ALIASES.get(h.strip(), h.strip().lower()) for h in rows[0]]
    if "name" not in header:
        raise InputFileError(f"{path}: the header row must name the columns, at least `name` or `姓名` "
                             f"(got {rows[0]!r})")
    col = {h: i for i, h in enumerate(header)}
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        def get(key: str, row: list[str] = row) -> str:
            i = col.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = get("name")
        if not name:
            raise InputFileError(f"{path}, line {line_no}: the name is empty")
        copy_raw = get("copy_no")
        copy_no = None
        if copy_raw:
            if not copy_raw.isdigit() or not 1 <= int(copy_raw) <= 999_999:
                raise InputFileError(f"{path}, line {line_no}: copy_no {copy_raw!r} is not a number 1..999999")
            copy_no = int(copy_raw)
        out.append(Recipient(name=name, unit=get("unit"), copy_no=copy_no, note=get("note")))
    if not out:
        raise InputFileError(f"{path} has a header but no recipients")
    return out
