"""PPTX (``python-pptx``): one section per slide (``slide N``): title, text, tables, then notes."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from pathlib import PurePath

from pptx import Presentation
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape

from knowledge.formats.base import ParsedDocument, ParseError, Section, one_line, row_text
from knowledge.formats.office import check_package

__all__ = ["MAX_SLIDES", "parse"]

#: Slides after this many are not read (the ingest report says so).
MAX_SLIDES = 1000
_log = logging.getLogger(__name__)
_INVALID = "not a valid PPTX file"


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The presentation's slides as sections; speaker notes follow the slide's text (``Notes: …``)."""
    check_package(raw, "PPTX")
    try:
        presentation = Presentation(io.BytesIO(raw))
        title = one_line([presentation.core_properties.title or ""])
        sections: list[Section] = []
        total = len(presentation.slides)
        for number, slide in enumerate(presentation.slides, start=1):
            if number > MAX_SLIDES:
                break
            heading = slide.shapes.title
            slide_title = one_line(heading.text_frame.text.split("\n")) if heading is not None else ""
            lines = [slide_title] if slide_title else []
            for shape in _shapes(slide.shapes):
                if heading is not None and shape.shape_id == heading.shape_id:
                    continue
                lines.extend(_text_of(shape))
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                spoken = one_line(slide.notes_slide.notes_text_frame.text.split("\n"))
                if spoken:
                    lines.append(f"Notes: {spoken}")
            if lines:
                sections.append(Section(f"slide {number}", "\n".join(lines)))
                title = title or slide_title
    except Exception as exc:  # damaged parts surface as any error (lxml, KeyError, AttributeError…)
        _log.info("office file unreadable error=%s", type(exc).__name__)
        raise ParseError(_INVALID) from exc
    if not sections:
        raise ParseError("no text")
    notes = (f"only the first {MAX_SLIDES} of {total} slides were read",) if total > MAX_SLIDES else ()
    text = "\n\n".join(s.text for s in sections)
    return ParsedDocument(title or PurePath(name).stem, text, {}, tuple(sections), notes)


def _shapes(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Every shape, the members of groups included, in the slide's order."""
    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _text_of(shape: BaseShape) -> list[str]:
    if getattr(shape, "has_table", False):
        return [r for r in (row_text(c.text for c in row.cells) for row in shape.table.rows) if r]  # type: ignore[attr-defined]
    if shape.has_text_frame:
        paragraphs = (one_line([p.text.replace("\v", " ")]) for p in shape.text_frame.paragraphs)  # type: ignore[attr-defined]
        return [p for p in paragraphs if p]
    return []
