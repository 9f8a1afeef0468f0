"""How good the meeting minutes are: the writer on hand-made meetings, scored against answer keys.

Each meeting in ``bench/minutes/`` is a transcript (Teams or Zoom WebVTT, or plain text) and a YAML
answer key (decisions, action items with owner and due, open questions, phrases that must not be
stated). The transcript goes through ``knowledge.transcripts.parse_transcript`` and
``bot.minutes.writer.MinutesWriter``; ``_minutes_score`` pairs what was written with the key
(character-bigram Dice, one to one) and counts. Also: wall time, the time the writer spent inside
model calls, calls and tokens.

A benchmark, not a test. Run from the repository root:

    python bench/minutes_quality.py [--meetings NAME,...] [--base-url URL --model NAME] [--json] [--fake-model]

Without ``--base-url`` the embedded local model is started (``KURA_LLM_LOCAL_MODEL``; on 2 CPU
cores a 60-minute meeting takes many minutes). ``--fake-model`` answers every call with empty
minutes from ``tests/fakes/openai_server.FakeOpenAI``: scores are zero, but the whole path (parse,
split, calls, validation, merge, scoring, table) runs in seconds, which is what ``make bench-smoke`` checks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import _common  # first: sets the warning filter
import yaml
from _minutes_score import (
    THRESHOLD,
    AnswerKeyError,
    Counts,
    Key,
    MeetingScore,
    Predicted,
    PredictedAction,
    add_scores,
    key_from_mapping,
    score,
)

from bot.errors import KuraError
from bot.minutes.writer import MinutesWriter
from bot.model_clients import chat_model
from bot.settings import KuraSettings
from knowledge.parsing import ParseError
from knowledge.transcripts import parse_transcript
from llm.chat import OpenAIChatModel
from llm.errors import LLMError

SET_DIR = Path(__file__).resolve().parent / "minutes"
REPO = Path(__file__).resolve().parents[1]
#: What --fake-model answers to every call: valid for both the part extraction and the summary.
FAKE_ANSWER = json.dumps(
    {"title": "", "summary": [], "topics": [], "decisions": [], "action_items": [], "open_questions": []}
)


class BenchError(Exception):
    """A problem with the options or the set; printed as one line."""


@dataclass(frozen=True)
class Meeting:
    """One meeting of the set: its name, answer key and the transcript's lines (ref, speaker, text)."""

    name: str
    key: Key
    lines: list[tuple[str, str, str]]
    chars: int


@dataclass(frozen=True)
class Run:
    """One meeting written and scored."""

    meeting: Meeting
    score: MeetingScore
    predicted: Predicted
    language: str
    wall_s: float
    model_s: float
    calls: int
    prompt_tokens: int
    completion_tokens: int
    failed_parts: int


def load_meetings(names: list[str] | None) -> list[Meeting]:
    """The named meetings (all when None), answer key and parsed transcript each."""
    available = sorted(p.stem for p in SET_DIR.glob("*.yaml"))
    unknown = [n for n in names or [] if n not in available]
    if unknown:
        raise BenchError(f"unknown meeting(s): {', '.join(unknown)}; available: {', '.join(available)}")
    meetings = []
    for name in names or available:
        try:
            key = key_from_mapping(yaml.safe_load((SET_DIR / f"{name}.yaml").read_text(encoding="utf-8")))
            raw = (SET_DIR / key.transcript).read_bytes()
            utterances = parse_transcript(key.transcript, raw)
        except (AnswerKeyError, ParseError, yaml.YAMLError, OSError) as exc:
            raise BenchError(f"{name}: {exc}") from exc
        lines = [(u.ref, u.speaker, u.text) for u in utterances]
        meetings.append(Meeting(name, key, lines, sum(len(t) for _, _, t in lines)))
    return meetings


