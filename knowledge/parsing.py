"""Turn a file into a title, its front matter and located sections: the entry point the ingest
and the benchmarks call. Each format's parser lives in ``knowledge.formats`` (a registry: one module
per format, chosen by suffix and checked against the content)."""

from __future__ import annotations

from pathlib import Path

from knowledge.formats.base import ParsedDocument, ParseError, Section
from knowledge.formats.registry import SUPPORTED_SUFFIXES, parse_document

__all__ = ["SUPPORTED_SUFFIXES", "ParseError", "ParsedDocument", "Section", "parse_file"]


def parse_file(path: Path, raw: bytes) -> ParsedDocument:
    """Parse ``raw`` (the bytes of ``path``) by its suffix; ParseError with a reason if it cannot."""
    return parse_document(path.name, raw)
