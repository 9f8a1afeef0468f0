"""Alembic environment. The connection (or URL) comes from ``bot.db``; nothing reads the environment."""

from __future__ import annotations

import pgvector.sqlalchemy  # noqa: F401 - registers the vector type for autogenerate
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bot.audit.models import AuditBase
from bot.jobs.models import JobsBase
from knowledge.models import KnowledgeBase

target_metadata = [KnowledgeBase.metadata, AuditBase.metadata, JobsBase.metadata]


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the connection handed over in ``config.attributes``, or on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()  # also when a revision refuses: no connection left open behind it


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
