"""A whole evaluation run: the baseline (the settings as configured) and each configuration to
compare, every case through the real pipeline, totals with confidence intervals, paired differences
against the baseline, gates, the trend of stored runs; then the run is stored (metrics only).

A configuration that changes chunking runs on a scratch store: a throwaway embedded PostgreSQL in a
temporary folder, into which the set's knowledge folder is ingested with that chunking. The live
store, its documents and its audit log are never touched by it (the scratch run's audit records go
to the scratch database and vanish with it).
"""

from __future__ import annotations

import logging
import platform
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import InputError
from bot.eval.cases import EvalSet
from bot.eval.config import EvalConfig, apply
from bot.eval.judge import Judge
from bot.eval.metrics import QUALITY_METRICS, compare
from bot.eval.runner import CaseResult, ConfigResult, run_cases
from bot.eval.store import EvalRunRow, EvalStore
from bot.settings import DatabaseSettings, KuraSettings
from bot.wiring import Runtime
from llm import PROMPT_VERSION
from llm.chat import OpenAIChatModel

__all__ = ["BASELINE", "EvalService", "Progress", "parse_gates"]

_log = logging.getLogger(__name__)

#: The name of the configuration every run starts with: the settings as they are.
BASELINE = "default"
#: (configuration, cases done, cases in all, the case just done)
Progress = Callable[[str, int, int, CaseResult], None]


def parse_gates(items: Sequence[str]) -> dict[str, float]:
    """``METRIC=VALUE`` pairs of ``--fail-under``; quality metrics only (0..1, higher is better)."""
    gates: dict[str, float] = {}
    for item in items:
        metric, _, value = item.partition("=")
        if metric not in QUALITY_METRICS:
            raise InputError(f"--fail-under {item}: the metric must be one of {', '.join(QUALITY_METRICS)}")
        try:
            gates[metric] = float(value)
        except ValueError:
            raise InputError(f"--fail-under {item}: {value!r} is not a number") from None
    return gates


