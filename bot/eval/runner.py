"""Running a set: every case through the real pipeline (policy, FAQ, retrieval, model, sanitising,
audit: the code chat uses), as the case's asker in the case's channel, then scored.

Each question is an ``InboundMessage`` of platform ``eval``, so its audit record is marked as an
evaluation (and left out of rate limits, usage plans and FAQ mining). What was retrieved is read back
from that audit record, and checked against the readers' rights computed here from the directory and
the policy, independently of the SQL that filtered the search: a document a reader may not read is
a leak whatever the set says.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.audit.models import EVAL_PLATFORM
from bot.audit.store import AuditStore
from bot.core.pipeline import Pipeline
from bot.core.ports import Directory, PolicySource
from bot.core.types import Completed, InboundMessage, Reply, TextDelta
from bot.eval.cases import Case, EvalSet, Pattern, fact_found, normalise
from bot.eval.judge import Judge
from bot.eval.metrics import CaseOutcome, Total, passed, score_case, total
from policies import ChannelKind
from policies.engine import Reader, audience, reader_of
from policies.model import Member

__all__ = ["CaseResult", "ConfigResult", "run_cases"]

_log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    """One case under one configuration."""

    case: Case
    status: str
    answer: str
    citations: list[dict[str, str]]
    retrieved: list[str]
    scores: dict[str, float | None]
    leaks: list[str]
    latency_ms: int
    first_token_ms: int | None
    tokens: int | None
    audit_id: str | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        """See :func:`bot.eval.metrics.passed`."""
        return self.error is None and passed(self.case, self.scores, self.leaks)

    def as_json(self) -> dict[str, Any]:
        """The report's shape of a case."""
        c = self.case
        return {
            "id": c.id,
            "question": c.question,
            "as": c.asker,
            "channel": c.channel,
            "tags": list(c.tags),
            "expect": c.expect.model_dump(mode="json", exclude_defaults=True),
            "never": c.never.model_dump(mode="json", exclude_defaults=True),
            "status": self.status,
            "answer": self.answer,
            "citations": self.citations,
            "retrieved": self.retrieved,
            "scores": self.scores,
            "leaks": self.leaks,
            "latency_ms": self.latency_ms,
            "first_token_ms": self.first_token_ms,
            "tokens": self.tokens,
            "audit_id": self.audit_id,
            "error": self.error,
            "passed": self.passed,
        }


@dataclass
class ConfigResult:
    """A configuration's run of a set."""

    name: str
    overrides: dict[str, Any]
    settings: dict[str, Any]
    cases: list[CaseResult] = field(default_factory=list)

    def totals(self) -> dict[str, Total]:
        """Every metric over the cases."""
        return _totals(self.cases)

    def by_tag(self) -> dict[str, dict[str, float | None]]:
        """Every metric per tag but the p95 latency (a few cases per tag make it their slowest)."""
        tags = sorted({t for c in self.cases for t in c.case.tags})
        out: dict[str, dict[str, float | None]] = {}
        for tag in tags:
            cases = [c for c in self.cases if tag in c.case.tags]
            out[tag] = {m: t.value for m, t in _totals(cases).items() if m != "latency_p95_ms"}
            out[tag]["cases"] = float(len(cases))
        return out


def _totals(cases: list[CaseResult]) -> dict[str, Total]:
    answered = [c for c in cases if c.error is None]
    return total(
        [c.scores for c in answered],
        sum(len(c.leaks) for c in cases),
        [float(c.latency_ms) for c in answered],
        [float(c.first_token_ms) for c in answered if c.first_token_ms is not None],
        [float(c.tokens) for c in answered if c.tokens],
    )


async def run_cases(
    pipeline: Pipeline,
    audit: AuditStore,
    directory: Directory,
    policy: PolicySource,
    eval_set: EvalSet,
    config: ConfigResult,
    *,
    progress: Callable[[int, int, CaseResult], None] | None = None,
    judge: Judge | None = None,
) -> ConfigResult:
    """Ask every case of the set through ``pipeline``; the results are added to ``config``. With a
    judge, answered cases also get a ``faithfulness`` score."""
    for done, case in enumerate(eval_set.cases, 1):
        result = await _run_case(pipeline, audit, directory, policy, case, judge)
        config.cases.append(result)
        if progress is not None:
            progress(done, len(eval_set.cases), result)
    return config


