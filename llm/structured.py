"""Structured output: a JSON answer that follows a schema, asked the way each server understands.

vLLM (and OpenAI) take ``response_format={"type": "json_schema", "json_schema": {...}}`` and constrain
decoding to the schema. llama.cpp's Python server takes only ``{"type": "json_object", "schema": ...}``
and silently falls back to "any JSON" when the schema cannot become a grammar. Either way the caller
validates the result (pydantic) and retries once: constrained decoding is help, not a guarantee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from llm.chat import ChatMessage, TokenUsage

__all__ = ["JsonModel", "StructuredMode", "response_format"]

#: How a server is asked for JSON: ``json_schema`` (vLLM, OpenAI) or ``json_object`` with the schema
#: alongside (llama.cpp's server).
StructuredMode = Literal["json_schema", "json_object"]


def response_format(mode: StructuredMode, name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``response_format`` parameter asking for JSON that follows ``schema`` in ``mode``."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": True}}
    return {"type": "json_object", "schema": dict(schema)}


class JsonModel(Protocol):
    """A chat model that answers with JSON following a schema (not streamed)."""

    name: str

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: Mapping[str, Any], *, name: str, max_tokens: int
    ) -> tuple[str, TokenUsage | None]:
        """The model's JSON text for ``messages``, and the server's token count when it sent one.

        Args:
            messages: the prompt, fixed instructions first.
            schema: the JSON schema the answer must follow.
            name: the schema's name (vLLM and OpenAI want one).
            max_tokens: cap on generated tokens.

        Raises:
            ModelServerError: the server is unreachable, timed out, refused or failed.
        """
        ...
