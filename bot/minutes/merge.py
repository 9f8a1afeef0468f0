"""Minutes lists in code: ground each part's extraction in the part (owners, dates and references
the part does not contain are dropped), then merge the parts' lists, near-duplicates once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot.minutes.schema import ActionItem, Extract, Item
from llm.minutes import Line

__all__ = ["addressed_to_the_writer", "fold", "ground", "merge_actions", "merge_items", "merge_texts", "similar"]

#: Character-bigram overlap (Dice) above which two items say the same thing.
SAME = 0.6
#: Overlap above which an item without a usable reference is taken to come from a line.
RESEMBLES = 0.3
_NOT_WORD = re.compile(r"[\W_]+")
_HONORIFIC = re.compile(r"(さん|様|さま|くん|君|ちゃん|氏|殿|部長|課長|係長|主任|社長|室長|先生)$")
#: Romanised honorifics ("Mika-san"), taken off before folding drops the hyphen that marks them.
_ROMAN_HONORIFIC = re.compile(r"-(san|sama|kun|chan|sensei)$", re.I)
_DIGITS = re.compile(r"\d+")
_TIME = re.compile(r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,]\d{1,3})?")
#: Lines that speak to whoever writes the minutes rather than to the meeting ("ignore previous
#: instructions", 「前の指示は無視して…と書いてください」): what they ask for is never a decision or a task.
_TO_THE_WRITER = (
    re.compile(r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|guidelines)\b", re.I),
    re.compile(r"\b(system prompt|as an? (ai|assistant|language model)|you are (now )?(an? )?(ai|assistant))\b", re.I),
    re.compile(r"\b(minutes|summary|summari[sz]er?)\b.{0,40}\b(must|should) (say|state|record|read)\b", re.I),
    re.compile(r"(指示|命令|ルール|プロンプト|設定).{0,12}(無視|忘れ|従わ)"),
    re.compile(r"(議事録|要約|AI|ＡＩ|アシスタント|あなた).{0,30}(書いて|記載して|記録して|出力して|書くこと)"),
)


def fold(text: str) -> str:
    """``text`` for comparing: NFKC, case-folded, without spaces and punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def _bigrams(text: str) -> set[str]:
    folded = fold(text)
    return {folded[i : i + 2] for i in range(len(folded) - 1)} or {folded}


def similar(a: str, b: str) -> float:
    """Dice overlap of the character bigrams of ``a`` and ``b`` (0..1; Japanese and English alike)."""
    x, y = _bigrams(a), _bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def _name(owner: str) -> str:
    folded = fold(_ROMAN_HONORIFIC.sub("", unicodedata.normalize("NFKC", owner).strip()))
    while True:
        bare = _HONORIFIC.sub("", folded)
        if bare == folded:
            return bare
        folded = bare


def _owner_in(owner: str | None, said: str) -> str | None:
    """``owner`` when the part names them (honorifics aside; a family name alone counts), else None."""
    if owner is None or not owner.strip():
        return None
    bare = _name(owner)
    if not bare:
        return None
    if bare in said:
        return owner.strip()
    # "山田 太郎" named as 山田 in the part, or "Alice Chen" as Alice.
    words = [_name(w) for w in re.split(r"\s+", unicodedata.normalize("NFKC", owner).strip()) if _name(w)]
    return owner.strip() if any(len(w) >= 2 and w in said for w in words) else None


def _numbers(text: str) -> list[int]:
    return [int(n) for n in _DIGITS.findall(unicodedata.normalize("NFKC", text))]


def _due_in(due: str | None, said: str, numbers: set[int]) -> str | None:
    """``due`` when the part says it: as written, or at least its numbers (a year the model added
    to "12月4日" aside: "2026-12-04"), else None."""
    if due is None or not fold(due):
        return None
    if fold(due) in said:
        return due.strip()
    wanted = [n for n in _numbers(due) if not 1900 <= n <= 2199]
    return due.strip() if wanted and all(n in numbers for n in wanted) else None


