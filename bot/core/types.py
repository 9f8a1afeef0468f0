"""Values that flow through the pipeline. Adapters build an InboundMessage and render events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import Language
from policies import Decision

__all__ = [
    "Author",
    "Citation",
    "Completed",
    "Decided",
    "Destination",
    "FaqHit",
    "FileRef",
    "HistoryMessage",
    "InboundMessage",
    "MeetingTranscript",
    "PipelineEvent",
    "PostResult",
    "Reply",
    "ReplyAction",
    "ReplyStatus",
    "SourceRef",
    "SourcesFound",
    "TextDelta",
    "Turn",
]

ReplyStatus = Literal["answered", "no_sources", "refused", "unavailable"]
#: Who wrote a message in a thread: Kura itself, a person, or another bot or app.
Author = Literal["kura", "person", "bot"]


@dataclass(frozen=True)
class Turn:
    """An earlier message of the conversation (thread follow-ups)."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class FileRef:
    """A file attached to a chat message, as the platform names it (fetched through the ``Files`` port)."""

    id: str
    name: str
    size: int
    #: Where the platform serves its bytes (Slack's ``url_private_download``); adapters only.
    url: str = ""


@dataclass(frozen=True)
class MeetingTranscript:
    """An online meeting's transcript and who took part (the readers of its minutes' source).

    ``attendees`` are emails/UPNs of the organiser and every invited or present participant;
    ``chat`` is the meeting chat's conversation id (where minutes can be posted), when known."""

    meeting: str
    title: str
    content: bytes
    #: The transcript's format, as a file suffix (``.vtt``).
    suffix: str
    attendees: tuple[str, ...]
    created: str = ""
    transcript: str = ""
    chat: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A question, as any adapter hands it to the core.

    ``channel_id`` None means a direct conversation: the reply's audience is the asker alone.
    ``conversation_id`` is where the platform delivers the reply (a DM's own id for direct
    messages; the channel otherwise); ``message_id`` is the message itself, so a reply in a thread
    that began earlier (``thread_id`` differs) comes with the thread's history.
    """

    platform: str
    user: str
    text: str
    channel_id: str | None = None
    thread_id: str | None = None
    event_id: str | None = None
    locale: Language | None = None
    history: tuple[Turn, ...] = ()
    conversation_id: str | None = None
    message_id: str | None = None
    #: Files attached to the message (a transcript to summarise).
    files: tuple[FileRef, ...] = ()
    #: The online meeting whose chat the message is in, as the platform's ``Meetings`` port names it.
    meeting: str | None = None

    @property
    def where(self) -> str | None:
        """The conversation the reply goes to."""
        return self.conversation_id or self.channel_id


@dataclass(frozen=True)
class HistoryMessage:
    """One message of a thread or channel as a platform's history gives it (mention of Kura removed).

    ``speaker`` is the author's display name and ``user`` their platform id, when the platform says;
    ``message_id`` is the platform's reference to the message (Slack: its ``ts``)."""

    message_id: str
    author: Author
    text: str
    speaker: str = ""
    user: str = ""


@dataclass(frozen=True)
class Destination:
    """Where a message goes on a platform: a channel (``conversation``), a thread in it, or a
    person directly (``user`` with no ``conversation``: the platform opens the DM)."""

    platform: str
    conversation: str | None = None
    thread: str | None = None
    user: str | None = None

    def __str__(self) -> str:
        where = self.conversation or f"@{self.user}"
        return f"{self.platform}:{where}" + (f"/{self.thread}" if self.thread else "")


@dataclass(frozen=True)
class SourceRef:
    """A document a message drew on, with the access it carries (for the audience rule)."""

    source: str
    title: str
    acl: tuple[str, ...]
    classification: int


@dataclass(frozen=True)
class PostResult:
    """What happened to an outbound message."""

    posted: bool
    reason_code: str
    destination: Destination
    message_id: str | None = None
    audit_id: str | None = None


@dataclass(frozen=True)
class Citation:
    """A document an answer drew on; ``excerpt`` is the start of the passage the model read from it
    (document text: shown as data, never obeyed), for platforms that show cited passages."""

    number: int
    source: str
    title: str
    excerpt: str = ""
    #: Where in the document the cited passages are (``p. 3, p. 5``; a slide, rows, a heading); "" if unknown.
    location: str = ""


@dataclass(frozen=True)
class FaqHit:
    """An approved FAQ entry that answers a question for its whole audience: the text to send (the
    answer and the approval line), its citations, and the cited documents for the audit record."""

    entry_id: int
    text: str
    citations: tuple[Citation, ...]
    sources: tuple[SourceRef, ...]
    score: float


@dataclass(frozen=True)
class ReplyAction:
    """A button under a posted message (e.g. a reviewer's approve / edit / reject of an FAQ entry):
    ``name`` says what it does (``faq_approve``, ``faq_edit``, ``faq_reject``), ``value`` what on
    (the entry id), ``label`` the words on it (from the catalogue). Adapters render and translate
    clicks back; they never decide what a click means."""

    name: str
    value: str
    label: str
    #: The text to prefill an edit box with, where the platform shows it with the message (a Teams
    #: card's input; Slack opens its dialog on the click and asks for the text then).
    edit_text: str = ""


@dataclass(frozen=True)
class Reply:
    """The finished answer (or refusal) with everything an adapter renders."""

    status: ReplyStatus
    text: str
    citations: tuple[Citation, ...]
    decision: Decision
    audit_id: str | None
    language: Language
    #: The approved FAQ entry the answer came from (served first, without the model), if any.
    faq_id: int | None = None
    #: Buttons under a posted message (outbound posts only).
    actions: tuple[ReplyAction, ...] = ()


@dataclass(frozen=True)
class Decided:
    """The policy decided; comes first."""

    decision: Decision


@dataclass(frozen=True)
class SourcesFound:
    """Retrieval finished; the candidates the model will read, numbered as in the prompt."""

    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer as the model streams it."""

    text: str


@dataclass(frozen=True)
class Completed:
    """The last event: the reply, audited."""

    reply: Reply


PipelineEvent = Decided | SourcesFound | TextDelta | Completed
