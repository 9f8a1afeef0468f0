"""Kura runs as ``kura_app`` once connected; a role it cannot act as stops it at start, clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from bot.db import Database
from bot.errors import ConfigurationError
from bot.settings import DatabaseSettings, KuraSettings

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
