"""Legal holds and feedback are part of what an auditor reviews: every change is a record in the
hash chain, written in the same transaction as the change; Kura's role cannot touch holds at all;
the owner can release a hold once and change nothing else; feedback rows are append-only and exist
only together with their chained record."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore, TextCipher
from bot.audit.models import AuditRecord
from bot.audit.retention import Operator, add_hold, list_holds, prune_records, release_hold
from bot.db import Database
from bot.errors import ConfigurationError
from tests.db.audit_support import entry

pytestmark = pytest.mark.db

_KEY = b"k" * 32
_BY = Operator("cli", "cli:auditor", "kura audit hold …", "policy-v1")


@pytest.fixture
def store(db: Database) -> AuditStore:
    """Kura's audit store (as kura_app), checking anchors with ``_KEY``."""
    return AuditStore(db.sessions, TextCipher(os.urandom(32)), anchor_key=_KEY)


async def _records(store: AuditStore) -> list[AuditRecord]:
    return list(reversed(await store.recent(100)))


async def test_holds_are_added_and_released_with_a_chained_record_each(db: Database, store: AuditStore) -> None:
    """Add and release, as the owner: each leaves one record (who, which hold, why) in the chain, and
    the row says who added it, who released it and why; Kura still reads holds."""
    await store.append(entry(1))
    hold = await add_hold(db.owner_sessions(), store, "user", "Bob@Example.co.jp", "case 17", _BY)
    released = await release_hold(db.owner_sessions(), store, hold.id, "case closed", _BY)

    assert ("bob@example.co.jp", "cli:auditor") == (hold.value, hold.created_by)
    assert ("cli:auditor", "case closed") == (released.released_by, released.release_reason)
    [_, added, freed] = await _records(store)
    for record, released_flag in ((added, False), (freed, True)):
        assert ("cli", "cli:auditor", "admin", "legal_hold", "policy-v1") == (
            record.platform,
            record.user_ref,
            record.action,
            record.reason_code,
            record.policy_version,
        )
        subject = {"legal_hold": hold.id, "kind": "user", "value": "bob@example.co.jp", "released": released_flag}
        assert [subject] == record.retrieved
        assert "kura audit hold …" == store.decrypt_question(record)
    assert "case 17" in (store.decrypt_answer(added) or "")
    assert "case closed" in (store.decrypt_answer(freed) or "")
    assert (True, 3) == ((v := await store.verify()).ok, v.records)
    assert [hold.id] == [h.id for h in await list_holds(db.sessions, include_released=True)]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO legal_holds (kind, value, reason) VALUES ('user', 'x@example.co.jp', 'mine')",
        "UPDATE legal_holds SET released_at = now()",
        "UPDATE legal_holds SET value = 'nobody@example.co.jp'",
        "DELETE FROM legal_holds",
        "TRUNCATE legal_holds",
        "SELECT nextval('legal_holds_id_seq')",
    ],
)
async def test_kura_app_can_only_read_holds(db: Database, store: AuditStore, sql: str) -> None:
    """Kura's role may not add, release, alter or remove a hold, even with raw SQL."""
    hold = await add_hold(db.owner_sessions(), store, "channel", "C-LEGAL", "investigation", _BY)
    with pytest.raises(DBAPIError, match=r"permission denied for (table|sequence) legal_holds"):
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
    assert [(hold.id, None)] == [(h.id, h.released_at) for h in await list_holds(db.sessions, include_released=True)]


async def test_kura_apps_sessions_are_told_holds_are_the_owners(db: Database, store: AuditStore) -> None:
    """Adding or releasing through Kura's own sessions stops before anything is written, with one
    line that says what to do instead."""
    hold = await add_hold(db.owner_sessions(), store, "channel", "C-LEGAL", "investigation", _BY)
    before = len(await _records(store))
    with pytest.raises(ConfigurationError, match="only the audit tables' owner adds and releases them"):
        await release_hold(db.sessions, store, hold.id, "mistake", _BY)
    with pytest.raises(ConfigurationError, match="with the owner's URL"):
        await add_hold(db.sessions, store, "user", "a@example.co.jp", "x", _BY)
    assert [(hold.id, None)] == [(h.id, h.released_at) for h in await list_holds(db.sessions, include_released=True)]
    assert before == len(await _records(store))


