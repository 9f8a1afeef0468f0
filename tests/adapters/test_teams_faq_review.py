"""FAQ review in Teams, end to end: a review request posted through the outbox to a reviewer's 1:1
chat as an Adaptive Card (the text, an edit box holding the answer, approve / edit / reject), the
reviewer's ``Action.Submit`` sent as Teams sends it (a ``message`` whose ``value`` is the button's
data with the card's inputs), the real Agents SDK against the fake Bot Connector, and the real
database, directory, policy and audit log. The entry cites an HR document, whose owner is Carol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bot.audit.models import AuditRecord
from bot.core.faq_words import faq_text
from bot.core.types import Destination
from bot.faq.render import review_actions, review_request, source_refs
from bot.wiring import Runtime
from tests.adapters.faq_support import ANSWER, PAY_RULES, model_answer  # noqa: F401 - the fake model's answer
from tests.adapters.teams_harness import ALICE, CAROL, CHATS, DAVE, Tenant, tenant
from tests.fakes import teams_activities as activities
from tests.fakes.bot_connector_wire import Conversation, TeamsUser
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.adapters

JSON = dict[str, Any]
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.fixture
async def teams(fake_model: FakeOpenAI, rt: Runtime) -> AsyncIterator[Tenant]:
    """Kura serving Teams; Carol has talked to Kura once (so it can open her 1:1 chat by email)."""
    async with tenant(rt) as t:
        hello = activities.message(CHATS[CAROL.id], CAROL, "admin help", t.connector.service_url, locale="en-US")
        assert (await t.post(hello)).status == 202
        await t.answered("reply")
        yield t


async def _request(rt: Runtime, t: Tenant, entry_id: int) -> JSON:
    """The review request for ``entry_id`` posted to Carol by email; the activity sent."""
    entry = await rt.faq_store.get(entry_id)
    assert entry is not None
    # The edit box holds the answer (the FAQ service fills edit_text; set here in case it does not).
    actions = [replace(a, edit_text=entry.answer) if a.name == "faq_edit" else a for a in review_actions(entry, "en")]
    result = await rt.outbox.post(
        Destination("teams", user=CAROL.email),
        review_request(entry, "en", CAROL.email),
        owner=CAROL.email,
        actor="faq",
        sources=source_refs(entry),
        language="en",
        subject=f"faq review #{entry_id}",
        actions=actions,
    )
    assert result.posted, result
    [sent] = [c for c in t.connector.calls_to("send") if c.conversation_id == _chat_of(CAROL).id]
    return dict(sent.body)


def _chat_of(user: TeamsUser) -> Conversation:
    """The 1:1 chat the connector opens for a post to ``user``."""
    return Conversation(f"a:personal-{user.id}", "personal", (user.id,))


def _card(activity: JSON) -> JSON:
    [attachment] = activity["attachments"]
    assert CARD == attachment["contentType"]
    return dict(attachment["content"])


async def _submit(t: Tenant, user: TeamsUser, card_id: str, data: JSON, *, answer: str | None = None) -> str:
    """``user`` clicks a card's button: Teams sends a ``message`` with no text whose ``value`` is the
    button's data (and the card's inputs, for a button that takes them). Kura's answer's text."""
    activity = activities.message(CHATS[user.id], user, "", t.connector.service_url, locale="en-US")
    for key in ("text", "textFormat", "attachments", "entities"):
        activity.pop(key, None)
    activity["replyToId"] = card_id
    activity["value"] = {**data, **({"answer": answer} if answer is not None else {})}
    before = len(t.connector.calls_to("reply"))
    assert (await t.post(activity)).status == 202
    await t.answered("reply", before + 1)
    return str(t.connector.calls_to("reply")[-1].body["text"])


async def _reviews(rt: Runtime, entry_id: int) -> list[AuditRecord]:
    """The audit records of reviews of ``entry_id``, oldest first."""
    records = [r for r in await rt.audit.recent(30) if r.action == "faq_review"]
    return [r for r in reversed(records) if (rt.audit.decrypt_question(r) or "").endswith(f" #{entry_id}")]


def _button(card: JSON, verdict: str) -> JSON:
    return next(a for a in card["actions"] if a["data"]["verdict"] == verdict)


async def test_a_review_request_is_a_card_with_the_answer_to_edit(teams: Tenant, rt: Runtime, entry: int) -> None:
    """Adaptive Card 1.5: the request's text and its HR source, a multiline edit box holding the
    answer, and three Action.Submit buttons naming the entry; only edit sends the edit box."""
    card = _card(await _request(rt, teams, entry))
    assert ("AdaptiveCard", "1.5") == (card["type"], card["version"])
    shown = " ".join(str(b.get("text", "")) for b in card["body"])
    assert f"Please review FAQ entry #{entry}" in shown
    assert PAY_RULES in shown
    [box] = [b for b in card["body"] if b["type"] == "Input.Text"]
    assert ("answer", True, ANSWER) == (box["id"], box["isMultiline"], box["value"])
    data = [a["data"] for a in card["actions"]]
    assert [{"kura": "faq", "verdict": v, "id": str(entry)} for v in ("approve", "edit", "reject")] == data
    assert {"Action.Submit"} == {a["type"] for a in card["actions"]}
    assert ["none", "auto", "none"] == [a["associatedInputs"] for a in card["actions"]]
    assert ["Approve", "Save and approve", "Reject"] == [a["title"] for a in card["actions"]]


async def test_the_owner_approves_from_the_card(teams: Tenant, rt: Runtime, entry: int) -> None:
    """Carol's approve: the entry is approved by her, audited, and she is told."""
    sent = await _request(rt, teams, entry)
    said = await _submit(teams, CAROL, "1", _button(_card(sent), "approve")["data"])

    approved = await rt.faq_store.get(entry)
    assert approved is not None
    assert ("approved", CAROL.email, ANSWER) == (approved.status, approved.verified_by, approved.answer)
    [record] = await _reviews(rt, entry)
    assert (True, "teams", CAROL.email) == (record.allowed, record.platform, record.user_email)
    assert faq_text("approved", "en", id=entry) == said


