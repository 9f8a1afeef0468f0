"""Kura's exceptions, and the one place their user-facing text lives.

    KuraError
     ├── ConfigurationError       settings or files that cannot work
     ├── InputError               bad input from a user or operator (bad path, unknown user, ...)
     └── UpstreamError            a part Kura depends on failed
          ├── DatabaseUnavailable
          ├── DirectoryUnavailable
          ├── ModelUnavailable
          └── EmbeddingUnavailable

Each error carries a stable ``code``; :func:`user_message` gives its ja/en text. Never show
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


_MESSAGES: dict[str, dict[Language, str]] = {
    "internal": {
        "ja": "申し訳ありません。内部エラーが発生しました。管理者にお問い合わせください。",
        "en": "Sorry, something went wrong inside Kura. Please contact your administrator.",
    },
    "configuration": {
        "ja": "Kura の設定に問題があります。管理者にお問い合わせください。",
        "en": "Kura is misconfigured. Please contact your administrator.",
    },
    "bad_input": {
        "ja": "リクエストを処理できませんでした。内容を確認してもう一度お試しください。",
        "en": "Kura could not process that request. Please check it and try again.",
    },
    "upstream": {
        "ja": "Kura は一時的に利用できません。しばらくしてからもう一度お試しください。",
        "en": "Kura is temporarily unavailable. Please try again in a few minutes.",
    },
    "database_unavailable": {
        "ja": "Kura は一時的に利用できません（データベースに接続できません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (database unreachable). Please try again shortly.",
    },
    "model_unavailable": {
        "ja": "Kura は一時的に利用できません（言語モデルが応答しません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (the language model is not responding). Please try again shortly.",
    },
    "directory_unavailable": {
        "ja": "Kura は一時的に利用できません（ユーザー情報を確認できません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (cannot look up users). Please try again shortly.",
    },
    "embedding_unavailable": {
        "ja": "Kura は一時的に利用できません（検索モデルが応答しません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (the search model is not responding). Please try again shortly.",
    },
}


def user_message(code: str, language: Language) -> str:
    """Return the user-facing text for an error code, in the given language."""
    texts = _MESSAGES.get(code, _MESSAGES["internal"])
    return texts[language]
