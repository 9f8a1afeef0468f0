"""CSV (UTF-8 or cp932): one tabular section, its header repeated per chunk (``rows 2-41``)."""

from __future__ import annotations

import csv
import io
from pathlib import PurePath

from knowledge.formats.base import ParsedDocument, ParseError, decode
from knowledge.formats.tables import MAX_CELLS, MAX_ROWS, Rows

__all__ = ["parse"]


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The file's records; a record's number is its line number when no field spans lines."""
    text = decode(raw)
    rows = Rows([MAX_ROWS, MAX_CELLS])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for record in reader:
            if not rows.add(reader.line_num, record):
                break
    except csv.Error as exc:
        raise ParseError(f"not a valid CSV file (line {reader.line_num})") from exc
    section = rows.section(None)
    if section is None:
        raise ParseError("no text")
    notes = (f"cut at {MAX_ROWS} rows or {MAX_CELLS} cells",) if rows.cut else ()
    return ParsedDocument(PurePath(name).stem, f"{section.header}\n{section.text}".strip(), {}, (section,), notes)
