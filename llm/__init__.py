"""Model clients: OpenAI-compatible chat and embeddings, the embedded local runtime, prompts.

Imports nothing of Kura's; ``bot`` and ``knowledge`` depend on it.
"""

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
