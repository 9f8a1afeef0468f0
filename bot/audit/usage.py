"""How Kura is used, read from the audit log for capacity planning (``kura models plan``).

Counts allowed questions (action ``ask``) of real people: evaluation runs (platform ``eval``) are not
usage. A record holds the total tokens of its answer (prompt + completion, counted by the server or
estimated by the pipeline); the completion part is estimated from the answer text of the newest
answers still within retention (decrypted here, never shown), and the prompt is the rest.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, cast, distinct, func, literal_column, select, tuple_

from bot.audit.models import EVAL_PLATFORM, AuditRecord
from bot.audit.store import AuditStore
from bot.planning import Workload, assumed_workload

__all__ = ["ANSWER_SAMPLE", "ObservedUsage", "estimate_tokens", "observed_usage", "workload_from"]

#: Newest answers decrypted to split tokens into prompt and completion.
ANSWER_SAMPLE = 500


@dataclass(frozen=True)
class ObservedUsage:
    """Questions in the window, by whom and when, and what they cost in tokens."""

    days: int
    questions: int
    users: int
    user_days: int
    #: Sum over days of the busiest hour's questions (UTC hours).
    busiest_hour_questions: int
    #: Questions whose answer came from the model (tokens > 0).
    model_answers: int
    tokens_mean: float | None
    tokens_p95: float | None
    #: (prompt, completion) estimates of the sampled answers.
    split: tuple[tuple[float, float], ...]


def estimate_tokens(text: str) -> float:
    """Tokens of a text for the Qwen2.5 tokenizer, roughly: a CJK character ~0.67 token, other
    characters ~0.25 (the ratios Qwen's documentation gives for Chinese and English text)."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))
    return wide / 1.5 + (len(text) - wide) / 4


def _asks(since: datetime) -> list[ColumnElement[bool]]:
    return [
        AuditRecord.action == "ask",
        AuditRecord.allowed.is_(True),
        AuditRecord.platform != EVAL_PLATFORM,
        AuditRecord.created_at >= since,
    ]


async def observed_usage(audit: AuditStore, days: int, now: datetime | None = None) -> ObservedUsage:
    """The last ``days`` days of questions (three statements and one decrypted sample)."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    where = _asks(since)
    who = func.coalesce(AuditRecord.user_email, AuditRecord.user_ref)
    at = func.timezone("UTC", AuditRecord.created_at)
    day = func.date_trunc("day", at)
    totals = select(
        func.count(),
        func.count(distinct(who)),
        func.count(distinct(tuple_(who, day))),
        func.count().filter(AuditRecord.tokens > 0),
        func.avg(AuditRecord.tokens).filter(AuditRecord.tokens > 0),
        func.percentile_cont(0.95).within_group(AuditRecord.tokens).filter(AuditRecord.tokens > 0),
    ).where(*where)
    hours = (
        select(day.label("d"), cast(func.extract("hour", at), Integer).label("h"), func.count().label("n"))
        .where(*where)
        .group_by(literal_column("d"), literal_column("h"))
        .subquery()
    )
    per_day = select(func.max(hours.c.n).label("m")).group_by(hours.c.d).subquery()
    busiest = select(func.coalesce(func.sum(per_day.c.m), 0))
    sample = (
        select(AuditRecord)
        .where(*where, AuditRecord.tokens > 0, AuditRecord.answer_enc.is_not(None))
        .order_by(AuditRecord.seq.desc())
        .limit(ANSWER_SAMPLE)
    )
    async with audit.sessions() as session:
        row = (await session.execute(totals)).one()
        peak = int(await session.scalar(busiest) or 0)
        records = list(await session.scalars(sample))
    split: list[tuple[float, float]] = []
    for record in records:
        answer = audit.decrypt_answer(record)
        if answer is None or record.tokens is None:
            continue
        completion = min(float(record.tokens), estimate_tokens(answer))
        split.append((record.tokens - completion, completion))
    return ObservedUsage(
        days=days,
        questions=int(row[0]),
        users=int(row[1]),
        user_days=int(row[2]),
        busiest_hour_questions=peak,
        model_answers=int(row[3]),
        tokens_mean=None if row[4] is None else float(row[4]),
        tokens_p95=None if row[5] is None else float(row[5]),
        split=tuple(split),
    )


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def workload_from(usage: ObservedUsage, hours: float) -> Workload:
    """The planning workload: measured where the log has the figures, else the stated defaults."""
    if usage.questions == 0 or usage.model_answers == 0 or usage.tokens_mean is None:
        return assumed_workload(hours)
    base = assumed_workload(hours)
    notes = [
        f"MEASURED over the last {usage.days} days: {usage.questions:,} questions from {usage.users:,} people "
        f"({usage.user_days:,} person-days), {usage.model_answers:,} answered by the model "
        "(evaluation runs excluded)",
        "busiest-hour share: each day's busiest UTC hour, summed, over all questions",
    ]
    total_mean = usage.tokens_mean
    total_p95 = usage.tokens_p95 or total_mean
    if usage.split:
        prompts = [p for p, _ in usage.split]
        completions = [c for _, c in usage.split]
        share = sum(completions) / max(1.0, sum(prompts) + sum(completions))
        completion_mean, completion_p95 = total_mean * share, _p95(completions)
        notes.append(
            f"prompt/completion split ESTIMATED from {len(usage.split)} answer texts "
            "(CJK chars / 1.5 + other chars / 4 tokens); the record holds total tokens only"
        )
    else:
        share = base.completion_tokens_mean / (base.prompt_tokens_mean + base.completion_tokens_mean)
        completion_mean, completion_p95 = total_mean * share, total_p95 * share
        notes.append(f"prompt/completion split ASSUMED ({share:.0%} completion): no answer text within retention")
    if usage.questions < 100:
        notes.append(f"only {usage.questions} questions: treat the measured figures with care")
    return Workload(
        requests_per_user_day=usage.questions / usage.user_days,
        busiest_hour_share=usage.busiest_hour_questions / usage.questions,
        model_share=usage.model_answers / usage.questions,
        prompt_tokens_mean=total_mean - completion_mean,
        completion_tokens_mean=completion_mean,
        prompt_tokens_p95=max(total_mean - completion_mean, total_p95 - completion_p95),
        completion_tokens_p95=completion_p95,
        measured=True,
        notes=tuple(notes),
    )
