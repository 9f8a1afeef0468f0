"""Audit metadata retention on the real database: old records go behind a signed anchor, the chain
still verifies from it, and every way of removing records without the key is detected."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore, TextCipher
from bot.audit.checkpoint import ChainHead, sign, verify_checkpoint
from bot.audit.retention import (
    Operator,
    RetentionPlan,
    add_hold,
    apply_retention,
    prune_records,
    purge_text,
    release_hold,
)
from bot.db import Database
from bot.errors import ConfigurationError
from tests.db.audit_support import entry, raw_sql

pytestmark = pytest.mark.db

_KEY = b"k" * 32
_LATER = datetime.now(UTC) + timedelta(days=400)  # "now" for retention: every record is 400 days old


@pytest.fixture
def keyed(db: Database, tmp_path: Path) -> AuditStore:
    """An audit store that checks retention anchors with ``_KEY``."""
    return AuditStore(db.sessions, TextCipher.from_file(tmp_path / "audit.key", create=True), anchor_key=_KEY)


async def _seqs(db: Database) -> list[int]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(text("SELECT seq FROM audit_records ORDER BY seq"))).scalars())


async def _one_second_apart(store: AuditStore, first: range, then: range) -> datetime:
    """Append ``first``, wait past a second boundary, append ``then``; returns a "now" one year
    after the first group and before the second is a year old."""
    for i in first:
        await store.append(entry(i))
    old = (await store.recent(1))[0].created_at
    await asyncio.sleep(1.1)  # created_at is kept to the second
    for i in then:
        await store.append(entry(i))
    return old + timedelta(days=365, seconds=1)


async def test_old_records_go_and_the_chain_verifies_from_the_anchor(db: Database, keyed: AuditStore) -> None:
    """Records 1-3 are a year old, 4-5 a second younger (6 is the feedback's own record): 1-3 go
    (with their feedback), one anchor says so, the chain verifies from it, and appends carry on."""
    now = await _one_second_apart(keyed, range(1, 4), range(4, 6))
    first = (await keyed.recent(5))[-1]
    assert await keyed.record_feedback(first.id, "U1", 1)

    dry = await prune_records(db.owner_sessions(), 365, _KEY, now=now, dry_run=True)
    assert (3, 3, True) == (dry.pruned, dry.through_seq, dry.dry_run)
    assert [1, 2, 3, 4, 5, 6] == await _seqs(db)

    result = await prune_records(db.owner_sessions(), 365, _KEY, now=now)
    assert (3, 0, 3) == (result.pruned, result.kept, result.through_seq)
    assert [4, 5, 6] == await _seqs(db)
    async with db.engine.connect() as conn:
        assert 0 == (await conn.execute(text("SELECT count(*) FROM feedback"))).scalar_one()
        anchor = (await conn.execute(text("SELECT through_seq, pruned, key_id FROM audit_anchors"))).one()
    assert (3, 3) == (anchor.through_seq, anchor.pruned)
    verified = await keyed.verify()
    assert (True, 3, 3) == (verified.ok, verified.records, verified.pruned_through)

    await keyed.append(entry(7))
    assert [4, 5, 6, 7] == await _seqs(db)
    assert (await keyed.verify()).ok
    assert 0 == (await prune_records(db.owner_sessions(), 365, _KEY, now=now)).pruned  # nothing more is due


async def test_the_newest_record_and_held_records_stay(db: Database, keyed: AuditStore) -> None:
    """With every record due, the newest stays; a hold on record 3's user stops removal before it,
    and records after a held one stay too (removal is oldest first). Records 6 and 7 are the hold's
    own (added, released)."""
    await keyed.append(entry(1))
    await keyed.append(entry(2))
    await keyed.append(entry(3, "bob@example.co.jp"))
    await keyed.append(entry(4))
    await keyed.append(entry(5))
    by = Operator("cli", "cli:test", "kura audit hold …")
    hold = await add_hold(db.owner_sessions(), keyed, "user", "bob@example.co.jp", "litigation", by)
    result = await prune_records(db.owner_sessions(), 365, _KEY, now=_LATER)
    assert (2, 4, 2) == (result.pruned, result.kept, result.through_seq)
    assert [3, 4, 5, 6] == await _seqs(db)
    assert (await keyed.verify()).ok

    await release_hold(db.owner_sessions(), keyed, hold.id, "settled", by)
    result = await prune_records(db.owner_sessions(), 365, _KEY, now=_LATER)
    assert (4, 1, 6) == (result.pruned, result.kept, result.through_seq)  # record 7, the newest, stays
    assert [7] == await _seqs(db)
    verified = await keyed.verify()
    assert (True, 1, 6) == (verified.ok, verified.records, verified.pruned_through)


async def test_verification_needs_the_right_key(db: Database, keyed: AuditStore, tmp_path: Path) -> None:
    """Without the checkpoint key, or with another one, a pruned chain does not verify, and says why."""
    for i in range(3):
        await keyed.append(entry(i))
    await prune_records(db.owner_sessions(), 365, _KEY, now=_LATER)
    no_key = AuditStore(db.sessions, TextCipher.from_file(tmp_path / "audit.key", create=True))
    result = await no_key.verify()
    assert (False, 3) == (result.ok, result.first_bad)
    assert "retention anchor through record 2: cannot check its signature: no checkpoint key" in result.problem
    other = AuditStore(
        db.sessions, TextCipher.from_file(tmp_path / "audit.key", create=True), anchor_key=os.urandom(32)
    )
    assert "not with the configured checkpoint key" in (await other.verify()).problem


async def test_a_forged_anchor_is_detected(db: Database, keyed: AuditStore, dba: AsyncEngine) -> None:
    """Kura's own role may not write an anchor at all. The owner, without the key, writes one and
    deletes behind it: the trigger lets them (the anchor looks like any other), but verification
    names the forged anchor."""
    for i in range(4):
        await keyed.append(entry(i))
    forge = (
        "INSERT INTO audit_anchors (through_seq, through_hash, cutoff, pruned, at, signature, key_id) "
        "SELECT seq, hash, '2026-01-01T00:00:00+00:00', 2, '2026-01-01T00:00:00+00:00', "
        "'hmac-sha256:' || repeat('0', 64), 'deadbeefdeadbeef' FROM audit_records WHERE seq = 2"
    )
    with pytest.raises(DBAPIError, match="permission denied for table audit_anchors"):
        async with db.engine.begin() as conn:
            await conn.execute(text(forge))
    async with dba.begin() as conn:
        await conn.execute(text(forge))
        await conn.execute(text("DELETE FROM audit_records WHERE seq <= 2"))
    result = await keyed.verify()
    assert (False, 3) == (result.ok, result.first_bad)
    assert "retention anchor through record 2" in result.problem


async def test_removal_without_an_anchor_or_past_it_is_refused_or_detected(
    db: Database, keyed: AuditStore, dba: AsyncEngine
) -> None:
    """The trigger refuses the owner deleting past the newest anchor; a DBA who switches triggers
    off to delete anyway leaves a gap that verification reports."""
    for i in range(5):
        await keyed.append(entry(i))
    await prune_records(db.owner_sessions(), 365, _KEY, now=_LATER)  # records 1-4 go, 5 stays
    await keyed.append(entry(6))
    with pytest.raises(DBAPIError, match="append-only"):
        async with dba.begin() as conn:
            await conn.execute(text("DELETE FROM audit_records WHERE seq = 5"))
    await raw_sql(dba, "DELETE FROM audit_records WHERE seq = 5")
    result = await keyed.verify()
    assert (False, 6) == (result.ok, result.first_bad)
    assert "expected record 5, found 6" == result.problem


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_anchors SET pruned = 1", "DELETE FROM audit_anchors", "TRUNCATE audit_anchors"],
)
async def test_anchors_are_append_only(db: Database, keyed: AuditStore, dba: AsyncEngine, sql: str) -> None:
    """An anchor, once written, cannot be changed or removed: Kura's role has no grant to, and the
    owner meets the trigger."""
    for i in range(3):
        await keyed.append(entry(i))
    await prune_records(db.owner_sessions(), 365, _KEY, now=_LATER)
    with pytest.raises(DBAPIError, match="permission denied for table audit_anchors"):
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
    with pytest.raises(DBAPIError, match="audit_anchors is append-only"):
        async with dba.begin() as conn:
            await conn.execute(text(sql))
    assert (await keyed.verify()).ok


async def test_a_plan_applies_each_class_on_its_own(db: Database, keyed: AuditStore) -> None:
    """Questions after 30 days, answers kept for good, records after a year: only question text
    goes for the younger group; the older group goes whole; without a key, records stay and it says so."""
    now = await _one_second_apart(keyed, range(1, 3), range(3, 5))
    plan = RetentionPlan(30, None, 365, "test")
    with pytest.raises(ConfigurationError, match="needs the checkpoint key"):
        await apply_retention(db.owner_sessions(), plan, None, now=now)
    report = await apply_retention(db.owner_sessions(), plan, _KEY, now=now)
    assert (4, 0) == (report.text.questions, report.text.answers)
    assert report.records is not None
    assert 2 == report.records.pruned
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT seq, question_enc IS NULL, answer_enc IS NULL FROM audit_records ORDER BY seq")
            )
        ).all()
    assert [(3, True, False), (4, True, False)] == [tuple(r) for r in rows]
    assert (await keyed.verify()).ok
    assert 0 == (await purge_text(db.owner_sessions(), 30, None, now=now)).purged


async def test_a_checkpoint_of_a_removed_record_says_so(db: Database, keyed: AuditStore) -> None:
    """A checkpoint kept from before the removal can no longer be checked against the database; the
    reason names the retention, not tampering."""
    for i in range(3):
        await keyed.append(entry(i))
    seq, hash_, records = await keyed.head()
    old = sign(ChainHead(seq, hash_, records), _KEY)
    await keyed.append(entry(4))
    await keyed.append(entry(5))
    await prune_records(db.owner_sessions(), 365, _KEY, now=_LATER)
    check = await verify_checkpoint(keyed, old, _KEY)
    assert not check.ok
    assert "record 3 was removed for retention (records up to 4 are gone)" in check.problem