async def test_a_hold_change_whose_record_cannot_be_written_does_not_happen(db: Database, store: AuditStore) -> None:
    """The record is written in the change's transaction: when the database refuses the record,
    neither the new hold nor the release remains."""
    bad = Operator("cli", "cli:auditor", "kura audit hold …", "v\x00")  # PostgreSQL text cannot hold NUL
    with pytest.raises(SQLAlchemyError):
        await add_hold(db.owner_sessions(), store, "user", "a@example.co.jp", "case", bad)
    assert [] == await list_holds(db.sessions, include_released=True)
    hold = await add_hold(db.owner_sessions(), store, "user", "a@example.co.jp", "case", _BY)
    with pytest.raises(SQLAlchemyError):
        await release_hold(db.owner_sessions(), store, hold.id, "done", bad)
    assert [None] == [h.released_at for h in await list_holds(db.sessions, include_released=True)]
    assert (True, 1) == ((v := await store.verify()).ok, v.records)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE legal_holds SET value = 'nobody@example.co.jp' WHERE released_at IS NULL",
        "UPDATE legal_holds SET reason = 'other' WHERE released_at IS NULL",
        "UPDATE legal_holds SET released_at = now(), kind = 'channel' WHERE released_at IS NULL",
        "UPDATE legal_holds SET released_at = NULL WHERE released_at IS NOT NULL",
        "UPDATE legal_holds SET released_at = now(), release_reason = 'again' WHERE released_at IS NOT NULL",
        "DELETE FROM legal_holds",
        "TRUNCATE legal_holds",
    ],
)
async def test_the_owner_can_only_release_a_hold_once(
    db: Database, store: AuditStore, dba: AsyncEngine, sql: str
) -> None:
    """By trigger, for the owner too: a hold is released once; nothing else about it changes, and
    no hold is removed (one active and one released hold are there to try)."""
    await add_hold(db.owner_sessions(), store, "user", "a@example.co.jp", "case", _BY)
    done = await add_hold(db.owner_sessions(), store, "user", "b@example.co.jp", "case", _BY)
    await release_hold(db.owner_sessions(), store, done.id, "closed", _BY)
    before = [(h.id, h.value, h.reason, h.released_at) for h in await list_holds(db.sessions, include_released=True)]
    with pytest.raises(DBAPIError, match="a hold can only be released, once"):
        async with dba.begin() as conn:
            await conn.execute(text(sql))
    after = [(h.id, h.value, h.reason, h.released_at) for h in await list_holds(db.sessions, include_released=True)]
    assert before == after


async def test_each_feedback_change_is_a_chained_record(db: Database, store: AuditStore) -> None:
    """👍 then 👎 by one person, 👍 by another: three rows, three records (where the answer was, who
    clicked, which answer, the value and the one it replaced); a repeated click writes nothing;
    an unknown answer is refused. The chain verifies."""
    answer_id = await store.append(entry(1, channel="C-ALL"))
    assert await store.record_feedback(answer_id, "U7", 1)
    assert await store.record_feedback(answer_id, "U7", 1)  # the same again: nothing changes
    assert await store.record_feedback(answer_id, "U7", -1)
    assert await store.record_feedback(answer_id, "U8", 1)
    assert not await store.record_feedback("no-such-record", "U7", 1)

    records = (await _records(store))[1:]
    expected = [
        ("U7", "recorded", {"audit_id": answer_id, "value": 1, "previous": None}),
        ("U7", "changed", {"audit_id": answer_id, "value": -1, "previous": 1}),
        ("U8", "recorded", {"audit_id": answer_id, "value": 1, "previous": None}),
    ]
    assert expected == [(r.user_ref, r.status, r.retrieved[0]) for r in records]
    assert {("slack", "C-ALL", "feedback", "feedback")} == {
        (r.platform, r.channel_id, r.action, r.reason_code) for r in records
    }
    assert ["+1", "-1 (was +1)", "+1"] == [store.decrypt_answer(r) for r in records]
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT user_ref, value, record_id FROM feedback ORDER BY id"))).all()
    assert [("U7", 1, records[0].id), ("U7", -1, records[1].id), ("U8", 1, records[2].id)] == [tuple(r) for r in rows]
    assert (True, 4) == ((v := await store.verify()).ok, v.records)


