"""What minutes are made from, read into lines, with the access of the source.

A source's access decides two things: whether the requester may have minutes of it at all, and
where the minutes may be posted (the audience rule: every reader of the destination may read the
source). A transcript file has its folder's ``.kura-access.yaml`` or its front matter, like any
document, and is private to the requester without them. A conversation is read by its members (a
public channel also by the workspace audience the policy names); an online meeting by its attendees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import frontmatter
import yaml

from bot.core.intent import asks_for_minutes
from bot.core.ports import ChannelHistory, Directory
from bot.core.types import HistoryMessage, MeetingTranscript, SourceRef
from bot.errors import InputError
from knowledge.access import AccessError, AccessInfo, folder_access, merge_access
from knowledge.parsing import ParseError
from knowledge.safe_yaml import BoundedYAMLHandler, YAMLLimit
from knowledge.transcripts import parse_transcript
from llm.minutes import Line
from policies import ChannelKind, Policy

__all__ = [
    "SourceKind",
    "Transcript",
    "attached_source",
    "conversation_source",
    "file_source",
    "meeting_source",
    "parse_when",
]

#: How ``--json`` names a source's kind.
SourceKind = Literal["file", "slack_thread", "slack_channel", "teams_thread", "teams_meeting"]


@dataclass(frozen=True)
class Transcript:
    """A source read: its lines, what it is (``kind``, ``id``), a title, and its access."""

    kind: SourceKind
    id: str
    title: str
    lines: tuple[Line, ...]
    access: SourceRef


def parse_when(text: str) -> datetime:
    """An ISO date or time (``2026-11-20``, ``2026-11-20T09:00+09:00``); UTC when it has no offset.

    Raises:
        InputError: not an ISO date or time.
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"not an ISO date or time: {text!r} (e.g. 2026-11-20)") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _front_matter(raw: bytes, name: str) -> dict[str, object]:
    if not name.lower().endswith((".md", ".markdown")):
        return {}
    try:
        post = frontmatter.loads(raw.decode("utf-8-sig"), handler=BoundedYAMLHandler())
    except (UnicodeDecodeError, YAMLLimit, yaml.YAMLError, ValueError) as exc:
        raise InputError(f"{name}: unreadable front matter ({type(exc).__name__})") from exc
    return dict(post.metadata) if isinstance(post.metadata, dict) else {}


def _file_access(path: Path, raw: bytes, requester: str, roots: Sequence[Path]) -> AccessInfo:
    """The file's access: the nearest ``.kura-access.yaml`` (up to the knowledge source it is in, if
    any; else only its own folder's), then front matter; private to the requester without either."""
    root = next((r for r in roots if r == path.parent or r in path.parents), path.parent)
    private = AccessInfo((f"user:{requester.lower()}",), 0)
    try:
        folder = folder_access(path.parent, root, None)
        return merge_access(folder or private, _front_matter(raw, path.name), str(path))
    except AccessError as exc:
        raise InputError(str(exc)) from exc


async def file_source(path: Path, requester: str, *, max_bytes: int, roots: Sequence[Path] = ()) -> Transcript:
    """A transcript file (VTT, SRT, text, Markdown, DOCX) read for ``requester`` (an email).

    Raises:
        InputError: unreadable, too large, malformed, or with broken access metadata (one line).
    """
    try:
        resolved = await asyncio.to_thread(path.resolve, strict=True)
        size = (await asyncio.to_thread(resolved.stat)).st_size
        if size > max_bytes:
            raise InputError(f"{path}: {size} bytes is more than the {max_bytes} a transcript may have")
        raw = await asyncio.to_thread(resolved.read_bytes)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    access = _file_access(resolved, raw, requester, [r.resolve() for r in roots])
    lines = _parsed(resolved.name, raw)
    ref = SourceRef(str(resolved), resolved.stem, access.allow, access.classification)
    return Transcript("file", str(resolved), resolved.stem, lines, ref)


