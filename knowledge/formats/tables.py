"""Rows of a table (a sheet, a CSV file) as one tabular section, with the caps both share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from knowledge.formats.base import Section, row_text

__all__ = ["MAX_CELLS", "MAX_ROWS", "Rows", "cell_text"]

#: A file's tables together: rows after this many are cut (the ingest report says so).
MAX_ROWS = 20_000
#: Cells read in a file, empty ones included; a row's cells past ``MAX_COLUMNS`` are not read.
MAX_CELLS = 1_000_000
MAX_COLUMNS = 200


def cell_text(value: object) -> str:
    """A cell's value as people write it: ``12`` not ``12.0``, dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


class Rows:
    """Collects the rows of one table; the first non-empty row is its header."""

    def __init__(self, budget: list[int]) -> None:
        #: [rows left, cells left], shared by every table of a file.
        self._budget = budget
        self.header = ""
        self.lines: list[str] = []
        self.numbers: list[int] = []
        self.cut = False

    def add(self, number: int, cells: Iterable[object]) -> bool:
        """Add row ``number``; False once the file's caps are reached (stop reading)."""
        if self._budget[0] <= 0 or self._budget[1] <= 0:
            self.cut = True
            return False
        values = []
        for index, value in enumerate(cells):
            if index >= MAX_COLUMNS:
                break
            values.append(cell_text(value))
        self._budget[1] -= max(1, len(values))
        text = row_text(values)
        if not text.replace("|", "").strip():
            return True
        if not self.header:
            self.header = text
            return True
        self._budget[0] -= 1
        self.lines.append(text)
        self.numbers.append(number)
        return True

    def section(self, name: str | None) -> Section | None:
        """The table as a section (``name`` prefixes its row ranges: ``Sheet1 rows 2-41``)."""
        if not self.lines:
            if not self.header:
                return None
            return Section(name, self.header)  # a table of one row: nothing to repeat it over
        return Section(name, "\n".join(self.lines), header=self.header, rows=tuple(self.numbers))
