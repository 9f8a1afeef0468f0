"""Kura in Slack, with the real slack_bolt/slack_sdk clients against a local fake Slack."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from bot.adapters.slack.runner import SlackRunner
from bot.core.messages import refusal_message
from bot.errors import user_message
from bot.settings import HttpSettings
from bot.wiring import Runtime, open_runtime, sample_knowledge
from tests.adapters.conftest import (
    SIGNING_SECRET,
    DatabaseLink,
    adapter_policy_text,
    public_only,
    serving,
    settings_for,
    slack_settings,
    slash_command,
)
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.adapters


def _mention(fake: FakeSlack, user: str, channel: str, question: str, **extra: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    event = {"type": "app_mention", "user": user, "text": f"<@U_KURA> {question}", "channel": channel, "ts": ts}
    return fake.event_callback(event | extra)


def _dm(fake: FakeSlack, user: str, channel: str, question: str) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    event = {"type": "message", "channel_type": "im", "user": user, "text": question, "channel": channel, "ts": ts}
    return fake.event_callback(event)


def _final(fake: FakeSlack, channel: str, thread_ts: str) -> dict[str, Any]:
    """The last version of Kura's reply in a thread (after its final chat.update)."""
    replies = [m for m in fake.messages(channel) if m.get("thread_ts") == thread_ts]
    assert replies, f"no reply in {channel} thread {thread_ts}"
    return replies[-1]


def _sources(message: dict[str, Any]) -> str:
    return " ".join(
        e.get("text", "") for b in message.get("blocks") or [] if b["type"] == "context" for e in b["elements"]
    )


async def _answered(fake: FakeSlack, count: int = 1) -> None:
    """Wait until `count` replies got their final update (blocks with sources or a final text)."""
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        finals = [c for c in fake.calls_to("chat.update") if c.params.get("blocks")]
        if len(finals) >= count:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"saw {[c.method for c in fake.calls]}")
        await asyncio.sleep(0.1)


async def test_mention_in_channel_gets_one_answer_in_its_thread(
    fake_slack: FakeSlack, socket_kura: SlackRunner
) -> None:
    """A placeholder at once, then exactly one final answer in the mention's thread, with sources."""
    payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日はいつですか？")
    ack = await fake_slack.send_envelope("events_api", payload)
    assert ack["envelope_id"]
    await _answered(fake_slack)
    ts = payload["event"]["ts"]
    posts = fake_slack.calls_to("chat.postMessage")
    assert 1 == len(posts)
    assert (ts, False, False) == (
        posts[0].params["thread_ts"],
        posts[0].params.get("unfurl_links"),
        posts[0].params.get("unfurl_media"),
    )
    final = _final(fake_slack, "C_GENERAL", ts)
    assert "handbook/経費精算.md" in _sources(final)
    buttons = [b for b in final["blocks"] if b["type"] == "actions"]
    assert 1 == len(buttons)


async def test_dm_uses_the_askers_rights(fake_slack: FakeSlack, socket_kura: SlackRunner) -> None:
    """Carol in a DM may read HR documents."""
    payload = _dm(fake_slack, "U_CAROL", "D_CAROL", "G3の基本給のレンジは？")
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    assert "hr/" in _sources(_final(fake_slack, "D_CAROL", payload["event"]["ts"]))


async def test_channel_answer_excludes_what_some_member_may_not_read(
    fake_slack: FakeSlack, socket_kura: SlackRunner
) -> None:
    """The same question from Carol in #general: nothing from hr/ (alice, bob and dave may not read it)."""
    payload = _mention(fake_slack, "U_CAROL", "C_GENERAL", "G3の基本給のレンジは？")
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    final = _final(fake_slack, "C_GENERAL", payload["event"]["ts"])
    assert "hr/" not in _sources(final)
    assert "hr/" not in json.dumps(final, ensure_ascii=False)