async def test_the_owner_edits_in_the_card(teams: Tenant, rt: Runtime, entry: int) -> None:
    """Carol changes the answer in the edit box and saves: approved with her answer, audited."""
    sent = await _request(rt, teams, entry)
    new = "給与は毎月25日に支払われます。25日が休日の場合は前営業日です。"
    said = await _submit(teams, CAROL, "1", _button(_card(sent), "edit")["data"], answer=new)

    edited = await rt.faq_store.get(entry)
    assert edited is not None
    assert ("approved", new) == (edited.status, edited.answer)
    [record] = await _reviews(rt, entry)
    assert (True, new) == (record.allowed, rt.audit.decrypt_answer(record))
    assert faq_text("edited", "en", id=entry) == said


@pytest.mark.parametrize(
    ("who", "why"), [(ALICE, "not_reviewer"), (DAVE, "cannot_read")], ids=["not-owner-nor-admin", "admin-not-hr"]
)
async def test_people_who_may_not_review_are_refused(
    teams: Tenant, rt: Runtime, entry: int, who: TeamsUser, why: str
) -> None:
    """Alice is neither owner nor admin; Dave is an admin, but admin grants no reading of HR:
    both are refused, the entry stays a draft, and each refusal is audited."""
    sent = await _request(rt, teams, entry)
    said = await _submit(teams, who, "1", _button(_card(sent), "approve")["data"])

    unchanged = await rt.faq_store.get(entry)
    assert unchanged is not None
    assert "draft" == unchanged.status
    [record] = await _reviews(rt, entry)
    assert (False, why, who.email) == (record.allowed, record.reason_code, record.user_email)
    assert faq_text(why, "en", id=entry) == said


async def test_a_malformed_click_is_ignored(teams: Tenant, rt: Runtime, entry: int) -> None:
    """Data no card of Kura's sends (an id that is not a number, an unknown verdict, an answer
    over the limit): nothing is reviewed, nothing is said."""
    await _request(rt, teams, entry)
    replies = len(teams.connector.calls_to("reply"))
    for data, answer in (
        ({"kura": "faq", "verdict": "approve", "id": "1; DROP"}, None),
        ({"kura": "faq", "verdict": "publish", "id": str(entry)}, None),
        ({"kura": "faq", "verdict": "edit", "id": str(entry)}, "x" * 4001),
    ):
        activity = activities.message(CHATS[CAROL.id], CAROL, "", teams.connector.service_url)
        activity.pop("text")
        activity["value"] = {**data, **({"answer": answer} if answer is not None else {})}
        assert (await teams.post(activity)).status == 202
    await teams.idle()
    assert replies == len(teams.connector.calls_to("reply"))
    assert [] == await _reviews(rt, entry)
    unchanged = await rt.faq_store.get(entry)
    assert unchanged is not None
    assert "draft" == unchanged.status
