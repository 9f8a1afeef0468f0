"""The transport-neutral core: message types, ports, the question-answering pipeline, the
conversation and the outbox.

Names load on first use: the pipeline pulls in the model client and the retriever, which commands
that only need the core's values (``kura schedule list``) should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {name: "bot.core.types" for name in __all__ if name != "Pipeline"} | {"Pipeline": "bot.core.pipeline"}


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bot.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
