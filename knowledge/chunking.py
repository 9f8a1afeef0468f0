"""Split documents into chunks that end at sentence ends, sized in the embedding model's tokens."""

from __future__ import annotations

from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

__all__ = ["SEPARATORS", "make_splitter", "split_text"]

#: Paragraph, line, Japanese sentence ends, Japanese comma, space, then characters.
SEPARATORS: list[str] = ["\n\n", "\n", "。", "！", "？", "、", " ", ""]


def make_splitter(
    count_tokens: Callable[[str], int], chunk_tokens: int, overlap_tokens: int
) -> RecursiveCharacterTextSplitter:
    """A splitter keeping each separator at the end of its piece (``keep_separator="end"``)."""
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_tokens,
        chunk_overlap=overlap_tokens,
        length_function=count_tokens,
        strip_whitespace=True,
    )


def split_text(splitter: RecursiveCharacterTextSplitter, text: str) -> list[str]:
    """Split and drop empty pieces."""
    return [piece for piece in splitter.split_text(text) if piece.strip()]
