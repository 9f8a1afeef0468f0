"""The transport-neutral core: message types, ports, and the question-answering pipeline."""

from bot.core.pipeline import Pipeline
from bot.core.types import (
    Citation,
    Completed,
    Decided,
    InboundMessage,
    PipelineEvent,
    Reply,
    SourcesFound,
    TextDelta,
    Turn,
)

__all__ = [
    "Citation",
    "Completed",
    "Decided",
    "InboundMessage",
    "Pipeline",
    "PipelineEvent",
    "Reply",
    "SourcesFound",
    "TextDelta",
    "Turn",
]
