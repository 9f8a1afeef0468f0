"""Minutes from lines of a meeting, with a small model's context in mind.

    lines -> parts of about ``part_tokens`` (cut between utterances) -> one structured extraction per
    part (validated; asked again once when invalid) -> grounded in the part (owners and dates that
    are not in it are dropped, references that are not in it too) -> merged and de-duplicated in
    code -> one last call for the title and summary.

Nothing the model says is trusted to be well formed or true to the source; what cannot be checked
against the transcript is left out rather than shown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import Language
from bot.minutes.merge import ground, merge_actions, merge_items, merge_texts
from bot.minutes.schema import Extract, Minutes, Summary
from llm import ChatMessage, TokenUsage, detect_language
from llm.minutes import EXTRACT_SCHEMA, SUMMARY_SCHEMA, Line, extract_messages, summary_messages
from llm.structured import JsonModel

__all__ = ["MinutesWriter", "Written", "estimate_tokens", "split_parts"]

_log = logging.getLogger(__name__)
_Model = TypeVar("_Model", bound=BaseModel)
_RETRY = "Your previous answer was not valid JSON following the schema. Answer again with JSON only."


def estimate_tokens(text: str) -> int:
    """Tokens a text takes, roughly: a CJK character about one, other text about four characters each."""
    wide = sum(1 for ch in text if ord(ch) >= 0x3000)
    return wide + (len(text) - wide + 3) // 4 + 1


def split_parts(lines: Sequence[Line], part_tokens: int) -> list[list[Line]]:
    """``lines`` in parts of at most about ``part_tokens``, cut between lines (a line longer than a
    part is cut into pieces of its own, each keeping its reference and speaker)."""
    parts: list[list[Line]] = []
    current: list[Line] = []
    used = 0
    for ref, speaker, text in lines:
        pieces = [text]
        if estimate_tokens(text) > part_tokens:
            step = max(1, len(text) * part_tokens // (2 * estimate_tokens(text)))
            pieces = [text[i : i + step] for i in range(0, len(text), step)]
        for piece in pieces:
            cost = estimate_tokens(f"[{ref}] {speaker}: {piece}")
            if current and used + cost > part_tokens:
                parts.append(current)
                current, used = [], 0
            current.append((ref, speaker, piece))
            used += cost
    if current:
        parts.append(current)
    return parts


@dataclass
class _Tally:
    """What one run's model calls cost (a writer may write several minutes at once)."""

    prompt: int = 0
    completion: int = 0
    calls: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Written:
    """Minutes and what writing them cost: tokens, calls, and the time spent inside model calls."""

    minutes: Minutes
    usage: TokenUsage
    calls: int
    model_seconds: float
    parts: int


class MinutesWriter:
    """Writes minutes with one model (structured output)."""

    def __init__(
        self,
        model: JsonModel,
        *,
        part_tokens: int = 2000,
        extract_max_tokens: int = 900,
        summary_max_tokens: int = 600,
        concurrency: int = 1,
    ) -> None:
        self._model = model
        self._part_tokens = part_tokens
        self._extract_max = extract_max_tokens
        self._summary_max = summary_max_tokens
        self._gate = asyncio.Semaphore(max(1, concurrency))

    @property
    def model_name(self) -> str:
        """The model writing the minutes."""
        return self._model.name

    async def write(self, lines: Sequence[Line], language: Language | None = None, title: str = "") -> Written:
        """Minutes of ``lines`` in ``language`` (the meeting's own when None).

        Raises:
            ModelServerError: the model server failed (nothing is returned half-done).
            ValueError: there are no lines.
        """
        if not lines:
            raise ValueError("nothing to summarise")
        tally = _Tally()
        lang: Language = language or detect_language(" ".join(t for _, _, t in lines[:200])[:4000])
        parts = split_parts(lines, self._part_tokens)
        extracts = await asyncio.gather(*(self._extract(tally, i, part, lang, title) for i, part in enumerate(parts)))
        failed = tuple(i for i, e in enumerate(extracts) if e is None)
        grounded = [ground(e, part) for e, part in zip(extracts, parts, strict=True) if e is not None]
        decisions = merge_items([d for e in grounded for d in e.decisions])
        actions = merge_actions([a for e in grounded for a in e.action_items])
        questions = merge_texts([q for e in grounded for q in e.open_questions])
        topics = merge_texts([t for e in grounded for t in e.topics])
        summary = await self._ask(
            tally,
            summary_messages(topics, [d.text for d in decisions], lang, title),
            SUMMARY_SCHEMA,
            Summary,
            "summary",
        )
        minutes = Minutes(
            title=(summary.title.strip() if summary and summary.title.strip() else title) or "",
            language=lang,
            summary=tuple(s.strip() for s in (summary.summary if summary else topics) if s.strip()),
            decisions=tuple(decisions),
            action_items=tuple(actions),
            open_questions=tuple(questions),
            failed_parts=failed,
        )
        usage = TokenUsage(tally.prompt, tally.completion)
        return Written(minutes, usage, tally.calls, tally.seconds, len(parts))

    async def _extract(self, tally: _Tally, index: int, part: list[Line], lang: Language, title: str) -> Extract | None:
        found = await self._ask(tally, extract_messages(part, lang, title), EXTRACT_SCHEMA, Extract, "minutes_part")
        if found is None:
            _log.warning("minutes: part failed validation twice part=%d lines=%d", index, len(part))
        return found

    async def _ask(
        self, tally: _Tally, messages: list[ChatMessage], schema: dict[str, Any], shape: type[_Model], name: str
    ) -> _Model | None:
        """The model's answer as ``shape``, asked again once when it is not valid; None after two."""
        prompt = list(messages)
        max_tokens = self._summary_max if shape is Summary else self._extract_max
        for attempt in range(2):
            text = await self._call(tally, prompt, schema, name, max_tokens)
            try:
                return shape.model_validate_json(text)
            except ValidationError as exc:
                _log.info("minutes: invalid structured answer attempt=%d errors=%d", attempt + 1, exc.error_count())
                prompt = [*messages, ChatMessage("assistant", text[:2000]), ChatMessage("user", _RETRY)]
        return None

    async def _call(
        self, tally: _Tally, messages: list[ChatMessage], schema: dict[str, Any], name: str, max_tokens: int
    ) -> str:
        async with self._gate:
            started = time.perf_counter()
            text, usage = await self._model.complete_json(messages, schema, name=name, max_tokens=max_tokens)
            tally.seconds += time.perf_counter() - started
        tally.calls += 1
        if usage is not None:
            tally.prompt += usage.prompt_tokens
            tally.completion += usage.completion_tokens
        else:
            tally.prompt += sum(estimate_tokens(m.content) for m in messages)
            tally.completion += estimate_tokens(text)
        return text
