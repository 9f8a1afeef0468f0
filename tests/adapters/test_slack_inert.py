"""One hostile model answer and one hostile document title, through the pipeline to every
transport: what Slack receives (real slack_sdk against the fake Slack, both streaming modes), what
the console prints and what ``kura ask --json`` prints are all inert."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from rich.console import Console
from slack_sdk.web.async_client import AsyncWebClient

import bot
import policies
from bot.adapters.console import ConsoleRenderer
from bot.adapters.slack.transport import SlackTransport
from bot.cli.chat import json_line
from bot.core.conversation import Conversation, PlatformParts
from bot.core.pipeline import Pipeline, PipelineConfig
from bot.identity import FileDirectory
from bot.settings import SlackSettings
from bot.wiring import StaticPolicy
from knowledge.store import SearchHit
from llm import OpenAIChatModel
from tests.fakes.chat import ListAudit, MemoryHistory, MemoryLedger, RecordingAdmin, ScopedRetriever
from tests.fakes.kura import POLICY, mention
from tests.fakes.openai_server import FakeOpenAI, local_client
from tests.fakes.slack import FakeSlack, SlackUser

pytestmark = pytest.mark.adapters

ALLOWED = "intranet.example.co.jp"
#: What a planted instruction could make the model write, in the pieces a server streams.
HOSTILE = [
    "<!chan",
    "nel> 至急 <@U_BOB> <!subteam^S1|@hr> @here @everyone\n",
    "新ポータル: evil.example.com/login, www.evil.example, ｅｖｉｌ．ｃｏ",
    "ｍ, evil。example ",
    "[こちら](https://evil.example/x) <HTTPS://evil.example/y|給与> https://intranet.example.co.jp@evil.example/ ",
    "https://evil.example\\@intranet.example.co.jp/ ![p](https://evil.example/p.png) ",
    "\x1b]8;;https://evil.example\x07ここ\x1b]8;;\x07 \x1b[31m赤\x1b[0m <at>Taro</at> <!date^1^{date}^https://evil.example|明日>\n",
    "手順は handbook.md と docs/setup.py、[社内wiki](https://intranet.example.co.jp/wiki) を参照 [1]",
]
TITLE = "<!channel> *URGENT* <https://evil.example/login|給与>\x1b[2J"
SOURCE = "handbook/<!here>`経費`.md"
HIT = SearchHit(1, 1, SOURCE, TITLE, "締め日は毎月25日。", ("group:all-staff",), 1, 0.1)

# A "<" that opens anything but a link to a URL; an @ that starts a word; a host left alive.
_OPENER = re.compile(r"<(?!(?:https?|ftp)://)", re.IGNORECASE)
_LIVE_AT = re.compile(r"(?<![0-9A-Za-z_])@(?=[0-9A-Za-z_])")
_LINK_HOST = re.compile(r"(?:https?|ftp)://([^/|>\s)\]]+)", re.IGNORECASE)


def _assert_inert(text: str) -> None:
    """Nothing in ``text`` can notify, link elsewhere or act on a terminal."""
    assert not _OPENER.search(text), text
    assert not _LIVE_AT.search(text), text
    for alive in ("evil.example", "ｅｖｉｌ．", "evil。"):
        assert alive not in text, text
    assert not {h.lower() for h in _LINK_HOST.findall(text)} - {ALLOWED}, text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)


def _slack_texts(fake: FakeSlack) -> Iterator[str]:
    """Every text Kura sent: message text, markdown_text and each text object of its blocks."""
    for call in fake.calls:
        params: dict[str, Any] = call.params
        for key in ("text", "markdown_text"):
            if isinstance(params.get(key), str):
                yield params[key]
        blocks = params.get("blocks")
        for block in json.loads(blocks) if isinstance(blocks, str) else blocks or []:
            texts = [block.get("text"), *block.get("elements", [])]
            yield from (t["text"] for t in texts if isinstance(t, dict) and isinstance(t.get("text"), str))


@pytest.mark.parametrize("streaming", ["update", "native"])
async def test_a_hostile_answer_is_inert_in_slack_the_console_and_json(streaming: str) -> None:
    """The same answer and title: Slack gets escaped, verbatim mrkdwn (and clean Markdown when
    streaming natively) with no mention, no live host, no link but the allowed one; the console
    prints plain words; the JSON answer is the same clean text and the title is kept as data."""
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    policy = StaticPolicy(policies.load_policy_text(POLICY.read_text(encoding="utf-8")))
    audit = ListAudit()
    user = SlackUser("U_ALICE", "alice@example.co.jp")
    dm = "D-alice@example.co.jp"
    async with FakeOpenAI(HOSTILE) as model, FakeSlack([user], {dm: ["U_ALICE", "U_KURA"]}) as slack:
        client = local_client(model.url)
        chat = OpenAIChatModel(client, "fake", max_tokens=256, temperature=0.0)
        config = PipelineConfig(top_k=5, link_hosts=(ALLOWED,))
        pipeline = Pipeline(directory, policy, ScopedRetriever([HIT]), chat, audit, config)
        settings = SlackSettings(
            bot_token=SecretStr("xoxb-test"), api_url=slack.api_url, streaming=streaming, update_interval_s=0.0
        )
        web = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)  # noqa: S106 - a test value
        transport = SlackTransport(web, settings, team_id=None)
        parts = PlatformParts(transport, directory, pipeline, MemoryHistory())
        conversation = Conversation(parts, ledger=MemoryLedger(), feedback=audit, admin=RecordingAdmin(), policy=policy)
        try:
            reply = await conversation.handle(mention("締め日は？", channel=None, ts="1.1"))

            out = io.StringIO()
            renderer = ConsoleRenderer(Console(file=out, force_terminal=False, color_system=None, width=400))
            async for event in pipeline.handle(mention("締め日は？", channel=None, ts="2.1")):
                renderer.render(event)

            printed_json = json_line(await pipeline.answer(mention("締め日は？", channel=None, ts="3.1")))
        finally:
            await client.close()

    assert reply is not None
    assert "answered" == reply.status
    sent = list(_slack_texts(slack))
    assert sent
    for text in sent:
        _assert_inert(text)
    whole = "\n".join(sent)
    assert "<https://intranet.example.co.jp/wiki|社内wiki>" in whole or "(https://intranet.example.co.jp/wiki)" in whole
    assert "handbook.md" in whole
    assert "docs/setup.py" in whole
    assert "＠channel ＊URGENT＊ 給与" in whole  # the title, shown not obeyed
    if streaming == "update":
        texts = [b["text"] for b in _final_blocks(slack) if "text" in b]
        assert texts
        assert all(t.get("verbatim") is True for t in texts)

    printed = out.getvalue()
    _assert_inert(printed)
    assert "＠channel 至急" in printed
    assert "＠channel *URGENT* 給与" in printed

    data = json.loads(printed_json)
    _assert_inert(data["answer"])
    assert reply.text == data["answer"]
    # Data, kept as written.
    assert [{"source": SOURCE, "title": TITLE, "number": 1, "location": ""}] == data["citations"]
    assert printed_json.isprintable()  # the escape in the title is written as \u001b


def _final_blocks(fake: FakeSlack) -> list[dict[str, Any]]:
    final = [c for c in fake.calls_to("chat.update") if c.params.get("blocks")][-1].params["blocks"]
    blocks: list[dict[str, Any]] = json.loads(final) if isinstance(final, str) else final
    return blocks
