"""Scoring of meeting minutes against a hand-written answer key (``bench/minutes/<name>.yaml``).

Pure: no model, no I/O. ``bench/minutes_quality.py`` reads the files and runs the writer; the tests
in ``tests/unit/test_minutes_score.py`` check this module alone.

Items are compared by character bigrams (Dice coefficient over bigram multisets) on text folded
with NFKC and ``casefold`` and stripped of spaces, punctuation and symbols. Bigrams need no word
segmentation, so the same measure works for Japanese and English. Predicted and expected items are
paired one to one, best similarity first (greedy), and a pair counts only at ``THRESHOLD`` or above.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "HONORIFICS",
    "THRESHOLD",
    "ActionKey",
    "AnswerKeyError",
    "Counts",
    "Key",
    "MeetingScore",
    "Predicted",
    "PredictedAction",
    "add_scores",
    "due_matches",
    "key_from_mapping",
    "match",
    "normalise",
    "owner_matches",
    "score",
    "similarity",
]

#: Dice similarity at or above which two items are the same item. Tuned on the answer keys in
#: ``bench/minutes/`` and the paraphrases in the tests: a reworded item scores about 0.4-0.85 (short
#: rewordings of long items score lowest, Dice punishes a length difference); two different items of
#: the same kind in one meeting score at most 0.32 in Japanese and 0.39 in English (English texts
#: share more common letter pairs), so English matches just above 0.4 are the least certain.
THRESHOLD = 0.4

#: Titles and honorifics dropped from the end of an owner's name (repeatedly: 佐藤部長さん), and
#: "-san" written with a hyphen or space (so "Susan" stays whole).
HONORIFICS = ("さん", "様", "さま", "部長", "課長", "係長", "主任", "氏", "くん", "君")
_SAN = re.compile(r"[-‐‑ ]san\s*$", re.IGNORECASE)


class AnswerKeyError(ValueError):
    """An answer key that does not have the documented shape; the message says where."""


@dataclass(frozen=True)
class ActionKey:
    """An expected action item: the task, who (as spoken, or None), by when (as said, or None)."""

    task: str
    owner: str | None
    due: str | None
    ref: str


@dataclass(frozen=True)
class Key:
    """What a careful human lists for one meeting."""

    transcript: str
    language: str
    minutes: int
    decisions: tuple[str, ...]
    action_items: tuple[ActionKey, ...]
    open_questions: tuple[str, ...]
    must_not_appear: tuple[str, ...]


@dataclass(frozen=True)
class PredictedAction:
    """An action item as the writer produced it."""

    task: str
    owner: str | None
    due: str | None


@dataclass(frozen=True)
class Predicted:
    """The writer's minutes, reduced to the texts that are scored."""

    decisions: tuple[str, ...]
    action_items: tuple[PredictedAction, ...]
    open_questions: tuple[str, ...]
    summary: tuple[str, ...] = ()


@dataclass(frozen=True)
class Counts:
    """Matched, predicted and expected items of one kind; precision/recall are None when undefined."""

    matched: int = 0
    predicted: int = 0
    expected: int = 0

    @property
    def precision(self) -> float | None:
        """Matched ÷ predicted."""
        return self.matched / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Matched ÷ expected."""
        return self.matched / self.expected if self.expected else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.matched + other.matched, self.predicted + other.predicted, self.expected + other.expected)


@dataclass(frozen=True)
class MeetingScore:
    """The figures for one meeting (or, added up, for several)."""

    decisions: Counts = field(default_factory=Counts)
    actions: Counts = field(default_factory=Counts)
    actions_full: Counts = field(default_factory=Counts)  # task, owner and due all matched
    owner_matched: int = 0
    due_matched: int = 0
    questions: Counts = field(default_factory=Counts)
    violations: tuple[str, ...] = ()  # the offending predicted items


def normalise(text: str) -> str:
    """NFKC, casefold, and only letters, marks and digits left (no spaces, punctuation or symbols)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LMN")


