"""Values that flow through the pipeline. Adapters build an InboundMessage and render events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import Language
from policies import Decision

__all__ = [
    "Citation",
    "Completed",
    "Decided",
    "InboundMessage",
    "PipelineEvent",
    "Reply",
    "ReplyStatus",
    "SourcesFound",
    "TextDelta",
    "Turn",
]

ReplyStatus = Literal["answered", "no_sources", "refused", "unavailable"]


@dataclass(frozen=True)
class Turn:
    """An earlier message of the conversation (thread follow-ups)."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class InboundMessage:
    """A question, as any adapter hands it to the core.

    ``channel_id`` None means a direct conversation: the reply's audience is the asker alone.
    """

    platform: str
    user: str
    text: str
    channel_id: str | None = None
    thread_id: str | None = None
    event_id: str | None = None
    locale: Language | None = None
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class Citation:
    """A document an answer drew on."""

    number: int
    source: str
    title: str


@dataclass(frozen=True)
class Reply:
    """The finished answer (or refusal) with everything an adapter renders."""

    status: ReplyStatus
    text: str
    citations: tuple[Citation, ...]
    decision: Decision
    audit_id: str | None
    language: Language


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
