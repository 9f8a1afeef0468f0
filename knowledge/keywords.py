"""Keywords for the search's keyword leg: text to a tsvector literal with positions, a question to a tsquery.

The embedded PostgreSQL has no Japanese parser (no pg_bigm, no pg_trgm; the default parser glues
Japanese punctuation to words), so the terms are made here, the same way for chunks and questions:

* the text is NFKC-folded (full-width ``Ｇ３`` is ``g3``) and lower-cased;
* Japanese/Chinese/Korean runs become overlapping character bigrams (a one-character run becomes
  that character), except bigrams of two hiragana (particles and endings: ``ます``, ``して``), which
  match nearly every Japanese chunk and would drown the rare terms in an OR query;
* Latin and number runs become words, minus a short list of English function words;
* codes and identifiers (``G3``, ``KH-101``, ``KANARI-2024-07``, ``v2.3``, ``vpn01.sakura.internal``)
  are kept whole and also as their parts, at the same position, so ``KH-101`` finds ``KH-101``
  exactly and ``101`` still finds it; ``500,000`` is also ``500000``.

Positions are kept (``ts_rank_cd`` needs them: ``array_to_tsvector`` stores none and ranks 0).
Lexemes are quoted and escaped for the tsvector/tsquery input syntax, so a quote or backslash in a
document cannot change the literal's meaning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

__all__ = [
    "MAX_POSITIONS",
    "MAX_TERMS",
    "code_terms",
    "query_terms",
    "terms",
    "to_tsquery",
    "to_tsvector",
    "tsquery_of",
]

#: Term occurrences kept per chunk (a chunk is ~256 tokens; this bounds a hostile or huge one).
MAX_TERMS = 4000
#: PostgreSQL keeps positions 1..16383 and at most 256 positions per lexeme.
MAX_POSITIONS = 16383
_POSITIONS_PER_LEXEME = 256
#: A lexeme's length limit in PostgreSQL is 2047 bytes; identifiers longer than this are noise.
_MAX_LEXEME_CHARS = 64
#: Distinct terms of a question used in its tsquery.
_MAX_QUERY_TERMS = 64

_CJK = "\u3005\u3006\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_HIRAGANA = re.compile("[\u3041-\u309f]")
_SEPARATORS = "-_./:@+#"
# A word character that is not CJK and not "_" (the separators join parts of a code instead).
_W = rf"[^\W_{_CJK}]"
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    rf"|(?P<number>\d{{1,3}}(?:,\d{{3}})+)"
    rf"|(?P<code>{_W}+(?:[{re.escape(_SEPARATORS)}]{_W}+)+)"
    rf"|(?P<word>{_W}+)"
)
_PART = re.compile(rf"{_W}+")
_CODE = re.compile(rf"{_W}[{re.escape(_SEPARATORS)},]{_W}")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(rf"[^\W\d_{_CJK}]")

_STOPWORDS = frozenset(
    # English function words: in an OR query they match every English chunk.
    """a an and are as at be by can do does for from has have how i in is it its me my of on or our
    please should that the their there this to was we were what when where which who why will with
    you your""".split()  # noqa: SIM905 - a word list reads better as words
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _cjk_terms(run: str) -> Iterator[str]:
    if len(run) == 1:
        if not _HIRAGANA.match(run):
            yield run
        return
    for i in range(len(run) - 1):
        pair = run[i : i + 2]
        if not (_HIRAGANA.match(pair[0]) and _HIRAGANA.match(pair[1])):
            yield pair


def _tokens(text: str) -> Iterator[list[str]]:
    """Each token as the lexemes that share its position (a code: itself, then its parts)."""
    for match in _TOKEN.finditer(_fold(text)):
        kind, value = match.lastgroup, match.group()
        if kind == "cjk":
            yield from ([t] for t in _cjk_terms(value))
        elif kind == "number":
            yield [value, value.replace(",", "")]
        elif kind == "code":
            parts = [p for p in _PART.findall(value) if p not in _STOPWORDS]
            yield [value[:_MAX_LEXEME_CHARS], *dict.fromkeys(p[:_MAX_LEXEME_CHARS] for p in parts)]
        elif value not in _STOPWORDS:
            yield [value[:_MAX_LEXEME_CHARS]]


def terms(text: str) -> list[str]:
    """Every lexeme of ``text`` in order, repeats included (what the tsvector holds)."""
    return [lexeme for group in _tokens(text) for lexeme in group]


def query_terms(text: str) -> list[str]:
    """A question's distinct lexemes, first occurrence first, at most a few dozen."""
    return list(dict.fromkeys(terms(text)))[:_MAX_QUERY_TERMS]


def code_terms(found: Sequence[str]) -> list[str]:
    """The terms that are codes or identifiers: letters with digits (``g3``, ``vpn01``) or joined
    parts (``kh-101``, ``restore-db``, ``500,000``). The keyword leg keeps a chunk holding one of
    them even when it holds few of the question's other terms."""
    return [t for t in found if _CODE.search(t) or (_HAS_DIGIT.search(t) and _HAS_LETTER.search(t))]


def _quote(lexeme: str) -> str:
    # tsvector/tsquery input: a quoted lexeme, quotes and backslashes doubled.
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def to_tsvector(text: str) -> str:
    """The tsvector literal of a chunk (``'ab':1 'bc':2,5``); ``""`` (an empty tsvector) without terms.

    Empty rather than NULL: NULL means "not computed yet" (chunks from before migration 0012), which
    :meth:`knowledge.store.KnowledgeStore.fill_keywords` looks for.
    """
    positions: dict[str, list[int]] = {}
    count = 0
    for position, group in enumerate(_tokens(text), start=1):
        if count >= MAX_TERMS or position > MAX_POSITIONS:
            break
        for lexeme in group:
            found = positions.setdefault(lexeme, [])
            if len(found) < _POSITIONS_PER_LEXEME:
                found.append(position)
            count += 1
    return " ".join(f"{_quote(lexeme)}:{','.join(map(str, p))}" for lexeme, p in positions.items())


def tsquery_of(found: Sequence[str], *, mode: str = "or") -> str | None:
    """The tsquery of some lexemes: any of them (``or``) or all of them (``and``); None when empty."""
    if mode not in ("or", "and"):
        raise ValueError(f"tsquery mode must be 'or' or 'and', not {mode!r}")
    return (" | " if mode == "or" else " & ").join(_quote(t) for t in found) or None


def to_tsquery(text: str, *, mode: str = "or") -> str | None:
    """A question's tsquery (see :func:`tsquery_of`); None when the question has no terms."""
    return tsquery_of(query_terms(text), mode=mode)
