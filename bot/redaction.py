"""PII rules for logs, audit exports and text sent to a non-local model: emails, phones, cards, My Number, addresses.

The rules live here rather than in a library. Presidio needs spaCy models fetched at run time (no model hub
on-prem); the Japanese-specific packages on PyPI are single-author alphas without Luhn or My Number check
digits or guards against dates, times and IP addresses. Every rule is one compiled regex over NFKC-folded
text (bounded quantifiers, anchored lookbehinds: linear time) plus a checksum where the kind has one.
Spans are reported in the original text.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["KINDS", "Finding", "RedactingFilter", "find_pii", "redact"]

KINDS: frozenset[str] = frozenset({"email", "phone", "card", "my_number", "address"})

_PLACEHOLDERS = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "my_number": "[MY_NUMBER]",
    "address": "[ADDRESS]",
}


@dataclass(frozen=True)
class Finding:
    """One PII span ``text[start:end]`` of a kind in ``KINDS``."""

    kind: str
    start: int
    end: int


# NFKC leaves these dashes alone; in numbers they all mean "-". The long-vowel mark ー counts only after a digit.
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63")
_DASH_TABLE = str.maketrans(dict.fromkeys(_DASHES, "-"))
_DIGIT_LONG_VOWEL = re.compile("(?<=[0-9])ー")
_ASCII_DIGITS = frozenset("0123456789")

# A number must not continue one: no digit before it, nor a digit and a separator (dates, IPs, versions, amounts).
_NUMBER_START = r"(?<![0-9])(?<![0-9][-./:,])"
_NUMBER_END = r"(?![0-9])(?![-./:,][0-9])"
# Space-grouped cards and My Numbers also continue through a neighbouring four-digit group ("4111 1111 1111 1112").
_GROUP_BEFORE = r"(?<!(?<![0-9])[0-9]{4} )"
_GROUP_AFTER = r"(?! [0-9]{4}(?![0-9]))"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9-])",
    re.ASCII,
)

_PHONE = re.compile(
    _NUMBER_START + r"(?<![A-Za-z]-)(?:"
    r"(?<![A-Za-z0-9+])\+(?:[ -]?\(?[0-9]\)?){8,15}(?![ -]?\(?[0-9])"  # +81 3-1234-5678, +1 (415) 555-0100
    r"|0[0-9]{1,4}[ -][0-9]{1,4}[ -][0-9]{3,4}"  # 03-1234-5678, 0120-123-456, 090 1234 5678
    r"|\(0[0-9]{1,4}\) ?[0-9]{1,4}[ -]?[0-9]{3,4}"  # (03) 1234-5678
    r"|0[0-9]{1,4}\([0-9]{1,4}\)[0-9]{3,4}"  # 03(1234)5678
    r"|0[0-9]{9,10}"  # 0312345678, 09012345678
    r")" + _NUMBER_END,
    re.ASCII,
)

_CARD = re.compile(
    _NUMBER_START + r"(?:"
    r"[0-9]{13,19}"
    rf"|{_GROUP_BEFORE}[0-9]{{4}}(?:[ -][0-9]{{4}}){{3}}(?:[ -][0-9]{{1,3}})?{_GROUP_AFTER}"  # 4-4-4-4, 4-4-4-4-3
    rf"|{_GROUP_BEFORE}[0-9]{{4}}[ -][0-9]{{6}}[ -][0-9]{{4,5}}{_GROUP_AFTER}"  # Amex 4-6-5, Diners 4-6-4
    r")" + _NUMBER_END,
    re.ASCII,
)

_MY_NUMBER = re.compile(
    _NUMBER_START
    + rf"(?:[0-9]{{12}}|{_GROUP_BEFORE}[0-9]{{4}}([ -])[0-9]{{4}}\1[0-9]{{4}}{_GROUP_AFTER})"
    + _NUMBER_END,
    re.ASCII,
)

_PREFECTURES = (
    "北海道",
    "東京都",
    "大阪府",
    "京都府",
    *(
        f"{name}県"
        for name in [
            "青森",
            "岩手",
            "宮城",
            "秋田",
            "山形",
            "福島",
            "茨城",
            "栃木",
            "群馬",
            "埼玉",
            "千葉",
            "神奈川",
            "新潟",
            "富山",
            "石川",
            "福井",
            "山梨",
            "長野",
            "岐阜",
            "静岡",
            "愛知",
            "三重",
            "滋賀",
            "兵庫",
            "奈良",
            "和歌山",
            "鳥取",
            "島根",
            "岡山",
            "広島",
            "山口",
            "徳島",
            "香川",
            "愛媛",
            "高知",
            "福岡",
            "佐賀",
            "長崎",
            "熊本",
            "大分",
            "宮崎",
            "鹿児島",
            "沖縄",
        ]
    ),
)
_KANA_KANJI = "[\u3005\u3006\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff]"
_MUNICIPALITY = "[市区町村郡]"
_NOT_MUNICIPALITY = "(?:(?![市区町村郡])" + _KANA_KANJI + ")"
_BLOCK_NUMBER = "[1-9][0-9]{0,4}"
_BLOCK = (
    rf"(?:(?:{_BLOCK_NUMBER}|[一二三四五六七八九十]{{1,3}})丁目"  # 1丁目2番3号, 一丁目9-1
    rf"(?:{_BLOCK_NUMBER}(?:番地?(?:[0-9]{{1,5}}号?)?|-[0-9]{{1,5}}(?:-[0-9]{{1,5}})?|号))?"
    rf"|{_BLOCK_NUMBER}番地?(?:[0-9]{{1,5}}号?|-[0-9]{{1,5}})?"  # 2番地, 2番3号
    rf"|{_BLOCK_NUMBER}(?:-[0-9]{{1,5}}){{1,3}})"  # 1-2-3, 1-2-3-101
    r"(?![0-9])(?!-[0-9])"
)
# A street address needs a municipality (市区町村郡) and a block number after it; Sapporo's 北1条西2丁目 is allowed.
# The run up to the first 市区町村郡 has one way to match, so only the tail before the block backtracks.
_LOCALITY = rf"{_NOT_MUNICIPALITY}{{0,30}}{_MUNICIPALITY}(?:{_KANA_KANJI}| |[0-9]{{1,2}}条){{0,30}}?{_BLOCK}"
_PREFECTURE = "(?:" + "|".join(_PREFECTURES) + ")"
_POSTAL = r"〒 ?[0-9]{3}-?[0-9]{4}(?![0-9])"
_ADDRESS = re.compile(
    rf"{_POSTAL}(?: ?(?:{_PREFECTURE} ?)?{_LOCALITY})?|{_PREFECTURE} ?{_LOCALITY}",
    re.ASCII,
)


def _digits(text: str) -> str:
    """The ASCII digits of ``text``, in order."""
    return "".join(char for char in text if char in _ASCII_DIGITS)


def _luhn_valid(digits: str) -> bool:
    """Whether ``digits`` pass the Luhn check used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _my_number_valid(digits: str) -> bool:
    """Whether twelve digits carry the 個人番号 check digit (weights n+1 for n<=6, n-5 above, mod 11)."""
    total = sum(int(char) * (n + 1 if n <= 6 else n - 5) for n, char in enumerate(reversed(digits[:11]), start=1))
    remainder = total % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