class EvalService:
    """Runs sets for a runtime opened with its model."""

    def __init__(self, runtime: Runtime) -> None:
        if runtime.chat is None:
            raise InputError("the runtime was opened without a model")
        self._rt = runtime
        self.store = EvalStore(runtime.database.sessions)

    async def run(
        self,
        eval_set: EvalSet,
        configs: Sequence[EvalConfig] = (),
        *,
        gates: dict[str, float] | None = None,
        started_by: str | None = None,
        progress: Progress | None = None,
        status: Callable[[str], None] | None = None,
        store: bool = True,
        judge: Judge | None = None,
    ) -> dict[str, Any]:
        """Run the set under the baseline and each configuration; the result in the report's shape."""
        names = [BASELINE, *(c.name for c in configs)]
        if len(set(names)) != len(names):
            raise InputError(f"configuration names must differ from each other and from {BASELINE!r}")
        say = status or (lambda _m: None)
        started_at = datetime.now(UTC)
        run_id = f"ev-{started_at:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        began = time.perf_counter()
        results: list[ConfigResult] = []
        async with AsyncExitStack() as stack:
            for config in (EvalConfig(BASELINE, {}), *configs):
                rt = await self._runtime_for(config, eval_set, stack, say)
                pipeline = rt.make_pipeline(rt.directory)
                summary = _settings_summary(rt)
                result = ConfigResult(config.name, config.flat(), summary)
                say(f"eval: {config.name}: {len(eval_set.cases)} cases, model {summary['model']}")
                tell = (lambda d, n, c, name=config.name: progress(name, d, n, c)) if progress else None
                await run_cases(
                    pipeline, rt.audit, rt.directory, rt.policy, eval_set, result, progress=tell, judge=judge
                )
                results.append(result)
        seconds = time.perf_counter() - began
        trend = [
            {"run_id": r.run_id, "started_at": r.started_at.isoformat(), "config": r.config, "metrics": r.metrics}
            for r in await self.store.history(eval_set.name)
        ]
        report = _report(run_id, eval_set, started_at, seconds, results, gates or {}, trend)
        report["run"]["judge"] = None if judge is None else {"model": judge.name, "local": judge.local}
        if store:
            await self.store.record(_rows(report, results, eval_set.name, started_at, seconds, started_by))
        return report

    async def _runtime_for(
        self, config: EvalConfig, eval_set: EvalSet, stack: AsyncExitStack, say: Callable[[str], None]
    ) -> Runtime:
        rt = self._rt
        if not config.overrides:
            return rt
        settings = apply(rt.settings, config, where=f"configuration {config.name}")
        chat = None
        if "llm" in config.overrides:
            from bot.model_clients import chat_model

            llm = settings.llm
            same_server = llm.base_url == rt.settings.llm.base_url and llm.local_model == rt.settings.llm.local_model
            if same_server and rt.model_url is not None and rt.chat is not None:
                # Only sampling changed: the same server, a client with the new settings.
                llm = llm.model_copy(update={"base_url": rt.model_url, "model": rt.chat.name})
                llm = llm.model_copy(update={"structured_output": rt.settings.llm.structured_output})
            chat, _ = await chat_model(settings.model_copy(update={"llm": llm}), stack, say)
        if not config.chunking:
            return rt.derived(settings, chat)
        return await self._scratch(settings, chat, eval_set, stack, say)

    async def _scratch(
        self,
        settings: KuraSettings,
        chat: OpenAIChatModel | None,
        eval_set: EvalSet,
        stack: AsyncExitStack,
        say: Callable[[str], None],
    ) -> Runtime:
        """A runtime on a throwaway embedded database holding the set's knowledge, cut as configured."""
        from bot.audit import AuditStore, Keyring
        from bot.db import Database

        if eval_set.knowledge is None or not eval_set.knowledge.is_dir():
            raise InputError(f"{eval_set.path}: a chunking configuration needs the set's `knowledge:` folder")
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kura-eval-")))
        scratch = settings.model_copy(update={"data_dir": folder, "database": DatabaseSettings()})
        say(f"eval: scratch store in {folder}")
        database = Database(scratch)
        await database.start()
        stack.push_async_callback(database.close)
        await database.ensure_schema()
        audit = AuditStore(database.sessions, Keyring.from_settings(scratch))
        rt = self._rt
        other = Runtime(scratch, database, audit, rt.directory, rt.policy, chat=chat or rt.chat, model_url=rt.model_url)
        if "embedder" in rt.__dict__:
            other.__dict__["embedder"] = rt.__dict__["embedder"]
        other.structured = chat if chat is not None else rt.structured
        other.retriever = other.make_retriever()
        r = scratch.retrieval
        say(f"eval: ingesting {eval_set.knowledge} ({r.chunk_tokens} tokens a chunk, {r.chunk_overlap_tokens} overlap)")
        report = await other.ingestor.ingest(eval_set.knowledge)
        if report.chunks_written == 0:
            raise InputError(f"{eval_set.knowledge}: nothing could be ingested into the scratch store")
        return other


def _settings_summary(rt: Runtime) -> dict[str, Any]:
    s = rt.settings
    return {
        "model": rt.chat.name if rt.chat is not None else None,
        "top_k": s.retrieval.top_k,
        "retrieval_mode": s.retrieval.mode,
        "temperature": s.llm.temperature,
        "max_tokens": s.llm.max_tokens,
        "prompt_version": PROMPT_VERSION,
        "chunk_tokens": s.retrieval.chunk_tokens,
        "chunk_overlap_tokens": s.retrieval.chunk_overlap_tokens,
    }