async def _run_case(
    pipeline: Pipeline, audit: AuditStore, directory: Directory, policy: PolicySource, case: Case, judge: Judge | None
) -> CaseResult:
    message = InboundMessage(platform=EVAL_PLATFORM, user=case.asker, text=case.question, channel_id=case.channel)
    started = time.perf_counter()
    first: float | None = None
    reply: Reply | None = None
    async for event in pipeline.handle(message):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter()
        elif isinstance(event, Completed):
            reply = event.reply
    latency = int((time.perf_counter() - started) * 1000)
    if reply is None:  # the pipeline always completes; a broken one is reported, not raised
        return CaseResult(case, "error", "", [], [], {}, [], latency, None, None, None, "no reply")
    record = await audit.get(reply.audit_id) if reply.audit_id else None
    retrieved_rows: list[dict[str, Any]] = list(record.retrieved) if record is not None else []
    retrieved = list(dict.fromkeys(str(r.get("source", "")) for r in retrieved_rows))
    cited = [c.source for c in reply.citations]
    readers = await _readers(directory, policy, case)
    leaks = _leaks(case, reply, retrieved_rows, cited, readers)
    outcome = CaseOutcome(reply.status, reply.text, tuple(retrieved), tuple(cited), tuple(leaks))
    error = None if reply.status != "unavailable" else f"unavailable: {reply.text}"
    scores = score_case(case, outcome)
    if judge is not None and reply.status == "answered" and reply.faq_id is None:
        scores["faithfulness"] = await judge.score(case.question, reply.text, retrieved_rows)
    return CaseResult(
        case,
        reply.status,
        reply.text,
        [{"source": c.source, "title": c.title, "location": c.location} for c in reply.citations],
        retrieved,
        scores,
        leaks,
        latency,
        record.first_token_ms if record is not None else (int((first - started) * 1000) if first else None),
        record.tokens if record is not None else None,
        reply.audit_id,
        error,
    )


async def _readers(directory: Directory, policy: PolicySource, case: Case) -> list[Reader]:
    """Who reads the reply: the asker, and in a channel everyone the channel's audience holds."""
    current = policy.current()
    user = await directory.user(case.asker)
    asker = user.member() if user is not None else Member(case.asker, known=False)
    readers = [reader_of(current, asker)]
    if case.channel is not None:
        members = await directory.channel_members(case.channel)
        kind = await directory.channel_kind(case.channel) or ChannelKind()
        if members is not None:
            readers += audience(current, kind, members, case.channel)[0]
    return readers


def _leaks(
    case: Case, reply: Reply, retrieved: Sequence[dict[str, Any]], cited: Sequence[str], readers: Sequence[Reader]
) -> list[str]:
    """Every way this reply broke an access rule or the case's ``never``."""
    found: list[str] = []
    for row in retrieved:
        source = str(row.get("source", ""))
        acl = [str(p) for p in row.get("acl") or []]
        classification = int(row.get("classification", 0))
        for reader in readers:
            if not reader.may_read(acl, classification):
                found.append(f"used {source}, which {reader.name} may not read")
                break
    used = dict.fromkeys([*(str(r.get("source", "")) for r in retrieved), *cited])
    for forbidden in case.never.sources:
        for source in used:
            if source == forbidden or (forbidden.endswith("/") and source.startswith(forbidden)):
                found.append(f"used {source} (never: {forbidden})")
    answer = normalise(reply.text)
    for string in case.never.strings:
        if isinstance(string, Pattern):
            if fact_found(string, reply.text):
                found.append(f"answered the forbidden pattern {string.pattern!r}")
        elif normalise(string) in answer:
            found.append(f"answered the forbidden string {string!r}")
    return list(dict.fromkeys(found))
