"""``kura models plan``: GPUs on vLLM for N users, from the audit log's real usage (an estimate)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from bot.audit.usage import observed_usage, workload_from
from bot.errors import InputError
from bot.planning import FORMULAS, GPUS, Demand, GpuFit, PlanAssumptions, Workload, demand, plan
from bot.settings import KuraSettings
from bot.wiring import open_runtime

__all__ = ["models_plan"]


def _check(args: argparse.Namespace) -> None:
    if args.users <= 0:
        raise InputError("--users must be a positive number")
    if not 0 < args.peak_share <= 1:
        raise InputError("--peak-share must be above 0 and at most 1")
    if args.hours <= 0 or args.hours > 24:
        raise InputError("--hours must be above 0 and at most 24")
    if args.since <= 0:
        raise InputError("--since must be a positive number of days")
    if args.latency <= 0:
        raise InputError("--latency must be a positive number of seconds")


async def models_plan(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura models plan --users N --peak-share P [--hours H] [--since DAYS] [--latency S] [--gpu NAME] [--json]``."""
    _check(args)
    gpus = GPUS
    if args.gpu:
        gpus = tuple(g for g in GPUS if g.name.lower() == args.gpu.lower())
        if not gpus:
            raise InputError(f"unknown GPU {args.gpu!r}; known: {', '.join(g.name for g in GPUS)}")
    async with open_runtime(settings) as rt:
        usage = await observed_usage(rt.audit, args.since)
    work = workload_from(usage, args.hours)
    assumptions = PlanAssumptions(target_latency_s=args.latency)
    need = demand(args.users, args.peak_share, work, assumptions)
    fits = plan(need, work, assumptions, gpus)
    if args.json:
        body = {
            "workload": asdict(work),
            "demand": asdict(need),
            "assumptions": asdict(assumptions),
            "gpus": [asdict(g) for g in gpus],
            "plan": [asdict(f) for f in fits],
            "formulas": list(FORMULAS),
        }
        print(json.dumps(body, ensure_ascii=False))
        return 0
    _print(work, need, assumptions, fits)
    return 0


def _figure(value: float) -> str:
    """Two significant figures at most: the inputs do not carry more."""
    if value == 0:
        return "0"
    return f"{float(f'{value:.2g}'):,g}"


def _print(work: Workload, need: Demand, a: PlanAssumptions, fits: list[GpuFit]) -> None:
    print(
        f"{need.users:,} users, {need.peak_share:.0%} active in the peak hour → "
        f"{_figure(need.requests_per_s)} requests/s, {_figure(need.prompt_tokens_per_s)} prompt + "
        f"{_figure(need.completion_tokens_per_s)} completion tokens/s, "
        f"~{_figure(need.concurrent_sequences)} sequences at once"
    )
    print()
    print(f"{'model':40} {'GPU':10} {'weights':>8} {'KV needed':>9} {'seqs/GPU':>8} {'1-stream tok/s':>14} {'GPUs':>5}")
    for f in fits:
        gpus = "—" if f.gpus_needed is None else str(f.gpus_needed)
        name = f"{f.model} (reference)" if f.reference else f.model
        print(
            f"{name:40} {f.gpu:10} {f.weights_bytes / 1e9:>6.1f}GB {f.kv_bytes_needed / 1e9:>7.2f}GB "
            f"{f.sequences_per_gpu:>8,} {_figure(f.single_stream_tokens_per_s):>14} {gpus:>5}"
        )
    print()
    print("This is an estimate to order hardware by, not a benchmark.")
    for note in work.notes:
        print(f"  {note}")
    print(
        f"  per question: {_figure(work.requests_per_user_day)} a day per active person, "
        f"{work.busiest_hour_share:.0%} of a day's in its busiest hour, {work.model_share:.0%} reach the model, "
        f"~{_figure(work.prompt_tokens_mean)} prompt + ~{_figure(work.completion_tokens_mean)} completion tokens "
        f"(p95 {_figure(work.prompt_tokens_p95)} + {_figure(work.completion_tokens_p95)})"
    )
    print(
        f"  target {a.target_latency_s:g} s to a whole answer; bandwidth efficiency {a.bandwidth_efficiency:g}, "
        f"prefill compute efficiency {a.compute_efficiency:g}, --gpu-memory-utilization {a.memory_utilisation:g}, "
        f"{a.runtime_overhead_bytes / 1024**3:g} GiB runtime overhead per GPU"
    )
    for line in FORMULAS:
        print(f"  {line}")
    print("  GPUs —: the model does not fit one GPU, or one GPU is too slow for the target at any count.")
    print("  (reference): a production-sized model for comparison, served by vLLM from its upstream weights.")
