"""Split documents into chunks that end at sentence ends, sized in the embedding model's tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from langchain_text_splitters import RecursiveCharacterTextSplitter

from knowledge.formats.base import Section

__all__ = ["SEPARATORS", "Piece", "make_splitter", "split_sections", "split_text"]

#: Paragraph, line, Japanese sentence ends, Japanese comma, space, then characters.
SEPARATORS: list[str] = ["\n\n", "\n", "。", "！", "？", "、", " ", ""]


def make_splitter(
    count_tokens: Callable[[str], int], chunk_tokens: int, overlap_tokens: int
) -> RecursiveCharacterTextSplitter:
    """A splitter keeping each separator at the end of its piece (``keep_separator="end"``).

    A tokenizer counts fixed tokens (prefix, special tokens) even for empty text; the splitter
    adds lengths of pieces, so that overhead is taken out of each piece and out of the budget once.
    """
    overhead = count_tokens("")

    def length(text: str) -> int:
        return max(0, count_tokens(text) - overhead)

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=max(1, chunk_tokens - overhead),
        chunk_overlap=min(overlap_tokens, max(0, chunk_tokens - overhead - 1)),
        length_function=length,
        strip_whitespace=True,
    )


def split_text(splitter: RecursiveCharacterTextSplitter, text: str) -> list[str]:
    """Split and drop empty pieces."""
    return [piece for piece in splitter.split_text(text) if piece.strip()]


class Piece(NamedTuple):
    """A chunk's text and where it is in its document (None when the format has no landmark)."""

    text: str
    location: str | None


def split_sections(
    splitter: RecursiveCharacterTextSplitter,
    sections: Sequence[Section],
    count_tokens: Callable[[str], int],
    chunk_tokens: int,
) -> list[Piece]:
    """Split each section on its own, so every chunk keeps its section's location.

    A tabular section (one with a ``header``) is cut between rows, never inside one (unless a
    single row is too long), its header at the head of every chunk and the chunk's row range in
    its location: ``Sheet1 rows 2-41``.
    """
    pieces: list[Piece] = []
    for section in sections:
        if section.header and section.rows:
            pieces.extend(_split_rows(splitter, section, count_tokens, chunk_tokens))
        else:
            pieces.extend(Piece(text, section.location) for text in split_text(splitter, section.text))
    return pieces


def _rows_location(name: str | None, first: int, last: int) -> str:
    rows = f"row {first}" if first == last else f"rows {first}-{last}"
    return f"{name} {rows}" if name else rows


def _split_rows(
    splitter: RecursiveCharacterTextSplitter,
    section: Section,
    count_tokens: Callable[[str], int],
    chunk_tokens: int,
) -> list[Piece]:
    overhead = count_tokens("")
    budget = max(1, chunk_tokens - count_tokens(section.header))
    pieces: list[Piece] = []
    lines: list[str] = []
    numbers: list[int] = []
    used = 0

    def close() -> None:
        if lines:
            text = "\n".join([section.header, *lines])
            pieces.append(Piece(text, _rows_location(section.location, numbers[0], numbers[-1])))
            lines.clear()
            numbers.clear()

    for line, number in zip(section.text.split("\n"), section.rows, strict=True):
        size = max(1, count_tokens(line) - overhead)
        if lines and used + size > budget:
            close()
            used = 0
        if size > budget:  # one row longer than a chunk: cut it, every part with the header
            for part in split_text(splitter, line):
                pieces.append(Piece(f"{section.header}\n{part}", _rows_location(section.location, number, number)))
            continue
        lines.append(line)
        numbers.append(number)
        used += size
    close()
    return pieces
