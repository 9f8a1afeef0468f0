"""One round of bench/teams_load.py: messages sent at once, and what each message's replies measured."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The fakes and the adapter tests' tenant live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from _load_rounds import LagMeter
from _load_world import ANSWER_TEXT, QUESTIONS
from _teams_world import ASKERS, BUSY, FAILURES, Final, Message, Outside, TimedConnector, finals_of, replies, reply_kind

from tests.adapters.teams_harness import CONVERSATIONS
from tests.fakes.openai_server import Exchange, FakeOpenAI


@dataclass
class Round:
    """What one round of messages produced."""

    messages: list[Message]
    #: answer / busy / unavailable / other / private / none / twice
    outcomes: Counter[str] = field(default_factory=Counter)
    private: Counter[str] = field(default_factory=Counter)  # what the private replies said
    ack_s: list[float] = field(default_factory=list)
    not_accepted: int = 0  # POSTs not answered 202
    first_sign_s: dict[str, list[float]] = field(default_factory=dict)  # "channel" / "1:1" -> seconds
    final_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    ratio: dict[str, list[float]] = field(default_factory=dict)
    before_model_s: list[float] = field(default_factory=list)  # POST -> the model request arrives
    after_model_s: list[float] = field(default_factory=list)  # last chunk sent -> final message
    calls: Counter[str] = field(default_factory=Counter)
    lag_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def all_of(self, series: dict[str, list[float]]) -> list[float]:
        return [v for values in series.values() for v in values]


def messages_of_wave(wave: int, count: int, *, offset: int = 0) -> list[Message]:
    """``count`` messages: the kinds alternate (channel, 1:1), the askers and questions rotate."""
    out = []
    for k in range(count):
        n = k + offset
        label = f"(#{wave}-{n})"
        question = f"{QUESTIONS[n % len(QUESTIONS)]} {label}"
        out.append(Message(label, ASKERS[(n // 2) % len(ASKERS)], question, personal=n % 2 == 1))
    return out


def _text_outcome(text: str) -> str:
    if text.startswith(ANSWER_TEXT[:10]):
        return "answer"
    if text in BUSY:
        return "busy"
    return "unavailable" if text in FAILURES else "other"


def _outcome(finals: list[Final], withdrawn: bool) -> str:
    if not finals:
        # A reply for the asker alone goes to their 1:1 chat (opened by the connector) and the
        # placeholder is deleted: counted apart, with what those private messages said.
        return "private" if withdrawn else "none"
    return "twice" if len(finals) > 1 else _text_outcome(finals[0].text)


def private_replies(connector: TimedConnector, from_call: int) -> Counter[str]:
    """What the messages Kura sent to chats it opened itself (private replies) said."""
    known = {c.id for c in CONVERSATIONS}
    out: Counter[str] = Counter()
    for call in connector.calls[from_call:]:
        if call.operation == "send" and (call.conversation_id or "") not in known and isinstance(call.body, dict):
            out[_text_outcome(str(call.body.get("text") or ""))] += 1
    return out


def _by_label(exchanges: Sequence[Exchange], messages: Sequence[Message]) -> dict[str, Exchange]:
    found = {}
    for exchange in exchanges:
        last = str((exchange.body.get("messages") or [{}])[-1].get("content", ""))
        for m in messages:
            if m.label in last:
                found[m.label] = exchange
    return found


async def run_round(
    outside: Outside, url: str, messages: list[Message], lag: LagMeter, settle_s: float, timeout_s: float
) -> Round:
    """Send the messages at once, wait for their final messages, and measure."""
    connector, model = outside.connector, outside.model
    await outside.call(outside.prepare(messages))
    from_call, from_exchange = len(connector.calls), len(model.exchanges)
    started = time.perf_counter()
    await outside.call(outside.send(url, messages))
    await outside.call(outside.wait_final(messages, from_call, timeout_s))
    await asyncio.sleep(settle_s)  # a second answer, if any, has time to show
    ended = time.perf_counter()
    return measure(connector, model, messages, from_call, from_exchange, lag.between(started, ended), ended - started)


def measure(
    connector: TimedConnector,
    model: FakeOpenAI,
    messages: list[Message],
    from_call: int,
    from_exchange: int,
    lag: list[float],
    wall_s: float,
) -> Round:
    result = Round(messages, lag_s=lag, wall_s=wall_s, private=private_replies(connector, from_call))
    shown = replies(connector, from_call)
    exchanges = _by_label(model.exchanges[from_exchange:], messages)
    for call in connector.calls[from_call:]:
        kind = reply_kind(call)
        result.calls[f"{call.operation} ({kind})" if kind not in (None, call.operation) else call.operation] += 1
    for m in messages:
        where = "1:1" if m.personal else "channel"
        if m.status != 202:
            result.not_accepted += 1
        else:
            result.ack_s.append(m.acked - m.sent)
        mine = shown.get(m.key, [])
        finals = finals_of(mine)
        outcome = _outcome(finals, withdrawn=any(kind == "delete" for _, kind, _ in mine))
        result.outcomes[outcome] += 1
        if mine:
            result.first_sign_s.setdefault(where, []).append(mine[0][0] - m.sent)
        exchange = exchanges.get(m.label)
        if outcome != "answer" or exchange is None or exchange.seconds is None or exchange.finished is None:
            continue
        final_at = finals[0].at
        result.final_s.append(final_at - m.sent)
        result.model_s.append(exchange.seconds)
        result.ratio.setdefault(where, []).append((final_at - m.sent) / exchange.seconds)
        result.before_model_s.append(exchange.received - m.sent)
        result.after_model_s.append(final_at - exchange.finished)
    return result


def merge(results: list[Round]) -> Round:
    merged = Round([m for r in results for m in r.messages])
    for r in results:
        merged.outcomes.update(r.outcomes)
        merged.private.update(r.private)
        merged.calls.update(r.calls)
        merged.not_accepted += r.not_accepted
        merged.wall_s += r.wall_s
        for name in ("ack_s", "final_s", "model_s", "before_model_s", "after_model_s", "lag_s"):
            getattr(merged, name).extend(getattr(r, name))
        for name in ("first_sign_s", "ratio"):
            for where, values in getattr(r, name).items():
                getattr(merged, name).setdefault(where, []).extend(values)
    return merged
