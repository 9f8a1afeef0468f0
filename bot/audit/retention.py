"""Retention of audit data per class, and legal holds that suspend it.

Text: ``purge_text`` sets the encrypted question and/or answer of records older than their class's
period to NULL. Everything else stays, the question's and answer's sha256 included, and the chain
hash covers those, not the ciphertext: a purged record still verifies. The append-only trigger
(migration 0004) allows exactly this UPDATE.

Records: ``prune_records`` removes whole records older than the audit-metadata period, oldest first,
with their feedback, in one transaction with a signed retention anchor (``bot.audit.anchors``) that
verification then starts from. The trigger (migration 0005) lets nothing past the newest anchor be
deleted. Removal stops at the first record that must stay (too young, or under a hold), and the
chain's newest record always stays: the next record links to it.

A legal hold on a user (their email) or a channel (its id) keeps their records, text included,
until the hold is released. Adding and releasing one are the owner's actions (Kura's role may only
read holds: either change decides what retention may remove), and each appends an audit record in
the same transaction: nothing changes a hold without the chain saying who, what and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.anchors import sign_anchor
from bot.audit.models import AuditAnchor, AuditRecord, Feedback, LegalHold
from bot.audit.store import CHAIN_LOCK, AuditStore, operator_entry
from bot.errors import ConfigurationError, InputError

__all__ = [
    "HoldKind",
    "Operator",
    "PruneResult",
    "PurgeResult",
    "RetentionPlan",
    "RetentionReport",
    "add_hold",
    "apply_retention",
    "describe",
    "list_holds",
    "may_change_holds",
    "may_remove",
    "prune_records",
    "purge_text",
    "release_hold",
]

HoldKind = Literal["user", "channel"]

#: The reason code of the audit record a hold change leaves (the action is ``admin``).
HOLD_REASON_CODE = "legal_hold"


@dataclass(frozen=True)
class Operator:
    """Who changes a legal hold: for the hold's row and the audit record of the change."""

    platform: str
    actor: str
    #: The command as given (``kura audit hold add …``): the audit record's question.
    command: str
    policy_version: str | None = None


@dataclass(frozen=True)
class RetentionPlan:
    """Days each class is kept (None: for good), from the policy's ``retention:`` or settings."""

    question_text_days: int | None
    answer_text_days: int | None
    audit_metadata_days: int | None
    #: Where the periods come from, for reports: the policy file, or the settings.
    source: str = "settings"
    #: Days the text of meeting minutes (the answer of ``minutes`` records) is kept; "answers": as answer text.
    minutes_text_days: int | Literal["answers"] | None = "answers"

    @property
    def minutes_days(self) -> int | None:
        """Days minutes text is kept (None: for good)."""
        return self.answer_text_days if self.minutes_text_days == "answers" else self.minutes_text_days


@dataclass(frozen=True)
class PurgeResult:
    """What a text purge removed (or, with ``dry_run``, would remove).

    ``purged``: records that lost some text; ``questions``/``answers``: texts removed per class;
    ``held``: due records kept for a legal hold. ``cutoff`` is the question text's cutoff (the
    answer text's when questions are kept for good); each class's is in its own field.
    """

    cutoff: datetime | None
    purged: int
    held: int
    dry_run: bool
    questions: int = 0
    answers: int = 0
    question_cutoff: datetime | None = None
    answer_cutoff: datetime | None = None
    #: Of ``answers``, the texts of minutes, and their cutoff.
    minutes: int = 0
    minutes_cutoff: datetime | None = None


@dataclass(frozen=True)
class PruneResult:
    """What removing old records did: ``pruned`` records up to ``through_seq`` (0: none, ever),
    ``kept`` records older than the cutoff that stay (a hold, or behind one, or the newest)."""

    cutoff: datetime
    pruned: int
    kept: int
    through_seq: int
    dry_run: bool


@dataclass(frozen=True)
class RetentionReport:
    """One retention run: text purge, then record removal (None when records are kept for good);
    ``handled_events``: chat event ids the dedupe ledger forgot in the same run."""

    plan: RetentionPlan
    text: PurgeResult
    records: PruneResult | None
    handled_events: int = 0