async def write_and_score(writer: MinutesWriter, meeting: Meeting) -> Run:
    """Write one meeting's minutes and score them."""
    started = time.perf_counter()
    written = await writer.write(meeting.lines, language=None, title="")
    wall = time.perf_counter() - started
    m = written.minutes
    predicted = Predicted(
        decisions=tuple(d.text for d in m.decisions),
        action_items=tuple(PredictedAction(a.task, a.owner, a.due) for a in m.action_items),
        open_questions=tuple(m.open_questions),
        summary=tuple(m.summary),
    )
    return Run(
        meeting=meeting,
        score=score(predicted, meeting.key),
        predicted=predicted,
        language=m.language,
        wall_s=wall,
        model_s=written.model_seconds,
        calls=written.calls,
        prompt_tokens=written.usage.prompt_tokens,
        completion_tokens=written.usage.completion_tokens,
        failed_parts=len(m.failed_parts),
    )


async def run(args: argparse.Namespace, meetings: list[Meeting], data_dir: Path) -> tuple[list[Run], str]:
    """Start the model (configured server or embedded), then write every meeting in turn."""
    base = KuraSettings(data_dir=data_dir)
    llm = base.llm
    async with AsyncExitStack() as stack:
        if args.fake_model:
            # The fakes live under tests/, which is not an installed package (as in _load_world.py).
            sys.path.insert(1, str(REPO))
            from tests.fakes.openai_server import FakeOpenAI

            fake = await stack.enter_async_context(FakeOpenAI(FAKE_ANSWER))
            llm = llm.model_copy(update={"base_url": fake.url, "model": fake.model})
        elif args.base_url:
            llm = llm.model_copy(update={"base_url": args.base_url, "model": args.model})
        settings = base.model_copy(update={"llm": llm})
        notes: list[str] = []
        chat, url = await chat_model(settings, stack, notes.append)
        assert isinstance(chat, OpenAIChatModel)
        described = f"{notes[0].removeprefix('model: ')}, llama.cpp at {url}" if notes else f"{chat.name} at {url}"
        if args.fake_model:
            described = f"FakeOpenAI at {url}: empty minutes for every call (a smoke run; the scores mean nothing)"
        m = settings.minutes  # KURA_MINUTES_PART_TOKENS etc., as `kura minutes` uses them
        writer = MinutesWriter(
            chat,
            part_tokens=m.part_tokens,
            extract_max_tokens=m.extract_max_tokens,
            summary_max_tokens=m.summary_max_tokens,
        )
        return [await write_and_score(writer, m) for m in meetings], described


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _row(label: str, lang: str, minutes: int, lines: int, s: MeetingScore, figures: list[object]) -> list[object]:
    return [
        label,
        lang,
        minutes,
        lines,
        _ratio(s.decisions.precision),
        _ratio(s.decisions.recall),
        _ratio(s.actions.precision),
        _ratio(s.actions.recall),
        _ratio(s.actions_full.precision),
        _ratio(s.actions_full.recall),
        _ratio(s.questions.recall),
        len(s.violations),
        *figures,
    ]


HEADERS = [
    "meeting", "lang", "min", "turns", "dec P", "dec R", "act P", "act R", "own+due P", "own+due R",
    "oq R", "viol", "wall s", "model s", "calls", "prompt tok", "compl tok",
]  # fmt: skip


