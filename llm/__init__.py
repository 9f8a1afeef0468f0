"""Model clients: OpenAI-compatible chat and embeddings, the embedded local runtime, prompts.

Imports nothing of Kura's; ``bot`` and ``knowledge`` depend on it. Names are imported from their
modules on first use, so ``import llm.catalog`` does not load openai or numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm.chat import ChatMessage, ChatModel, OpenAIChatModel, TokenUsage
    from llm.embeddings import E5Embedder, Embedder, OpenAIEmbedder
    from llm.errors import EmbeddingError, LLMError, ModelServerError
    from llm.prompts import PROMPT_VERSION, Passage, build_messages, detect_language

__all__ = [
    "PROMPT_VERSION",
    "ChatMessage",
    "ChatModel",
    "E5Embedder",
    "Embedder",
    "EmbeddingError",
    "LLMError",
    "ModelServerError",
    "OpenAIChatModel",
    "OpenAIEmbedder",
    "Passage",
    "TokenUsage",
    "build_messages",
    "detect_language",
]

_HOMES = {
    "ChatMessage": "llm.chat",
    "ChatModel": "llm.chat",
    "OpenAIChatModel": "llm.chat",
    "TokenUsage": "llm.chat",
    "E5Embedder": "llm.embeddings",
    "Embedder": "llm.embeddings",
    "OpenAIEmbedder": "llm.embeddings",
    "EmbeddingError": "llm.errors",
    "LLMError": "llm.errors",
    "ModelServerError": "llm.errors",
    "PROMPT_VERSION": "llm.prompts",
    "Passage": "llm.prompts",
    "build_messages": "llm.prompts",
    "detect_language": "llm.prompts",
}


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