def _report(
    run_id: str,
    eval_set: EvalSet,
    started_at: datetime,
    seconds: float,
    results: list[ConfigResult],
    gates: dict[str, float],
    trend: list[dict[str, Any]],
) -> dict[str, Any]:
    totals = {r.name: r.totals() for r in results}
    failures: list[str] = []
    for r in results:
        for c in r.cases:
            failures += [f"leak in case {c.case.id} ({r.name}): {leak}" for leak in c.leaks]
    for r in results:
        errored = [c.case.id for c in r.cases if c.error is not None]
        if errored:
            failures.append(f"{r.name}: {len(errored)} case(s) could not be run: {', '.join(errored[:5])}")
    gate_rows: list[dict[str, Any]] = []
    for r in results:
        for metric, floor in gates.items():
            value = totals[r.name][metric].value
            ok = value is not None and value >= floor
            gate_rows.append({"metric": metric, "config": r.name, "min": floor, "value": value, "passed": ok})
            if not ok:
                failures.append(f"{r.name}: {metric} {_fmt(value)} is under {floor:g}")
    base = results[0]
    base_scores = {c.case.id: c.scores for c in base.cases}
    comparison: list[dict[str, Any]] = []
    for r in results[1:]:
        scores = {c.case.id: c.scores for c in r.cases}
        for metric in QUALITY_METRICS:
            difference, ci, better = compare(base_scores, scores, metric)
            comparison.append(
                {
                    "metric": metric,
                    "baseline": base.name,
                    "config": r.name,
                    "baseline_value": totals[base.name][metric].value,
                    "value": totals[r.name][metric].value,
                    "difference": difference,
                    "ci": list(ci) if ci else None,
                    "better": better,
                }
            )
        for metric in ("latency_p50_ms", "tokens_mean"):
            a, b = totals[base.name][metric].value, totals[r.name][metric].value
            comparison.append(
                {
                    "metric": metric,
                    "baseline": base.name,
                    "config": r.name,
                    "baseline_value": a,
                    "value": b,
                    "difference": b - a if a is not None and b is not None else None,
                    "ci": None,
                    "better": None,
                }
            )
    trend = [
        *trend,
        *(
            {
                "run_id": run_id,
                "started_at": started_at.isoformat(),
                "config": r.name,
                "metrics": {m: t.value for m, t in totals[r.name].items()},
            }
            for r in results
        ),
    ]
    return {
        "run": {
            "id": run_id,
            "set": eval_set.name,
            "set_file": str(eval_set.path),
            "started_at": started_at.isoformat(),
            "seconds": round(seconds, 1),
            "cases": len(eval_set.cases),
            "machine": f"{_cores()} cores, {platform.system()} {platform.machine()}",
            "kura": _version(),
        },
        "configs": [
            {
                "name": r.name,
                "overrides": r.overrides,
                "settings": r.settings,
                "metrics": {m: t.as_json() for m, t in totals[r.name].items()},
                "by_tag": r.by_tag(),
                "cases": [c.as_json() for c in r.cases],
            }
            for r in results
        ],
        "comparison": comparison,
        "gates": gate_rows,
        "passed": not failures,
        "failures": failures,
        "trend": trend,
    }


def _rows(
    report: dict[str, Any],
    results: list[ConfigResult],
    set_name: str,
    started_at: datetime,
    seconds: float,
    started_by: str | None,
) -> list[EvalRunRow]:
    rows = []
    for config, r in zip(report["configs"], results, strict=True):
        rows.append(
            EvalRunRow(
                run_id=report["run"]["id"],
                config=r.name,
                set_name=set_name,
                started_at=started_at,
                seconds=seconds,
                model=str(r.settings.get("model") or "?"),
                settings=r.settings,
                metrics={m: v["value"] for m, v in config["metrics"].items()},
                cases=len(r.cases),
                passed=not any(c.leaks for c in r.cases) and all(c.error is None for c in r.cases),
                started_by=started_by,
            )
        )
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kura")
    except PackageNotFoundError:
        return "unknown"
