"""The dedupe ledger on the real database: one claim per event id, and old ids forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