def report(runs: list[Run], model: str, command: str) -> str:
    """The table, with the machine, the model, the data and the command first."""
    total = add_scores([r.score for r in runs])
    rows = [
        _row(
            r.meeting.name,
            r.language if r.language == r.meeting.key.language else f"{r.language}(!)",
            r.meeting.key.minutes,
            len(r.meeting.lines),
            r.score,
            [f"{r.wall_s:.1f}", f"{r.model_s:.1f}", r.calls, r.prompt_tokens, r.completion_tokens],
        )
        for r in runs
    ]
    sums = [
        f"{sum(r.wall_s for r in runs):.1f}",
        f"{sum(r.model_s for r in runs):.1f}",
        sum(r.calls for r in runs),
        sum(r.prompt_tokens for r in runs),
        sum(r.completion_tokens for r in runs),
    ]
    minutes = sum(r.meeting.key.minutes for r in runs)
    rows.append(_row("total", "-", minutes, sum(len(r.meeting.lines) for r in runs), total, sums))
    expected = add_scores([score(Predicted((), (), ()), r.meeting.key) for r in runs])
    out = [
        f"Kura minutes quality  ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        *_common.machine_lines(),
        f"model:   {model}",
        f"data:    {len(runs)} meetings from bench/minutes, {minutes} minutes of speech, "
        f"{sum(r.meeting.chars for r in runs):,} characters in {sum(len(r.meeting.lines) for r in runs)} turns; "
        f"expected {expected.decisions.expected} decisions, {expected.actions.expected} action items, "
        f"{expected.questions.expected} open questions",
        f"scoring: character-bigram Dice >= {THRESHOLD} on NFKC-casefolded text, one-to-one greedy; "
        "own+due = task, owner and due all matched; viol = items stating a must_not_appear phrase",
        f"command: {command}",
        "",
        _common.table(HEADERS, rows),
    ]
    for r in runs:
        out += [f"violation in {r.meeting.name}: {v}" for v in r.score.violations]
        if r.failed_parts:
            out.append(f"{r.meeting.name}: {r.failed_parts} part(s) got no valid answer from the model")
    return "\n".join(out)


def as_json(runs: list[Run], model: str, command: str) -> str:
    """Every figure and what was written, for comparing runs."""

    def counts(c: Counts) -> dict[str, object]:
        return {**asdict(c), "precision": c.precision, "recall": c.recall}

    def figures(s: MeetingScore) -> dict[str, object]:
        return {
            "decisions": counts(s.decisions),
            "action_items": counts(s.actions),
            "action_items_owner_and_due": counts(s.actions_full),
            "owner_matched": s.owner_matched,
            "due_matched": s.due_matched,
            "open_questions": counts(s.questions),
            "violations": list(s.violations),
        }

    meetings = [
        {
            "name": r.meeting.name,
            "language": r.language,
            "score": figures(r.score),
            "wall_s": r.wall_s,
            "model_s": r.model_s,
            "calls": r.calls,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "failed_parts": r.failed_parts,
            "written": asdict(r.predicted),
        }
        for r in runs
    ]
    total = figures(add_scores([r.score for r in runs]))
    doc = {"model": model, "command": command, "threshold": THRESHOLD, "meetings": meetings, "total": total}
    return json.dumps(doc, ensure_ascii=False, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", help="comma-separated names from bench/minutes (default: all)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server (vLLM); default: the embedded local model")
    parser.add_argument("--model", help="the model name on --base-url")
    parser.add_argument("--json", action="store_true", help="print JSON (figures and the written items)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (local model's log)")
    parser.add_argument("--fake-model", action="store_true", help="a fake model answering empty minutes (smoke)")
    args = parser.parse_args()
    if bool(args.base_url) != bool(args.model):
        parser.error("--base-url and --model go together")
    if args.fake_model and args.base_url:
        parser.error("--fake-model and --base-url exclude each other")
    names = [n.strip() for n in args.meetings.split(",") if n.strip()] if args.meetings else None
    effective = [*(["--meetings", ",".join(names)] if names else [])]
    effective += [*(["--base-url", args.base_url, "--model", args.model] if args.base_url else [])]
    effective += ["--json"] if args.json else []
    effective += ["--fake-model"] if args.fake_model else []
    command = _common.reproduce(__file__, effective)
    data_dir = Path(tempfile.mkdtemp(prefix="kura-bench-"))
    try:
        meetings = load_meetings(names)
        runs, model = asyncio.run(run(args, meetings, data_dir))
    except (BenchError, KuraError, LLMError, ValueError) as exc:
        print(f"minutes_quality: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if args.keep:
            print(f"kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(as_json(runs, model, command) if args.json else report(runs, model, command))


if __name__ == "__main__":
    main()
