"""Kura runs as ``kura_app`` once connected; a role it cannot act as stops it at start, clearly."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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