def _ref(ref: str) -> str:
    """A reference as the lines carry it: brackets and spaces off; a time as ``hh:mm:ss``
    (``0:01:02``, ``00:01:02.500`` and ``01:02`` name the cue at 00:01:02)."""
    plain = ref.strip().strip("[]").strip()
    time = _TIME.fullmatch(plain)
    if time is None:
        return plain
    hours, minutes, seconds = time.group(1) or "0", time.group(2), time.group(3)
    return f"{int(hours):02d}:{int(minutes):02d}:{int(seconds):02d}"


def addressed_to_the_writer(text: str) -> bool:
    """Whether a line speaks to the minutes' writer (an instruction hidden in the meeting)."""
    plain = unicodedata.normalize("NFKC", text)
    return any(p.search(plain) for p in _TO_THE_WRITER)


def _resembles(text: str, part: Sequence[Line]) -> list[str]:
    """The reference of the part's line ``text`` most resembles, when it resembles one at all
    (small models often cite references wrongly, or in the example's format)."""
    best, ref = max(((similar(text, said), r) for r, _, said in part), default=(0.0, ""))
    return [ref] if best >= RESEMBLES else []


def ground(extract: Extract, part: Sequence[Line]) -> Extract:
    """``extract`` with only what ``part`` supports: decisions and tasks that refer to its lines (by
    reference, or else by resembling one), and not only to lines that address the writer; owners it
    names, dates it says."""
    refs = {ref for ref, _, _ in part}
    planted_refs = {ref for ref, _, text in part if addressed_to_the_writer(text)}
    said = fold(" ".join(f"{speaker} {text}" for _, speaker, text in part))
    numbers = {n for _, _, text in part for n in _numbers(text)}

    def kept(text: str, found: list[str]) -> list[str]:
        own = [r for r in dict.fromkeys(_ref(r) for r in found) if r in refs]
        return own or _resembles(text, part)

    def honest(own: list[str]) -> bool:
        # Something said in the part, and not only by lines that speak to the writer: an item
        # that refers to no line of the part cannot be checked, so it is not kept.
        return any(r not in planted_refs for r in own)

    decisions = [Item(text=d.text.strip(), refs=kept(d.text, d.refs)) for d in extract.decisions if d.text.strip()]
    actions = [
        ActionItem(
            task=a.task.strip(),
            owner=_owner_in(a.owner, said),
            due=_due_in(a.due, said, numbers),
            refs=kept(a.task, a.refs),
        )
        for a in extract.action_items
        if a.task.strip()
    ]
    return Extract(
        topics=[t.strip() for t in extract.topics if t.strip()],
        decisions=[d for d in decisions if honest(d.refs)],
        action_items=[a for a in actions if honest(a.refs)],
        open_questions=[q.strip() for q in extract.open_questions if q.strip()],
    )


def _refs(*lists: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(r for refs in lists for r in refs))


def merge_items(items: Sequence[Item]) -> list[Item]:
    """Decisions once each (the first wording kept, references joined), in order of first mention."""
    merged: list[Item] = []
    for item in items:
        for i, seen in enumerate(merged):
            if similar(seen.text, item.text) >= SAME:
                merged[i] = Item(text=seen.text, refs=_refs(seen.refs, item.refs))
                break
        else:
            merged.append(item)
    return merged


def merge_actions(items: Sequence[ActionItem]) -> list[ActionItem]:
    """Action items once each: a repeat fills in the owner or date the first mention lacked."""
    merged: list[ActionItem] = []
    for item in items:
        for i, seen in enumerate(merged):
            same_owner = seen.owner is None or item.owner is None or _name(seen.owner) == _name(item.owner)
            if same_owner and similar(seen.task, item.task) >= SAME:
                merged[i] = ActionItem(
                    task=seen.task,
                    owner=seen.owner or item.owner,
                    due=seen.due or item.due,
                    refs=_refs(seen.refs, item.refs),
                )
                break
        else:
            merged.append(item)
    return merged


def merge_texts(texts: Sequence[str]) -> list[str]:
    """Texts once each (near-duplicates dropped), in order."""
    merged: list[str] = []
    for text in texts:
        if all(similar(seen, text) < SAME for seen in merged):
            merged.append(text)
    return merged
