"""Text that is safe where it is shown: a terminal, or a spreadsheet opening the CSV export.

The register keeps every name exactly as given; only what is *shown* changes:

- `terminal(text)`: control characters (C0 including tab, newline and carriage return, DEL, C1, so
  also the ESC that starts a terminal escape sequence) and the Unicode bidirectional controls (embeddings
  and overrides U+202A–U+202E, isolates U+2066–U+2069, the marks U+200E, U+200F, U+061C) and the line and
  paragraph separators U+2028, U+2029 become visible escapes: ``\\x1b``, ``\\n``, ``\\u202e``. A name
  can then neither move the cursor, rewrite earlier lines, change colours nor reorder what follows it.
  Backslashes are not doubled (Windows paths stay readable): the exact value is in `--json`.
- `json_text(dumped)`: JSON from `json.dumps(..., ensure_ascii=False)`, which escapes only C0, with DEL,
  C1, the bidi controls and the separators escaped too (``\u202e``): the same values, safe on a terminal.
- `csv_cell(text)`: a cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return, or their full-width forms ``＝＋－＠`` that WPS and Excel in CJK
  locales also accept) gets a leading single quote, as OWASP recommends against CSV injection.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: object) -> str:
    """`text` (anything: it is passed through `str`) with control and bidi characters made visible."""
    return _UNSAFE.sub(_escape, str(text))


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029]")  # json.dumps already escaped C0


def json_text(dumped: str) -> str:
    """JSON text with the characters `json.dumps(ensure_ascii=False)` leaves raw and a terminal acts on
    escaped as \\uXXXX; they can only occur inside JSON strings, where that is the same value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


# what a spreadsheet takes as the start of a formula (OWASP: = + - @ tab CR), and the full-width forms
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(text: str) -> str:
    """`text` neutralised for a spreadsheet: a leading `'` when it could start a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text
