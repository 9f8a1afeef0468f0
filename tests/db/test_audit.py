"""The audit chain on the real database: links, encryption at rest, append-only, tamper detection."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore
from bot.audit.chain import GENESIS
from bot.db import Database
from tests.db.audit_support import entry, raw_sql

pytestmark = pytest.mark.db


async def test_chain_links_each_record_to_the_previous(db: Database, audit: AuditStore) -> None:
    """Three appends make a chain that verifies, starting from the genesis hash."""
    for i in range(3):
        await audit.append(entry(i))
    result = await audit.verify()
    assert (True, 3) == (result.ok, result.records)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT seq, prev_hash, hash FROM audit_records ORDER BY seq"))).all()
    assert GENESIS == rows[0].prev_hash
    assert [r.hash for r in rows[:-1]] == [r.prev_hash for r in rows[1:]]


async def test_concurrent_appends_keep_one_chain(audit: AuditStore) -> None:
    """Appends racing each other are serialised: one gap-free chain."""
    await asyncio.gather(*(audit.append(entry(i)) for i in range(12)))
    result = await audit.verify()
    assert (True, 12) == (result.ok, result.records)


async def test_question_and_answer_are_encrypted_at_rest(db: Database, audit: AuditStore) -> None:
    """The stored bytes do not contain the text; the key decrypts it."""
    record_id = await audit.append(entry(1))
    async with db.engine.connect() as conn:
        blob = (await conn.execute(text("SELECT question_enc FROM audit_records"))).scalar_one()
    assert "経費精算".encode() not in blob
    record = await audit.get(record_id)
    assert record is not None
    assert "経費精算の締め日は？ #1" == audit.decrypt_question(record)


@pytest.mark.parametrize(
    ("sql", "as_kura"),
    [
        ("UPDATE audit_records SET answer_sha256 = 'x'", "permission denied for table audit_records"),
        ("UPDATE audit_records SET answer_enc = NULL", "permission denied for table audit_records"),
        ("DELETE FROM audit_records", "permission denied for table audit_records"),
        ("TRUNCATE audit_records CASCADE", "permission denied for table audit_records"),
        ("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only", "must be owner"),
        ("SET session_replication_role = replica", "permission denied to set parameter"),
    ],
)
async def test_updates_and_deletes_are_refused_by_the_database(
    db: Database, audit: AuditStore, dba: AsyncEngine, sql: str, as_kura: str
) -> None:
    """Kura's role (kura_app) may only read and append: no UPDATE (not even of the text: retention
    runs as the owner), DELETE, TRUNCATE, ALTER or trigger bypass. The owner, who has every grant,
    still meets the trigger (for UPDATE/DELETE/TRUNCATE; removing text is allowed, so not tried)."""
    await audit.append(entry(1))
    with pytest.raises(DBAPIError, match=as_kura):
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
    if sql.startswith(("UPDATE audit_records SET answer_sha256", "DELETE", "TRUNCATE")):
        with pytest.raises(DBAPIError, match="append-only"):
            async with dba.begin() as conn:
                await conn.execute(text(sql))
    assert (await audit.verify()).ok


async def test_edited_record_is_detected(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """Changing a field of record 2 (behind the trigger's back) fails verification at record 2."""
    for i in range(4):
        await audit.append(entry(i))
    await raw_sql(dba, "UPDATE audit_records SET user_email = 'mallory@example.co.jp' WHERE seq = 2")
    result = await audit.verify()
    assert (False, 2) == (result.ok, result.first_bad)
    assert "hash" in result.problem


async def test_deleted_record_is_detected(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """Removing record 2 fails verification at the record after the gap."""
    for i in range(4):
        await audit.append(entry(i))
    await raw_sql(dba, "DELETE FROM audit_records WHERE seq = 2")
    result = await audit.verify()
    assert (False, 3) == (result.ok, result.first_bad)


async def test_inserted_record_is_detected(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """A forged record slipped in (a copy of record 2 as a new record 3, the rest shifted) fails."""
    for i in range(3):
        await audit.append(entry(i))
    await raw_sql(dba, "UPDATE audit_records SET seq = seq + 10 WHERE seq = 3")
    await raw_sql(
        dba,
        "INSERT INTO audit_records SELECT 3, 'forged', created_at, platform, channel_id, thread_id, user_ref, "
        "user_email, action, allowed, reason_code, rules, retrieved, status, model, prompt_version, policy_version, "
        "latency_ms, first_token_ms, key_id, question_enc, answer_enc, question_sha256, answer_sha256, prev_hash, "
        "'forged-hash', tokens, endpoint FROM audit_records WHERE seq = 2",
    )
    result = await audit.verify()
    assert (False, 3) == (result.ok, result.first_bad)


async def test_reordered_records_are_detected(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """Swapping the positions of records 2 and 3 fails at record 2."""
    for i in range(4):
        await audit.append(entry(i))
    await raw_sql(dba, "UPDATE audit_records SET seq = 100 WHERE seq = 2")
    await raw_sql(dba, "UPDATE audit_records SET seq = 2 WHERE seq = 3")
    await raw_sql(dba, "UPDATE audit_records SET seq = 3 WHERE seq = 100")
    result = await audit.verify()
    assert (False, 2) == (result.ok, result.first_bad)