@pytest.mark.parametrize(
    ("who", "sql", "refusal"),
    [
        ("owner", "UPDATE feedback SET value = -value", "feedback is append-only"),
        ("owner", "DELETE FROM feedback", "feedback is append-only"),
        ("owner", "TRUNCATE feedback", "feedback is append-only"),
        ("kura_app", "UPDATE feedback SET value = -value", "permission denied for table feedback"),
        ("kura_app", "DELETE FROM feedback", "permission denied for table feedback"),
        # A row without its chained record, or borrowing another click's record.
        (
            "kura_app",
            "INSERT INTO feedback (audit_id, user_ref, value) SELECT audit_id, 'U9', 1 FROM feedback",
            "only with its audit record",
        ),
        (
            "kura_app",
            "INSERT INTO feedback (audit_id, user_ref, value, record_id) "
            "SELECT audit_id, 'U9', 1, record_id FROM feedback",
            "only with its audit record",
        ),
        (
            "kura_app",
            "INSERT INTO feedback (audit_id, user_ref, value, record_id) "
            "SELECT audit_id, user_ref, -1, record_id FROM feedback",
            "only with its audit record",
        ),
        (
            "kura_app",
            "INSERT INTO feedback (audit_id, user_ref, value, record_id) "
            "SELECT audit_id, user_ref, 1, audit_id FROM feedback",
            "only with its audit record",
        ),
        (
            "owner",
            "INSERT INTO feedback (audit_id, user_ref, value) SELECT audit_id, 'U9', 1 FROM feedback",
            "only with its audit record",
        ),
        (
            "kura_app",
            "INSERT INTO feedback (audit_id, user_ref, value, record_id) "
            "SELECT audit_id, user_ref, value, record_id FROM feedback",  # the same click twice
            "uq_feedback_record_id",
        ),
    ],
)
async def test_feedback_rows_are_append_only_and_always_chained(
    db: Database, store: AuditStore, dba: AsyncEngine, who: str, sql: str, refusal: str
) -> None:
    """No one changes or removes feedback, and no row goes in without the chained record of that
    very click (same answer, same person, same value)."""
    answer_id = await store.append(entry(1))
    assert await store.record_feedback(answer_id, "U7", 1)
    engine = dba if who == "owner" else db.engine
    with pytest.raises(DBAPIError, match=refusal):
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    async with db.engine.connect() as conn:
        assert [("U7", 1)] == [tuple(r) for r in await conn.execute(text("SELECT user_ref, value FROM feedback"))]


async def test_retention_still_removes_feedback_with_its_record(db: Database, store: AuditStore) -> None:
    """Feedback on a record behind the retention anchor goes with it (the one DELETE the trigger
    allows); the chain verifies from the anchor."""
    first = await store.append(entry(1))
    await store.append(entry(2))
    assert await store.record_feedback(first, "U7", 1)
    result = await prune_records(db.owner_sessions(), 365, _KEY, now=datetime.now(UTC) + timedelta(days=400))
    assert (2, 2) == (result.pruned, result.through_seq)  # the answer and the other record; not the newest
    async with db.engine.connect() as conn:
        assert 0 == (await conn.execute(text("SELECT count(*) FROM feedback"))).scalar_one()
    assert (True, 1, 2) == ((v := await store.verify()).ok, v.records, v.pruned_through)
