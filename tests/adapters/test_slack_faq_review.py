"""FAQ review in Slack, end to end: a review request posted through the outbox to a reviewer's DM
with approve / edit / reject buttons, clicks sent by the fake Slack as ``block_actions`` and
``view_submission`` payloads over Socket Mode, the real slack_bolt/slack_sdk clients, and the real
database, directory, policy and audit log. The entries cite the sample company's HR documents,
whose owner is Carol; Alice is neither owner nor admin; Dave is an admin who may not read HR."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.audit.models import AuditRecord
from bot.core.faq_words import faq_text
from bot.core.types import Destination
from bot.faq.render import review_actions, review_request, source_refs
from bot.wiring import Runtime
from tests.adapters.conftest import CHANNELS, PRIVATE, SHARED, USERS, serving
from tests.adapters.faq_support import ANSWER, PAY_RULES, model_answer  # noqa: F401 - the fake model's answer
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import Call, FakeSlack

pytestmark = pytest.mark.adapters

JSON = dict[str, Any]
CAROL = "carol@example.co.jp"


@pytest.fixture
async def slack(fake_model: FakeOpenAI, rt: Runtime) -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack with Kura's runner connected to it."""
    async with FakeSlack(USERS, CHANNELS, private=PRIVATE, shared=SHARED) as fake, serving(fake, rt):
        yield fake


async def _request(rt: Runtime, fake: FakeSlack, entry_id: int) -> JSON:
    """The review request for ``entry_id`` posted to Carol's DM, as the fake stores it."""
    entry = await rt.faq_store.get(entry_id)
    assert entry is not None
    result = await rt.outbox.post(
        Destination("slack", user=CAROL),
        review_request(entry, "en", CAROL),
        owner=CAROL,
        actor="faq",
        sources=source_refs(entry),
        language="en",
        subject=f"faq review #{entry_id}",
        actions=review_actions(entry, "en"),
    )
    assert result.posted, result
    [message] = fake.messages("D_CAROL")
    return message


async def _click(fake: FakeSlack, user: str, message: JSON, action_id: str) -> JSON:
    payload = fake.block_actions(user, message, action_id)
    ack = await fake.send_envelope("interactive", payload)
    assert ack["envelope_id"]
    return payload


async def _until(fake: FakeSlack, method: str, count: int = 1) -> list[Call]:
    return await fake.wait_for(method, count, timeout=30)


async def _reviews(rt: Runtime, entry_id: int) -> list[AuditRecord]:
    """The audit records of reviews of ``entry_id``, oldest first."""
    records = [r for r in await rt.audit.recent(30) if r.action == "faq_review"]
    return [r for r in reversed(records) if (rt.audit.decrypt_question(r) or "").endswith(f" #{entry_id}")]


