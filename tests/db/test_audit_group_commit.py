"""Appends that arrive together are committed together: one chain lock, head read and commit per
group, records in the order they were asked for, each caller answered once its record is committed,
and a record the database refuses fails alone."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError

from bot.audit import AuditStore
from bot.audit.models import AuditRecord
from bot.db import Database
from tests.db.audit_support import entry

pytestmark = pytest.mark.db


async def test_two_hundred_appends_at_once_take_a_few_transactions(db: Database, audit: AuditStore) -> None:
    commits: list[int] = []

    def count(conn: object) -> None:
        commits.append(1)

    event.listen(db.engine.sync_engine, "commit", count)
    try:
        ids = await asyncio.gather(*(audit.append(entry(i)) for i in range(200)))
    finally:
        event.remove(db.engine.sync_engine, "commit", count)

    result = await audit.verify()
    assert (True, 200) == (result.ok, result.records)
    assert 200 == len(set(ids))
    assert len(commits) <= 10
    async with db.sessions() as session:
        records = list(await session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
    assert ids == [r.id for r in records]  # the chain's order is the order of the calls
    assert [f"U{i}" for i in range(200)] == [r.user_ref for r in records]


async def test_each_caller_gets_its_own_committed_record(audit: AuditStore) -> None:
    ids = await asyncio.gather(*(audit.append(entry(i)) for i in range(5)))

    for i, record_id in enumerate(ids):
        record = await audit.get(record_id)
        assert record is not None
        assert f"経費精算の締め日は？ #{i}" == audit.decrypt_question(record)


async def test_a_record_the_database_refuses_fails_alone(audit: AuditStore) -> None:
    bad = dataclasses.replace(entry(2), user_ref="U\x00")  # PostgreSQL text cannot hold NUL

    results = await asyncio.gather(
        *(audit.append(bad if i == 2 else entry(i)) for i in range(5)), return_exceptions=True
    )

    assert isinstance(results[2], SQLAlchemyError)
    assert all(isinstance(r, str) for i, r in enumerate(results) if i != 2)
    result = await audit.verify()
    assert (True, 4) == (result.ok, result.records)


async def test_a_cancelled_caller_still_leaves_its_record(audit: AuditStore) -> None:
    waiting = asyncio.ensure_future(audit.append(entry(1)))
    await asyncio.sleep(0)
    waiting.cancel()
    await audit.append(entry(2))

    result = await audit.verify()
    assert (True, 2) == (result.ok, result.records)
