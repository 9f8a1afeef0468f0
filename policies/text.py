"""Folding text for keyword matching, the same for a policy's keywords (once, at load) and for a
question (each request): a keyword matches however it is typed.

NFKC (full-width, half-width katakana), case folding, hiragana as katakana, invisible characters,
stray combining marks and accents on Latin letters dropped, Cyrillic and Greek look-alikes of Latin
letters folded, whitespace runs made one space. A keyword with any non-ASCII character (Japanese)
also ignores spaces, as Japanese is written without them and a space is an easy way to split a
word; an ASCII keyword keeps word spacing, or "ship a year" would contain "pay".
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "fold_keyword", "keyword_in"]

# Format characters (zero-width, bidi, soft hyphen, tags: category Cf) and invisible marks that are
# not Cf: variation selectors, the combining grapheme joiner, Hangul fillers.
_INVISIBLE_NOT_CF = re.compile("[\u034f\u115f\u1160\u180b-\u180d\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")
# Lower-case letters of other scripts that look like Latin ones (after case folding).
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁһԛԝкмтвпгοαινκτυρεχ",
    "aeopcyxijsdhqwkmtbnroaivktupex",
)
_SPACES = re.compile(r"\s+")
# Hiragana as katakana (ぁ..ゖ, ゝゞ -> ァ..ヶ, ヽヾ): きゅうよ is キュウヨ written another way.
_KANA = str.maketrans({chr(c): chr(c + 0x60) for c in [*range(0x3041, 0x3097), 0x309D, 0x309E]})


def fold(text: str) -> str:
    """``text`` folded for matching (see the module's description); spaces kept, as one."""
    text = unicodedata.normalize("NFKC", _INVISIBLE_NOT_CF.sub("", text))
    text = unicodedata.normalize("NFKC", text.casefold()).translate(_LOOKALIKES).translate(_KANA)
    kept = "".join(_base(c) for c in text if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return _SPACES.sub(" ", kept).strip()


def _base(char: str) -> str:
    """A Latin letter without its accents (á -> a); any other character as it is (ガ keeps its mark)."""
    if char.isascii():
        return char
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() else char


def fold_keyword(keyword: str) -> str:
    """A policy keyword as it is stored and matched: folded; without spaces unless plain ASCII."""
    folded = fold(keyword)
    return folded if folded.isascii() else folded.replace(" ", "")


def keyword_in(keyword: str, folded: str, compact: str) -> bool:
    """Whether a ``fold_keyword`` keyword occurs in a question given as ``fold(question)`` and that
    without spaces."""
    return keyword in (folded if keyword.isascii() else compact)