def _bigrams(text: str) -> Counter[str]:
    if len(text) < 2:
        return Counter([text]) if text else Counter()
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the character-bigram multisets of the two normalised texts (0..1)."""
    x, y = _bigrams(normalise(a)), _bigrams(normalise(b))
    total = sum(x.values()) + sum(y.values())
    return 2 * sum((x & y).values()) / total if total else 0.0


def match(predicted: Sequence[str], expected: Sequence[str], threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """One-to-one pairs (predicted index, expected index), best similarity first, at ``threshold`` or above."""
    pairs = sorted(
        ((similarity(p, e), i, j) for i, p in enumerate(predicted) for j, e in enumerate(expected)),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    used_p: set[int] = set()
    used_e: set[int] = set()
    out: list[tuple[int, int]] = []
    for sim, i, j in pairs:
        if sim < threshold:
            break
        if i not in used_p and j not in used_e:
            used_p.add(i)
            used_e.add(j)
            out.append((i, j))
    return sorted(out)


def _strip_titles(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for suffix in HONORIFICS:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, changed = text[: -len(suffix)], True
    return text


def _owner(name: str) -> tuple[str, set[str]]:
    """The name without honorifics, and its space-separated parts (family and given name)."""
    plain = _SAN.sub("", unicodedata.normalize("NFKC", name).strip())
    return _strip_titles(normalise(plain)), {_strip_titles(normalise(w)) for w in plain.split()}


def owner_matches(predicted: str | None, expected: str | None) -> bool:
    """Same person: both None, or the names without honorifics are equal, one is a part of the
    other (``山田`` spoken, ``山田 太郎`` written), or, for names in Japanese script, which has no
    spaces to split on, one contains the other (``山田`` / ``山田太郎``; not ``Su`` / ``Susan``)."""
    if predicted is None or expected is None:
        return predicted is None and expected is None
    (p, p_parts), (e, e_parts) = _owner(predicted), _owner(expected)
    if not (p and e):
        return False
    shorter, longer = sorted((p, e), key=len)
    return p == e or p in e_parts or e in p_parts or (not shorter.isascii() and shorter in longer)


def due_matches(predicted: str | None, expected: str | None) -> bool:
    """Same due date: both None, or one normalised text holds the other (``来週金曜`` in ``来週金曜まで``)."""
    if predicted is None or expected is None:
        return predicted is None and expected is None
    p, e = normalise(predicted), normalise(expected)
    return bool(p and e) and (p in e or e in p)


def _violations(predicted: Predicted, forbidden: Sequence[str]) -> tuple[str, ...]:
    """Decisions and action items that state something the meeting did not settle.

    A ``must_not_appear`` entry is a short phrase (``budget was approved``, ``切替日は11月22日``);
    an item violates when its normalised text contains one. Containment, not similarity: "the
    budget was not approved" is close to "the budget was approved" by any character measure. The
    summary is not checked, since narrating a reversed decision there is correct.
    """
    phrases = [normalise(f) for f in forbidden if normalise(f)]
    texts = [*predicted.decisions, *(a.task for a in predicted.action_items)]
    return tuple(t for t in texts if any(p in normalise(t) for p in phrases))


def score(predicted: Predicted, key: Key, threshold: float = THRESHOLD) -> MeetingScore:
    """Score one meeting's minutes against its answer key."""
    decided = match(predicted.decisions, key.decisions, threshold)
    tasks = match([a.task for a in predicted.action_items], [a.task for a in key.action_items], threshold)
    owners = dues = full = 0
    for i, j in tasks:
        got, want = predicted.action_items[i], key.action_items[j]
        o, d = owner_matches(got.owner, want.owner), due_matches(got.due, want.due)
        owners, dues, full = owners + o, dues + d, full + (o and d)
    asked = match(predicted.open_questions, key.open_questions, threshold)
    n_actions = (len(predicted.action_items), len(key.action_items))
    return MeetingScore(
        decisions=Counts(len(decided), len(predicted.decisions), len(key.decisions)),
        actions=Counts(len(tasks), *n_actions),
        actions_full=Counts(full, *n_actions),
        owner_matched=owners,
        due_matched=dues,
        questions=Counts(len(asked), len(predicted.open_questions), len(key.open_questions)),
        violations=_violations(predicted, key.must_not_appear),
    )


def add_scores(scores: Sequence[MeetingScore]) -> MeetingScore:
    """The sum of several meetings' figures (micro-averaged precision and recall)."""
    total = MeetingScore()
    for s in scores:
        total = MeetingScore(
            decisions=total.decisions + s.decisions,
            actions=total.actions + s.actions,
            actions_full=total.actions_full + s.actions_full,
            owner_matched=total.owner_matched + s.owner_matched,
            due_matched=total.due_matched + s.due_matched,
            questions=total.questions + s.questions,
            violations=total.violations + s.violations,
        )
    return total


def _text(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnswerKeyError(f"{where}: expected a non-empty string")
    return value


def _optional(where: str, value: object) -> str | None:
    return None if value is None else _text(where, value)


def _items(data: Mapping[str, object], name: str) -> list[object]:
    value = data.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnswerKeyError(f"{name}: expected a list")
    return value


def _field(item: object, where: str, name: str) -> object:
    if not isinstance(item, dict):
        raise AnswerKeyError(f"{where}: expected a mapping")
    if name not in item:
        raise AnswerKeyError(f"{where}: missing {name!r}")
    return item[name]


def key_from_mapping(data: object) -> Key:
    """The answer key from a parsed YAML document; ``AnswerKeyError`` names the first bad field."""
    if not isinstance(data, dict):
        raise AnswerKeyError("the answer key is not a mapping")
    language = data.get("language")
    if language not in ("ja", "en"):
        raise AnswerKeyError("language: expected ja or en")
    minutes = data.get("minutes")
    if not isinstance(minutes, int) or minutes <= 0:
        raise AnswerKeyError("minutes: expected a positive whole number")
    decisions = []
    for n, d in enumerate(_items(data, "decisions")):
        _text(f"decisions[{n}].ref", _field(d, f"decisions[{n}]", "ref"))
        decisions.append(_text(f"decisions[{n}].text", _field(d, f"decisions[{n}]", "text")))
    actions = []
    for n, a in enumerate(_items(data, "action_items")):
        where = f"action_items[{n}]"
        actions.append(
            ActionKey(
                task=_text(f"{where}.task", _field(a, where, "task")),
                owner=_optional(f"{where}.owner", _field(a, where, "owner")),
                due=_optional(f"{where}.due", _field(a, where, "due")),
                ref=_text(f"{where}.ref", _field(a, where, "ref")),
            )
        )
    return Key(
        transcript=_text("transcript", data.get("transcript")),
        language=language,
        minutes=minutes,
        decisions=tuple(decisions),
        action_items=tuple(actions),
        open_questions=tuple(_text(f"open_questions[{n}]", q) for n, q in enumerate(_items(data, "open_questions"))),
        must_not_appear=tuple(_text(f"must_not_appear[{n}]", q) for n, q in enumerate(_items(data, "must_not_appear"))),
    )
