"""DOCX (``python-docx``): headings start sections (the heading is the location), tables as rows."""

from __future__ import annotations

import io
import logging
from pathlib import PurePath

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from knowledge.formats.base import ParsedDocument, ParseError, Section, one_line, row_text
from knowledge.formats.office import check_package

__all__ = ["parse"]

_log = logging.getLogger(__name__)
_INVALID = "not a valid DOCX file"


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The document's paragraphs and tables in order, cut at headings."""
    check_package(raw, "DOCX")
    try:
        document = docx.Document(io.BytesIO(raw))
        blocks = list(document.iter_inner_content())
        core_title = document.core_properties.title or ""
    except Exception as exc:  # damaged parts surface as any error (lxml, KeyError, AttributeError…)
        _log.info("office file unreadable error=%s", type(exc).__name__)
        raise ParseError(_INVALID) from exc
    sections: list[Section] = []
    location: str | None = None
    lines: list[str] = []
    title = one_line([core_title])

    def close() -> None:
        if lines:
            sections.append(Section(location, "\n".join(lines)))

    for block in blocks:
        if isinstance(block, Table):
            lines.extend(_rows(block))
            continue
        text = one_line(block.text.split("\n"))
        if not text:
            continue
        style = _style(block)
        if style:
            title = title or text  # the core property, else the first title or heading
            close()
            location, lines = text, []
        lines.append(text)
    close()
    if not sections:
        raise ParseError("no text")
    return ParsedDocument(title or PurePath(name).stem, "\n\n".join(s.text for s in sections), {}, tuple(sections))


def _style(paragraph: Paragraph) -> str:
    """``heading``, ``title`` or ``""``: Word's built-in style names, English or Japanese."""
    try:
        name = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return ""
    if name == "title" or name == "表題":
        return "title"
    return "heading" if name.startswith(("heading", "見出し")) else ""


def _rows(table: Table) -> list[str]:
    """A table's rows, cells joined with `` | ``; a merged cell counted once per row."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # python-docx repeats a merged cell for each grid column
                continue
            previous = cell._tc
            cells.append(cell.text.replace("\n", " "))
        if text := row_text(cells):
            rows.append(text)
    return rows
