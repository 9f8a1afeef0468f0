"""Job kinds: what a schedule can run. Each kind names its parameters, checks them, says whether it
needs a target (where it reports) or the chat model, and runs with a :class:`JobContext`, returning
a one-line outcome. A new kind is one ``register(JobKind(...))`` line next to its run function.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.messages import admin_text
from bot.core.types import Destination, PostResult
from bot.errors import InputError, Language, UpstreamError
from bot.jobs.checkpoint_sink import write_checkpoint
from bot.jobs.retention import run_retention
from bot.jobs.store import Schedule
from bot.jobs.targets import parse_target

if TYPE_CHECKING:
    from bot.core.outbound import Outbox
    from bot.settings import KuraSettings
    from bot.wiring import Runtime

__all__ = ["KINDS", "JobContext", "JobKind", "get_kind", "register"]


@dataclass(frozen=True)
class JobContext:
    """What a running job may use: the runtime's parts, its schedule, the fire time, who runs it
    (``scheduler:<name>``, or the operator or admin of a run-now) and the command for audit
    records; ``outbound`` posts to the schedule's target on the platforms the adapters attached."""

    runtime: Runtime
    schedule: Schedule
    fire_time: datetime
    actor: str
    command: str
    platform: str = "scheduler"
    outbound: Outbox | None = None


JobRun = Callable[[JobContext], Awaitable[str]]
ParamCheck = Callable[[Mapping[str, str]], dict[str, str]]
SettingsCheck = Callable[["KuraSettings", Mapping[str, str]], None]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its name, a one-line summary, its parameters and what it needs, and its run."""

    name: str
    summary: str
    run: JobRun
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    needs_target: bool = False
    #: Takes a target without needing one (e.g. ``sync`` reports its counts there when given).
    may_target: bool = False
    needs_model: bool = False
    #: Posts with its owner's rights even without a target (e.g. minutes to a meeting's own chat).
    needs_owner: bool = False
    #: Further checks of the parameters (their presence is checked already); returns them normalised
    #: or raises InputError with one line.
    check: ParamCheck | None = None
    #: Checks that need the settings (e.g. that a named evaluation set exists), made when a schedule is
    #: added; InputError with one line.
    check_settings: SettingsCheck | None = None

    def validate(self, params: Mapping[str, str]) -> dict[str, str]:
        """The parameters, checked and normalised; InputError naming the first problem."""
        known = (*self.required, *self.optional)
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        for key in params:
            if key not in known:
                raise InputError(f"{self.name} has no parameter {key!r} ({takes})")
        for key in self.required:
            if not params.get(key, "").strip():
                raise InputError(f"{self.name} needs the parameter {key} (--param {key}=…)")
        return self.check(params) if self.check is not None else dict(params)


#: The kinds by name.
KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Make a kind available to schedules (a later registration of the same name replaces it)."""
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    """The kind called ``name``; InputError listing the kinds when there is none."""
    kind = KINDS.get(name)
    if kind is None:
        raise InputError(f"unknown job kind {name!r} ({', '.join(sorted(KINDS))})")
    return kind


async def _retention(ctx: JobContext) -> str:
    report = await run_retention(ctx.runtime, platform=ctx.platform, actor=ctx.actor, command=ctx.command)
    parts = [f"text purged from {report.text.purged} records ({report.text.held} held)"]
    if report.records is not None:
        parts.append(f"{report.records.pruned} records removed")
    parts.append(f"{report.handled_events} chat event ids forgotten")
    return f"retention from {report.plan.source}: " + ", ".join(parts)


async def _checkpoint(ctx: JobContext) -> str:
    return await write_checkpoint(ctx.runtime)


def _sync_params(params: Mapping[str, str]) -> dict[str, str]:
    source, raw = params.get("source", "").strip(), params.get("path", "").strip()
    if bool(source) == bool(raw):
        raise InputError("sync needs the parameter path or source, one of them (--param path=FOLDER | source=NAME)")
    if source:
        return {"source": source}
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InputError(f"sync: path {params['path']!r} must be an absolute folder path")
    return {"path": str(path)}


async def _sync(ctx: JobContext) -> str:
    """Sync a registered source (a folder given by path is registered first), through the same
    service as ``kura sources sync``: FAQ entries whose documents changed go back to review."""
    params, sources = ctx.schedule.params, ctx.runtime.sources
    source = params.get("source")
    run = await (sources.sync(source) if source else sources.sync_folder(Path(params["path"]), by=ctx.schedule.owner))
    [result] = run.sources
    if result.report is None:
        raise InputError(result.error or f"{result.name}: not synced")
    report = result.report
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items() if v) or "nothing"
    outcome = f"{report.root}: {counts} ({report.seconds:.1f}s); {len(run.stale)} FAQ entries back to review"
    if ctx.schedule.target:
        # Counts only: naming files would show readers of the target documents they may not read.
        # In the owner's language (their directory entry), like any reply to them.
        language = await ctx.runtime.directory.locale(_owner(ctx)) or "en"
        report_text = admin_text("sync_report", language, root=report.root, counts=counts, stale=len(run.stale))
        return f"{outcome}; " + await _post(ctx, report_text, action="admin")
    return outcome


