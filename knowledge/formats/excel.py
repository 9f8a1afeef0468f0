"""XLSX (``openpyxl``, read-only, cached values not formulas): each sheet a tabular section.

The first non-empty row of a sheet is its header; the chunker repeats it at the head of each
chunk of rows and names the rows in the location (``Sheet1 rows 2-41``). A huge workbook is cut at
``tables.MAX_ROWS`` rows / ``MAX_CELLS`` cells, and the report says so.
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePath

from openpyxl import load_workbook

from knowledge.formats.base import ParsedDocument, ParseError, one_line
from knowledge.formats.office import check_package
from knowledge.formats.tables import MAX_CELLS, MAX_ROWS, Rows

__all__ = ["parse"]

_INVALID = "not a valid XLSX file"
_log = logging.getLogger(__name__)


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The workbook's sheets as sections, values only."""
    check_package(raw, "XLSX")
    budget = [MAX_ROWS, MAX_CELLS]
    sections = []
    cut: list[str] = []
    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # damaged parts surface as any error (lxml, KeyError, InvalidFileException…)
        _log.info("xlsx unreadable error=%s", type(exc).__name__)
        raise ParseError(_INVALID) from exc
    try:
        title = one_line([workbook.properties.title or ""])
        for sheet in workbook.worksheets:
            sheet_name = one_line([sheet.title]) or "Sheet"
            rows = Rows(budget)
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                if not rows.add(number, values):
                    break
            if rows.cut:
                cut.append(sheet_name)
            section = rows.section(sheet_name)
            if section is not None:
                sections.append(section)
    except Exception as exc:  # the same, from parts read lazily (read-only mode)
        _log.info("xlsx unreadable error=%s", type(exc).__name__)
        raise ParseError(_INVALID) from exc
    finally:
        workbook.close()
    if not sections:
        raise ParseError("no text")
    notes = (f"cut at {MAX_ROWS} rows or {MAX_CELLS} cells: {', '.join(cut)}",) if cut else ()
    text = "\n\n".join(f"{s.location}\n{s.header}\n{s.text}" for s in sections)
    return ParsedDocument(title or PurePath(name).stem, text, {}, tuple(sections), notes)
