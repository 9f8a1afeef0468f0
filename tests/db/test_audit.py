"""The audit chain on the real database: links, encryption at rest, append-only, tamper detection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from cryptography.exceptions import InvalidTag
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore
from bot.audit.chain import GENESIS
from bot.audit.models import AuditRecord
from bot.db import Database, _alembic_config
from tests.db.audit_support import entry, raw_sql, rewrite_chain, version_1_records

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
        "'forged-hash', tokens, endpoint, chain_version FROM audit_records WHERE seq = 2",
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


# --- chain version 2: key id covered, text bound to its field, no downgrade ----------------------


async def test_a_changed_key_id_is_detected(audit: AuditStore, dba: AsyncEngine) -> None:
    """Pointing a record at another key (say a shredded one, so its text reads as deliberately
    destroyed) changes what the hash covers."""
    for i in range(3):
        await audit.append(entry(i))
    await raw_sql(dba, "UPDATE audit_records SET key_id = 'ffffffffffffffff' WHERE seq = 2")
    result = await audit.verify()
    assert (False, 2, "content does not match its hash") == (result.ok, result.first_bad, result.problem)


async def test_swapped_question_and_answer_do_not_decrypt(audit: AuditStore, dba: AsyncEngine) -> None:
    """The owner swaps a record's question and answer ciphertexts (the chain covers neither
    ciphertext): neither decrypts any more, rather than showing the answer as the question."""
    record_id = await audit.append(entry(1))
    await raw_sql(dba, "UPDATE audit_records SET question_enc = answer_enc, answer_enc = question_enc")
    record = await audit.get(record_id)
    assert record is not None
    with pytest.raises(InvalidTag):
        audit.decrypt_question(record)
    with pytest.raises(InvalidTag):
        audit.decrypt_answer(record)


async def test_version_1_records_still_verify_and_decrypt(
    db: Database, audit: AuditStore, dba: AsyncEngine, tmp_path: Path
) -> None:
    """Records written before version 2 keep verifying and decrypting; new records follow them as
    version 2 and the whole chain verifies."""
    key = (tmp_path / "audit.key").read_bytes()  # the audit fixture's key
    old = await version_1_records(dba, key, 2)
    new_id = await audit.append(entry(3))
    result = await audit.verify()
    assert (True, 3) == (result.ok, result.records)
    async with db.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT chain_version FROM audit_records ORDER BY seq"))).scalars().all()
    assert [1, 1, 2] == versions
    first = await audit.get(str(old[0]["id"]))
    newest = await audit.get(new_id)
    assert first is not None
    assert newest is not None
    assert ("旧い質問 1", "旧い答え 1") == (audit.decrypt_question(first), audit.decrypt_answer(first))
    assert entry(3).question == audit.decrypt_question(newest)


async def test_a_version_2_record_cannot_be_downgraded(audit: AuditStore, dba: AsyncEngine) -> None:
    """Setting a version 2 record's version to 1 breaks its hash (the version is hashed); rehashing
    it under version 1 rules (which leave key_id out) is refused, as a version 1 record may not
    follow a version 2 one; an unknown version is refused too."""
    for i in range(3):
        await audit.append(entry(i))
    await raw_sql(dba, "UPDATE audit_records SET chain_version = 1 WHERE seq = 1")
    result = await audit.verify()
    assert (False, 1, "content does not match its hash") == (result.ok, result.first_bad, result.problem)
    await raw_sql(dba, "UPDATE audit_records SET chain_version = 2 WHERE seq = 1")
    await raw_sql(dba, "UPDATE audit_records SET chain_version = 1 WHERE seq = 2")
    result = await audit.verify()
    assert (False, 2) == (result.ok, result.first_bad)
    assert result.problem.endswith("downgraded")
    await raw_sql(dba, "UPDATE audit_records SET chain_version = 2 WHERE seq = 2")
    assert (await audit.verify()).ok

    def downgrade(record: AuditRecord) -> None:
        record.chain_version = 1
        record.key_id = "ffffffffffffffff"

    await rewrite_chain(dba, 3, downgrade)  # the head: no record after it to break
    result = await audit.verify()
    assert (False, 3) == (result.ok, result.first_bad)
    assert "chain version 1 after a record of version 2: downgraded" == result.problem

    await raw_sql(dba, "UPDATE audit_records SET chain_version = 3 WHERE seq = 3")
    result = await audit.verify()
    assert (False, 3, "unknown chain version 3") == (result.ok, result.first_bad, result.problem)


async def test_downgrade_below_chain_version_2_is_refused_while_such_records_exist(
    db: Database, audit: AuditStore, dba: AsyncEngine
) -> None:
    """The revision before 0009 would verify every record under version 1 rules and report each
    version 2 record as tampered: the downgrade stops instead, naming why; without such records it
    goes through, and upgrading again marks the old records as version 1."""
    await audit.append(entry(1))
    url = db.engine.url.render_as_string(hide_password=False)
    with pytest.raises(RuntimeError, match="1 audit records use chain version 2"):
        await asyncio.to_thread(command.downgrade, _alembic_config(url), "2026_11_27_0008")
    await raw_sql(dba, "DELETE FROM audit_records")
    await asyncio.to_thread(command.downgrade, _alembic_config(url), "2026_11_27_0008")
    await db.upgrade()
    await audit.append(entry(2))
    assert (await audit.verify()).ok
