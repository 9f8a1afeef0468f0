"""Retention as a job: apply the policy's periods and leave an audit record of what was removed.

The same function serves ``kura audit purge`` and the ``retention`` job kind (``bot.jobs.kinds``),
which ``kura serve`` schedules from ``KURA_SCHEDULER_RETENTION_CRON``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger

from bot.audit.keyring import checkpoint_key
from bot.audit.retention import RetentionPlan, RetentionReport, apply_retention, describe, may_remove
from bot.audit.store import operator_entry
from bot.errors import ConfigurationError, InputError
from bot.jobs.cron import cron_trigger
from bot.jobs.store import ScheduleSpec
from bot.ledger import EventLedger
from bot.settings import SchedulerSettings

if TYPE_CHECKING:
    from bot.wiring import Runtime

__all__ = ["RETENTION_SCHEDULE", "retention_spec", "retention_trigger", "run_retention"]

_log = logging.getLogger(__name__)

#: The name of the schedule ``kura serve`` keeps on ``KURA_SCHEDULER_RETENTION_CRON``.
RETENTION_SCHEDULE = "retention"

#: How long chat event ids stay in the dedupe ledger (Slack retries within minutes).
_EVENT_IDS_KEPT = timedelta(days=7)


async def run_retention(
    rt: Runtime,
    *,
    platform: str,
    actor: str,
    command: str,
    text_days: int | None = None,
    records_days: int | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Apply the runtime's retention plan (``text_days``/``records_days`` override it) as the audit
    tables' owner (Kura's own role may not remove audit data) and, unless ``dry_run``, let the
    dedupe ledger forget week-old event ids and append an audit record by ``actor`` saying what went.

    The checkpoint key is created when records are due for removal and there is none yet: the
    retention anchor must be signed, and verification needs the same key afterwards.
    """
    started = time.perf_counter()
    plan: RetentionPlan = rt.retention_plan()
    if text_days is not None:
        plan = replace(
            plan, question_text_days=text_days, answer_text_days=text_days, minutes_text_days=text_days, source=command
        )
    if records_days is not None:
        plan = replace(plan, audit_metadata_days=records_days, source=command)
    key = None
    if plan.audit_metadata_days is not None:
        key = checkpoint_key(rt.settings)
        rt.audit.use_anchor_key(key)
    owner = rt.database.owner_sessions()
    if not await may_remove(owner):
        raise ConfigurationError(
            "retention removes audit data, which only the audit tables' owner may do, and the login role of "
            "KURA_DATABASE_URL is not it: run `kura audit purge` with the owner's URL (e.g. from cron) and set "
            "KURA_SCHEDULER_ENABLED=false"
        )
    report = await apply_retention(owner, plan, key, dry_run=dry_run)
    if not dry_run:
        report = replace(report, handled_events=await EventLedger(rt.database.sessions).forget(_EVENT_IDS_KEPT))
    lines = describe(report)
    if not dry_run:
        took = int((time.perf_counter() - started) * 1000)
        outcome = "\n".join(lines)
        version = rt.policy.current().version
        entry = operator_entry(platform, actor, command, outcome, took, reason_code="retention", policy_version=version)
        await rt.audit.append(entry)
    for line in lines:
        _log.info("retention: %s", line)
    return report


def retention_trigger(settings: SchedulerSettings) -> CronTrigger:
    """When retention runs: ``KURA_SCHEDULER_RETENTION_CRON`` in ``KURA_SCHEDULER_TIMEZONE``.

    Raises:
        ConfigurationError: the cron line or the time zone is not valid.
    """
    try:
        return cron_trigger(settings.retention_cron, settings.timezone)
    except InputError as exc:
        raise ConfigurationError(
            f"KURA_SCHEDULER_RETENTION_CRON={settings.retention_cron!r} "
            f"KURA_SCHEDULER_TIMEZONE={settings.timezone!r}: {exc}"
        ) from exc


def retention_spec(settings: SchedulerSettings) -> ScheduleSpec:
    """The retention schedule made from the settings (no owner: it follows them; see
    ``ScheduleStore.ensure``). ConfigurationError when the cron line or zone is not valid."""
    retention_trigger(settings)
    return ScheduleSpec(RETENTION_SCHEDULE, "retention", settings.retention_cron, settings.timezone)
