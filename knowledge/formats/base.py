"""What every format parser returns, and the cleaning all of them share.

A parser turns the bytes of one file into a ``ParsedDocument``: a title, its metadata (Markdown
front matter; ``{}`` for the others) and its ``Section``s, each knowing where it is in the file
(page, slide, heading, sheet, cue time), so a chunk cut from it can say where it came from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from llm.prompts import strip_invisible

__all__ = ["ParseError", "ParsedDocument", "Section", "clean", "decode", "join_cjk", "one_line", "row_text"]


class ParseError(ValueError):
    """The file cannot be read as a document; the message is the one-line reason."""


@dataclass(frozen=True)
class Section:
    """A part of a document that starts somewhere the reader can find again.

    ``location`` is what a citation shows (``p. 3``, ``slide 2``, a heading, ``00:12:30``; None
    when the part has no landmark). ``header`` is a table's header row: the chunker repeats it at
    the head of every chunk of ``rows``. A tabular section's ``text`` is one line per row, and
    ``rows`` gives each line's row number in the file, so a chunk's location names its rows.
    """

    location: str | None
    text: str
    header: str = ""
    rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    """A file's title, front matter and sections (invisible characters removed).

    ``text`` is the whole document, kept for callers that want it in one piece; ``notes`` says what
    the parser left out (a sheet cut at its row cap), for the ingest report.
    """

    title: str
    text: str
    metadata: dict[str, object] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# Japanese (and Chinese) characters and their full-width punctuation: extraction from PDF puts
# spaces and line breaks between them where the layout wrapped; Japanese never has spaces there.
_CJK = "\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60\uff61-\uff9f"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


def clean(text: str) -> str:
    """NFC, invisible and control characters out (they could carry hidden instructions), ``\\n`` line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", unicodedata.normalize("NFC", strip_invisible(text)))


def join_cjk(text: str) -> str:
    """Remove the spaces between two Japanese characters (extraction puts them where the layout
    spaced the glyphs; Japanese has none); keep those between Latin words.

    A line break is removed too where a Japanese line was wrapped: the line fills the text's width
    (within 15% of its longest line) and both sides are Japanese. A short line (a heading, a
    paragraph's end) keeps its break.
    """
    lines = [_CJK_GAP.sub("", line).strip() for line in text.split("\n")]
    width = max((_width(line) for line in lines), default=0)
    out: list[str] = []
    for line in lines:
        previous = out[-1] if out else ""
        if (
            previous
            and line
            and _CJK_CHAR.match(line[0])
            and _CJK_CHAR.match(previous[-1])
            and previous[-1] not in "。．！？」』）"
            and _width(previous) >= 0.85 * width
        ):
            out[-1] = previous + line
        else:
            out.append(line)
    return "\n".join(out)


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def one_line(parts: Iterable[str], separator: str = " ") -> str:
    """``parts`` cleaned, each collapsed to single spaces, empty ones dropped, joined."""
    return separator.join(p for p in (" ".join(clean(part).split()) for part in parts) if p)


def row_text(cells: Iterable[str]) -> str:
    """A table row as ``a | b | c``: empty cells kept in place (columns stay aligned with the
    header), trailing empty ones dropped."""
    values = [" ".join(clean(cell).split()) for cell in cells]
    while values and not values[-1]:
        values.pop()
    return " | ".join(values)


def decode(raw: bytes) -> str:
    """Text files: UTF-8 first; Shift_JIS (cp932) is still common for Japanese files. Cleaned."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return clean(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ParseError("not UTF-8 or Shift_JIS text")
