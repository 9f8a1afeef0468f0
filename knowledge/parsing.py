"""Turn a file into text, a title and its front matter. Markdown and plain text for now."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter

from knowledge.safe_yaml import BoundedYAMLHandler, YAMLLimit
from llm.prompts import strip_invisible

__all__ = ["SUPPORTED_SUFFIXES", "ParseError", "ParsedDocument", "parse_file"]

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


class ParseError(ValueError):
    """The file cannot be read as a document; the message is the one-line reason."""


@dataclass(frozen=True)
class ParsedDocument:
    """A file's text (invisible characters removed), title and front matter."""

    title: str
    text: str
    metadata: dict[str, object] = field(default_factory=dict)


def _decode(raw: bytes) -> str:
    # UTF-8 first; Shift_JIS (cp932) is still common for Japanese text files.
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError("not UTF-8 or Shift_JIS text")


def parse_file(path: Path, raw: bytes) -> ParsedDocument:
    """Parse ``raw`` (the bytes of ``path``) by its suffix; ParseError with a reason if it cannot."""
    if b"\x00" in raw[:8192]:
        raise ParseError("binary content")
    # Invisible characters are stripped at ingest so they can carry no hidden instruction.
    text = unicodedata.normalize("NFC", strip_invisible(_decode(raw)))
    metadata: dict[str, object] = {}
    if path.suffix.lower() in {".md", ".markdown"}:
        try:
            post = frontmatter.loads(text, handler=BoundedYAMLHandler())
        except YAMLLimit as exc:
            raise ParseError(f"front matter: {exc}") from exc
        if not isinstance(post.metadata, dict):
            raise ParseError("front matter must be a mapping")
        metadata = dict(post.metadata)
        text = post.content
        heading = _HEADING.search(text)
        title = str(metadata.get("title") or (heading.group(1) if heading else path.stem))
    else:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        title = first if 0 < len(first) <= 80 else path.stem
    if not text.strip():
        raise ParseError("no text")
    return ParsedDocument(title=title.strip(), text=text.strip(), metadata=metadata)
