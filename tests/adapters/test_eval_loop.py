"""The evaluation loop in chat, on the real pipeline (sample knowledge, embedded PostgreSQL, audit),
the OpenAI-protocol fake model and Kura's Slack runner against the fake Slack: the schedule kind
``eval`` runs a named set, writes its report and posts a summary to its target only when a metric
dropped against the set's previous run or it leaked; ``/kura eval`` shows the last run, lists the
sets, and runs a set in the background (one at a time) with the summary to the admin's DM."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.admin import AdminCommand
from bot.errors import InputError
from bot.eval.admin import EvalAdmin
from bot.eval.sets import reports_dir
from bot.jobs.service import ScheduleService, make_spec
from bot.jobs.store import Run
from bot.wiring import Runtime
from tests.adapters.conftest import CHANNELS, PRIVATE, SHARED, USERS, serving, slash_command
from tests.adapters.teams_harness import CHATS, tenant
from tests.adapters.teams_harness import DAVE as TEAMS_DAVE
from tests.fakes import teams_activities as activities
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import Call, FakeSlack

pytestmark = pytest.mark.adapters

DAVE = "dave@example.co.jp"  # group it: the admin role
#: What the fake model answers every question (a test changes it to make a metric drop).
ANSWER = {"text": "経費精算の締め日は毎月25日です [1]"}


def model_answer(body: dict[str, Any]) -> str:
    """The module's answer, whatever was asked."""
    return ANSWER["text"]


SET = """
cases:
  - id: expenses
    question: 経費精算の締め日はいつですか？
    as: alice@example.co.jp
    tags: [ja, smoke]
    expect: {sources: [handbook/経費精算.md], facts: [["25日", "25th"]]}
  - id: stranger
    question: 経費精算の締め日は？
    as: stranger@elsewhere.example
    tags: [refusal]
    expect: {outcome: refused}
"""
#: A set whose answer says what it must never say: a leak.
LEAKY = SET.replace("expect: {sources:", "never: {strings: [毎月25日]}\n    expect: {sources:", 1)


