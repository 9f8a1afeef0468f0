"""How long the text rules take on model output and documents built to make them backtrack.

The answer sanitiser (``sanitize_answer``, and ``CleanStream`` piece by piece), the Slack renderer
(``answer_messages``) and the redaction applied before the secondary endpoint (``redact``) all run
regular expressions over text an attacker can shape. Each row is one hostile pattern repeated to
``--size`` characters; the time is the best of ``--repeat`` runs, and "per 1k chars" shows whether the
cost grows linearly (it should stay flat as ``--size`` grows). The tests only guard against hangs
(``tests/hang.py``); the speed is measured here.

A benchmark, not a test. Run from the repository root:

    python bench/hostile_text.py [--size 40000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

import _common  # first: sets the warning filter

from bot.adapters.slack.render import answer_messages
from bot.core.sanitize import CleanStream, sanitize_answer
from bot.core.types import Reply
from bot.redaction import redact
from policies import Decision

ALLOW = ("intranet.example.co.jp",)
PATTERNS = ["[a](", "![a](", "](", "<a:", "a.", "<!a", "[a](https://intranet.example.co.jp/", "evil.com ", "@here "]
REDACT = ["090-", "a@b.", "港区六本木", "〒100-", "口座番号 1", "生年月日 1990/", "1-2-3-", "taro[at]"]


def _stream(text: str) -> None:
    stream = CleanStream(ALLOW)
    for i in range(0, len(text), 7):
        stream.feed(text[i : i + 7])
    stream.finish()


def _render(text: str) -> None:
    allowed = Decision(True, "allowed", "allowed")
    answer_messages(Reply("answered", sanitize_answer(text, ALLOW), (), allowed, "a1", "ja"))


def _best(run: Callable[[str], object], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40_000, help="characters of hostile text per row")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: list[tuple[str, Callable[[str], object], list[str]]] = [
        ("sanitize_answer", lambda t: sanitize_answer(t, ALLOW), PATTERNS),
        ("CleanStream (7-char pieces)", _stream, PATTERNS),
        ("Slack answer_messages", _render, PATTERNS),
        ("redact", redact, REDACT),
    ]
    rows: list[list[object]] = []
    for name, run, patterns in runs:
        for pattern in patterns:
            text = pattern * (args.size // len(pattern))
            seconds = _best(run, text, args.repeat)
            per_1k = seconds * 1e6 / len(text) * 1000
            rows.append([name, repr(pattern), len(text), f"{seconds * 1000:.1f}", f"{per_1k:.1f}"])
    print(f"Kura hostile text  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(f"command: {_common.reproduce(__file__, ['--size', str(args.size), '--repeat', str(args.repeat)])}\n")
    print(_common.table(["rule", "pattern", "chars", "ms (best)", "µs per 1k chars"], rows))


if __name__ == "__main__":
    main()
