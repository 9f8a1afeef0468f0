"""``kura eval SET [--config FILE ...] [--json] [--report DIR] [--fail-under METRIC=VALUE ...]`` and
``kura eval harvest``.

Exit codes: 0 the run passed, 1 it failed (any leak, whatever the gates say; a gate under its floor;
a case that could not be run), 2 bad input (an unreadable set or configuration, an unknown metric).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bot.cli.chat import safe_json
from bot.errors import InputError
from bot.eval.cases import load_set, subset
from bot.eval.config import load_config
from bot.eval.judge import Judge
from bot.eval.metrics import QUALITY_METRICS
from bot.eval.runner import CaseResult
from bot.eval.service import EvalService, parse_gates
from bot.eval.sets import resolve_set
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime

__all__ = ["eval_command", "summary_lines"]

EXIT_FAILED = 1


def _status(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


async def eval_command(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Run a set (or ``harvest``)."""
    if args.target == "harvest":
        from bot.cli.eval_harvest import eval_harvest

        return await eval_harvest(settings, args)
    eval_set = subset(load_set(resolve_set(settings, args.target)), args.case or [], args.tag or [])
    configs = [load_config(Path(c), settings) for c in args.config or []]
    gates = parse_gates(args.fail_under or [])
    quiet = args.json
    say = _status  # progress goes to stderr, so `--json` keeps stdout to the one object and still shows it

    def progress(config: str, done: int, total: int, case: CaseResult) -> None:
        mark = "LEAK" if case.leaks else ("ok" if case.passed else "--")
        _status(f"{config} {done}/{total} {case.case.id}: {case.status} {mark} {case.latency_ms / 1000:.1f}s")

    async with open_runtime(settings, with_model=True, status=say) as rt, AsyncExitStack() as stack:
        judge = make_judge(rt, args.judge or settings.eval.judge, args.judge_model, stack)
        result = await EvalService(rt).run(
            eval_set, configs, gates=gates, started_by="cli", progress=progress, status=say, judge=judge
        )
    if args.report:
        from bot.eval.report import write_report

        path = write_report(result, Path(args.report))
        print(f"report: {path}", file=sys.stderr if quiet else sys.stdout)
    if quiet:
        print(safe_json(result))
    else:
        print("\n".join(summary_lines(result)))
    return 0 if result["passed"] else EXIT_FAILED


def make_judge(rt: Runtime, where: str | None, model: str | None, stack: AsyncExitStack) -> Judge | None:
    """The judge asked for: None, ``local`` (the chat model's server) or an OpenAI-compatible URL."""
    if not where:
        return None
    if where == "local" or where in (rt.model_url, rt.settings.llm.base_url):
        if rt.structured is None:
            raise InputError("the runtime has no chat model to judge with")
        return Judge(rt.structured, rt.database.sessions, rt.policy, local=True)
    if not where.startswith(("http://", "https://")):
        raise InputError(f"--judge {where}: `local` or an http(s) URL")
    import openai

    from llm.chat import OpenAIChatModel

    e = rt.settings.eval
    client = openai.AsyncOpenAI(base_url=where, api_key=e.judge_api_key.get_secret_value(), max_retries=1)
    stack.push_async_callback(client.close)
    chat = OpenAIChatModel(client, model or e.judge_model, max_tokens=400, temperature=0.0, structured="json_schema")
    return Judge(chat, rt.database.sessions, rt.policy, local=False)


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The run as a small table: one row per metric, one column per configuration; then failures."""
    configs = result["configs"]
    run = result["run"]
    lines = [f"eval {run['set']} · {run['cases']} cases · {run['id']} · {run['seconds']:.0f} s"]
    width = max(12, *(len(c["name"]) + 2 for c in configs))
    lines.append(f"{'metric':22}" + "".join(f"{c['name']:>{width}}" for c in configs))
    for metric in (*QUALITY_METRICS, "leaks", "latency_p50_ms", "latency_p95_ms", "first_token_p50_ms", "tokens_mean"):
        cells = []
        for c in configs:
            value = c["metrics"][metric]["value"]
            cells.append(f"{_cell(metric, value):>{width}}")
        lines.append(f"{metric:22}" + "".join(cells))
    better = [d for d in result["comparison"] if d["better"] is not None]
    for d in better:
        word = "better" if d["better"] else "worse"
        low, high = d["ci"]
        lines.append(f"{d['config']}: {d['metric']} {word} by {d['difference']:+.3f} (95% CI {low:+.3f}…{high:+.3f})")
    lines.append("PASSED" if result["passed"] else "FAILED")
    lines += [f"  {f}" for f in result["failures"]]
    return lines


def _cell(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "leaks":
        return f"{value:.0f}"
    if metric.endswith("_ms"):
        return f"{value / 1000:.1f} s"
    if metric == "tokens_mean":
        return f"{value:.0f}"
    return f"{value:.3f}"
