"""What the audit tests share: a typical request's record, and SQL run as a DBA would."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.audit import AuditEntry, TextCipher
from bot.audit.chain import GENESIS, hashed_fields, record_hash, sha256_text
from bot.audit.models import AuditRecord

__all__ = ["entry", "raw_sql", "rewrite_chain", "version_1_records"]


def entry(i: int, email: str = "alice@example.co.jp", channel: str | None = None) -> AuditEntry:
    """Record ``i`` of a user asking an allowed question with one retrieved chunk."""
    return AuditEntry(
        platform="slack",
        user_ref=f"U{i}",
        user_email=email,
        action="ask",
        allowed=True,
        reason_code="allowed",
        status="answered",
        question=f"経費精算の締め日は？ #{i}",
        answer=f"毎月25日です。[1] #{i}",
        latency_ms=1200 + i,
        channel_id=channel,
        rules=["role:employee allows ask"],
        retrieved=[{"chunk_id": i, "source": "handbook/経費精算.md", "acl": ["group:all-staff"]}],
        model="test-model",
        prompt_version="answer-v1",
        policy_version="abc",
    )


async def raw_sql(dba: AsyncEngine, sql: str) -> None:
    """Run SQL as a DBA would (the owner, the ``dba`` fixture), with triggers off
    (session_replication_role = replica)."""
    async with dba.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(sql))


async def rewrite_chain(dba: AsyncEngine, from_seq: int, change: Callable[[AuditRecord], None]) -> None:
    """Rewrite the chain from record ``from_seq`` on as its owner could (triggers off): ``change``
    each record, then recompute its link and hash, so that the chain verifies again."""
    sessions = async_sessionmaker(dba, expire_on_commit=False)
    async with sessions.begin() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        query = select(AuditRecord).where(AuditRecord.seq >= from_seq).order_by(AuditRecord.seq)
        records = list(await session.scalars(query))
        prev = records[0].prev_hash
        for record in records:
            change(record)
            record.prev_hash = prev
            record.hash = prev = record_hash(hashed_fields(record), prev, record.chain_version)
            await session.flush()


def _version_1_row(seq: int, prev: str, key: bytes, question: str, answer: str) -> dict[str, object]:
    """A record as Kura wrote it before chain version 2: text bound to the record id only, hash
    without key_id (and without tokens/endpoint when null)."""
    record_id = str(uuid.uuid4())

    def seal(value: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(key).encrypt(nonce, value.encode(), record_id.encode())

    record = AuditRecord(
        seq=seq,
        id=record_id,
        created_at=datetime(2026, 11, 1, 9, seq, tzinfo=UTC),
        platform="slack",
        channel_id="C1",
        thread_id=None,
        user_ref="U1",
        user_email="alice@example.co.jp",
        action="ask",
        allowed=True,
        reason_code="allowed",
        rules=["role:employee allows ask"],
        retrieved=[{"chunk_id": seq}],
        status="answered",
        model="m",
        prompt_version="answer-v1",
        policy_version="abc",
        latency_ms=1000,
        first_token_ms=None,
        tokens=None,
        endpoint=None,
        key_id=TextCipher(key).key_id,
        question_enc=seal(question),
        answer_enc=seal(answer),
        question_sha256=sha256_text(question),
        answer_sha256=sha256_text(answer),
        prev_hash=prev,
        chain_version=1,
    )
    record.hash = record_hash(hashed_fields(record), prev, 1)
    return {c.key: getattr(record, c.key) for c in AuditRecord.__table__.columns}


async def version_1_records(dba: AsyncEngine, key: bytes, count: int) -> list[dict[str, object]]:
    """Records 1..``count`` written as Kura wrote them before chain version 2 (as the owner)."""
    rows, prev = [], GENESIS
    for seq in range(1, count + 1):
        rows.append(_version_1_row(seq, prev, key, f"旧い質問 {seq}", f"旧い答え {seq}"))
        prev = str(rows[-1]["hash"])
    async with dba.begin() as conn:
        await conn.execute(insert(AuditRecord), rows)
    return rows