def attached_source(name: str, raw: bytes, requester: str, platform: str, file_id: str) -> Transcript:
    """A transcript attached to a chat message: the person who shared it may read it; nobody else
    is known to (the platform's own sharing is not Kura's to judge), so it is private to them."""
    lines = _parsed(name, raw)
    ref = SourceRef(f"{platform}:file:{file_id}", name, (f"user:{requester.lower()}",), 0)
    return Transcript("file", f"{platform}:file:{file_id}", Path(name).stem, lines, ref)


def _parsed(name: str, raw: bytes) -> tuple[Line, ...]:
    try:
        return tuple((u.ref, u.speaker, u.text) for u in parse_transcript(name, raw))
    except ParseError as exc:
        raise InputError(f"{name}: {exc}") from exc


def _readers_acl(policy: Policy, kind: ChannelKind, emails: Sequence[str]) -> tuple[str, ...]:
    """Who reads a conversation, as an access list: its members, and for a public channel the
    principals the policy's workspace audience names (nothing for the default ``public``: the
    conversation is then as private as its member list, which fails closed)."""
    acl = {f"user:{e.lower()}" for e in emails}
    if kind.access == "public":
        acl |= {p for p in policy.channels.workspace_audience if p != "public"}
    return tuple(sorted(acl))


def _lines_of(messages: Sequence[HistoryMessage]) -> tuple[Line, ...]:
    """A conversation as lines: people's messages (Kura's own, other bots' and requests for these
    minutes left out), with the message reference and the speaker's name."""
    return tuple(
        (m.message_id, m.speaker or m.user or "", " ".join(m.text.split()))
        for m in messages
        if m.author == "person" and m.text.strip() and not asks_for_minutes(m.text)
    )


async def conversation_source(
    platform: str,
    channels: ChannelHistory,
    directory: Directory,
    policy: Policy,
    conversation: str,
    *,
    thread: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Transcript:
    """A thread, or a channel's messages in [since, until), with the conversation's readers as its access.

    Raises:
        InputError: the conversation is unknown, or has no messages in the period.
        UpstreamError: the platform refused or could not be reached.
    """
    kind = await directory.channel_kind(conversation)
    members = await directory.channel_members(conversation) if kind is not None else None
    if kind is None or members is None:
        raise InputError(f"{platform} conversation {conversation} is unknown (is Kura a member?)")
    if thread is not None:
        messages = await channels.whole_thread(conversation, thread)
        kind_name: SourceKind = "slack_thread" if platform == "slack" else "teams_thread"
        ident, title = f"{conversation}/{thread}", f"{conversation} thread {thread}"
    else:
        if since is None:
            raise InputError("a channel's minutes need a start (since)")
        messages = await channels.channel(conversation, since, until)
        kind_name = "slack_channel"
        span = f"{since:%Y-%m-%d}" + (f"..{until:%Y-%m-%d}" if until else "..")
        ident, title = conversation, f"{conversation} {span}"
    lines = _lines_of(messages)
    if not lines:
        raise InputError(f"nothing was said in {ident} in that period")
    acl = _readers_acl(policy, kind, [m.user_id for m in members if m.known])
    return Transcript(kind_name, ident, title, lines, SourceRef(f"{platform}:{ident}", title, acl, 0))


def meeting_source(meeting: MeetingTranscript) -> Transcript:
    """An online meeting's transcript, read by its attendees.

    Raises:
        InputError: the transcript is malformed.
    """
    lines = _parsed(f"transcript{meeting.suffix}", meeting.content)
    acl = tuple(sorted({f"user:{a.lower()}" for a in meeting.attendees}))
    ref = SourceRef(f"teams:meeting:{meeting.meeting}", meeting.title or meeting.meeting, acl, 0)
    return Transcript("teams_meeting", meeting.meeting, meeting.title or meeting.meeting, lines, ref)
