"""What the audit tests share: a typical request's record, and SQL run as a DBA would."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditEntry

__all__ = ["entry", "raw_sql"]


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