@pytest.fixture
def model(fake_model: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The module's fake model, answering the right deadline again after each test."""
    yield fake_model
    ANSWER["text"] = "経費精算の締め日は毎月25日です [1]"


@pytest.fixture
async def slack(model: FakeOpenAI, rt: Runtime) -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack with Kura's runner connected to it (the outbox posts there)."""
    async with FakeSlack(USERS, CHANNELS, private=PRIVATE, shared=SHARED) as fake, serving(fake, rt):
        yield fake


@pytest.fixture
def named(rt: Runtime) -> Iterator[Any]:
    """Writes sets into the runtime's sets folder under fresh names (runs are stored by set name
    in a database other modules share); removed afterwards."""
    folder = rt.settings.data_dir / "eval" / "sets"
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []

    def write(text: str) -> str:
        name = f"loop-{uuid.uuid4().hex[:8]}"
        made.append(folder / f"{name}.yaml")
        made[-1].write_text(text, encoding="utf-8")
        return name

    yield write
    for path in made:
        path.unlink(missing_ok=True)


def posts(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def shown(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


async def schedule(rt: Runtime, set_name: str, target: str | None = "slack:C_GENERAL") -> tuple[ScheduleService, Any]:
    service = ScheduleService(rt)
    spec = make_spec(
        "eval",
        f"eval-{uuid.uuid4().hex[:6]}",
        "0 2 * * *",
        "Asia/Tokyo",
        params={"set": set_name},
        target=target,
        owner=DAVE if target else None,
        settings=rt.settings,
    )
    return service, await service.store.add(spec)


async def fire(service: ScheduleService, added: Any) -> Run:
    run = await service.fire(added, datetime.now(UTC), actor=f"scheduler:{added.name}", command="test")
    assert run is not None
    assert run.status == "done", run
    return run


async def test_adding_an_eval_schedule_checks_the_set_is_a_known_name(rt: Runtime) -> None:
    def spec(params: dict[str, str]) -> object:
        return make_spec("eval", "nightly", "0 2 * * *", "Asia/Tokyo", params=params, settings=rt.settings)

    spec({"set": "sample", "tag": "smoke"})
    with pytest.raises(InputError, match="no evaluation set named 'nope'"):
        spec({"set": "nope"})
    with pytest.raises(InputError, match="a set's name"):
        spec({"set": "/etc/kura/sets/x.yaml"})
    with pytest.raises(InputError, match="needs the parameter set"):
        spec({})


async def test_a_nightly_run_posts_only_when_a_metric_drops(
    slack: FakeSlack, model: FakeOpenAI, rt: Runtime, named: Any
) -> None:
    """First run: nothing to compare with, it passed, so nothing is posted (the run says "no drop");
    the report is written. The model then answers a wrong date: fact recall drops, the summary
    (with the drop and the report's place, no document or person) goes to the target."""
    name = named(SET)
    service, added = await schedule(rt, name)
    first = await fire(service, added)
    assert first.outcome is not None
    assert first.outcome.endswith("no drop"), first.outcome
    assert posts(slack, "C_GENERAL") == []
    run_id = first.outcome.split()[2].rstrip(":")
    assert (reports_dir(rt.settings) / run_id / "report.html").is_file()

    ANSWER["text"] = "経費精算の締め日は毎月20日です [1]"
    second = await fire(service, added)
    assert second.outcome is not None
    assert "dropped: fact_recall" in second.outcome
    assert "posted to" in second.outcome
    [post] = posts(slack, "C_GENERAL")
    text = shown(post)
    assert f"Evaluation `{name}`: a metric dropped" in text  # dave reads English
    assert "fact_recall: 1.00 → 0.00" in text
    assert "report.html" in text
    assert "@example" not in text
    assert "handbook/" not in text


async def test_a_leak_in_a_scheduled_run_posts_the_summary(
    slack: FakeSlack, model: FakeOpenAI, rt: Runtime, named: Any
) -> None:
    """A leak fails the run, so it is posted even on the set's first run, naming the case only."""
    name = named(LEAKY)
    service, added = await schedule(rt, name)
    run = await fire(service, added)
    assert run.outcome is not None
    assert "FAILED" in run.outcome
    assert "posted to" in run.outcome
    [post] = posts(slack, "C_GENERAL")
    text = shown(post)
    assert "1 leak(s) (cases: expenses)" in text
    assert "FAILED" in text
    assert "毎月25日" not in text  # the leak's words stay in the report


async def kura(fake: FakeSlack, user: str, words: str) -> str:
    """``/kura words`` typed by ``user`` in Slack: Kura's reply (to them alone)."""
    before = len(fake.calls_to("response_url"))
    await fake.send_envelope("slash_commands", slash_command(fake, user, words))
    reply = (await fake.wait_for("response_url", before + 1, timeout=60))[-1]
    assert reply.params.get("response_type") == "ephemeral"
    return str(reply.params.get("text"))


async def test_kura_eval_runs_a_set_in_the_background_and_shows_the_last_run(
    slack: FakeSlack, model: FakeOpenAI, rt: Runtime, named: Any
) -> None:
    """Sets listed; an unknown set is one line; a run starts at once, a second one meanwhile is
    told to wait; the summary comes to the admin's DM; ``/kura eval`` then shows that run; an
    employee is refused."""
    name = named(SET)
    sets = await kura(slack, "U_DAVE", "eval sets")
    assert f"• `{name}` — 2 cases" in sets
    assert "• `sample` —" in sets
    unknown = await kura(slack, "U_DAVE", "eval run nope")
    assert unknown.startswith("There is no evaluation set `nope` (known: ")

    evaluation = EvalAdmin(rt)
    started = await evaluation.run(("run", name), email=DAVE, platform="slack", user_ref="U_DAVE", language="en")
    assert started == f"Started the evaluation `{name}` (2 cases); the summary comes to your DM when it is done."
    busy = await evaluation.run(("run", "sample"), email=DAVE, platform="slack", user_ref="U_DAVE", language="ja")
    assert busy == f"評価 `{name}` を実行中です。終わってから次を始めてください。"
    assert evaluation.running is not None
    await evaluation.running

    [dm] = posts(slack, "D_DAVE")
    text = shown(dm)
    assert f"Evaluation `{name}` is done" in text
    assert "Result: passed" in text
    assert "report.html" in text
    last = await kura(slack, "U_DAVE", "eval")
    assert f"*Last evaluation*: `{name}`" in last
    assert "Result: passed" in last
    assert "fact_recall 1.00" in last
    assert "leaks 0" in last
    assert "report.html" in last
    assert "eval run NAME" in await kura(slack, "U_DAVE", "help")

    refused = await rt.make_admin(rt.directory).handle(
        AdminCommand("slack", "alice@example.co.jp", ("eval", "run", name), None, "en")
    )
    assert not refused.allowed  # an employee: refused by policy like every admin command


async def test_kura_eval_run_from_teams_brings_the_summary_to_the_admins_chat(
    model: FakeOpenAI, rt: Runtime, named: Any
) -> None:
    """The same command in Teams (``admin eval run NAME`` in Dave's 1:1 chat with Kura): started at
    once, and the summary reaches his chat through the outbox when the run is done."""
    name = named(SET)
    async with tenant(rt) as t:
        chat = CHATS[TEAMS_DAVE.id]
        command = activities.message(chat, TEAMS_DAVE, f"admin eval run {name}", t.connector.service_url)
        assert (await t.post(command)).status == 202
        texts: list[str] = []
        for _ in range(600):  # the run is two cases on the fake model: seconds
            texts = [json.dumps(c.body, ensure_ascii=False) for c in t.connector.calls if isinstance(c.body, dict)]
            if any(f"Evaluation `{name}` is done" in x or (f"評価 `{name}`" in x and "完了" in x) for x in texts):
                break
            await asyncio.sleep(0.1)
        to_dave = [c for c in t.connector.calls if TEAMS_DAVE.id[3:] in c.path or "dave" in c.path]
    assert any(f"`{name}`" in x and ("Started" in x or "開始" in x) for x in texts), texts
    assert any(f"`{name}`" in x and ("is done" in x or "終わりました" in x) for x in texts), texts
    assert to_dave, [c.path for c in t.connector.calls]
    assert not t.connector.calls_to("update")  # no channel answer: only Dave's chat
