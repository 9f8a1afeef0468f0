"""``/kura schedule …`` in chat: an admin lists, adds (sync only under a sync root), runs and removes
schedules and sees them in ``/kura status``; an employee is refused; every attempt is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.core.admin import AdminCommand, AdminService
from bot.db import Database
from bot.identity import FileDirectory
from bot.jobs.service import ScheduleService
from bot.settings import DatabaseSettings, KuraSettings
from bot.wiring import StaticPolicy, default_directory_file, open_runtime
from policies import load_policy_text

pytestmark = pytest.mark.db

# dave (group it) runs Kura; alice (sales) is an employee.
_POLICY = """\
version: 1
roles:
  operator:
    actions: [admin]
groups:
  it:
    roles: [operator]
"""


async def test_admins_manage_schedules_in_chat_and_employees_are_refused(db: Database, tmp_path: Path) -> None:
    """Add outside a sync root: refused with a reason, nothing stored. Under one: added with the
    admin as owner; listed; run now (a done run, counts as /kura sync prints them); in status.
    Alice may not remove it; dave may. Eight commands, eight audit records."""
    docs = tmp_path / "roots" / "docs"
    docs.mkdir(parents=True)
    (docs / ".kura-access.yaml").write_text("allow: [public]\nclassification: public\n", encoding="utf-8")
    (docs / "hello.md").write_text("# Hello\n\nThe office opens at nine.\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = db.engine.url.render_as_string(hide_password=False)
    settings = KuraSettings(data_dir=tmp_path / "data", database=DatabaseSettings(url=SecretStr(url)))
    async with open_runtime(settings) as rt:
        service = ScheduleService(rt)

        def admin(roots: list[Path]) -> AdminService:
            return AdminService(
                FileDirectory.load(default_directory_file()),
                StaticPolicy(load_policy_text(_POLICY)),
                rt.audit,
                rt.store,
                rt.sources,
                model_name="test",
                sync_roots=roots,
                schedules=service,
            )

        async def run(service_: AdminService, user: str, *words: str) -> tuple[bool, str]:
            reply = await service_.handle(AdminCommand("console", user, words))
            return reply.allowed, reply.text

        strict, rooted = admin([]), admin([tmp_path / "roots"])
        dave = "dave@example.co.jp"
        allowed, text = await run(
            strict, dave, "schedule", "add", "sync", "docs", "0", "2", "*", "*", "*", f"path={docs}"
        )
        assert allowed
        assert text.startswith("Nothing was changed: ")
        assert "not a known source or under a configured sync root" in text
        assert [] == await service.store.overview()

        add = ("schedule", "add", "sync", "docs", "0", "2", "*", "*", "1-5", "tz=Asia/Tokyo", f"path={docs}")
        allowed, text = await run(rooted, dave, *add)
        assert (True, f"Added schedule `docs`: sync, 0 2 * * 1-5 (Asia/Tokyo), path={docs}, owner {dave}") == (
            allowed,
            text,
        )
        assert (await run(rooted, dave, "schedule", "add", "sync", "x", "0", "2", f"path={elsewhere}"))[1].startswith(
            "Nothing was changed: cron '0 2' has 2 fields"
        )
        allowed, text = await run(rooted, dave, "schedule", "list")
        assert "*Schedules*" in text
        assert "`docs` — sync, 0 2 * * 1-5 (Asia/Tokyo)" in text
        assert "never run" in text

        allowed, text = await run(rooted, dave, "schedule", "run-now", "docs")
        assert text.startswith("`docs`: done ")
        assert f"{docs}: added 1" in text
        allowed, text = await run(rooted, dave, "status")
        assert "*Schedules*" in text
        assert "`docs` — done " in text

        assert (False, True) == (
            (await run(rooted, "alice@example.co.jp", "schedule", "remove", "docs"))[0],
            await service.store.get("docs") is not None,
        )
        allowed, text = await run(rooted, dave, "schedule", "remove", "docs")
        assert (True, "Removed schedule `docs`.") == (allowed, text)
        assert await service.store.get("docs") is None

        records = list(reversed(await rt.audit.recent(20)))
        commands = [(r.user_email, r.allowed) for r in records if r.platform == "console"]
        assert [(dave, True)] * 6 + [("alice@example.co.jp", False), (dave, True)] == commands
