"""Runs of named sets outside the command line (schedule kind ``eval``, ``/kura eval run``): the run,
its report under ``reports_dir/<run id>/``, what dropped against the set's previous stored run, and
the short summaries chat gets.

Summaries hold figures, case ids and the report's path, never a leak's details: a leak names the
document and the reader, and the post may be read by people who may not read that document (the
report, on the server, has everything).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.eval_words import eval_text
from bot.errors import Language
from bot.eval.cases import EvalSet, load_set, subset
from bot.eval.metrics import QUALITY_METRICS
from bot.eval.service import BASELINE, EvalService
from bot.eval.sets import reports_dir, resolve_set
from bot.eval.store import EvalRunRow
from bot.settings import KuraSettings

if TYPE_CHECKING:
    from bot.wiring import Runtime

__all__ = ["TOLERANCE", "Drop", "NamedRun", "drops", "last_text", "load_named", "run_named", "run_text"]

_log = logging.getLogger(__name__)

#: How much lower a quality metric (0..1) may be than in the previous run before it is a drop.
TOLERANCE = 0.05
#: The metrics a chat summary shows per configuration.
SHOWN = ("hit@k", "mrr", "fact_recall", "refusal_accuracy", "abstention_accuracy")


@dataclass(frozen=True)
class Drop:
    """A quality metric lower than in the previous run by more than the tolerance."""

    metric: str
    before: float
    after: float


@dataclass(frozen=True)
class NamedRun:
    """A finished run: the result (the report's shape), where its report is, and what dropped."""

    result: dict[str, Any]
    report: Path | None
    dropped: tuple[Drop, ...]

    @property
    def alarming(self) -> bool:
        """A metric dropped, a leak, or a failed run: worth telling the admins unasked."""
        return bool(self.dropped) or not self.result["passed"]


def load_named(settings: KuraSettings, name: str, tag: str | None = None) -> EvalSet:
    """A named set (never a path), narrowed to the cases with ``tag``; such a run is its own series
    (``NAME#TAG``): comparing a subset with the whole set would show drops that are not."""
    eval_set = load_set(resolve_set(settings, name, names_only=True))
    return subset(eval_set, [], [tag] if tag else [])


def drops(result: dict[str, Any], previous: Sequence[EvalRunRow], tolerance: float = TOLERANCE) -> list[Drop]:
    """The baseline's quality metrics that are lower than in the previous run's baseline."""
    before = next((r.metrics for r in previous if r.config == BASELINE), None)
    now = next((c["metrics"] for c in result["configs"] if c["name"] == BASELINE), None)
    if before is None or now is None:
        return []
    found = []
    for metric in QUALITY_METRICS:
        old, new = before.get(metric), (now.get(metric) or {}).get("value")
        if old is not None and new is not None and new < old - tolerance:
            found.append(Drop(metric, float(old), float(new)))
    return found


async def run_named(rt: Runtime, eval_set: EvalSet, *, started_by: str) -> NamedRun:
    """Run the set (baseline only, stored), write its report, and compare with the previous run."""
    service = EvalService(rt)
    previous = await service.store.latest(eval_set.name)
    result = await service.run(eval_set, started_by=started_by)
    report = await asyncio.to_thread(_write_report, result, reports_dir(rt.settings) / result["run"]["id"])
    return NamedRun(result, report, tuple(drops(result, previous)))


def _write_report(result: dict[str, Any], directory: Path) -> Path | None:
    from bot.eval.report import write_report

    try:
        return write_report(result, directory)
    except OSError as exc:
        _log.error("eval: the report could not be written error=%s", type(exc).__name__)
        return None


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if metric == "leaks" else f"{value:.2f}"


def _metrics(values: dict[str, float | None]) -> str:
    return " · ".join(f"{m} {_value(m, values.get(m))}" for m in (*SHOWN, "leaks"))


def run_text(run: NamedRun, language: Language) -> str:
    """A finished run for chat: what dropped (if anything), each configuration's main figures, the
    leaking cases, passed or failed, and where the report is."""
    r = run.result
    meta = r["run"]
    fields = {"set": meta["set"], "cases": meta["cases"], "run": meta["id"], "seconds": f"{meta['seconds']:.0f}"}
    lines = [eval_text("drop_title" if run.dropped else "run_title", language, **fields)]
    lines += [
        eval_text("drop_line", language, metric=d.metric, before=f"{d.before:.2f}", after=f"{d.after:.2f}")
        for d in run.dropped
    ]
    for config in r["configs"]:
        values = {m: v["value"] for m, v in config["metrics"].items()}
        model = config["settings"].get("model") or "?"
        lines.append(eval_text("config_line", language, config=config["name"], model=model, metrics=_metrics(values)))
        leaking = [c["id"] for c in config["cases"] if c["leaks"]]
        if leaking:
            shown = ", ".join(leaking[:5]) + (" …" if len(leaking) > 5 else "")
            lines.append(eval_text("leaks", language, count=len(leaking), cases=shown))
    passed = r["passed"]
    lines.append(eval_text("passed", language) if passed else eval_text("failed", language, count=len(r["failures"])))
    where = eval_text("report", language, path=run.report) if run.report else eval_text("no_report", language)
    lines.append(where)
    return "\n".join(lines)


def last_text(rows: Sequence[EvalRunRow], settings: KuraSettings, language: Language) -> str:
    """The newest stored run (its configurations) for ``/kura eval``."""
    if not rows:
        return eval_text("no_runs", language)
    first = rows[0]
    when = first.started_at.strftime("%Y-%m-%d %H:%M %Z")
    lines = [eval_text("last_title", language, set=first.set_name, when=when, cases=first.cases, run=first.run_id)]
    for row in rows:
        lines.append(
            eval_text("config_line", language, config=row.config, model=row.model, metrics=_metrics(row.metrics))
        )
    passed = all(r.passed for r in rows)
    lines.append(eval_text("passed", language) if passed else eval_text("failed_stored", language))
    report = reports_dir(settings) / first.run_id / "report.html"
    lines.append(eval_text("report", language, path=report) if report.is_file() else eval_text("no_report", language))
    return "\n".join(lines)
