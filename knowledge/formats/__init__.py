"""Document formats: a registry choosing one parser per format (by suffix, checked against the
content), each returning the document as located sections. See ``registry.FORMATS``."""

from knowledge.formats.base import ParsedDocument, ParseError, Section
from knowledge.formats.registry import FORMATS, SUPPORTED_SUFFIXES, parse_document

__all__ = ["FORMATS", "SUPPORTED_SUFFIXES", "ParseError", "ParsedDocument", "Section", "parse_document"]
