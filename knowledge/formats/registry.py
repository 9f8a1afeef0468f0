"""Which parser reads which file: chosen by suffix, then checked against the content.

A format is one module in this package with a ``parse(name, raw) -> ParsedDocument`` function and
one line in ``FORMATS``. Modules are imported when a file of theirs is read, so importing the
registry costs nothing (``kura --help`` never loads pdfium or openpyxl).
"""

from __future__ import annotations

import importlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from knowledge.formats.base import ParsedDocument, ParseError

__all__ = ["FORMATS", "SUPPORTED_SUFFIXES", "Format", "parse_document", "sniff"]

#: The main part's content type in ``[Content_Types].xml`` of each Office Open XML kind.
_OOXML = {
    "docx": b"wordprocessingml.document.main+xml",
    "pptx": b"presentationml.presentation.main+xml",
    "xlsx": b"spreadsheetml.sheet.main+xml",
}
_LABELS = {
    "pdf": "a PDF file",
    "docx": "a Word document",
    "pptx": "a PowerPoint presentation",
    "xlsx": "an Excel workbook",
    "zip": "a ZIP archive",
    "damaged-zip": "a damaged ZIP archive",
    "binary": "binary data",
    "text": "text",
}


@dataclass(frozen=True)
class Format:
    """A file format: its suffixes, the content kind ``sniff`` must find, and its parser module."""

    name: str
    suffixes: tuple[str, ...]
    kind: str
    module: str


FORMATS: tuple[Format, ...] = (
    Format("Markdown", (".md", ".markdown"), "text", "knowledge.formats.markdown"),
    Format("text", (".txt",), "text", "knowledge.formats.markdown"),
    Format("PDF", (".pdf",), "pdf", "knowledge.formats.pdf"),
    Format("DOCX", (".docx",), "docx", "knowledge.formats.word"),
    Format("PPTX", (".pptx",), "pptx", "knowledge.formats.powerpoint"),
    Format("XLSX", (".xlsx",), "xlsx", "knowledge.formats.excel"),
    Format("HTML", (".html", ".htm"), "text", "knowledge.formats.web"),
    Format("WebVTT", (".vtt",), "text", "knowledge.formats.captions"),
    Format("SRT", (".srt",), "text", "knowledge.formats.captions"),
    Format("CSV", (".csv",), "text", "knowledge.formats.delimited"),
)
_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
#: Every suffix a parser reads; other files are skipped by the ingest.
SUPPORTED_SUFFIXES = frozenset(_BY_SUFFIX)


def sniff(raw: bytes) -> str:
    """What ``raw`` really is: ``pdf``, ``docx``/``pptx``/``xlsx``, ``zip``, ``binary`` or ``text``.

    Only the first bytes and the ZIP directory are read: nothing is unpacked here.
    """
    if b"%PDF-" in raw[:1024]:  # the header may follow a little junk (the spec allows 1024 bytes)
        return "pdf"
    if raw.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                if "[Content_Types].xml" not in archive.namelist():
                    return "zip"
                info = archive.getinfo("[Content_Types].xml")
                if info.file_size > 1_000_000:
                    return "zip"
                types = archive.read(info)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
            return "damaged-zip"
        return next((kind for kind, mark in _OOXML.items() if mark in types), "zip")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a BOM: text, read by the parser
        return "text"
    return "binary" if b"\x00" in raw[:8192] else "text"


def parse_document(name: str, raw: bytes) -> ParsedDocument:
    """Parse ``raw``, the bytes of a file called ``name``; ParseError with a one-line reason if it cannot.

    The suffix picks the parser and the content must agree: a ``.pdf`` that is really a ZIP file
    is refused, not handed to a parser that would fail somewhere deep.
    """
    suffix = PurePath(name).suffix.lower()
    fmt = _BY_SUFFIX.get(suffix)
    if fmt is None:
        raise ParseError(f"not a supported format: {suffix or 'no suffix'}")
    kind = sniff(raw)
    if kind == "damaged-zip" and fmt.kind in _OOXML:
        kind = fmt.kind  # its parser says it is not a valid file of its kind
    if kind != fmt.kind:
        if fmt.kind == "text" and kind == "binary":
            raise ParseError("binary content")
        expected = _LABELS[fmt.kind] if fmt.kind != "text" else f"{fmt.name} text"
        raise ParseError(f"not {expected} (it is {_LABELS[kind]})")
    parse: Callable[[str, bytes], ParsedDocument] = importlib.import_module(fmt.module).parse
    return parse(name, raw)
