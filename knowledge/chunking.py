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
