"""CSV for spreadsheets: every export writes through here, so no cell opens as a formula.

A cell that starts like a formula (OWASP "CSV injection") is kept as text with a leading quote:
an export may carry text a stranger typed, such as a browser's user agent in the audit trail.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

# A spreadsheet would run a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def csv_write(out, *, header: list[str], rows: Iterable[Iterable]) -> None:
    """The header and the rows, one line each, to ``out`` (a file, a StringIO or an HttpResponse)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
