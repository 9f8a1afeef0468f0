"""The conversation core through the real Slack clients and the fake Slack: clean streaming in both
Slack modes with a model that writes links, private refusals, and posts without an inbound event."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.slack.runner import SlackRunner
from bot.core.messages import refusal_message
from bot.core.sanitize import sanitize_answer
from bot.core.types import Destination, SourceRef
from bot.jobs.service import ScheduleService, make_spec
from bot.settings import HttpSettings
from bot.wiring import Runtime, open_runtime
from tests.adapters.conftest import USERS, settings_for, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.adapters

HOSTILE = [
    "締め日は",
    "毎月25日です。",
    "[こち",
    "ら](https://ev",
    "il.example/x)",
    "を見て\u200bください。\n",
    "詳細はhttp",
    "s://evil.example/p を",
    "![p](https://evil.example/p.png)",
    "参照 <HTTPS://evil.example|ここ> [1]",
]


def _mention(fake: FakeSlack, user: str, channel: str, question: str) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@U_KURA> {question}", "channel": channel}
    return fake.event_callback(event | {"ts": f"{time.time():.6f}"})


async def _streamed(fake: FakeSlack, runtime: Runtime, streaming: str) -> tuple[list[str], str]:
    """Every text a reader saw while the answer streamed, and the final text, in one Slack mode."""
    runner = SlackRunner(slack_settings(fake, streaming=streaming), HttpSettings(port=0), runtime)
    await runner.start()
    await fake.wait_connected()
    try:
        await fake.send_envelope("events_api", _mention(fake, "U_ALICE", "C_GENERAL", "経費精算の締め日は？"))
        done = "chat.stopStream" if streaming == "native" else "chat.update"
        deadline = time.monotonic() + 60
        while not [c for c in fake.calls_to(done) if c.params.get("blocks")]:
            assert time.monotonic() < deadline, [c.method for c in fake.calls]
            await asyncio.sleep(0.1)
    finally:
        await runner.stop()
    seen: list[str] = []
    if streaming == "native":
        text = ""
        for call in fake.calls:
            if call.method in ("chat.appendStream", "chat.stopStream"):
                text += str(call.params.get("markdown_text") or "")
                seen.append(text)
        return seen, text
    for call in fake.calls_to("chat.update"):
        seen.append(str(call.params.get("text", "")).removesuffix(" ▌"))
    final = fake.calls_to("chat.update")[-1].params["blocks"][0]["text"]["text"]
    return seen, str(final)


async def test_native_and_update_streaming_show_the_same_clean_text(
    tmp_root: Path, adapter_db_url: str, runtime: Runtime
) -> None:
    """A model that writes a Markdown link split mid-URL, a bare URL split at its scheme, an image, a
    Slack link and a zero-width space, slowly enough for several updates: in both modes every text a
    reader saw is clean and the start of the final answer, and both end with the same text."""
    finals: dict[str, str] = {}
    async with (
        FakeOpenAI(HOSTILE, first_token_s=0.05, token_delay_s=0.15) as model,
        open_runtime(settings_for(tmp_root, adapter_db_url, model.url), with_model=True) as rt,
    ):
        for mode in ("native", "update"):
            async with FakeSlack(USERS, {"C_GENERAL": ["U_ALICE", "U_BOB", "U_KURA"]}) as fake:
                seen, final = await _streamed(fake, rt, mode)
            assert len(seen) >= 3, mode
            for text in seen:
                assert "evil" not in text, (mode, text)
                assert "\u200b" not in text
                assert final.startswith(text.rstrip()), (mode, text)
            finals[mode] = final
    expected = sanitize_answer("".join(HOSTILE)).strip()
    assert {"native": expected, "update": expected} == finals


async def test_a_refusal_in_a_channel_is_shown_to_the_asker_alone(
    fake_slack: FakeSlack, socket_kura: SlackRunner
) -> None:
    """Dave asks in #hr, which he is not in: the placeholder is withdrawn and the refusal is ephemeral."""
    payload = _mention(fake_slack, "U_DAVE", "C_HR", "What is the G3 salary?")
    await fake_slack.send_envelope("events_api", payload)
    [ephemeral] = await fake_slack.wait_for("chat.postEphemeral", 1, timeout=60)
    assert ("C_HR", "U_DAVE") == (ephemeral.params["channel"], ephemeral.params["user"])
    assert refusal_message("not_a_member", "en") in json.dumps(ephemeral.params, ensure_ascii=False)
    assert ["chat.postMessage", "chat.delete", "chat.postEphemeral"] == [
        c.method for c in fake_slack.calls if c.method.startswith("chat.")
    ]
    assert [] == fake_slack.messages("C_HR")