#: The audit action of meeting minutes, whose text has its own retention class (``minutes_text``).
MINUTES_ACTION = "minutes"


def _under_hold() -> ColumnElement[bool]:
    """True for an audit record whose user or channel has an active hold."""
    return exists().where(
        LegalHold.released_at.is_(None),
        or_(
            and_(LegalHold.kind == "user", LegalHold.value == func.lower(AuditRecord.user_email)),
            and_(LegalHold.kind == "channel", LegalHold.value == AuditRecord.channel_id),
        ),
    )


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    if days is None:
        return None
    if days < 1:
        raise InputError("a retention period must be at least 1 day")
    return now - timedelta(days=days)


async def purge_text(
    sessions: async_sessionmaker[AsyncSession],
    question_days: int | None,
    answer_days: int | None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    minutes_days: int | Literal["answers"] | None = "answers",
) -> PurgeResult:
    """Remove the question text of records created more than ``question_days`` before ``now``
    (default: the current time), and their answer text after ``answer_days`` (None keeps a class
    for good) — for meeting minutes (``minutes`` records) after ``minutes_days`` ("answers": the
    same as other answers) — except records under an active legal hold.

    Records already without the text due are not counted.
    """
    when = now or datetime.now(UTC)
    q_cut = _cutoff(when, question_days)
    a_cut = _cutoff(when, answer_days)
    m_cut = a_cut if minutes_days == "answers" else _cutoff(when, minutes_days)
    q_due = and_(AuditRecord.created_at < q_cut, AuditRecord.question_enc.is_not(None)) if q_cut else None
    is_minutes = AuditRecord.action == MINUTES_ACTION
    answer_dues = [
        *([and_(~is_minutes, AuditRecord.created_at < a_cut)] if a_cut else []),
        *([and_(is_minutes, AuditRecord.created_at < m_cut)] if m_cut else []),
    ]
    a_due = and_(AuditRecord.answer_enc.is_not(None), or_(*answer_dues)) if answer_dues else None
    dues = [d for d in (q_due, a_due) if d is not None]
    if not dues:
        return PurgeResult(None, 0, 0, dry_run)
    due = or_(*dues)
    held = _under_hold()
    q_count = func.count().filter(~held, q_due) if q_due is not None else literal(0)
    a_count = func.count().filter(~held, a_due) if a_due is not None else literal(0)
    m_count = func.count().filter(~held, a_due, is_minutes) if a_due is not None else literal(0)
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(func.count().filter(~held), func.count().filter(held), q_count, a_count, m_count)
                .select_from(AuditRecord)
                .where(due)
            )
        ).one()
        purged, kept, questions, answers, minutes = (int(v) for v in row)
        if not dry_run and purged:
            values: dict[str, object] = {}
            if q_due is not None:
                values["question_enc"] = case((q_due, None), else_=AuditRecord.question_enc)
            if a_due is not None:
                values["answer_enc"] = case((a_due, None), else_=AuditRecord.answer_enc)
            await session.execute(
                update(AuditRecord).where(due, ~held).values(values).execution_options(synchronize_session=False)
            )
    return PurgeResult(q_cut or a_cut, purged, kept, dry_run, questions, answers, q_cut, a_cut, minutes, m_cut)