def _where(ctx: JobContext) -> tuple[Outbox, Destination]:
    if not ctx.schedule.target:
        raise InputError(f"{ctx.schedule.kind} needs a target")
    if ctx.outbound is None:
        raise UpstreamError("no chat platform is attached to post to (run it from `kura serve`)")
    return ctx.outbound, parse_target(ctx.schedule.target).destination()


def _owner(ctx: JobContext) -> str:
    if not ctx.schedule.owner:
        raise InputError(f"schedule {ctx.schedule.name} has no owner whose rights a post could use (--as EMAIL)")
    return ctx.schedule.owner


def _posted(result: PostResult) -> str:
    if result.posted:
        return f"posted to {result.destination} (audit {result.audit_id})"
    if result.reason_code in ("upstream", "unavailable"):
        raise UpstreamError(f"not posted to {result.destination}: {result.reason_code}")  # tried again
    return f"not posted to {result.destination}: {result.reason_code} (audit {result.audit_id})"


async def _post(ctx: JobContext, text: str, *, action: str) -> str:
    (outbox, where), owner = _where(ctx), _owner(ctx)
    result = await outbox.post(where, text, owner=owner, actor=ctx.actor, action=action, subject=ctx.command)
    return _posted(result)


async def _ask(ctx: JobContext) -> str:
    (outbox, where), owner = _where(ctx), _owner(ctx)
    result = await outbox.ask(ctx.schedule.params["question"], to=where, owner=owner, actor=ctx.actor)
    return _posted(result)