def _phone_valid(match: str) -> bool:
    """International numbers have 8–15 digits, domestic ones 10 or 11."""
    count = len(_digits(match))
    return 8 <= count <= 15 if match.startswith("+") else 10 <= count <= 11


# Where two kinds claim overlapping text, the longer match wins; on a tie, the earlier rule here.
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", _EMAIL, None),
    ("phone", _PHONE, _phone_valid),
    ("card", _CARD, lambda match: _luhn_valid(_digits(match))),
    ("my_number", _MY_NUMBER, lambda match: _my_number_valid(_digits(match))),
    ("address", _ADDRESS, None),
)


def _fold(text: str) -> tuple[str, list[int] | None]:
    """NFKC-fold ``text`` character by character, with the original index of each folded character."""
    if text.isascii():
        return text, None
    if unicodedata.is_normalized("NFKC", text):  # the usual case: same length, so offsets need no map
        return _DIGIT_LONG_VOWEL.sub("-", text.translate(_DASH_TABLE)), None
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in char if char.isascii() else unicodedata.normalize("NFKC", char):
            if part in _DASHES or (part == "ー" and folded and folded[-1] in _ASCII_DIGITS):
                part = "-"
            folded.append(part)
            origin.append(index)
    return "".join(folded), origin


def _find(text: str, kinds: frozenset[str]) -> list[Finding]:
    """Non-overlapping findings of ``kinds`` in ``text``, sorted by position."""
    folded, origin = _fold(text)
    candidates: list[tuple[int, int, int, str]] = []
    for rank, (kind, pattern, valid) in enumerate(_RULES):
        if kind not in kinds:
            continue
        for match in pattern.finditer(folded):
            if valid is None or valid(match.group()):
                start, end = match.span()
                if origin is not None:
                    start, end = origin[start], origin[end - 1] + 1
                candidates.append((start, -(end - start), rank, kind))
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
