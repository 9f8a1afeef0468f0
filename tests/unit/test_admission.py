"""Bursts, with real concurrency against the fake model server holding its answers open: a person's
rate limit counts their requests still running, and a global cap bounds the answers generated at
once; the excess gets a polite, audited "busy" reply. Nothing stays reserved afterwards."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from pydantic import ValidationError

from bot.core.admission import Admission
from bot.core.messages import error_message, refusal_message
from bot.core.types import Reply
from bot.settings import KuraSettings
from tests.fakes.kura import POLICY, Kura, kura, mention

pytestmark = pytest.mark.unit

RPM_2 = POLICY.read_text(encoding="utf-8").replace("requests_per_minute: 20", "requests_per_minute: 2")
NO_LIMITS = POLICY.read_text(encoding="utf-8").replace("requests_per_minute: 20", "requests_per_minute: 1000")
PEOPLE = ["alice@example.co.jp", "bob@example.co.jp", "carol@example.co.jp", "dave@example.co.jp"]


_DELIVERIES = itertools.count(1)


async def _burst(k: Kura, users: list[str], channel: str | None = None) -> list[Reply]:
    """Everyone's question at once, each a separate delivery."""
    asks = []
    for user in users:
        n = next(_DELIVERIES)
        asks.append(
            k.conversation.handle(mention("締め日は？", user=user, channel=channel, ts=f"200.{n}", event_id=f"E{n}"))
        )
    replies = await asyncio.gather(*asks)
    assert all(r is not None for r in replies)
    return [r for r in replies if r is not None]


async def test_a_burst_from_one_person_passes_their_rate_limit_only_once() -> None:
    """rpm=2 and eight questions at once, none finished when the others are decided: two answered,
    six refused for the rate limit, every one audited."""
    assert "requests_per_minute: 2\n" in RPM_2
    async with kura(policy_text=RPM_2, first_token_s=0.5) as k:
        replies = await _burst(k, ["alice@example.co.jp"] * 8)
    statuses = sorted(r.status for r in replies)
    assert ["answered"] * 2 + ["refused"] * 6 == statuses
    assert {"rate_limited"} == {r.decision.reason_code for r in replies if r.status == "refused"}
    assert 2 == len(k.model.requests)
    assert 8 == len(k.audit.entries)


async def test_one_persons_burst_does_not_use_up_anothers_limit() -> None:
    """Reservations are per person: Alice's burst leaves Bob's two questions alone."""
    async with kura(policy_text=RPM_2, first_token_s=0.3) as k:
        replies = await _burst(k, ["alice@example.co.jp"] * 5 + ["bob@example.co.jp"] * 2)
    answered = [r.decision.reason_code for r in replies[5:]]
    assert ["allowed", "allowed"] == answered
    assert 2 == sum(1 for r in replies[:5] if r.status == "answered")


async def test_reservations_are_released_when_recorded_whatever_the_outcome() -> None:
    """Answered, refused, busy or failed: once a request is recorded its place is free again."""
    admission = Admission(max_concurrent=2)
    async with kura(policy_text=RPM_2, admission=admission, first_token_s=0.2) as k:
        await _burst(k, ["alice@example.co.jp"] * 4 + ["bob@example.co.jp"] * 3)
        assert (0, 0, 0) == (admission.running(PEOPLE[0]), admission.running(PEOPLE[1]), admission.answering)
        k.model.fail = "500"
        [failed] = await _burst(k, ["carol@example.co.jp"])
        assert "unavailable" == failed.status
    assert (0, 0) == (admission.running(PEOPLE[2]), admission.answering)


async def test_a_cancelled_request_gives_its_place_back() -> None:
    """A request cancelled while the model writes (an adapter shutting down) leaves nothing reserved."""
    admission = Admission(max_concurrent=1)
    async with kura(admission=admission, first_token_s=5.0) as k:
        task = asyncio.create_task(k.conversation.handle(mention("締め日は？", ts="300.1", event_id="Ev-c")))
        for _ in range(500):  # the model has the request: decided, reserved, answering
            if k.model.requests:
                break
            await asyncio.sleep(0.01)
        assert (1, 1) == (admission.running(PEOPLE[0]), admission.answering)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (0, 0) == (admission.running(PEOPLE[0]), admission.answering)


async def test_the_global_cap_answers_only_so_many_at_once_and_tells_the_rest_politely() -> None:
    """max_concurrent=3, twelve questions from four people at once: three answered, nine told (in
    their language, privately) that Kura is busy, all audited as unavailable with reason busy."""
    admission = Admission(max_concurrent=3)
    async with kura(policy_text=NO_LIMITS, admission=admission, first_token_s=0.5) as k:
        replies = await _burst(k, PEOPLE * 3, channel="C-GENERAL")
        generated = len(k.model.requests)
        again = await _burst(k, ["alice@example.co.jp"])
    assert 3 == sum(1 for r in replies if r.status == "answered")
    busy = [r for r in replies if r.status != "answered"]
    assert 9 == len(busy)
    assert {("unavailable", "busy")} == {(r.status, r.decision.reason_code) for r in busy}
    assert {error_message("busy", "ja")} == {r.text for r in busy}
    assert 3 == generated
    assert 13 == len(k.audit.entries)
    assert 9 == sum(1 for e in k.audit.entries if e.reason_code == "busy" and e.status == "unavailable")
    # Nothing busy was shown in the channel; each asker saw their own line.
    shown = [m.text for m in k.transport.visible("C-GENERAL")]
    assert error_message("busy", "ja") not in shown
    assert 9 == sum(1 for m in k.transport.messages if m.private_to and m.text == error_message("busy", "ja"))
    # Once the answers are done, the slots are free again.
    assert ["answered"] == [r.status for r in again]


def test_the_busy_words_are_in_both_languages_and_not_a_refusal() -> None:
    assert error_message("busy", "en") != error_message("internal", "en")
    assert error_message("busy", "ja") != error_message("busy", "en")
    assert refusal_message("busy", "en") == refusal_message("policy_error", "en")  # not a policy denial


def test_admission_rejects_a_cap_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(max_concurrent=0)


def test_the_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """KURA_PIPELINE_MAX_CONCURRENT sets it; 32 by default; below one is refused at start."""
    assert 32 == KuraSettings(_env_file=None).pipeline.max_concurrent
    monkeypatch.setenv("KURA_PIPELINE_MAX_CONCURRENT", "5")
    assert 5 == KuraSettings(_env_file=None).pipeline.max_concurrent
    monkeypatch.setenv("KURA_PIPELINE_MAX_CONCURRENT", "0")
    with pytest.raises(ValidationError):
        KuraSettings(_env_file=None)
