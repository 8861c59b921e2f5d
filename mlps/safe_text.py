"""One sanitiser for text from an untrusted tree on its way to a terminal, a CSV cell or a link.

- printable(): control characters (C0, DEL, C1, which carry terminal escape sequences) and the
  bidirectional overrides (which reorder what a reader sees) become visible `\\xNN`/`\\uNNNN`
  escapes, so a folder name or a JSON value cannot move the cursor or overwrite the verdict line;
  lone surrogates (bytes of a file name that are not UTF-8) are escaped too, so printing never fails.
- csv_cell(): a cell starting with = + - @ TAB or CR is a formula to spreadsheets; a leading `'`
  makes it text (OWASP's advice for CSV injection).
- relative_link(): an href built only from a relative path inside the report: no scheme, no
  absolute path, no `..`; every character outside [A-Za-z0-9/._-~] percent-encoded, so
  `javascript:` cannot survive as a scheme.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# C0, DEL, C1, bidi marks and overrides, and lone surrogates (undecodable bytes of a file name).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value) -> str:
    """`value` as text with every control or direction-changing character escaped (newline too)."""
    return _UNSAFE.sub(_escape, str(value))


def csv_cell(value) -> str:
    """A CSV cell's text that a spreadsheet shows as text, never evaluates."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(CSV_FORMULA_STARTS) else text


def relative_link(path: str | None) -> str | None:
    """A percent-encoded relative href for `path`, or None when it is not a plain relative path."""
    if not path:
        return None
    parts = str(path).split("/")
    if str(path).startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        return None
    return quote(str(path), safe="/", errors="surrogateescape")   # the folder name's own bytes
