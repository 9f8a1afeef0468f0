"""First token: how long an answer waits for its first word, before and after the context budget.

Questions of ``bench/retrieval_quality.yaml`` (answerable ones, spread over the set) go through the
real Pipeline as ``kura ask`` runs it: ``bot.wiring.open_runtime(with_model=True)`` on a fresh data
folder (embedded PostgreSQL, e5 in process, the default local model on llama.cpp, warm from
``KURA_MODEL_CACHE_DIR``), the sample knowledge ingested, each question asked as its asker in a DM.
Two passes over the same questions:

* ``before``: every retrieved passage is sent (no budget) and no "not found" floor, as before;
* ``after``: the floor (``KURA_RETRIEVAL_MIN_*``) and the model's ``prompt_budget`` (llm/catalog.py;
  ``KURA_LLM_PROMPT_BUDGET`` overrides).

Per pass: first-token p50/p95 (from the question to the first streamed text, as the pipeline
measures it), prompt tokens (counted by the model server's ``/extras/tokenize/count`` when it has
one, else ``knowledge.relevance.estimate_tokens``), passages sent, how often an expected document
is among the passages SENT, and the questions the floor turned into "not found". One warm-up
question (not counted) first loads the model and fills its prompt cache with the instructions.
Answers are capped at ``--max-tokens`` (16): only the first token is timed.

Run it under the heavy lock (it loads the chat model):

    flock /tmp/kura-heavy.lock python bench/first_token.py [--questions 10] [--max-tokens 16]
        [--fake-model] [--budget N]

``--fake-model``: ``tests.fakes.openai_server.FakeOpenAI`` answers (first piece after 50 ms), for
``make bench-smoke``; the figures then measure nothing but the plumbing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import _common  # first: sets the warning filter
import httpx
from retrieval_quality import Question, load_questions

from bot.core.pipeline import Pipeline, PipelineConfig
from bot.core.types import Completed, InboundMessage
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime, prompt_budget, relevance_floor, sample_knowledge
from knowledge.relevance import estimate_tokens
from llm import ChatMessage, ChatModel, TokenUsage

# The fake model server lives under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from tests.fakes.openai_server import FakeOpenAI

FAKE_FIRST_S = 0.05
_PREFIX = re.compile(r"Llama.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
_SOURCE = re.compile(r'<document number="\d+" title="[^"]*" source="([^"]*)">')


class Recording:
    """A chat model that keeps every prompt it is sent and passes it on."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.prompts: list[Sequence[ChatMessage]] = []

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None
    ) -> AsyncIterator[str | TokenUsage]:
        self.prompts.append(messages)
        return self.inner.stream(messages, max_tokens=max_tokens)


@dataclass(frozen=True)
class Sample:
    """One question in one pass."""

    first_s: float | None
    prompt_tokens: int
    passages: int
    expected_sent: bool
    status: str
    #: Prompt tokens the llama.cpp server took from its cache and read anew (None: not known).
    cached: int | None = None
    read: int | None = None


async def count_tokens(rt: Runtime, messages: Sequence[ChatMessage]) -> tuple[int, bool]:
    """The prompt's tokens by the server's tokenizer when it has one (llama-cpp-python), else estimated."""
    text = "\n".join(m.content for m in messages)
    if rt.model_url is not None:
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            async with httpx.AsyncClient(timeout=10) as client:
                url = rt.model_url.removesuffix("/v1") + "/extras/tokenize/count"
                response = await client.post(url, json={"input": text})
                response.raise_for_status()
                return int(response.json()["count"]), True
    return estimate_tokens(text), False


def server_log(rt: Runtime) -> Path:
    """The embedded model server's log (bot/model_clients.py), where llama-cpp-python reports prefix reuse."""
    return rt.settings.data_dir / "logs" / "local-model.log"


def _log_size(rt: Runtime) -> int:
    try:
        return server_log(rt).stat().st_size
    except OSError:
        return 0


def prefix_reuse(rt: Runtime, offset: int) -> tuple[int, int] | None:
    """(cached, read) prompt tokens of the last request logged after ``offset``; None when none was
    logged (no prefix reused, or not the embedded server)."""
    try:
        with server_log(rt).open("rb") as log:
            log.seek(offset)
            found = _PREFIX.findall(log.read().decode(errors="replace"))
    except OSError:
        return None
    return (int(found[-1][0]), int(found[-1][1])) if found else None


async def ask(rt: Runtime, pipeline: Pipeline, chat: Recording, q: Question) -> tuple[Sample, bool]:
    """Ask one question; (its sample, whether the server counted the tokens)."""
    before = len(chat.prompts)
    offset = _log_size(rt)
    started = time.perf_counter()
    first: float | None = None
    status = "?"
    async for event in pipeline.handle(InboundMessage("bench", q.asker, q.text)):
        if first is None and type(event).__name__ == "TextDelta":
            first = time.perf_counter() - started
        if isinstance(event, Completed):
            status = event.reply.status
    if len(chat.prompts) == before:  # not found: no prompt went out
        return Sample(None, 0, 0, False, status), False
    prompt = chat.prompts[-1]
    sources = _SOURCE.findall(prompt[-1].content)
    tokens, counted = await count_tokens(rt, prompt)
    reuse = prefix_reuse(rt, offset)
    cached, read = reuse if reuse is not None else (None, None)
    return Sample(first, tokens, len(sources), bool(set(sources) & q.expected), status, cached, read), counted