async def test_external_member_narrows_the_channel_to_public(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime
) -> None:
    """A Slack Connect guest is a member with no rights: only public documents are searched (carol,
    who asks, may read HR's pay rules; the answer may say "not found", never draw on them)."""
    payload = _mention(fake_slack, "U_CAROL", "C_SHARED", "会社の設立はいつ？ 給与規程は？")
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    cited = set(re.findall(r"`([^`]+)`", _sources(_final(fake_slack, "C_SHARED", payload["event"]["ts"]))))
    assert all(public_only(a) for a in cited), cited
    (record,) = [r for r in await runtime.audit.recent(5) if r.channel_id == "C_SHARED"][:1]
    searched = {str(r["source"]) for r in record.retrieved}
    assert searched, "the public documents were searched"
    assert all(public_only(s) for s in searched), searched


async def test_retries_and_duplicates_yield_one_answer(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime
) -> None:
    """The same event delivered three times (two Slack retries) is answered once."""
    payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "リモートワークは週何日まで？")
    await fake_slack.send_envelope("events_api", payload)
    await fake_slack.send_envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    await fake_slack.send_envelope("events_api", payload, retry_attempt=2, retry_reason="timeout")
    await _answered(fake_slack)
    await asyncio.sleep(1.0)
    assert 1 == len(fake_slack.calls_to("chat.postMessage"))
    async with runtime.database.engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM handled_events WHERE event_id = :e"), {"e": payload["event_id"]}
        )
    assert 1 == count


async def test_rate_limit_is_honoured(fake_slack: FakeSlack, socket_kura: SlackRunner) -> None:
    """A 429 on the first post is retried after Retry-After and the answer still arrives."""
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "年末年始の休みは？")
    started = time.monotonic()
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    posts = fake_slack.calls_to("chat.postMessage")
    assert 2 == len(posts)
    assert time.monotonic() - started >= 1.0


async def test_unknown_user_is_refused_politely_and_audited(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime
) -> None:
    """A Slack user with no email cannot be matched to the directory: refused, in English, audited."""
    payload = _dm(fake_slack, "U_NOMAIL", "D_NOMAIL", "What is the guest Wi-Fi password?")
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    final = _final(fake_slack, "D_NOMAIL", payload["event"]["ts"])
    assert "not registered" in final["text"]
    assert not [b for b in final["blocks"] if b["type"] == "actions"]
    records = await runtime.audit.recent(5)
    assert any(r.user_ref == "U_NOMAIL" and r.reason_code == "unknown_user" for r in records)


async def test_thread_follow_up_without_mention_is_answered_with_context(
    fake_slack: FakeSlack, socket_kura: SlackRunner
) -> None:
    """After Kura answered in a thread, a plain reply there is answered too, in the same thread."""
    payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日は？")
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    thread = payload["event"]["ts"]
    follow = {
        "type": "message",
        "channel_type": "channel",
        "user": "U_ALICE",
        "text": "領収書は何年保管しますか？",
        "channel": "C_GENERAL",
        "ts": f"{time.time():.6f}",
        "thread_ts": thread,
    }
    await fake_slack.send_envelope("events_api", fake_slack.event_callback(follow))
    await _answered(fake_slack, count=2)
    replies = fake_slack.calls_to("conversations.replies")
    assert replies
    assert 2 == len([m for m in fake_slack.messages("C_GENERAL") if m.get("thread_ts") == thread and m.get("blocks")])


async def test_model_down_gives_the_unavailable_reply_and_kura_keeps_serving(
    fake_slack: FakeSlack, tmp_root: Any, adapter_db_url: str, runtime: Runtime
) -> None:
    """With the model server unreachable the user is told, the failure audited, and the next message served."""
    dead = settings_for(tmp_root, adapter_db_url, "http://127.0.0.1:9/v1")
    async with open_runtime(dead, with_model=True) as rt:
        runner = SlackRunner(slack_settings(fake_slack), HttpSettings(port=0), rt)
        await runner.start()
        await fake_slack.wait_connected()
        try:
            first = _mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日は？")
            await fake_slack.send_envelope("events_api", first)
            await fake_slack.wait_for("chat.update", 1, timeout=60)
            await asyncio.sleep(0.5)
            final = _final(fake_slack, "C_GENERAL", first["event"]["ts"])
            assert "一時的に利用できません" in final["text"]
            second = _dm(fake_slack, "U_CAROL", "D_CAROL", "Is anyone there?")
            await fake_slack.send_envelope("events_api", second)
            await fake_slack.wait_for("chat.update", 2, timeout=60)
        finally:
            await runner.stop()
    records = await runtime.audit.recent(5)
    assert any(r.status == "unavailable" and r.user_email == "alice@example.co.jp" for r in records)


