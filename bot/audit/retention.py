"""Retention of audit text, and legal holds that suspend it.

``purge_text`` sets the encrypted question and answer of records older than the retention period to
NULL. Everything else stays, the question's and answer's sha256 included, and the chain hash covers
those, not the ciphertext: a purged record still verifies. The append-only trigger (migration
2026_11_24_0004) allows exactly this UPDATE and nothing else.

A legal hold on a user (their email) or a channel (its id) keeps the text of their records until the
hold is released. Metadata is never purged: deleting rows would break the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.models import AuditRecord, LegalHold
from bot.errors import InputError

__all__ = ["HoldKind", "PurgeResult", "add_hold", "list_holds", "purge_text", "release_hold"]

HoldKind = Literal["user", "channel"]


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed (or, with ``dry_run``, would remove)."""

    cutoff: datetime
    purged: int
    held: int
    dry_run: bool


def _under_hold() -> ColumnElement[bool]:
    """True for an audit record whose user or channel has an active hold."""
    return exists().where(
        LegalHold.released_at.is_(None),
        or_(
            and_(LegalHold.kind == "user", LegalHold.value == func.lower(AuditRecord.user_email)),
            and_(LegalHold.kind == "channel", LegalHold.value == AuditRecord.channel_id),
        ),
    )


async def purge_text(
    sessions: async_sessionmaker[AsyncSession],
    older_than_days: int,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Remove the question and answer text of records created more than ``older_than_days`` before
    ``now`` (default: the current time), except records under an active legal hold.

    Returns the cutoff, how many records lost (or would lose) their text, and how many were kept
    for a hold. Records already without text are not counted.
    """
    if older_than_days < 1:
        raise InputError("the retention period must be at least 1 day")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    due = and_(
        AuditRecord.created_at < cutoff,
        or_(AuditRecord.question_enc.is_not(None), AuditRecord.answer_enc.is_not(None)),
    )
    held = _under_hold()
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(func.count().filter(~held), func.count().filter(held)).select_from(AuditRecord).where(due)
            )
        ).one()
        purged, kept = int(row[0]), int(row[1])
        if not dry_run and purged:
            result = await session.execute(
                update(AuditRecord)
                .where(due, ~held)
                .values(question_enc=None, answer_enc=None)
                .execution_options(synchronize_session=False)
            )
            purged = int(getattr(result, "rowcount", purged))
    return PurgeResult(cutoff, purged, kept, dry_run)


async def add_hold(sessions: async_sessionmaker[AsyncSession], kind: HoldKind, value: str, reason: str) -> LegalHold:
    """Put a user (by email, compared case-insensitively) or a channel (by id) under legal hold.

    Raises:
        InputError: empty value or reason, or an unknown kind.
    """
    value, reason = value.strip(), reason.strip()
    if kind not in ("user", "channel"):
        raise InputError(f"unknown hold kind {kind!r} (user or channel)")
    if not value:
        raise InputError(f"a {kind} hold needs a {'email' if kind == 'user' else 'channel id'}")
    if not reason:
        raise InputError("a legal hold needs a reason")
    hold = LegalHold(kind=kind, value=value.lower() if kind == "user" else value, reason=reason)
    async with sessions.begin() as session:
        session.add(hold)
        await session.flush()
        await session.refresh(hold)
    return hold


async def release_hold(
    sessions: async_sessionmaker[AsyncSession], hold_id: int, *, now: datetime | None = None
) -> LegalHold:
    """Release an active hold; its row is kept with ``released_at`` set.

    Raises:
        InputError: no such hold, or it was already released.
    """
    async with sessions.begin() as session:
        hold = await session.get(LegalHold, hold_id, with_for_update=True)
        if hold is None:
            raise InputError(f"no legal hold {hold_id}")
        if hold.released_at is not None:
            raise InputError(f"legal hold {hold_id} was already released at {hold.released_at.isoformat()}")
        hold.released_at = now or datetime.now(UTC)
    return hold


async def list_holds(sessions: async_sessionmaker[AsyncSession], *, include_released: bool = False) -> list[LegalHold]:
    """Holds, oldest first; only active ones unless ``include_released``."""
    query = select(LegalHold).order_by(LegalHold.id)
    if not include_released:
        query = query.where(LegalHold.released_at.is_(None))
    async with sessions() as session:
        return list(await session.scalars(query))
