"""Markdown (front matter, headings start sections) and plain text (one section)."""

from __future__ import annotations

import re
from pathlib import PurePath

import frontmatter

from knowledge.formats.base import ParsedDocument, ParseError, Section, decode
from knowledge.safe_yaml import BoundedYAMLHandler, YAMLLimit

__all__ = ["parse"]

_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def parse(name: str, raw: bytes) -> ParsedDocument:
    """A Markdown or text file; Markdown front matter becomes the metadata (access, title)."""
    text = decode(raw)
    path = PurePath(name)
    if path.suffix.lower() not in {".md", ".markdown"}:
        if not text.strip():
            raise ParseError("no text")
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        title = first if 0 < len(first) <= 80 else path.stem
        return ParsedDocument(title.strip(), text.strip(), {}, (Section(None, text.strip()),))
    try:
        post = frontmatter.loads(text, handler=BoundedYAMLHandler())
    except YAMLLimit as exc:
        raise ParseError(f"front matter: {exc}") from exc
    if not isinstance(post.metadata, dict):
        raise ParseError("front matter must be a mapping")
    metadata = dict(post.metadata)
    body = post.content
    if not body.strip():
        raise ParseError("no text")
    heading = _TITLE.search(body)
    title = str(metadata.get("title") or (heading.group(1) if heading else path.stem)).strip()
    return ParsedDocument(title, body.strip(), metadata, tuple(_sections(body)))


def _sections(body: str) -> list[Section]:
    """A section per heading (its location is the heading's text); text before the first has none."""
    sections: list[Section] = []
    location: str | None = None
    lines: list[str] = []
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match is not None:
            if "\n".join(lines).strip():
                sections.append(Section(location, "\n".join(lines).strip()))
            location, lines = match.group(2), []
        lines.append(line)
    if "\n".join(lines).strip():
        sections.append(Section(location, "\n".join(lines).strip()))
    return sections
