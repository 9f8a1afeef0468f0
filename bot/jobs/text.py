"""Schedules and runs as short plain text, for ``kura schedule`` and ``/kura schedule`` alike."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.jobs.store import Run, Schedule

__all__ = ["run_summary", "schedule_summary"]


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_summary(run: Run) -> str:
    """One line: how a run ended (or that it is running), when, and its outcome or error."""
    tries = f" after {run.attempts} attempts" if run.attempts > 1 else ""
    if run.status == "done":
        return f"done {_when(run.fire_time)}{tries}" + (f": {run.outcome}" if run.outcome else "")
    if run.status == "failed":
        return f"failed {_when(run.fire_time)}{tries}: {run.error or 'no error recorded'}"
    return f"running since {_when(run.started_at)} (fire time {_when(run.fire_time)}, attempt {run.attempts})"


def schedule_summary(schedule: Schedule) -> str:
    """One line: kind, cron and zone, parameters, target, owner, and whether it is disabled."""
    params = " ".join(f"{k}={v}" for k, v in sorted(schedule.params.items()))
    parts = [schedule.kind, f"{schedule.cron} ({schedule.timezone})"]
    if params:
        parts.append(params)
    if schedule.target:
        parts.append(f"to {schedule.target}")
    if schedule.owner:
        parts.append(f"owner {schedule.owner}")
    if not schedule.enabled:
        parts.append("disabled")
    return ", ".join(parts)
