"""What the audit tests share: a typical request's record, and SQL run as a DBA would."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.audit import AuditEntry, AuditStore, TextCipher
from bot.audit.chain import GENESIS, hashed_fields, record_hash, sha256_text
from bot.audit.export import export_rows, write_jsonl
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


def export_entry(i: int) -> AuditEntry:
    """Record ``i`` of an export test: every field set, text with quotes, commas and a line break."""
    return AuditEntry(
        platform="slack",
        user_ref="U123",
        user_email="alice@example.co.jp",
        action="ask",
        allowed=i % 2 == 0,
        reason_code="allowed" if i % 2 == 0 else "no_role",
        status="answered" if i % 2 == 0 else "refused",
        question=f'経費精算の締め日は？ "quoted", comma #{i}',
        answer=f"毎月25日です。[1]\n二行目 #{i}",
        latency_ms=1200 + i,
        channel_id="C-ALL" if i % 2 == 0 else None,
        thread_id="1700000000.000100",
        rules=["role:employee allows ask", f"rule {i}"],
        retrieved=[
            {
                "chunk_id": i,
                "document_id": 10 + i,
                "source": "handbook/経費精算.md",
                "acl": ["group:all-staff"],
                "classification": "internal",
                "score": 0.8123,
            }
        ],
        model="test-model",
        prompt_version="answer-v1",
        policy_version="abc",
        first_token_ms=300 if i % 2 == 0 else None,
    )


async def exported_jsonl(audit: AuditStore, **options: object) -> list[dict[str, object]]:
    """``export_rows`` written as JSONL and read back, one dict per record."""
    out = io.StringIO()
    async with aclosing(export_rows(audit, **options)) as rows:  # type: ignore[arg-type]
        await write_jsonl(rows, out)
    assert out.getvalue().endswith("\n") or out.getvalue() == ""
    return [json.loads(line) for line in out.getvalue().splitlines()]
