"""PDF: the text layer, one section per page (``p. N``); pdfium first, pdfminer when pdfium fails.

No OCR: a scanned PDF (no text on any page) is refused with a reason rather than ingested empty.
Extraction puts spaces and line breaks between Japanese characters where the layout wrapped or
spaced them; ``join_cjk`` takes those out.
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePath

import pypdfium2
import pypdfium2.raw as pdfium_c

from knowledge.formats.base import ParsedDocument, ParseError, Section, clean, join_cjk

__all__ = ["MAX_PAGES", "parse"]

_log = logging.getLogger(__name__)

#: Pages after this many are not read (the ingest report says so).
MAX_PAGES = 2000

_ENCRYPTED = "encrypted (needs a password)"
_NO_TEXT = "no text layer (scanned?)"


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The PDF's pages as sections; ParseError if it is encrypted, damaged or has no text at all."""
    try:
        pages, total, title = _with_pdfium(raw)
    except _Encrypted as exc:
        raise ParseError(_ENCRYPTED) from exc
    except pypdfium2.PdfiumError as exc:
        _log.info("pdf: pdfium failed, trying pdfminer error=%s", type(exc).__name__)
        pages, total, title = _with_pdfminer(raw)
    sections = tuple(
        Section(f"p. {number}", text) for number, text in enumerate((_tidy(page) for page in pages), start=1) if text
    )
    if not sections:
        raise ParseError(_NO_TEXT)
    notes = (f"only the first {MAX_PAGES} of {total} pages were read",) if total > MAX_PAGES else ()
    title = " ".join(clean(title).split()) or PurePath(name).stem
    return ParsedDocument(title, "\n\n".join(s.text for s in sections), {}, sections, notes)


def _tidy(page: str) -> str:
    lines = [" ".join(line.split()) for line in join_cjk(clean(page)).split("\n")]
    return "\n".join(line for line in lines if line).strip()


class _Encrypted(Exception):
    """The PDF needs a password."""


def _with_pdfium(raw: bytes) -> tuple[list[str], int, str]:
    try:
        document = pypdfium2.PdfDocument(raw)
    except pypdfium2.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise _Encrypted from exc
        raise
    try:
        total = len(document)
        pages = []
        for index in range(min(total, MAX_PAGES)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        title = document.get_metadata_dict(skip_empty=True).get("Title", "")
    finally:
        document.close()
    return pages, total, str(title)


def _with_pdfminer(raw: bytes) -> tuple[list[str], int, str]:
    # Imported here: pdfminer is only the fallback, and a slow import.
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException

    pages: list[str] = []
    try:
        for layout in extract_pages(io.BytesIO(raw), maxpages=MAX_PAGES):
            pages.append("\n".join(e.get_text() for e in layout if isinstance(e, LTTextContainer)))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise ParseError(_ENCRYPTED) from exc
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParseError("not a valid PDF file") from exc
    return pages, len(pages), ""
