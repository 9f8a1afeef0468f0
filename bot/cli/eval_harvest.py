"""``kura eval harvest [--output FILE] [--since DAYS]``: candidate cases from 👎 feedback and from
questions that found no sources, as a YAML set to complete (stdout without ``--output``); the
counts per signal on stderr, and one audit record (action ``eval_harvest``).

Exit codes: 0 done (also when there was nothing to harvest), 2 bad input (``--since`` under 1, an
``--output`` that exists and is not an untouched previous harvest).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli.audit import _record
from bot.errors import InputError
from bot.eval.harvest import check_output, harvest, render, summary, write_harvest
from bot.settings import KuraSettings
from bot.wiring import open_runtime

__all__ = ["eval_harvest"]


async def eval_harvest(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Harvest the held questions of the last ``--since`` days."""
    days = int(args.since)
    if days < 1:
        raise InputError(f"--since {days}: at least 1 day")
    output = Path(args.output) if args.output else None
    if output is not None:
        check_output(output)  # before any work: a file it may not replace is a one-line refusal
    text = None
    async with open_runtime(settings) as rt:
        started = time.perf_counter()
        now = datetime.now(UTC)
        found = await harvest(rt.audit, rt.directory, since=now - timedelta(days=days))
        if not found.candidates:
            where = "nothing written"
        else:
            text, found = render(found, now)
            if output is None:
                where = "printed to stdout"
            else:
                replaced = write_harvest(output, text)
                where = f"{'replaced the previous harvest' if replaced else 'written to'} {output}"
        line = summary(found, where)
        await _record(rt, started, f"eval harvest: {line}", action="eval_harvest")
    if text is not None and output is None:
        sys.stdout.write(text)
    print(line, file=sys.stderr)
    return 0
