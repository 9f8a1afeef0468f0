"""``kura eval harvest`` on a real audit log: the questions people marked 👎 (their last click) and
those that found no sources become candidate cases; personal data is redacted, near-identical
questions are one case, who asked is never written (their groups are), evaluation runs' questions
and purged text are not there; the file loads as a set once ``as`` is filled, replaces only an
untouched previous harvest, and the command leaves one audit record."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.audit.models import EVAL_PLATFORM, AuditRecord
from bot.audit.retention import purge_text
from bot.audit.store import AuditEntry, AuditStore
from bot.cli.eval_harvest import eval_harvest
from bot.db import Database
from bot.errors import InputError
from bot.eval.cases import load_set
from bot.eval.harvest import harvest, render, write_harvest
from bot.settings import DatabaseSettings, KuraSettings
from bot.wiring import Runtime, open_runtime

pytestmark = pytest.mark.db

ALICE, BOB, CAROL, DAVE = (f"{n}@example.co.jp" for n in ("alice", "bob", "carol", "dave"))


async def ask(audit: AuditStore, who: str, question: str, status: str = "answered", platform: str = "slack") -> str:
    """An allowed question in the audit log, as the pipeline leaves it."""
    entry = AuditEntry(
        platform=platform,
        user_ref=who,
        user_email=who if "@" in who else None,
        action="ask",
        allowed=True,
        reason_code="allowed",
        status=status,
        question=question,
        answer="提供された資料には記載がありません" if status == "no_sources" else "毎月25日です [1]",
        latency_ms=10,
    )
    return await audit.append(entry)


async def people_asked(rt: Runtime) -> None:
    """Questions of every kind; the first one's text is purged by retention before the rest."""
    purged = await ask(rt.audit, ALICE, "社外秘の古い質問は？", status="no_sources")
    gone = await purge_text(rt.database.owner_sessions(), 1, None, now=datetime.now(UTC) + timedelta(days=2))
    assert gone.purged == 1
    assert (await rt.audit.get(purged)) is not None
    # 👎 twice, written differently, by two people: one case.
    for who, text in ((ALICE, "経費精算の締め日は？"), (BOB, "経費精算の 締め日は ?")):
        assert await rt.audit.record_feedback(await ask(rt.audit, who, text), who, -1)
    # Found nothing; the asker wrote their phone number and a colleague's email.
    await ask(
        rt.audit, CAROL, "Travel allowance for Osaka? call me 090-1234-5678 or bob.tanaka@example.co.jp", "no_sources"
    )
    # Someone the directory does not know, found nothing.
    await ask(rt.audit, "U_STRANGER", "社内Wi-Fiのパスワードは？", "no_sources")
    # Not candidates: fine answers, a 👎 taken back, and an evaluation run's question.
    await ask(rt.audit, DAVE, "VPNの設定方法は？")
    thumbs_up = await ask(rt.audit, DAVE, "有給休暇の申請方法は？")
    assert await rt.audit.record_feedback(thumbs_up, DAVE, -1)
    assert await rt.audit.record_feedback(thumbs_up, DAVE, 1)
    await ask(rt.audit, ALICE, "G3の基本給はいくらですか？", "no_sources", platform=EVAL_PLATFORM)


def settings_for(db: Database, tmp_path: Path) -> KuraSettings:
    url = db.engine.url.render_as_string(hide_password=False)
    return KuraSettings(data_dir=tmp_path / "data", database=DatabaseSettings(url=SecretStr(url)))


