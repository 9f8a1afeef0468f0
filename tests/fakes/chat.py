"""An in-memory chat platform for testing the conversation core without Slack (like errbot's test
backend): a transport that records what each person would see, a thread history, a dedupe ledger
and an audit log in lists, and a retriever that filters by scope as the SQL does.

Each implements the core's port (``Transport``/``ReplyStream``, ``History``, ``Ledger``,
``AuditLog``/``FeedbackLog``, ``Retriever``), so the core runs exactly as it does in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from bot.audit import AuditEntry
from bot.core.admin import AdminCommand, AdminReply
from bot.core.types import Destination, HistoryMessage, InboundMessage, Reply
from bot.errors import Language, UpstreamError
from knowledge.store import SearchHit

__all__ = [
    "ListAudit",
    "MemoryHistory",
    "MemoryLedger",
    "MemoryTransport",
    "Posted",
    "RecordingAdmin",
    "ScopedRetriever",
]


@dataclass
class Posted:
    """A message as the platform holds it: where, for whom, its text now, and how it got there."""

    conversation: str
    thread: str | None
    text: str
    private_to: str | None = None
    citations: tuple[str, ...] = ()
    audit_id: str | None = None
    placeholder: bool = False
    deleted: bool = False
    #: Every text a reader saw in this message, in order (placeholder, partial answers, final).
    views: list[str] = field(default_factory=list)


class MemoryReply:
    """A ReplyStream into a list: the placeholder, then the text so far after each piece, then the
    final text (each kept in ``views``, as a reader would have seen them)."""

    def __init__(self, transport: MemoryTransport, message: InboundMessage, *, private: bool) -> None:
        self._t = transport
        self._where = message.where or f"dm:{message.user}"
        self._thread = message.thread_id
        self._user = message.user
        self._private = private
        self._live: Posted | None = None
        self._text = ""

    async def start(self, language: Language) -> None:
        """A placeholder, unless the reply is private."""
        self._t.calls.append("start")
        if self._private:
            return
        self._live = Posted(self._where, self._thread, f"({language}) thinking", placeholder=True)
        self._live.views.append(self._live.text)
        self._t.messages.append(self._live)

    async def go_private(self) -> None:
        """Withdraw the placeholder; the rest goes to the asker alone."""
        self._t.calls.append("go_private")
        self._private = True
        if self._live is not None:
            self._live.deleted = True
            self._live = None

    async def append(self, text: str) -> None:
        """Show more of the answer."""
        self._t.calls.append("append")
        self._t.deltas.append(text)
        self._text += text
        if self._live is None or self._private:
            return
        self._live.placeholder = False
        self._live.text = self._text
        self._live.views.append(self._live.text)

    async def finish(self, reply: Reply) -> None:
        """The final text, with sources and the audit id (feedback buttons)."""
        self._t.calls.append("finish")
        if self._t.fail_finish:
            raise UpstreamError("the platform is down")
        cited = tuple(c.source for c in reply.citations)
        if self._private or self._live is None:
            private = self._user if self._private else None
            done = Posted(self._where, self._thread, reply.text, private, cited, reply.audit_id)
            done.views.append(reply.text)
            self._t.messages.append(done)
            return
        self._live.placeholder = False
        self._live.text, self._live.citations, self._live.audit_id = reply.text, cited, reply.audit_id
        self._live.views.append(reply.text)

    async def fail(self, text: str) -> None:
        """A failure line in place of the placeholder, or a new message."""
        self._t.calls.append("fail")
        if self._live is not None:
            self._live.placeholder = False
            self._live.text = text
            self._live.views.append(text)
            return
        failed = Posted(self._where, self._thread, text, self._user if self._private else None)
        failed.views.append(text)
        self._t.messages.append(failed)


class MemoryTransport:
    """The Transport port in memory; ``messages`` is the transcript."""

    def __init__(self, platform: str = "memory") -> None:
        self.platform = platform
        self.messages: list[Posted] = []
        self.calls: list[str] = []
        self.deltas: list[str] = []
        self.fail_posts = False
        self.fail_finish = False

    def reply(self, message: InboundMessage, *, private: bool) -> MemoryReply:
        """A reply in the message's thread."""
        return MemoryReply(self, message, private=private)

    async def post(self, to: Destination, reply: Reply) -> str:
        """A new message at ``to``."""
        if self.fail_posts:
            raise UpstreamError("the platform refused the post")
        where = to.conversation or f"dm:{to.user}"
        posted = Posted(where, to.thread, reply.text, None, tuple(c.source for c in reply.citations), reply.audit_id)
        posted.views.append(reply.text)
        self.messages.append(posted)
        return f"m{len(self.messages)}"

    def visible(self, conversation: str, *, to: str | None = None) -> list[Posted]:
        """What ``to`` (or everyone, when None) sees in a conversation: not deleted, not someone
        else's private message."""
        return [
            m for m in self.messages if m.conversation == conversation and not m.deleted and m.private_to in (None, to)
        ]


