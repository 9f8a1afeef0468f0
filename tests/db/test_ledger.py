"""The dedupe ledger on the real database: one claim per event id, and old ids forgotten."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from bot.db import Database
from bot.ledger import EventLedger

pytestmark = pytest.mark.db


async def test_first_claim_wins_and_week_old_ids_are_forgotten(db: Database) -> None:
    """A second claim of the same id loses (another platform's same id does not); forgetting ids
    older than a week, a week from now, drops both and lets the id be claimed again; nothing
    younger is forgotten. Kura's own role does this (no owner rights needed)."""
    ledger = EventLedger(db.sessions)
    assert [True, False, True] == [
        await ledger.claim("slack", "Ev1"),
        await ledger.claim("slack", "Ev1"),
        await ledger.claim("teams", "Ev1"),
    ]
    assert 0 == await ledger.forget(timedelta(days=7))
    assert 2 == await ledger.forget(timedelta(days=7), now=datetime.now(UTC) + timedelta(days=8))
    assert await ledger.claim("slack", "Ev1")


async def test_a_burst_of_claims_is_written_in_a_few_statements_and_each_event_wins_once(db: Database) -> None:
    """200 deliveries at once, every event twice (a retry racing its original), plus one claimed
    before: each event is won exactly once, by its first delivery, in a handful of transactions."""
    ledger = EventLedger(db.sessions)
    assert await ledger.claim("slack", "Ev-old")
    commits: list[int] = []

    def count(conn: object) -> None:
        commits.append(1)

    event.listen(db.engine.sync_engine, "commit", count)
    try:
        keys = [f"Ev{i // 2}" for i in range(200)] + ["Ev-old"]
        won = await asyncio.gather(*(ledger.claim("slack", key) for key in keys))
    finally:
        event.remove(db.engine.sync_engine, "commit", count)
    assert [i % 2 == 0 for i in range(200)] + [False] == won
    assert len(commits) <= 10
