"""What the pipeline needs from the outside, as protocols named by capability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.audit.store import AuditEntry
from bot.core.types import Destination, FaqHit, FileRef, HistoryMessage, InboundMessage, MeetingTranscript, Reply
from bot.errors import Language
from bot.identity import DirectoryUser
from policies import ChannelKind, Member, Policy
from policies.model import Usage

__all__ = [
    "AuditLog",
    "ChannelHistory",
    "Directory",
    "FaqAnswers",
    "FaqReview",
    "FeedbackLog",
    "Files",
    "History",
    "Ledger",
    "Meetings",
    "PolicySource",
    "ReplyStream",
    "Signals",
    "Transport",
]


class Directory(Protocol):
    """Who people are and who is in which channel."""

    async def user(self, ref: str) -> DirectoryUser | None:
        """The user an adapter's reference (an email) names, or None if unknown."""
        ...

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Everyone who sees replies in the channel; None if the channel is unknown."""
        ...

    async def channel_kind(self, channel_id: str) -> ChannelKind | None:
        """Who else reads the channel: the whole workspace (public), another organisation
        (shared), or its members only (private, DM); None if the channel is unknown."""
        ...

    async def locale(self, ref: str) -> Language | None:
        """The language the person reads (their platform setting), or None if unknown."""
        ...


class PolicySource(Protocol):
    """The policy in force now (reloadable)."""

    def current(self) -> Policy:
        """The policy to decide with."""
        ...


class Signals(Protocol):
    """Facts about a request that need I/O: topic similarity, recent usage."""

    async def topic_scores(self, policy: Policy, text: str) -> dict[str, float]:
        """Topic name -> similarity of ``text`` to the topic's example questions."""
        ...

    async def usage(self, user_email: str | None) -> Usage:
        """What the user has used recently."""
        ...


class AuditLog(Protocol):
    """Where every request leaves its record."""

    async def append(self, entry: AuditEntry) -> str:
        """Append one record; return its id."""
        ...


class Ledger(Protocol):
    """Which chat deliveries were already taken, shared by every replica."""

    async def claim(self, platform: str, event_id: str) -> bool:
        """True exactly once per (platform, event id), whichever replica asks first."""
        ...


class FeedbackLog(Protocol):
    """Where 👍/👎 on answers are kept."""

    async def record_feedback(self, audit_id: str, user_ref: str, value: int) -> bool:
        """Store +1/-1 against an answer's audit record; False if there is no such record."""
        ...


class History(Protocol):
    """Earlier messages of a thread on one platform."""

    async def thread(self, conversation: str, thread: str, before: str | None) -> Sequence[HistoryMessage]:
        """The thread's messages, oldest first, up to (not including) ``before``.

        Args:
            conversation: the channel or chat the thread is in.
            thread: the thread's id.
            before: the message being answered; it and everything after it are left out.

        Returns:
            Messages with Kura's own mention removed, each marked as Kura's, a person's or a bot's.
        """
        ...


class ChannelHistory(Protocol):
    """A channel's messages in a period, and whole threads (for minutes)."""

    async def channel(self, conversation: str, since: datetime, until: datetime | None) -> Sequence[HistoryMessage]:
        """The channel's top-level messages and their threads' replies posted in [since, until), oldest first.

        Raises:
            UpstreamError: the platform refused (not a member, unknown channel) or could not be reached.
        """
        ...

    async def whole_thread(self, conversation: str, thread: str) -> Sequence[HistoryMessage]:
        """Every message of a thread, oldest first, with speakers.

        Raises:
            UpstreamError: as for :meth:`channel`.
        """
        ...


class Files(Protocol):
    """Files attached to messages on one platform."""

    async def fetch(self, file: FileRef, max_bytes: int) -> bytes:
        """The file's bytes.

        Raises:
            InputError: the file is larger than ``max_bytes`` (its declared or its real size).
            UpstreamError: the platform refused or could not be reached.
        """
        ...


class Meetings(Protocol):
    """Online meetings' transcripts (Teams through Microsoft Graph)."""

    async def transcript(self, meeting: str, *, after: str | None = None) -> MeetingTranscript | None:
        """The meeting's newest transcript (created after ``after``, an ISO time, when given);
        None when it has none (yet).

        Raises:
            InputError: ``meeting`` is not a meeting id this platform understands.
            UpstreamError: the platform refused (no permission, unknown meeting) or could not be reached.
        """
        ...


class ReplyStream(Protocol):
    """One reply being written into a conversation. It only ever receives sanitised text."""

    async def start(self, language: Language) -> None:
        """Show at once that Kura is working (a placeholder), where the platform allows it."""
        ...

    async def go_private(self) -> None:
        """From now on the reply is for the asker alone; withdraw anything shown to others."""
        ...

    async def append(self, text: str) -> None:
        """More of the answer (clean): the platform shows it as it comes, or keeps it for the end."""
        ...

    async def finish(self, reply: Reply) -> None:
        """The final reply: its whole text, sources and feedback buttons."""
        ...

    async def fail(self, text: str) -> None:
        """A short failure line instead of an answer."""
        ...


class Transport(Protocol):
    """What Kura can do on one chat platform: answer a message, post without being asked."""

    platform: str

    def reply(self, message: InboundMessage, *, private: bool) -> ReplyStream:
        """A reply to ``message`` in its thread; ``private`` shows it to the asker alone."""
        ...

    async def post(self, to: Destination, reply: Reply) -> str:
        """Post a finished reply as a new message; returns the platform's message id.

        Raises:
            UpstreamError: the platform refused or could not be reached.
        """
        ...


class FaqAnswers(Protocol):
    """Approved FAQ entries, served before any retrieval or generation."""

    async def match(
        self, question: str, principal_sets: Sequence[frozenset[str]], clearance: int, language: Language
    ) -> FaqHit | None:
        """The approved entry that answers ``question`` for an audience with these principal sets and
        clearance (every cited document unchanged and readable by each reader), or None.

        Raises:
            SQLAlchemyError, EmbeddingError: the database or the embedder failed (the caller answers
            the usual way instead).
        """
        ...


class FaqReview(Protocol):
    """Reviews of FAQ entries by the people asked to review them (buttons in chat, the CLI)."""

    async def review(
        self,
        reviewer: str,
        entry_id: int,
        verdict: str,
        *,
        answer: str | None = None,
        platform: str,
        language: Language,
    ) -> str:
        """Approve, reject or edit an entry as ``reviewer`` (an email), audited either way.

        Args:
            reviewer: who clicked or typed (a directory user's email).
            entry_id: the entry.
            verdict: ``approve``, ``reject`` or ``edit`` (``edit`` with ``answer``: the new answer,
                approved at once; ``approve`` with ``answer`` too).
            platform: where the review came from (``slack``, ``teams``, ``cli``), for the audit record.
            language: the language of the line returned.

        Returns:
            One line for the reviewer: what was done, or why not (not a reviewer, cannot read a cited
            document, no such entry, a cited document is gone).
        """
        ...

    async def current_answer(self, reviewer: str, entry_id: int) -> str | None:
        """The entry's answer as it stands, to edit it; None unless ``reviewer`` may review it."""
        ...
