"""Personal data in text: find it, replace it, keep it out of logs. Used for the prompts sent to a
non-local model, audit exports, job summaries and every log line (:class:`RedactingFilter`).

Kinds: emails (also written out, ``taro[at]example[dot]com``, and with non-ASCII local parts), phone
numbers, payment cards (Luhn), My Numbers (check digit), bank accounts (cue words such as 口座番号 or
普通, ゆうちょ 記号/番号, IBAN), birth dates (a cue such as 生年月日, 誕生日, DOB or 生まれ: a date alone
is a meeting, not a birthday) and addresses (〒 or 郵便番号 codes, and street addresses with or
without the prefecture). The rules (:mod:`bot.pii_rules`) live here rather than in a library:
Presidio needs spaCy models fetched at run time, and the Japanese-specific packages on PyPI are
single-author alphas without checksums or guards against dates, times and IP addresses.

Text is matched folded: NFKC (full-width digits, ＠, ．), invisible characters removed (a
zero-width space inside a number does not hide it), every dash and box-drawing line as "-". Spans
are mapped back, so ``find_pii`` reports offsets into the text as given and ``redact`` returns that
text with only the spans replaced.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from bot.pii_rules import NAME, RULES
from llm.text import strip_invisible

__all__ = ["KINDS", "Finding", "RedactingFilter", "find_pii", "redact"]

KINDS: frozenset[str] = frozenset({"email", "phone", "card", "my_number", "address", "bank_account", "birth_date"})

_PLACEHOLDERS = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "my_number": "[MY_NUMBER]",
    "address": "[ADDRESS]",
    "bank_account": "[BANK_ACCOUNT]",
    "birth_date": "[BIRTH_DATE]",
}


@dataclass(frozen=True)
class Finding:
    """One PII span ``text[start:end]`` of a kind in ``KINDS``."""

    kind: str
    start: int
    end: int


# NFKC leaves these dashes and lines alone; in numbers they all mean "-". The long-vowel mark ー
# counts only after a digit.
_DASHES = frozenset(
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63"
    "\u2500\u2501\u2504\u2505\u2508\u2509\u254c\u254d\u2574\u2576\u2578\u257a\u257c\u257e"
)
# The one-to-one part of NFKC that Japanese text needs most (full-width ASCII, the ideographic
# space), done at C speed so that usual text keeps its offsets without a map.
_ONE_TO_ONE = str.maketrans(
    {**{chr(0xFF01 + i): chr(0x21 + i) for i in range(94)}, "\u3000": " ", **dict.fromkeys(_DASHES, "-")}
)
_ASCII_DIGITS = frozenset("0123456789")
_NAME = re.compile(NAME)
_NAME_CHARS = 6


class _Folded:
    """``text`` folded for matching, with where each folded character came from in ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] | None = None
        self.ends: list[int] | None = None
        if text.isascii():
            self.folded = text
            return
        quick = text.translate(_ONE_TO_ONE)
        if unicodedata.is_normalized("NFKC", quick) and len(strip_invisible(quick)) == len(quick):
            # The usual case: the same length, so offsets need no map.
            self.folded = _long_vowels_after_digits(quick)
        else:
            self._fold_mapped()

    def _fold_mapped(self) -> None:
        folded: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for index, char in enumerate(self.text):
            if not char.isascii() and (not strip_invisible(char) or unicodedata.category(char) == "Cf"):
                continue
            piece = char if char.isascii() else unicodedata.normalize("NFKC", char)
            if piece and unicodedata.combining(piece[0]) and folded:
                # A mark folded apart from its base (ｶﾞ): compose it back, as NFKC of the whole would.
                joined = unicodedata.normalize("NFC", folded[-1] + piece[0])
                if len(joined) == 1:
                    folded[-1], ends[-1], piece = joined, index + 1, piece[1:]
            for part in piece:
                if part in _DASHES or (part == "ー" and folded and folded[-1] in _ASCII_DIGITS):
                    part = "-"
                folded.append(part)
                starts.append(index)
                ends.append(index + 1)
        self.folded, self.starts, self.ends = "".join(folded), starts, ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``text`` that folded into ``folded[start:end]``."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _long_vowels_after_digits(text: str) -> str:
    """ー after a digit is a dash ("０９０ー１２３４"); anywhere else it is a long vowel."""
    if "ー" not in text:
        return text
    chars = list(text)
    for index in range(1, len(chars)):
        if chars[index] == "ー" and chars[index - 1] in _ASCII_DIGITS:
            chars[index] = "-"
    return "".join(chars)


def _name_start(folded: str, start: int) -> int:
    """Where the place name that ends at ``start`` begins (up to ``_NAME_CHARS`` back)."""
    begin = start
    while begin > 0 and start - begin < _NAME_CHARS and _NAME.match(folded[begin - 1]):
        begin -= 1
    return begin


def _find(text: str, kinds: frozenset[str]) -> list[Finding]:
    """Non-overlapping findings of ``kinds`` in ``text``, sorted by position."""
    folded = _Folded(text)
    candidates: list[tuple[int, int, int, str]] = []
    for rank, rule in enumerate(RULES):
        if rule.kind not in kinds or (rule.needs is not None and not rule.needs.search(folded.folded)):
            continue
        for match in rule.pattern.finditer(folded.folded):
            if rule.valid is not None and not rule.valid(match):
                continue
            start, end = rule.span(match)
            if rule.named:
                start = _name_start(folded.folded, start)
            if start == end:
                continue
            start, end = folded.span(start, end)
            candidates.append((start, -(end - start), rank, rule.kind))
    findings: list[Finding] = []
    for start, negative_length, _rank, kind in sorted(candidates):
        if not findings or start >= findings[-1].end:
            findings.append(Finding(kind, start, start - negative_length))
    return findings


def find_pii(text: str) -> list[Finding]:
    """Every PII span in ``text``: non-overlapping, sorted by position, offsets into ``text`` itself."""
    return _find(text, KINDS)


def redact(text: str, *, kinds: frozenset[str] | None = None) -> str:
    """``text`` with each finding of ``kinds`` (default: all) replaced by its placeholder, e.g. ``[EMAIL]``."""
    selected = KINDS if kinds is None else kinds
    unknown = selected - KINDS
    if unknown:
        raise ValueError(f"unknown PII kinds: {sorted(unknown)}")
    pieces: list[str] = []
    cursor = 0
    for finding in _find(text, selected):
        pieces.append(text[cursor : finding.start])
        pieces.append(_PLACEHOLDERS[finding.kind])
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _redact_value(value: object) -> object:
    """A string argument redacted; anything else as it is."""
    return redact(value) if isinstance(value, str) else value


def _message(record: logging.LogRecord) -> str | None:
    """The record's formatted message, or None where its template and arguments do not fit."""
    try:
        return record.getMessage()
    except (TypeError, ValueError, KeyError):
        return None


_TRACEBACKS = logging.Formatter()


class RedactingFilter(logging.Filter):
    """A handler filter that redacts PII from a record's message, arguments and traceback in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` and let it through."""
        original = _message(record)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        if original is not None:
            # PII split between template and arguments, or inside a non-str argument, shows only once formatted.
            expected = redact(original)
            if _message(record) != expected:
                record.msg, record.args = expected, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