async def test_posts_without_an_inbound_event_follow_the_audience_rule(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime
) -> None:
    """The outbox on Slack: a handbook-based post reaches #general; an HR-based one is refused there
    but reaches Carol by DM (opened from her email); each is audited."""
    handbook = SourceRef("handbook/経費精算.md", "経費精算", ("group:all-staff",), 1)
    pay = SourceRef("hr/給与規程.md", "給与規程", ("group:hr",), 2)
    general = Destination("slack", "C_GENERAL")
    ok = await runtime.outbox.post(
        general, "締め日は25日です。", owner="bob@example.co.jp", actor="t", sources=[handbook]
    )
    leak = await runtime.outbox.post(general, "G3 は…", owner="carol@example.co.jp", actor="t", sources=[pay])
    dm = await runtime.outbox.post(
        Destination("slack", user="carol@example.co.jp"),
        "G3 は…",
        owner="carol@example.co.jp",
        actor="t",
        sources=[pay],
    )
    assert [(True, "posted"), (False, "audience_not_cleared"), (True, "posted")] == [
        (r.posted, r.reason_code) for r in (ok, leak, dm)
    ]
    posts = fake_slack.calls_to("chat.postMessage")
    assert ["C_GENERAL", "D_CAROL"] == [c.params["channel"] for c in posts]
    assert "handbook/経費精算.md" in json.dumps(posts[0].params["blocks"], ensure_ascii=False)
    records = await runtime.audit.recent(3)
    assert ["posted", "refused", "posted"] == [r.status for r in reversed(records)]


async def test_scheduled_jobs_post_to_slack_through_the_outbox(
    fake_slack: FakeSlack, socket_kura: SlackRunner, runtime: Runtime, tmp_path: Path
) -> None:
    """An `ask` schedule posts its answer in #general, for the channel's readers (never hr/); a
    `sync` schedule posts its counts (no file names); each run is recorded once with its outcome,
    and the post leaves its own audit record after the answer's."""
    service = ScheduleService(runtime)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / ".kura-access.yaml").write_text("allow: [public]\nclassification: public\n", encoding="utf-8")
    (folder / "note.md").write_text("# Note\n\n社内メモです。\n", encoding="utf-8")
    await service.store.add(
        make_spec(
            "ask",
            "weekly-expenses",
            "0 9 * * 1",
            "Asia/Tokyo",
            params={"question": "経費精算の締め日は？"},
            target="slack:C_GENERAL",
            owner="carol@example.co.jp",
        )
    )
    await service.store.add(
        make_spec(
            "sync",
            "docs",
            "0 * * * *",
            "UTC",
            params={"path": str(folder)},
            target="slack:C_GENERAL",
            owner="dave@example.co.jp",  # an admin: a sync report is an admin action
        )
    )
    asked = await service.run_now("weekly-expenses", actor="test", command="run-now", platform="test")
    synced = await service.run_now("docs", actor="test", command="run-now", platform="test")
    assert ("done", "done") == (asked.status, synced.status), (asked, synced)
    assert (asked.outcome or "").startswith("posted to slack:C_GENERAL")
    assert "posted to slack:C_GENERAL" in (synced.outcome or "")
    posts = [c.params for c in fake_slack.calls_to("chat.postMessage")]
    assert ["C_GENERAL", "C_GENERAL"] == [p["channel"] for p in posts]
    answer = json.dumps(posts[0]["blocks"], ensure_ascii=False)
    assert "handbook/経費精算.md" in answer
    assert "hr/" not in answer
    assert "added 1" in posts[1]["text"]
    assert "note.md" not in posts[1]["text"]
    records = list(reversed(await runtime.audit.recent(3)))
    assert [("ask", "answered"), ("ask", "posted"), ("admin", "posted")] == [(r.action, r.status) for r in records]
    assert 'kura_job_runs_total{kind="ask",outcome="done"} 1.0' in runtime.metrics.exposition()[0].decode()