async def test_direct_visibility_answers_the_asker_alone_with_their_own_rights(
    fake_slack: FakeSlack, tmp_root: Path, tmp_path: Path, adapter_db_url: str, smol_url: str, runtime: Runtime
) -> None:
    """With `channels: visibility: direct` Carol's question in #general is answered to her alone, by
    chat.postEphemeral in the thread, from hr/ (which alice, bob and dave may not read; compare
    test_channel_answer_excludes_what_some_member_may_not_read); nothing appears in the channel."""
    shipped = adapter_policy_text()
    assert "  visibility: channel\n" in shipped
    policy = tmp_path / "direct.yaml"
    policy.write_text(shipped.replace("  visibility: channel\n", "  visibility: direct\n"), encoding="utf-8")
    # On the database where the session's `runtime` ingested the sample knowledge.
    settings = settings_for(tmp_root, adapter_db_url, smol_url, policy_file=policy)
    async with open_runtime(settings, with_model=True) as rt:
        async with serving(fake_slack, rt):
            payload = _mention(fake_slack, "U_CAROL", "C_GENERAL", "G3の基本給のレンジは？")
            await fake_slack.send_envelope("events_api", payload)
            ephemeral = (await fake_slack.wait_for("chat.postEphemeral", 1, timeout=120))[0].params
        seen = [c.method for c in fake_slack.calls if c.method.startswith("chat.")]
        assert ["chat.postEphemeral"] == seen
        assert [] == fake_slack.messages("C_GENERAL")
        assert ("C_GENERAL", "U_CAROL", payload["event"]["ts"]) == (
            ephemeral["channel"],
            ephemeral["user"],
            ephemeral["thread_ts"],
        )
        assert "hr/" in _sources(ephemeral)
        audit_id = next(b for b in ephemeral["blocks"] if b["type"] == "actions")["elements"][0]["value"]
        async with rt.database.engine.connect() as conn:
            record = (
                await conn.execute(
                    text("SELECT user_email, channel_id, rules, retrieved FROM audit_records WHERE id = :a"),
                    {"a": audit_id},
                )
            ).one()
    assert ("carol@example.co.jp", "C_GENERAL") == (record.user_email, record.channel_id)
    assert any("channel answers go to the asker alone" in rule for rule in record.rules)
    assert any(chunk["source"].startswith("hr/") for chunk in record.retrieved)


async def test_database_down_gives_the_unavailable_reply_and_kura_recovers(
    fake_slack: FakeSlack, tmp_root: Path, smol_url: str, db_link: DatabaseLink
) -> None:
    """With PostgreSQL unreachable a mention gets the short database-unavailable line in its thread (and is
    not marked handled, so a retry would be answered); once it is back the next message is served."""
    async with open_runtime(settings_for(tmp_root, db_link.url, smol_url), with_model=True) as rt:
        async with serving(fake_slack, rt):
            async with rt.database.engine.connect() as conn:  # a pooled connection for the outage to break
                assert 1 == await conn.scalar(text("SELECT 1"))
            await db_link.down()
            first = _mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日は？")
            await fake_slack.send_envelope("events_api", first)
            post = (await fake_slack.wait_for("chat.postMessage", 1, timeout=30))[0].params
            assert (first["event"]["ts"], user_message("database_unavailable", "ja")) == (
                post["thread_ts"],
                post["text"],
            )
            assert not post.get("blocks")
            await db_link.up()
            second = _dm(fake_slack, "U_NOMAIL", "D_NOMAIL", "Is Kura back?")
            await fake_slack.send_envelope("events_api", second)
            await _answered(fake_slack)
            assert "not registered" in _final(fake_slack, "D_NOMAIL", second["event"]["ts"])["text"]
        async with rt.database.engine.connect() as conn:
            claimed = set(
                await conn.scalars(
                    text("SELECT event_id FROM handled_events WHERE event_id = ANY(:ids)"),
                    {"ids": [first["event_id"], second["event_id"]]},
                )
            )
    assert {second["event_id"]} == claimed
    assert ["chat.postMessage", "chat.postMessage", "chat.update"] == [
        c.method for c in fake_slack.calls if c.method.startswith("chat.")
    ]