class MemoryHistory:
    """The History port over threads kept in a dict: (conversation, thread) -> messages, oldest first."""

    def __init__(self) -> None:
        self.threads: dict[tuple[str, str], list[HistoryMessage]] = {}
        self.down = False

    def add(self, conversation: str, thread: str, *messages: HistoryMessage) -> None:
        """Append messages to a thread."""
        self.threads.setdefault((conversation, thread), []).extend(messages)

    async def thread(self, conversation: str, thread: str, before: str | None) -> Sequence[HistoryMessage]:
        """The thread up to ``before``."""
        if self.down:
            raise UpstreamError("history unavailable")
        kept: list[HistoryMessage] = []
        for m in self.threads.get((conversation, thread), []):
            if m.message_id == before:
                break
            kept.append(m)
        return kept


class MemoryLedger:
    """The Ledger port as a set; ``down`` makes every claim fail as a lost database would."""

    def __init__(self) -> None:
        self.claimed: set[tuple[str, str]] = set()
        self.down = False

    async def claim(self, platform: str, event_id: str) -> bool:
        """First claim wins."""
        if self.down:
            raise OperationalError("INSERT INTO handled_events", {}, ConnectionRefusedError("database down"))
        if (platform, event_id) in self.claimed:
            return False
        self.claimed.add((platform, event_id))
        return True


class ListAudit:
    """The AuditLog and FeedbackLog ports as lists."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.feedback: list[tuple[str, str, int]] = []

    async def append(self, entry: AuditEntry) -> str:
        """Keep the entry; its id is its position."""
        self.entries.append(entry)
        return f"a{len(self.entries)}"

    async def record_feedback(self, audit_id: str, user_ref: str, value: int) -> bool:
        """Keep the click when the record exists."""
        if not audit_id.startswith("a") or not audit_id[1:].isdigit() or int(audit_id[1:]) > len(self.entries):
            return False
        self.feedback.append((audit_id, user_ref, value))
        return True


class ScopedRetriever:
    """Fixed hits, filtered by the reader sets and clearance as the retrieval SQL does."""

    def __init__(self, hits: Sequence[SearchHit]) -> None:
        self.hits = list(hits)
        self.calls: list[tuple[frozenset[str], ...]] = []

    async def retrieve(
        self, query: str, principal_sets: Sequence[frozenset[str]], clearance: int, k: int
    ) -> list[SearchHit]:
        """The hits every reader set may read, up to the clearance."""
        self.calls.append(tuple(principal_sets))
        return [h for h in self.hits if h.classification <= clearance and all(set(h.acl) & s for s in principal_sets)][
            :k
        ]


class RecordingAdmin:
    """The Admin port: records commands and answers with their words."""

    def __init__(self) -> None:
        self.commands: list[AdminCommand] = []

    async def handle(self, command: AdminCommand) -> AdminReply:
        """Echo the command."""
        self.commands.append(command)
        return AdminReply(True, " ".join(command.args), None)
