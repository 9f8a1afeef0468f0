"""Errors of the model layer. ``bot`` maps them to its own user-facing codes.

LLMError
 ├── ModelServerError    the chat server is down, timed out or answered an error
 ├── EmbeddingError      the embedder failed
 └── ModelFetchError     weights could not be fetched or failed verification
"""

from __future__ import annotations

__all__ = ["EmbeddingError", "LLMError", "ModelFetchError", "ModelServerError"]


class LLMError(Exception):
    """Root of the model layer's errors."""


class ModelServerError(LLMError):
    """The OpenAI-compatible chat server could not produce an answer."""


class EmbeddingError(LLMError):
    """Embedding failed."""


class ModelFetchError(LLMError):
    """Local model weights could not be fetched from their registry packages, or did not verify."""