async def test_admin_command_works_for_dave_and_is_refused_for_alice(
    fake_slack: FakeSlack, socket_kura: SlackRunner
) -> None:
    """/kura status answers an admin privately; a non-admin gets a refusal; help for unknown words."""
    await fake_slack.send_envelope("slash_commands", slash_command(fake_slack, "U_DAVE", "status"))
    await fake_slack.send_envelope("slash_commands", slash_command(fake_slack, "U_ALICE", "status"))
    await fake_slack.send_envelope("slash_commands", slash_command(fake_slack, "U_DAVE", "frobnicate"))
    await fake_slack.send_envelope(
        "slash_commands", slash_command(fake_slack, "U_DAVE", "policy explain <@U_CAROL|carol>")
    )
    await fake_slack.send_envelope("slash_commands", slash_command(fake_slack, "U_DAVE", "audit verify"))
    responses = await fake_slack.wait_for("response_url", 5, timeout=60)
    texts = [str(c.params.get("text")) for c in responses]
    assert all("ephemeral" == c.params.get("response_type") for c in responses)
    assert any("Kura status" in t and "documents" in t for t in texts)
    assert any("permission" in t or "権限" in t for t in texts)
    assert any("Kura admin commands" in t for t in texts)
    assert any("carol@example.co.jp" in t and "clearance: confidential" in t for t in texts)
    assert any("audit chain intact" in t for t in texts)


async def test_admin_sources_sync_and_audit_recent_for_dave_and_audited(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime
) -> None:
    """/kura sources lists the sample knowledge with its document count, /kura sync re-ingests it (all
    unchanged), alice's /kura sync is refused, and /kura audit recent lists those three records."""
    root = sample_knowledge().resolve()
    files = len(runtime.ingestor.files(root))

    async def command(user: str, words: str) -> str:
        done = len(fake_slack.calls_to("response_url")) + 1
        await fake_slack.send_envelope("slash_commands", slash_command(fake_slack, user, words))
        response = (await fake_slack.wait_for("response_url", done, timeout=60))[-1].params
        assert "ephemeral" == response.get("response_type")
        return str(response["text"])

    source = await runtime.sources.ensure(root)  # the fixture ingested it without the registry
    sources = await command("U_DAVE", "sources")
    synced = await command("U_DAVE", "sync")
    refused = await command("U_ALICE", "sync")
    recent = await command("U_DAVE", "audit recent")

    assert sources.startswith("*Knowledge sources*\n")
    assert f"• `{source.name}` `{root}` — {files} documents, " in sources
    assert synced.startswith(f"*Sync*\n• `{source.name}`: unchanged {files} (")
    assert refusal_message("action_not_allowed", "ja") == refused
    records = await runtime.audit.recent(4)
    assert [
        ("U_DAVE", "/kura audit recent", True, "answered"),
        ("U_ALICE", "/kura sync", False, "refused"),
        ("U_DAVE", "/kura sync", True, "answered"),
        ("U_DAVE", "/kura sources", True, "answered"),
    ] == [(r.user_ref, runtime.audit.decrypt_question(r), r.allowed, r.status) for r in records]
    assert ["audit_export", "admin", "admin", "admin"] == [r.action for r in records]
    assert [refused, synced, sources] == [runtime.audit.decrypt_answer(r) for r in records[1:]]
    assert recent.startswith("*Recent audit records*\n")
    for r, shown in zip(
        records[1:],
        ["denied:action_not_allowed refused", "allowed answered", "allowed answered"],
        strict=True,
    ):
        assert f"slack {r.user_email} admin {shown} `{r.id[:8]}`" in recent


