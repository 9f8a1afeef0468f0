"""Shared fixtures: one embedded PostgreSQL for the session, a fresh database per test that needs one
(used as Kura uses it: as the ``kura_app`` role), and the same database as its owner."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.db import Database
from bot.settings import DatabaseSettings, KuraSettings


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    """A scratch folder outside root's home (the embedded server opens its parents for reading)."""
    with tempfile.TemporaryDirectory(prefix="kura-test-", dir="/tmp") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
async def server_url(tmp_root: Path) -> AsyncIterator[str]:
    """The URL of an embedded PostgreSQL with pgvector, started once and stopped with the session."""
    database = Database(KuraSettings(data_dir=tmp_root / "server"))
    await database.start()
    url = database.engine.url.render_as_string(hide_password=False)
    await database.close()
    yield url
    await database.stop_embedded()


@pytest.fixture
async def db(server_url: str, tmp_root: Path) -> AsyncIterator[Database]:
    """A new, migrated database on the session's server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(
        KuraSettings(data_dir=tmp_root / "server", database=DatabaseSettings(url=SecretStr(server_url), run_as=""))
    )
    await admin.start()
    async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    settings = KuraSettings(data_dir=tmp_root / name, database=DatabaseSettings(url=SecretStr(url)))
    database = Database(settings)
    await database.start()
    await database.upgrade()
    yield database
    await database.close()
    async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    await admin.close()


@pytest.fixture
async def dba(db: Database) -> AsyncIterator[AsyncEngine]:
    """The test database as its owner (a superuser), not as Kura's runtime role: for tampering
    the way a DBA could, and for checking what the runtime role may not do."""
    engine = create_async_engine(db.engine.url)
    yield engine
    await engine.dispose()
