"""Kura runs as ``kura_app`` once connected; a role it cannot act as stops it at start, clearly.
What only the owner may do (retention, legal holds) says so when the login is only ``kura_app``."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.audit import audit_hold_add, audit_hold_list, audit_hold_release
from bot.db import Database
from bot.errors import ConfigurationError
from bot.jobs.retention import run_retention
from bot.settings import DatabaseSettings, KuraSettings
from bot.wiring import open_runtime
from tests.db.audit_support import entry

pytestmark = pytest.mark.db


def _settings(db: Database, tmp_path: Path, run_as: str) -> KuraSettings:
    url = db.engine.url.render_as_string(hide_password=False)
    return KuraSettings(data_dir=tmp_path, database=DatabaseSettings(url=SecretStr(url), run_as=run_as))


async def test_kura_acts_as_kura_app(db: Database) -> None:
    """Every pooled connection is kura_app from its first statement (a startup option, not a SET)."""
    async with db.engine.connect() as conn:
        assert "kura_app" == (await conn.execute(text("SELECT current_user"))).scalar_one()


async def test_a_role_that_cannot_be_used_is_a_configuration_error(db: Database, tmp_path: Path) -> None:
    """An unknown role: one line naming the role and the three ways out; an empty run_as connects
    as the login role itself."""
    other = Database(_settings(db, tmp_path, "kura_nobody"))
    await other.start()
    try:
        with pytest.raises(ConfigurationError, match=r"cannot act as the database role kura_nobody \(.*kura_nobody"):
            await other.ensure_schema()
    finally:
        await other.close()
    plain = Database(_settings(db, tmp_path, ""))
    await plain.start()
    try:
        await plain.ensure_schema()
        async with plain.engine.connect() as conn:
            assert "kura_app" != (await conn.execute(text("SELECT current_user"))).scalar_one()
    finally:
        await plain.close()


async def test_retention_with_a_login_that_is_only_kura_app_says_what_to_do(
    db: Database, dba: AsyncEngine, tmp_path: Path
) -> None:
    """Production with split credentials: Kura logs in as a role that is only a member of kura_app.
    It answers and audits, but retention (which removes audit data) stops with one line naming
    the fix, and nothing is removed."""
    login = f"kura_login_{uuid.uuid4().hex[:8]}"
    async with dba.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {login} LOGIN IN ROLE kura_app"))
    url = db.engine.url.set(username=login).render_as_string(hide_password=False)
    settings = KuraSettings(data_dir=tmp_path, database=DatabaseSettings(url=SecretStr(url)))
    try:
        async with open_runtime(settings) as rt:
            await rt.audit.append(entry(1))
            with pytest.raises(ConfigurationError, match="only the audit tables' owner may do"):
                await run_retention(rt, platform="cli", actor="cli:test", command="kura audit purge", text_days=1)
            assert 1 == len(await rt.audit.recent(5))
    finally:
        async with dba.begin() as conn:
            await conn.execute(text(f"DROP ROLE {login}"))


async def test_hold_commands_run_as_the_owner_and_leave_their_records(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kura audit hold add`` and ``release --reason`` with the owner's URL: the hold says who and
    why, and each command left one record (reason code ``legal_hold``) in a chain that verifies."""
    settings = _settings(db, tmp_path, "kura_app")
    assert 0 == await audit_hold_add(
        settings, argparse.Namespace(user="Bob@Example.co.jp", channel=None, reason="case 17", json=True)
    )
    added = json.loads(capsys.readouterr().out)
    release = argparse.Namespace(id=added["id"], reason="case closed", json=True)
    assert 0 == await audit_hold_release(settings, release)
    released = json.loads(capsys.readouterr().out)
    assert ("bob@example.co.jp", "case closed") == (added["value"], released["release_reason"])
    assert added["created_by"] == released["released_by"]
    assert str(added["created_by"]).startswith("cli:")
    assert 0 == await audit_hold_list(settings, argparse.Namespace(all=True, json=True))
    assert [added["id"]] == [h["id"] for h in json.loads(capsys.readouterr().out)]
    async with open_runtime(settings) as rt:
        records = await rt.audit.recent(5)
        assert (True, 2) == ((v := await rt.audit.verify()).ok, v.records)
    assert [("legal_hold", added["id"])] * 2 == [(r.reason_code, r.retrieved[0]["legal_hold"]) for r in records]


async def test_hold_commands_with_a_login_that_is_only_kura_app_say_what_to_do(
    db: Database, dba: AsyncEngine, tmp_path: Path
) -> None:
    """Split credentials: adding or releasing a hold stops with one line naming the fix; nothing
    changes and nothing is recorded."""
    owner_settings = _settings(db, tmp_path, "kura_app")
    assert 0 == await audit_hold_add(owner_settings, argparse.Namespace(user=None, channel="C1", reason="x", json=True))
    login = f"kura_login_{uuid.uuid4().hex[:8]}"
    async with dba.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {login} LOGIN IN ROLE kura_app"))
    url = db.engine.url.set(username=login).render_as_string(hide_password=False)
    settings = KuraSettings(data_dir=tmp_path, database=DatabaseSettings(url=SecretStr(url)))
    try:
        with pytest.raises(ConfigurationError, match="only the audit tables' owner adds and releases them"):
            await audit_hold_release(settings, argparse.Namespace(id=1, reason="mistake", json=False))
        with pytest.raises(ConfigurationError, match="with the owner's URL"):
            await audit_hold_add(
                settings, argparse.Namespace(user="a@example.co.jp", channel=None, reason="x", json=False)
            )
        async with open_runtime(settings) as rt:
            assert 1 == len(await rt.audit.recent(5))
    finally:
        async with dba.begin() as conn:
            await conn.execute(text(f"DROP ROLE {login}"))
    async with dba.connect() as conn:
        assert [None] == list((await conn.execute(text("SELECT released_at FROM legal_holds"))).scalars())