def _buttons(message: JSON) -> list[JSON]:
    return [e for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


async def test_a_review_request_has_approve_edit_and_reject_buttons(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """The post carries the request's text, its HR source, and three buttons on the entry's id:
    approve is primary, reject is dangerous."""
    message = await _request(rt, slack, entry)
    buttons = _buttons(message)
    assert ["kura_faq_approve", "kura_faq_edit", "kura_faq_reject"] == [b["action_id"] for b in buttons]
    assert [str(entry)] * 3 == [b["value"] for b in buttons]
    assert ["Approve", "Edit", "Reject"] == [b["text"]["text"] for b in buttons]
    assert ("primary", None, "danger") == tuple(b.get("style") for b in buttons)
    shown = " ".join(str(b) for b in message["blocks"])
    assert f"Please review FAQ entry #{entry}" in shown
    assert PAY_RULES in shown
    assert all(t.get("verbatim") for b in message["blocks"] if b["type"] == "section" for t in [b["text"]])


async def test_the_owner_approves_and_the_buttons_give_way(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """Carol (owner of the HR documents) approves: the entry is approved by her, the review is
    audited, and her message shows the outcome instead of the buttons."""
    message = await _request(rt, slack, entry)
    await _click(slack, "U_CAROL", message, "kura_faq_approve")
    [update] = await _until(slack, "chat.update")

    approved = await rt.faq_store.get(entry)
    assert approved is not None
    assert ("approved", CAROL) == (approved.status, approved.verified_by)
    [record] = await _reviews(rt, entry)
    assert (True, "allowed", "slack", CAROL) == (record.allowed, record.reason_code, record.platform, record.user_email)
    line = faq_text("approved", "en", id=entry)
    assert ("D_CAROL", message["ts"]) == (update.params["channel"], update.params["ts"])
    [now] = slack.messages("D_CAROL")
    assert [] == _buttons(now)
    assert line == now["blocks"][-1]["text"]["text"]
    assert f"Please review FAQ entry #{entry}" in str(now["blocks"][0])
    assert [] == slack.calls_to("response_url")


async def test_someone_who_is_not_a_reviewer_is_refused(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """Alice is neither the owner nor an admin: refused in her language, the entry unchanged, the
    refusal audited."""
    message = await _request(rt, slack, entry)
    await _click(slack, "U_ALICE", message, "kura_faq_approve")
    [update] = await _until(slack, "chat.update")

    unchanged = await rt.faq_store.get(entry)
    assert unchanged is not None
    assert "draft" == unchanged.status
    [record] = await _reviews(rt, entry)
    assert (False, "not_reviewer", "refused") == (record.allowed, record.reason_code, record.status)
    assert faq_text("not_reviewer", "ja", id=entry) == update.params["blocks"][-1]["text"]["text"]


async def test_an_admin_who_may_not_read_the_documents_is_refused(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """Dave is an admin, but admin grants no reading: he may not review an HR-only entry."""
    message = await _request(rt, slack, entry)
    await _click(slack, "U_DAVE", message, "kura_faq_reject")
    [update] = await _until(slack, "chat.update")

    unchanged = await rt.faq_store.get(entry)
    assert unchanged is not None
    assert "draft" == unchanged.status
    [record] = await _reviews(rt, entry)
    assert (False, "cannot_read") == (record.allowed, record.reason_code)
    assert faq_text("cannot_read", "en", id=entry) == update.params["blocks"][-1]["text"]["text"]


async def test_the_outcome_is_shown_to_the_clicker_alone_when_the_message_cannot_change(
    slack: FakeSlack, rt: Runtime, entry: int
) -> None:
    """chat.update fails: the outcome comes through the response_url, ephemeral."""
    message = await _request(rt, slack, entry)
    slack.fail("chat.update", "message_not_found")
    await _click(slack, "U_CAROL", message, "kura_faq_reject")
    [response] = await _until(slack, "response_url")

    rejected = await rt.faq_store.get(entry)
    assert rejected is not None
    assert "rejected" == rejected.status
    assert ("ephemeral", False) == (response.params["response_type"], response.params["replace_original"])
    assert faq_text("rejected", "en", id=entry) == response.params["text"]


async def test_the_owner_edits_the_answer_in_a_dialog(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """Edit opens a dialog prefilled with the answer; the submission approves the entry with the
    new answer, audited, and Carol is told in her DM with Kura."""
    message = await _request(rt, slack, entry)
    click = await _click(slack, "U_CAROL", message, "kura_faq_edit")
    [opened] = await _until(slack, "views.open")

    view = opened.params["view"]
    assert click["trigger_id"] == opened.params["trigger_id"]
    assert ("kura_faq_edit", str(entry)) == (view["callback_id"], view["private_metadata"])
    [block] = view["blocks"]
    assert (ANSWER, True) == (block["element"]["initial_value"], block["element"]["multiline"])
    assert (f"Edit FAQ #{entry}", "Save and approve") == (view["title"]["text"], view["submit"]["text"])

    [view_id] = slack.views
    new = "給与は毎月25日に支払われます。25日が休日の場合は前営業日です。"
    await slack.send_envelope("interactive", slack.view_submission("U_CAROL", view_id, {"answer": {"answer": new}}))
    await _until(slack, "chat.postMessage", 2)  # the request, then the outcome
    edited = await rt.faq_store.get(entry)
    assert edited is not None
    assert ("approved", new, CAROL) == (edited.status, edited.answer, edited.verified_by)
    [record] = await _reviews(rt, entry)
    assert (True, f"faq edit #{entry}", new) == (
        record.allowed,
        rt.audit.decrypt_question(record),
        rt.audit.decrypt_answer(record),
    )
    assert faq_text("edited", "en", id=entry) == slack.messages("D_CAROL")[-1]["text"]


async def test_edit_by_someone_who_may_not_review_opens_no_dialog(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """Alice clicks edit: no dialog, the refusal privately, the refused attempt audited."""
    message = await _request(rt, slack, entry)
    await _click(slack, "U_ALICE", message, "kura_faq_edit")
    [response] = await _until(slack, "response_url")

    assert faq_text("not_reviewer", "ja", id=entry) == response.params["text"]
    assert "ephemeral" == response.params["response_type"]
    await asyncio.sleep(0.2)
    assert [] == slack.calls_to("views.open")
    [record] = await _reviews(rt, entry)
    assert (False, "not_reviewer") == (record.allowed, record.reason_code)


async def test_refresh_asks_the_owner_by_slack_once(slack: FakeSlack, rt: Runtime, entry: int) -> None:
    """The refresh's last step posts each waiting entry to its reviewer (Carol, owner of the HR
    documents) as a DM with the buttons, once: asked entries are not asked again until they change."""
    notified = await rt.faq.notify("test:refresh")
    mine = [n for n in notified if n["id"] == entry]
    assert [{"id": entry, "reviewer": CAROL, "to": "slack", "posted": True, "reason": None}] == mine
    [message] = [m for m in slack.messages("D_CAROL") if f"#{entry}" in str(m.get("blocks"))]
    assert ["kura_faq_approve", "kura_faq_edit", "kura_faq_reject"] == [b["action_id"] for b in _buttons(message)]
    again = await rt.faq.notify("test:refresh")
    assert not [n for n in again if n["id"] == entry]
    await _click(slack, "U_CAROL", message, "kura_faq_approve")
    await _until(slack, "chat.update")
    view = await rt.faq_store.get(entry)
    assert view is not None
    assert view.status == "approved"