async def test_harvest_finds_thumbs_down_and_unanswered_questions_redacted_and_without_askers(
    db: Database, tmp_path: Path
) -> None:
    async with open_runtime(settings_for(db, tmp_path)) as rt:
        await people_asked(rt)
        now = datetime.now(UTC)
        found = await harvest(rt.audit, rt.directory, since=now - timedelta(days=30))
        text, written = render(found, now)
        later = await harvest(rt.audit, rt.directory, since=now + timedelta(minutes=5))

    questions = [c.question for c in written.candidates]
    assert len(questions) == 3, questions
    assert questions[0] == "経費精算の締め日は？"  # two 👎 first; the second phrasing folded into it
    expenses = written.candidates[0]
    assert (expenses.asked, expenses.thumbs_down, expenses.no_sources) == (2, 2, 0)
    # Groups of fewer than three people (sales: alice and bob; managers: bob) would point at who asked.
    assert expenses.groups == {"all-staff"}
    assert written.counts() == {"thumbs-down": 1, "no-sources": 2}
    assert found.questions == 6  # held questions since then: not the purged one, not the evaluation's
    assert later.candidates == []  # --since: nothing asked after the cut

    # Nobody who asked is written; personal data in questions is redacted; purged text is absent.
    assert not re.search(r"[\w.]+@[\w.]+", text)
    assert "090-1234-5678" not in text
    assert "[PHONE]" in text
    assert "[EMAIL]" in text
    assert "U_STRANGER" not in text
    assert "alice" not in text.lower()
    assert "社外秘の古い質問" not in text
    assert "基本給" not in text
    assert "VPN" not in text
    assert "有給休暇" not in text
    assert "# asked 2× (2 👎); by people in all-staff\n" in text
    assert "by someone in all-staff\n" in text
    assert "hr" not in re.findall(r"by \w+ in ([\w, -]+)", text)[-1]  # carol alone is in hr
    day = f"{now:%Y%m%d}"

    # Once `as` is filled, the file is a set load_set takes.
    path = tmp_path / "harvest.yaml"
    assert write_harvest(path, text) is False
    filled = tmp_path / "filled.yaml"
    filled.write_text(path.read_text(encoding="utf-8").replace("as: TODO", f"as: {DAVE}"), encoding="utf-8")
    loaded = load_set(filled)
    assert [c.id for c in loaded.cases] == [f"harvest-{day}-{n}" for n in (1, 2, 3)]
    assert [c.tags for c in loaded.cases] == [
        ("harvested", "thumbs-down", "ja"),
        ("harvested", "no-sources", "en"),
        ("harvested", "no-sources", "ja"),
    ]
    assert all(c.asker == DAVE and c.expect.outcome == "answer" and not c.expect.sources for c in loaded.cases)


async def test_a_harvest_replaces_only_an_untouched_previous_harvest(db: Database, tmp_path: Path) -> None:
    async with open_runtime(settings_for(db, tmp_path)) as rt:
        await people_asked(rt)
        now = datetime.now(UTC)
        text, _ = render(await harvest(rt.audit, rt.directory, since=now - timedelta(days=1)), now)
    path = tmp_path / "harvest.yaml"
    assert write_harvest(path, text) is False
    assert write_harvest(path, text) is True  # untouched: the next harvest replaces it
    path.write_text(text.replace("as: TODO", f"as: {DAVE}", 1), encoding="utf-8")
    with pytest.raises(InputError, match="edited since"):
        write_harvest(path, text)
    own = tmp_path / "mine.yaml"
    own.write_text("cases: []\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a previous harvest"):
        write_harvest(own, text)
    assert own.read_text(encoding="utf-8") == "cases: []\n"
    assert list(tmp_path.glob("*.part")) == []  # noqa: ASYNC240 - a test's own folder


async def test_the_command_prints_or_writes_the_set_counts_on_stderr_and_is_audited(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(db, tmp_path)
    async with open_runtime(settings) as rt:
        await people_asked(rt)
    assert await eval_harvest(settings, argparse.Namespace(output=None, since=30)) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# kura eval harvest ")
    assert out.count("  - id: harvest-") == 3
    assert "3 candidate case(s)" in err
    assert "1 from 👎 feedback, 2 that found no sources" in err

    path = tmp_path / "candidates.yaml"
    assert await eval_harvest(settings, argparse.Namespace(output=str(path), since=30)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"written to {path}" in err
    assert path.read_text(encoding="utf-8").count("  - id: harvest-") == 3
    with pytest.raises(InputError, match="at least 1 day"):
        await eval_harvest(settings, argparse.Namespace(output=None, since=0))

    async with open_runtime(settings) as rt, rt.database.sessions() as session:
        records = list(await session.scalars(select(AuditRecord).where(AuditRecord.action == "eval_harvest")))
        assert len(records) == 2
        assert "3 candidate case(s)" in str(rt.audit.decrypt_answer(records[-1]))