async def prune_records(
    sessions: async_sessionmaker[AsyncSession],
    older_than_days: int,
    key: bytes,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Remove records created more than ``older_than_days`` before ``now``, oldest first, with their
    feedback, behind a retention anchor signed with ``key`` (the checkpoint key).

    Stops before the first record that must stay (younger than the cutoff or under a legal hold)
    and never removes the chain's newest record.
    """
    if older_than_days < 1:
        raise InputError("a retention period must be at least 1 day")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    async with sessions.begin() as session:
        await session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK)))
        start = int(await session.scalar(select(func.coalesce(func.max(AuditAnchor.through_seq), 0))) or 0)
        head = int(await session.scalar(select(func.coalesce(func.max(AuditRecord.seq), 0))) or 0)
        blocker = await session.scalar(
            select(func.min(AuditRecord.seq)).where(
                AuditRecord.seq > start, or_(AuditRecord.created_at >= cutoff, _under_hold())
            )
        )
        through = min(head - 1, (blocker - 1) if blocker is not None else head)
        pruned = max(0, through - start)
        kept = int(
            await session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.created_at < cutoff, AuditRecord.seq > max(through, start))
            )
            or 0
        )
        if dry_run or not pruned:
            return PruneResult(cutoff, pruned, kept, max(through, start), dry_run)
        through_hash = await session.scalar(select(AuditRecord.hash).where(AuditRecord.seq == through))
        if through_hash is None:
            raise ConfigurationError(f"audit record {through} is missing: run `kura audit verify`")
        session.add(sign_anchor(key, through, through_hash, cutoff, pruned))
        await session.flush()
        doomed = select(AuditRecord.id).where(AuditRecord.seq <= through).scalar_subquery()
        await session.execute(delete(Feedback).where(Feedback.audit_id.in_(doomed)))
        result = await session.execute(
            delete(AuditRecord).where(AuditRecord.seq <= through).execution_options(synchronize_session=False)
        )
        removed = int(getattr(result, "rowcount", pruned))
        if removed != pruned:
            raise ConfigurationError(
                f"expected to remove {pruned} audit records up to {through}, found {removed}: run `kura audit verify`"
            )
    return PruneResult(cutoff, pruned, kept, through, dry_run)


async def may_remove(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether these sessions' role may remove audit data (UPDATE and DELETE on the audit records:
    the owner, not Kura's runtime role). Asked before a run, so one that could not finish does not start."""
    privilege = func.has_table_privilege
    async with sessions() as session:
        query = select(and_(privilege("audit_records", "UPDATE"), privilege("audit_records", "DELETE")))
        return bool(await session.scalar(query))


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    plan: RetentionPlan,
    key: bytes | None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Everything the plan asks for: purge text, then remove old records.

    Raises:
        ConfigurationError: records are due for removal but there is no checkpoint key to sign the
            retention anchor with.
    """
    if plan.audit_metadata_days is not None and key is None:  # before anything is removed
        raise ConfigurationError("removing old audit records needs the checkpoint key to sign a retention anchor")
    text = await purge_text(
        sessions,
        plan.question_text_days,
        plan.answer_text_days,
        now=now,
        dry_run=dry_run,
        minutes_days=plan.minutes_text_days,
    )
    records = None
    if plan.audit_metadata_days is not None and key is not None:
        records = await prune_records(sessions, plan.audit_metadata_days, key, now=now, dry_run=dry_run)
    return RetentionReport(plan, text, records)


async def may_change_holds(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether these sessions' role may add and release legal holds (the owner, not Kura's role)."""
    privilege = func.has_table_privilege
    async with sessions() as session:
        query = select(and_(privilege("public.legal_holds", "INSERT"), privilege("public.legal_holds", "UPDATE")))
        return bool(await session.scalar(query))


async def _owner_only(sessions: async_sessionmaker[AsyncSession]) -> None:
    if not await may_change_holds(sessions):
        raise ConfigurationError(
            "legal holds decide what retention may remove, so only the audit tables' owner adds and releases "
            "them, and the login role of KURA_DATABASE_URL is not it: run `kura audit hold …` with the owner's URL"
        )


async def _audit_change(
    session: AsyncSession, audit: AuditStore, by: Operator, hold: LegalHold, outcome: str, started: float
) -> None:
    """The hold change's audit record, in the change's own transaction. ``retrieved`` names the hold
    (kept when the text is purged); the outcome, with the reason, is the record's answer."""
    took = int((time.perf_counter() - started) * 1000)
    entry = operator_entry(
        by.platform, by.actor, by.command, outcome, took, reason_code=HOLD_REASON_CODE, policy_version=by.policy_version
    )
    subject = {"legal_hold": hold.id, "kind": hold.kind, "value": hold.value, "released": hold.released_at is not None}
    await audit.append(replace(entry, retrieved=[subject]), session)


async def add_hold(
    sessions: async_sessionmaker[AsyncSession], audit: AuditStore, kind: HoldKind, value: str, reason: str, by: Operator
) -> LegalHold:
    """Put a user (by email, compared case-insensitively) or a channel (by id) under legal hold, as
    the owner (``sessions``: ``Database.owner_sessions``), with its audit record.

    Raises:
        InputError: empty value or reason, or an unknown kind.
        ConfigurationError: ``sessions`` are not the owner's.
    """
    value, reason = value.strip(), reason.strip()
    if kind not in ("user", "channel"):
        raise InputError(f"unknown hold kind {kind!r} (user or channel)")
    if not value:
        raise InputError(f"a {kind} hold needs a {'email' if kind == 'user' else 'channel id'}")
    if not reason:
        raise InputError("a legal hold needs a reason")
    await _owner_only(sessions)
    started = time.perf_counter()
    hold = LegalHold(kind=kind, value=value.lower() if kind == "user" else value, reason=reason, created_by=by.actor)
    async with sessions.begin() as session:
        session.add(hold)
        await session.flush()
        await session.refresh(hold)
        outcome = f"legal hold {hold.id} on {hold.kind} {hold.value}: {hold.reason}"
        await _audit_change(session, audit, by, hold, outcome, started)
    return hold


async def release_hold(
    sessions: async_sessionmaker[AsyncSession],
    audit: AuditStore,
    hold_id: int,
    reason: str,
    by: Operator,
    *,
    now: datetime | None = None,
) -> LegalHold:
    """Release an active hold as the owner, with its audit record; its row is kept with
    ``released_at``, ``released_by`` and ``release_reason`` set.

    Raises:
        InputError: no reason, no such hold, or it was already released.
        ConfigurationError: ``sessions`` are not the owner's.
    """
    reason = reason.strip()
    if not reason:
        raise InputError("releasing a legal hold needs a reason")
    await _owner_only(sessions)
    started = time.perf_counter()
    async with sessions.begin() as session:
        hold = await session.get(LegalHold, hold_id, with_for_update=True)
        if hold is None:
            raise InputError(f"no legal hold {hold_id}")
        if hold.released_at is not None:
            raise InputError(f"legal hold {hold_id} was already released at {hold.released_at.isoformat()}")
        hold.released_at = now or datetime.now(UTC)
        hold.released_by = by.actor
        hold.release_reason = reason
        await session.flush()
        outcome = f"released legal hold {hold.id} on {hold.kind} {hold.value}: {reason}"
        await _audit_change(session, audit, by, hold, outcome, started)
    return hold


async def list_holds(sessions: async_sessionmaker[AsyncSession], *, include_released: bool = False) -> list[LegalHold]:
    """Holds, oldest first; only active ones unless ``include_released``."""
    query = select(LegalHold).order_by(LegalHold.id)
    if not include_released:
        query = query.where(LegalHold.released_at.is_(None))
    async with sessions() as session:
        return list(await session.scalars(query))


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never"


def describe(report: RetentionReport) -> list[str]:
    """One line per class, for operators and the audit record of the run."""
    verb = "would remove" if report.text.dry_run else "removed"
    t, plan = report.text, report.plan
    lines = [
        f"retention from {plan.source}: question text {_days(plan.question_text_days)}, "
        f"answer text {_days(plan.answer_text_days)}, minutes text {_days(plan.minutes_days)}, "
        f"audit records {_days(plan.audit_metadata_days)}",
        f"text: {verb} {t.questions} question(s) created before {_when(t.question_cutoff)} and "
        f"{t.answers} answer(s) created before {_when(t.answer_cutoff)}, of them {t.minutes} minutes "
        f"created before {_when(t.minutes_cutoff)} ({t.purged} records); "
        f"{t.held} kept under legal hold",
    ]
    if report.records is not None:
        r = report.records
        lines.append(
            f"records: {verb} {r.pruned} created before {_when(r.cutoff)} "
            f"(the chain now starts after record {r.through_seq}); {r.kept} older kept (legal hold, "
            "behind one, or the newest record)"
        )
    return lines


def _days(days: int | None) -> str:
    return "kept for good" if days is None else f"{days} days"
