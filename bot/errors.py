"""Kura's exceptions, and the one place their user-facing text lives.

    KuraError
     ├── ConfigurationError       settings or files that cannot work
     ├── InputError               bad input from a user or operator (bad path, unknown user, ...)
     └── UpstreamError            a part Kura depends on failed
          ├── DatabaseUnavailable
          ├── DirectoryUnavailable
          ├── ModelUnavailable
          └── EmbeddingUnavailable

Each error carries a stable ``code``; :func:`user_message` gives its ja/en text from the
catalogue in :mod:`bot.core.messages`. Never show
``str(error)`` to a chat user: it may name internals. Operators (CLI) get ``str(error)``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "ConfigurationError",
    "DatabaseUnavailable",
    "DirectoryUnavailable",
    "EmbeddingUnavailable",
    "InputError",
    "KuraError",
    "Language",
    "ModelUnavailable",
    "UpstreamError",
    "user_message",
]

Language = Literal["ja", "en"]


class KuraError(Exception):
    """Root of every error Kura raises on purpose."""

    code: ClassVar[str] = "internal"


class ConfigurationError(KuraError):
    """Settings, policy or directory files that cannot work."""

    code = "configuration"


class InputError(KuraError):
    """Input from a user or operator that Kura cannot act on."""

    code = "bad_input"


class UpstreamError(KuraError):
    """A part Kura depends on (database, model server, embedder) failed."""

    code = "upstream"


class DatabaseUnavailable(UpstreamError):
    """PostgreSQL could not be reached or refused the work."""

    code = "database_unavailable"


class ModelUnavailable(UpstreamError):
    """The chat model server could not be reached or failed."""

    code = "model_unavailable"


class DirectoryUnavailable(UpstreamError):
    """The chat platform's user or channel lookup failed."""

    code = "directory_unavailable"


class EmbeddingUnavailable(UpstreamError):
    """The embedding model could not embed."""

    code = "embedding_unavailable"


def user_message(code: str, language: Language) -> str:
    """Return the user-facing text for an error code, in the given language (the words live in
    :mod:`bot.core.messages`, with every other text Kura shows users)."""
    from bot.core.messages import error_message  # the catalogue imports Language from here

    return error_message(code, language)
