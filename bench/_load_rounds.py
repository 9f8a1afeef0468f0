"""One round of ``conversation_load.py``: send mentions at once, wait for the final messages, and
measure each (ack, first sign, overhead ratio) from what the fakes recorded; the event-loop lag meter."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# The fakes and the adapter tests' workspace live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _load_world import (
    ANSWER_TEXT,
    ASKERS,
    LAG_TICK_S,
    QUESTIONS,
    UNAVAILABLE,
    Final,
    Mention,
    Outside,
    TimedFakeSlack,
    finals_by_thread,
    first_signs,
)

from tests.fakes.openai_server import FakeOpenAI

# ---------------------------------------------------------------------------------- one round


@dataclass
class Round:
    """What one round of mentions produced."""

    mentions: list[Mention]
    outcomes: Counter[str] = field(default_factory=Counter)  # answer / unavailable / other / none / twice
    ack_s: list[float] = field(default_factory=list)
    first_sign_s: list[float] = field(default_factory=list)
    final_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    before_model_s: list[float] = field(default_factory=list)  # POST -> the model request arrives
    after_model_s: list[float] = field(default_factory=list)  # last chunk sent -> final message
    calls: Counter[str] = field(default_factory=Counter)
    lag_s: list[float] = field(default_factory=list)
    retries: int = 0
    wall_s: float = 0.0


def _outcome(finals: list[Final]) -> str:
    if not finals:
        return "none"
    if len(finals) > 1:
        return "twice"
    text = finals[0].text
    if text.startswith(ANSWER_TEXT[:10]):
        return "answer"
    return "unavailable" if text in UNAVAILABLE else "other"


def mentions_of_wave(wave: int, count: int) -> list[Mention]:
    out = []
    for k in range(count):
        label = f"(#{wave}-{k})"
        ts = f"{1_800_000_000 + wave * 1000 + k}.000100"
        question = f"{QUESTIONS[k % len(QUESTIONS)]} {label}"
        out.append(Mention(label, ASKERS[k % len(ASKERS)], question, ts, f"Ev{wave:04d}X{k:05d}"))
    return out


class LagMeter:
    """How late a short sleep in this event loop wakes up: the loop's responsiveness."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_TICK_S)
            after = time.perf_counter()
            self.samples.append((after, after - before - LAG_TICK_S))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def between(self, start: float, end: float) -> list[float]:
        return [lag for at, lag in self.samples if start <= at <= end]


async def run_round(
    outside: Outside, url: str, mentions: list[Mention], lag: LagMeter, settle_s: float, timeout_s: float
) -> Round:
    """Send the mentions at once, wait for their final messages, and measure."""
    slack, model = outside.slack, outside.model
    from_call, from_exchange = len(slack.calls), len(model.exchanges)
    started = time.perf_counter()
    await outside.call(outside.send(url, mentions))
    await outside.call(outside.wait_final(mentions, from_call, timeout_s))
    await asyncio.sleep(settle_s)  # a second answer, if any, has time to show
    ended = time.perf_counter()
    return measure(slack, model, mentions, from_call, from_exchange, lag.between(started, ended), ended - started)


def measure(
    slack: TimedFakeSlack,
    model: FakeOpenAI,
    mentions: list[Mention],
    from_call: int,
    from_exchange: int,
    lag: list[float],
    wall_s: float,
) -> Round:
    result = Round(mentions, lag_s=lag, wall_s=wall_s)
    finals, signs = finals_by_thread(slack, from_call), first_signs(slack, from_call)
    exchanges = model.exchanges[from_exchange:]
    by_label = {}
    for exchange in exchanges:
        last = str((exchange.body.get("messages") or [{}])[-1].get("content", ""))
        for m in mentions:
            if m.label in last:
                by_label[m.label] = exchange
    result.calls = Counter(c.method for c in slack.calls[from_call:])
    for m in mentions:
        result.retries += m.retries
        result.ack_s.append(m.acked - m.sent)
        thread_finals = finals.get(m.ts, [])
        outcome = _outcome(thread_finals)
        result.outcomes[outcome] += 1
        if m.ts in signs:
            result.first_sign_s.append(signs[m.ts] - m.sent)
        exchange = by_label.get(m.label)
        if outcome != "answer" or exchange is None or exchange.finished is None:
            continue
        final_at = thread_finals[0].at
        result.final_s.append(final_at - m.sent)
        result.model_s.append(exchange.finished - exchange.received)
        result.ratio.append((final_at - m.sent) / (exchange.finished - exchange.received))
        result.before_model_s.append(exchange.received - m.sent)
        result.after_model_s.append(final_at - exchange.finished)
    return result


_SERIES = ("ack_s", "first_sign_s", "final_s", "model_s", "ratio", "before_model_s", "after_model_s", "lag_s")


def merge(results: list[Round]) -> Round:
    merged = Round([m for r in results for m in r.mentions])
    for r in results:
        merged.outcomes.update(r.outcomes)
        merged.calls.update(r.calls)
        merged.retries += r.retries
        merged.wall_s += r.wall_s
        for name in _SERIES:
            getattr(merged, name).extend(getattr(r, name))
    return merged