_PERIOD = re.compile(r"^(\d{1,4})([mhdw])$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _minutes_params(params: Mapping[str, str]) -> dict[str, str]:
    source = params["source"].strip()
    platform, _, ident = source.partition(":")
    if platform not in ("slack", "teams-meeting") or not ident:
        raise InputError(f"minutes: source {source!r} must be slack:CHANNEL or teams-meeting:ID")
    period = params.get("period", "7d").strip()
    if not _PERIOD.match(period):
        raise InputError(f"minutes: period {period!r} must be like 30m, 24h, 7d or 2w")
    language = params.get("language", "").strip()
    if language not in ("", "ja", "en"):
        raise InputError(f"minutes: language {language!r} must be ja or en")
    return {"source": source, "period": period} | ({"language": language} if language else {})


async def _minutes(ctx: JobContext) -> str:
    """Minutes of a Slack channel's last ``period`` (to the target), or of a Teams meeting's
    transcript made in the last ``period`` (to the target, else the meeting chat)."""
    from bot.minutes.service import MinutesRequest
    from bot.minutes.sources import Transcript, conversation_source, meeting_source

    params, owner, rt = ctx.schedule.params, _owner(ctx), ctx.runtime
    if ctx.outbound is None:
        raise UpstreamError("no chat platform is attached (run it from `kura serve`)")
    outbox = ctx.outbound
    platform, _, ident = params["source"].partition(":")
    amount, unit = _PERIOD.match(params["period"]).groups()  # type: ignore[union-attr]  # checked when added
    since = ctx.fire_time - timedelta(**{_UNIT[unit]: int(amount)})
    to = parse_target(ctx.schedule.target).destination() if ctx.schedule.target else None
    parts = outbox.parts("slack" if platform == "slack" else "teams")
    if platform == "slack":
        if parts is None or parts.channels is None or to is None:
            raise InputError("minutes of a Slack channel need Slack attached and a target")
        channels, directory, policy = parts.channels, parts.directory, rt.policy.current()

        async def read(_email: str) -> Transcript:
            return await conversation_source(
                "slack", channels, directory, policy, ident, since=since, until=ctx.fire_time
            )
    else:
        if parts is None or parts.meetings is None:
            raise InputError("minutes of a Teams meeting need Teams and KURA_GRAPH_MEETINGS=true")
        found = await parts.meetings.transcript(ident, after=since.isoformat())
        if found is None:
            return f"no new transcript of meeting {ident} since {since:%Y-%m-%d %H:%M}"
        to = to or (Destination("teams", found.chat) if found.chat else None)
        if to is None:
            raise InputError(f"meeting {ident} has no chat to post to: give the schedule a target")

        async def read(_email: str) -> Transcript:
            return meeting_source(found)

    user = await rt.directory.user(owner)
    language: Language | None = "ja" if params.get("language") == "ja" else "en" if params.get("language") else None
    request = MinutesRequest("scheduler", ctx.actor, user, language, deliver_to=to, actor=ctx.actor)
    outcome = await rt.minutes.run(request, read, post=True)
    if outcome.status == "unavailable":
        raise UpstreamError(f"minutes not written: {outcome.decision.reason}")  # tried again
    if outcome.status != "done" or outcome.posted is None:
        return f"no minutes: {outcome.decision.reason_code}: {outcome.decision.reason} (audit {outcome.audit_id})"
    note = f" ({outcome.note})" if outcome.note else ""
    return _posted(outcome.posted) + note


register(JobKind("retention", "apply the retention policy (as `kura audit purge`)", _retention))
register(JobKind("checkpoint", "sign the audit chain's head and write it to KURA_AUDIT_CHECKPOINT_SINK", _checkpoint))
register(
    JobKind(
        "sync",
        "sync a source (source=NAME, or path=FOLDER); counts and FAQ entries back to review to the target, if any",
        _sync,
        optional=("source", "path"),
        may_target=True,
        check=_sync_params,
    )
)
register(
    JobKind(
        "minutes",
        "minutes of a Slack channel's last period or a Teams meeting's new transcript, posted to the target",
        _minutes,
        required=("source",),
        optional=("period", "language"),
        may_target=True,
        needs_model=True,
        needs_owner=True,
        check=_minutes_params,
    )
)
register(
    JobKind(
        "ask",
        "ask a question as the owner and post the answer to the target, for its readers",
        _ask,
        required=("question",),
        needs_target=True,
        needs_model=True,
    )
)


def _faq_params(params: Mapping[str, str]) -> dict[str, str]:
    notify = params.get("notify", "true").strip().lower()
    if notify not in ("true", "false"):
        raise InputError(f"faq_refresh: notify {notify!r} must be true or false")
    return {"notify": notify}


async def _faq_refresh(ctx: JobContext) -> str:
    """Sync every source, then the FAQ loop; the content-gaps digest goes to the target, if any."""
    from bot.faq.render import gaps_digest

    rt = ctx.runtime
    synced = await rt.sources.sync(None, mark_stale=False)  # staleness is refresh's own step
    report = await rt.faq.refresh(
        notify=ctx.schedule.params.get("notify", "true") == "true", actor=ctx.actor, platform=ctx.platform
    )
    asked = sum(1 for n in report.notified if n.get("posted"))
    outcome = (
        f"{len(synced)} source(s) synced; {report.mined.get('questions')} questions, "
        f"{len(report.drafted)} drafted, {len(report.stale)} back to review, {len(report.gaps)} gap(s), "
        f"{asked} review request(s)"
    )
    if ctx.schedule.target:
        language = await rt.directory.locale(_owner(ctx)) or "en"
        return f"{outcome}; " + await _post(ctx, gaps_digest(report.gaps, language), action="admin")
    return outcome


register(
    JobKind(
        "faq_refresh",
        "sync the sources, mine frequent questions, draft, mark stale, ask reviewers (gaps digest to the target)",
        _faq_refresh,
        optional=("notify",),
        may_target=True,
        needs_model=True,
        check=_faq_params,
    )
)


_SET_NAME = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def _eval_params(params: Mapping[str, str]) -> dict[str, str]:
    name, tag = params["set"].strip(), params.get("tag", "").strip()
    if not _SET_NAME.match(name) or name.endswith((".yaml", ".yml")):
        raise InputError(f"eval: set {name!r} must be a set's name (e.g. sample), not a path")
    return {"set": name} | ({"tag": tag} if tag else {})


def _eval_set_exists(settings: KuraSettings, params: Mapping[str, str]) -> None:
    from bot.eval.sets import resolve_set

    resolve_set(settings, params["set"], names_only=True)


async def _eval(ctx: JobContext) -> str:
    """Run a named set (stored, report written); its summary goes to the target only when a metric
    dropped against the set's previous run, or it leaked, or it failed."""
    from bot.eval.loop import load_named, run_named, run_text

    rt, params = ctx.runtime, ctx.schedule.params
    eval_set = load_named(rt.settings, params["set"], params.get("tag"))
    run = await run_named(rt, eval_set, started_by=ctx.actor)
    meta = run.result["run"]
    outcome = f"eval {meta['set']} {meta['id']}: {'passed' if run.result['passed'] else 'FAILED'}"
    if run.dropped:
        outcome += ", dropped: " + ", ".join(d.metric for d in run.dropped)
    if not run.alarming:
        return f"{outcome}; no drop"
    if not ctx.schedule.target:
        return f"{outcome}; no target to post to"
    language = await rt.directory.locale(_owner(ctx)) or "en"
    try:
        return f"{outcome}; " + await _post(ctx, run_text(run, language), action="admin")
    except UpstreamError as exc:
        # Not raised for a retry: that would run the whole set again (and compare with this run).
        return f"{outcome}; NOT POSTED: {exc}"


register(
    JobKind(
        "eval",
        "run a named evaluation set (set=NAME, tag=…); its summary to the target when a metric dropped or it leaked",
        _eval,
        required=("set",),
        optional=("tag",),
        may_target=True,
        needs_model=True,
        check=_eval_params,
        check_settings=_eval_set_exists,
    )
)
