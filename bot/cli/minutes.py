"""``kura minutes``: meeting minutes from a transcript file, a Slack thread or channel period, or a
Teams meeting, for one requester (``--as``), printed or posted (``--post-to``).

Exit codes as for ``kura ask``: 0 written, 3 refused (policy, or the requester may not read the
source), 2 an unreadable or malformed source (one line on stderr), 4 unavailable (model, platform).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bot.cli.chat import safe_json
from bot.cli.platforms import attached
from bot.errors import InputError, Language
from bot.jobs.targets import parse_target
from bot.minutes.render import minutes_json
from bot.minutes.service import MinutesOutcome, MinutesRequest, ReadSource
from bot.minutes.sources import Transcript, conversation_source, file_source, meeting_source, parse_when
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime

__all__ = ["minutes", "outcome_json", "slack_thread_of"]

#: A Slack message link: .../archives/C123/p1700000000123456 (the ts without its dot).
_PERMALINK = re.compile(r"/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})")
_PLAIN_THREAD = re.compile(r"^([CGD][A-Z0-9]+)[/:](\d{10}\.\d{6})$")
_EXIT = {"done": 0, "refused": 3, "bad_input": 2, "unavailable": 4}


def slack_thread_of(text: str) -> tuple[str, str]:
    """(channel, thread ts) from a Slack message link or ``C123/1700000000.123456``."""
    found = _PERMALINK.search(text)
    if found:
        return found.group(1), f"{found.group(2)}.{found.group(3)}"
    plain = _PLAIN_THREAD.match(text.strip())
    if plain:
        return plain.group(1), plain.group(2)
    raise InputError(f"not a Slack thread link: {text!r} (copy the link of the thread's first message)")


def outcome_json(outcome: MinutesOutcome) -> dict[str, object]:
    """The ``--json`` shape: the minutes fields, the source, the decision and the audit record."""
    empty: dict[str, object] = {
        "title": "",
        "language": outcome.language,
        "summary": [],
        "decisions": [],
        "action_items": [],
        "open_questions": [],
        "source": {"kind": outcome.source.kind, "id": outcome.source.id} if outcome.source else None,
    }
    body = minutes_json(outcome.minutes, outcome.source) if outcome.minutes and outcome.source else empty
    decision = {"allowed": outcome.decision.allowed, "reason": outcome.decision.reason_code}
    posted = outcome.posted
    delivery = (
        {"posted": posted.posted, "to": str(posted.destination), "reason": posted.reason_code, "note": outcome.note}
        if posted
        else None
    )
    return body | {"status": outcome.status, "decision": decision, "audit_id": outcome.audit_id, "delivery": delivery}


def _reader(rt: Runtime, settings: KuraSettings, args: argparse.Namespace) -> tuple[str, ReadSource]:
    """The platform the source is on, and how to read it."""
    given = [bool(args.path), bool(args.slack_channel), bool(args.slack_thread), bool(args.teams_meeting)]
    if sum(given) != 1:
        raise InputError("give exactly one source: PATH, --slack-channel, --slack-thread or --teams-meeting")
    if args.path:
        path, limit = Path(args.path), settings.minutes.max_file_bytes

        async def read_file(email: str) -> Transcript:
            roots = [Path(r.root) for r in await rt.store.sources()]
            return await file_source(path, email, max_bytes=limit, roots=roots)

        return "cli", read_file
    if args.teams_meeting:

        async def read_meeting(email: str) -> Transcript:
            parts = rt.outbox.parts("teams")
            if parts is None or parts.meetings is None:
                raise InputError("Teams meetings need Teams and KURA_GRAPH_MEETINGS=true configured")
            found = await parts.meetings.transcript(args.teams_meeting)
            if found is None:
                raise InputError(f"meeting {args.teams_meeting} has no transcript")
            return meeting_source(found)

        return "teams", read_meeting
    if args.slack_thread:
        channel, thread = slack_thread_of(args.slack_thread)
        since = until = None
    else:
        if not args.since:
            raise InputError("--slack-channel needs --since")
        channel, thread = args.slack_channel, None
        since, until = parse_when(args.since), parse_when(args.until) if args.until else None

    async def read_slack(_email: str) -> Transcript:
        parts = rt.outbox.parts("slack")
        if parts is None or parts.channels is None:
            raise InputError("Slack is not configured (KURA_SLACK_BOT_TOKEN)")
        policy = rt.policy.current()
        return await conversation_source(
            "slack", parts.channels, parts.directory, policy, channel, thread=thread, since=since, until=until
        )

    return "slack", read_slack


async def minutes(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Write minutes for ``--as``; print them (or ``--json``), and post them with ``--post-to``."""
    language: Language | None = args.language
    target = parse_target(args.post_to) if args.post_to else None
    async with open_runtime(settings, with_model=True) as rt:
        platform, read = _reader(rt, settings, args)
        needed = {platform} | ({target.platform} if target else set())
        async with attached(rt, settings, needed):
            user = await rt.directory.user(args.user)
            request = MinutesRequest(
                "cli",
                args.user,
                user,
                language,
                deliver_to=target.destination() if target else None,
                actor=f"cli:{args.user}",
            )
            outcome = await rt.minutes.run(request, read, post=target is not None)
    if args.json:
        print(safe_json(outcome_json(outcome)))
    elif outcome.status == "done":
        print(outcome.text)
        if outcome.note:
            print(outcome.note, file=sys.stderr)
    else:
        print(f"kura minutes: {outcome.status}: {outcome.decision.reason}", file=sys.stderr)
    return _EXIT.get(outcome.status, 4)