def pick(questions: Sequence[Question], n: int) -> list[Question]:
    """``n`` answerable questions spread evenly over the set."""
    answerable = [q for q in questions if q.answerable]
    step = max(1, len(answerable) // max(n, 1))
    return answerable[::step][:n]


def _mean(values: Sequence[int | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.mean(known):.0f} ({len(known)})" if known else "-"


def summary(name: str, budget: int | None, samples: Sequence[Sample]) -> list[object]:
    """One table row."""
    sent = [s for s in samples if s.first_s is not None]
    firsts = [s.first_s for s in sent if s.first_s is not None]
    tokens = [s.prompt_tokens for s in sent]
    return [
        name,
        "-" if budget is None else budget,
        len(samples),
        f"{_common.percentile(firsts, 50):.2f}" if firsts else "-",
        f"{_common.percentile(firsts, 95):.2f}" if firsts else "-",
        f"{statistics.mean(tokens):.0f}" if tokens else "-",
        _mean([s.cached for s in sent]),
        _mean([s.read for s in sent]),
        f"{statistics.mean(s.passages for s in sent):.1f}" if sent else "-",
        f"{sum(s.expected_sent for s in samples)}/{len(samples)}",
        sum(s.status == "no_sources" for s in samples),
    ]


async def measure(args: argparse.Namespace) -> None:
    questions = pick(load_questions(None), args.questions)
    folder = Path(tempfile.mkdtemp(prefix="kura-bench-first-token-"))
    try:
        async with contextlib.AsyncExitStack() as stack:
            settings = KuraSettings(data_dir=folder)
            updates: dict[str, object] = {"max_tokens": args.max_tokens}
            if args.fake_model:
                fake = await stack.enter_async_context(FakeOpenAI("はい [1]", first_token_s=FAKE_FIRST_S))
                updates["base_url"] = fake.url
            if args.budget is not None:
                updates["prompt_budget"] = args.budget
            settings.llm = settings.llm.model_copy(update=updates)
            budget = prompt_budget(settings)
            if args.fake_model and budget is None:  # a served model without a budget: use the default's
                from llm.catalog import CATALOG

                budget = CATALOG[KuraSettings().llm.local_model].prompt_budget
            rt = await stack.enter_async_context(open_runtime(settings, with_model=True))
            assert rt.chat is not None
            assert rt.retriever is not None
            started = time.perf_counter()
            await rt.ingestor.ingest(sample_knowledge())
            ingest_s = time.perf_counter() - started
            chat = Recording(rt.chat)
            base = PipelineConfig(top_k=settings.retrieval.top_k, max_tokens=args.max_tokens)
            passes = {
                "before": base,
                "after": replace(base, floor=relevance_floor(settings), prompt_budget=budget),
            }
            results: dict[str, list[Sample]] = {}
            counted = False
            for name, config in passes.items():
                pipeline = Pipeline(rt.directory, rt.policy, rt.retriever, chat, rt.audit, config)
                await ask(rt, pipeline, chat, questions[0])  # warm-up: model loaded, instructions cached
                results[name] = []
                for q in questions:
                    sample, by_server = await ask(rt, pipeline, chat, q)
                    counted = counted or by_server
                    results[name].append(sample)
            model = rt.chat.name
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    command = _common.reproduce(
        __file__,
        [
            "--questions",
            str(args.questions),
            "--max-tokens",
            str(args.max_tokens),
            *(["--fake-model"] if args.fake_model else []),
            *(["--budget", str(args.budget)] if args.budget is not None else []),
        ],
    )
    print(f"Kura first token  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    served = f"FakeOpenAI (first piece after {FAKE_FIRST_S} s)" if args.fake_model else "the embedded llama.cpp server"
    print(f"model:   {model} on {served}; answers capped at {args.max_tokens} tokens")
    print(
        f"data:    the sample knowledge base (ingested in {ingest_s:.1f} s); {len(questions)} answerable "
        "questions of bench/retrieval_quality.yaml, each asked as its asker in a DM, after one warm-up"
    )
    print(f"command: {command}")
    print()
    rows = [summary(name, passes[name].prompt_budget, results[name]) for name in passes]
    headers = ["pass", "budget", "questions", "first p50 s", "first p95 s", "prompt tok", "cached tok", "read tok"]
    headers += ["docs sent", "expected sent"]
    print(_common.table([*headers, "not found"], rows))
    how = "counted by the server's tokenizer" if counted else "estimated (knowledge.relevance.estimate_tokens)"
    print(f"prompt tok: mean per answered question, system + question + passages, {how}")
    print(
        "cached / read tok: prompt tokens the llama.cpp server reused from its previous prompt and read anew, "
        "from its log ('prefix-match hit'), mean (questions with the line); '-': not the embedded server"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--questions", type=int, default=10, help="questions per pass (default 10)")
    parser.add_argument("--max-tokens", type=int, default=16, help="tokens each answer may generate (default 16)")
    parser.add_argument("--fake-model", action="store_true", help="answer with the fake model server (smoke)")
    parser.add_argument("--budget", type=int, default=None, help="the 'after' pass's budget (default: the model's)")
    args = parser.parse_args()
    if args.questions < 1 or args.max_tokens < 1:
        parser.error("--questions and --max-tokens must be at least 1")
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
