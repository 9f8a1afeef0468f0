"""Usage for ``kura models plan`` comes from real audit records: questions people asked, not
evaluation runs, refusals or admin actions; the completion part from the decrypted answers. And
``kura models list`` shows each model's newest stored evaluation run."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.audit import AuditStore
from bot.audit.models import EVAL_PLATFORM
from bot.audit.store import AuditEntry, operator_entry
from bot.audit.usage import estimate_tokens, observed_usage, workload_from
from bot.db import Database
from bot.eval.store import EvalRunRow, EvalStore
from bot.models_report import model_rows, quality_line

pytestmark = pytest.mark.db

ANSWER = "経費は月末までに申請してください。" * 4


def _ask(email: str, tokens: int | None, *, platform: str = "slack", allowed: bool = True) -> AuditEntry:
    return AuditEntry(
        platform=platform,
        user_ref=f"U-{email}",
        user_email=email,
        action="ask",
        allowed=allowed,
        reason_code="ok" if allowed else "denied",
        status="answered" if allowed else "refused",
        question="経費の締め切りは？",
        answer=ANSWER if allowed else "お答えできません",
        latency_ms=1200,
        tokens=tokens,
    )


async def test_usage_counts_people_and_ignores_evaluation_runs(audit: AuditStore) -> None:
    for tokens in (1000, 1400, 1800):
        await audit.append(_ask("a@example.com", tokens))
    await audit.append(_ask("b@example.com", 1200))
    await audit.append(_ask("b@example.com", 0))  # served from the FAQ: no model
    # None of these is usage: an evaluation run, a refusal, an operator's command.
    for _ in range(5):
        await audit.append(_ask("eval-user@example.com", 90_000, platform=EVAL_PLATFORM))
    await audit.append(_ask("c@example.com", None, allowed=False))
    await audit.append(operator_entry("cli", "cli:root", "kura audit verify", "ok", 5))

    usage = await observed_usage(audit, days=30)

    assert (5, 2, 2) == (usage.questions, usage.users, usage.user_days)
    assert 4 == usage.model_answers
    assert usage.tokens_mean is not None
    assert math.isclose((1000 + 1400 + 1800 + 1200) / 4, usage.tokens_mean)
    # Every record was written this hour: the busiest hour holds all of the day's questions.
    assert 5 == usage.busiest_hour_questions
    # The split is estimated from the decrypted answers of the model's records, newest first.
    completion = estimate_tokens(ANSWER)
    assert [(1200 - completion, completion), *[(t - completion, completion) for t in (1800, 1400, 1000)]] == list(
        usage.split
    )
    work = workload_from(usage, hours=8)
    assert work.measured
    assert (2.5, 1.0, 0.8) == (work.requests_per_user_day, work.busiest_hour_share, work.model_share)


async def test_only_evaluation_runs_mean_no_usage(audit: AuditStore) -> None:
    for _ in range(3):
        await audit.append(_ask("eval-user@example.com", 5000, platform=EVAL_PLATFORM))
    usage = await observed_usage(audit, days=30)
    assert (0, 0, None) == (usage.questions, usage.model_answers, usage.tokens_mean)
    assert not workload_from(usage, hours=8).measured


async def test_models_list_shows_the_newest_stored_run_of_each_model(db: Database) -> None:
    store = EvalStore(db.sessions)
    default = "qwen2.5-1.5b-instruct-q4_k_m"

    def row(run: str, at: datetime, recall: float) -> EvalRunRow:
        return EvalRunRow(
            run_id=run,
            config="baseline",
            set_name="sample",
            started_at=at,
            seconds=60.0,
            model=default,
            settings={"model": default},
            metrics={"fact_recall": recall, "leaks": 0.0, "latency_p50_ms": 4200.0},
            cases=52,
            passed=True,
            started_by="cli:test",
        )

    now = datetime.now(UTC)
    await store.record([row("old", now - timedelta(days=2), 0.5)])
    await store.record([row("new", now, 0.7)])
    rows = {r["id"]: r for r in model_rows(default, 4096, await store.quality_by_model())}
    assert rows[default]["quality"]["run"] == "new"
    assert rows[default]["quality"]["fact_recall"] == 0.7
    assert "fact recall 0.70" in quality_line(rows[default]["quality"])
    assert rows["qwen2.5-0.5b-instruct-q4_k_m"]["quality"] is None