async def test_feedback_click_is_stored_against_the_audit_record(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime
) -> None:
    """👍 on an answer stores +1 for its audit id and thanks the user privately."""
    payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "休暇の申請はいつまで？")
    await fake_slack.send_envelope("events_api", payload)
    await _answered(fake_slack)
    final = _final(fake_slack, "C_GENERAL", payload["event"]["ts"])
    button = next(b for b in final["blocks"] if b["type"] == "actions")["elements"][0]
    click = {
        "type": "block_actions",
        "user": {"id": "U_ALICE", "team_id": "T_KURA"},
        "team": {"id": "T_KURA"},
        "api_app_id": "A_KURA",
        "channel": {"id": "C_GENERAL"},
        "container": {"type": "message", "message_ts": final["ts"], "channel_id": "C_GENERAL"},
        "message": final,
        "response_url": fake_slack.response_url(),
        "trigger_id": uuid.uuid4().hex,
        "actions": [{**button, "block_id": "kura_feedback", "type": "button", "action_ts": f"{time.time():.6f}"}],
    }
    await fake_slack.send_envelope("interactive", click)
    await fake_slack.wait_for("response_url", 1, timeout=30)
    async with runtime.database.engine.connect() as conn:
        value = await conn.scalar(text("SELECT value FROM feedback WHERE audit_id = :a"), {"a": button["value"]})
    assert 1 == value


async def _post(port: int, body: str, headers: dict[str, str]) -> int:
    url = f"http://127.0.0.1:{port}/slack/events"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        return response.status


async def test_http_mode_rejects_forged_unsigned_and_stale_requests(
    fake_slack: FakeSlack, http_kura: SlackRunner
) -> None:
    """401 and no Web API call for a bad signature, a missing one, or a timestamp older than 5 minutes."""
    body = json.dumps(_mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日は？"))
    forged = FakeSlack.signed_headers(body, "not-the-secret")
    unsigned = {"Content-Type": "application/json"}
    stale = FakeSlack.signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 6 * 60)
    for headers in (forged, unsigned, stale):
        assert 401 == await _post(http_kura.port, body, headers)
    await asyncio.sleep(0.5)
    assert [] == [c.method for c in fake_slack.calls if c.method.startswith(("chat.", "users.", "conversations."))]


async def test_http_mode_answers_a_signed_mention(fake_slack: FakeSlack, http_kura: SlackRunner) -> None:
    """A correctly signed Events API request is acked with 200 and answered in its thread."""
    payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日は？")
    body = json.dumps(payload)
    assert 200 == await _post(http_kura.port, body, FakeSlack.signed_headers(body, SIGNING_SECRET))
    await _answered(fake_slack)
    assert "handbook/経費精算.md" in _sources(_final(fake_slack, "C_GENERAL", payload["event"]["ts"]))


async def test_native_streaming_when_the_workspace_has_it(fake_slack: FakeSlack, runtime: Runtime) -> None:
    """With streaming=native the answer goes through chat.startStream/appendStream/stopStream."""
    runner = SlackRunner(slack_settings(fake_slack, streaming="native"), HttpSettings(port=0), runtime)
    await runner.start()
    await fake_slack.wait_connected()
    try:
        payload = _mention(fake_slack, "U_ALICE", "C_GENERAL", "経費精算の締め日は？")
        await fake_slack.send_envelope("events_api", payload)
        stops = await fake_slack.wait_for("chat.stopStream", 1, timeout=120)
    finally:
        await runner.stop()
    start = fake_slack.calls_to("chat.startStream")[0]
    assert (payload["event"]["ts"], "U_ALICE") == (start.params["thread_ts"], start.params["recipient_user_id"])
    assert "handbook/経費精算.md" in json.dumps(stops[0].params.get("blocks"), ensure_ascii=False)
    assert [] == fake_slack.calls_to("chat.postMessage")
