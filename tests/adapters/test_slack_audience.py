"""Who reads a Slack channel decides what an answer there may use, end to end (the real Slack
clients against the fake, the real retrieval SQL, the tiny real model): a public channel is read by
the whole workspace, whoever its members are now."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.wiring import Runtime
from tests.adapters.conftest import USERS, serving
from tests.adapters.test_slack import _answered, _final, _mention, _sources
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.adapters

QUESTION = "G3の基本給のレンジは？"


async def _ask(fake: FakeSlack, channel: str, count: int) -> dict[str, Any]:
    payload = _mention(fake, "U_CAROL", channel, QUESTION)
    await fake.send_envelope("events_api", payload)
    await _answered(fake, count)
    return _final(fake, channel, payload["event"]["ts"])


async def test_a_public_channel_of_hr_people_only_still_gets_no_hr_documents(runtime: Runtime) -> None:
    """Carol alone with Kura in a public channel: anyone in the workspace may join and read the
    answer, and the workspace (all-staff) may not read hr/, so hr/ is not used; in a private channel
    with the same members it is."""
    channels = {"C_HR_OPEN": ["U_CAROL", "U_KURA"], "C_HR": ["U_CAROL", "U_KURA"]}
    async with FakeSlack(USERS, channels, private=["C_HR"]) as fake, serving(fake, runtime):
        public = await _ask(fake, "C_HR_OPEN", 1)
        private = await _ask(fake, "C_HR", 2)
    cited_public = set(re.findall(r"`([^`]+)`", _sources(public)))
    cited_private = set(re.findall(r"`([^`]+)`", _sources(private)))
    assert not any(c.startswith("hr/") for c in cited_public)
    assert any(c.startswith("hr/") for c in cited_private)
    kinds = [c.params["channel"] for c in fake.calls_to("conversations.info")]
    assert ["C_HR_OPEN", "C_HR"] == kinds
