"""Chat port and its OpenAI-compatible implementation (vLLM in production, llama.cpp embedded)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import openai
from openai import AsyncStream
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from llm.errors import ModelServerError

if TYPE_CHECKING:
    from llm.structured import StructuredMode

__all__ = ["ChatMessage", "ChatModel", "OpenAIChatModel", "TokenUsage"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class TokenUsage:
    """Tokens one request used, as counted by the model server."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


class ChatModel(Protocol):
    """Generates an answer from chat messages, streamed as text pieces, then its token count if known."""

    name: str

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None
    ) -> AsyncIterator[str | TokenUsage]:
        """Stream the answer.

        Args:
            messages: the prompt, fixed instructions first.
            max_tokens: cap on generated tokens; the model's default when None.

        Returns:
            An async iterator of text pieces, in order, then at most one :class:`TokenUsage` as the
            last item when the server counted the request's tokens (callers estimate without it).
            An implementation that cannot count simply yields only text.

        Raises:
            ModelServerError: the server is unreachable, timed out, or failed mid-stream.
        """
        ...


class OpenAIChatModel:
    """Streams from any server that speaks OpenAI's ``/v1/chat/completions``.

    Asks for usage in the stream (``stream_options.include_usage``, which vLLM and OpenAI honour and
    llama.cpp's Python server ignores). A server that rejects the option (400/422) is asked again
    without it, and this model stops sending it once that retry succeeds.
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        max_tokens: int,
        temperature: float,
        structured: StructuredMode = "json_schema",
    ) -> None:
        self._client = client
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._ask_usage = True
        self._structured: StructuredMode = structured
        self.name = model

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None
    ) -> AsyncIterator[str | TokenUsage]:
        """Stream the answer's text pieces, then the server's token count if it sent one; see :class:`ChatModel`."""
        params = _params(messages)
        usage: CompletionUsage | None = None
        try:
            response = await self._open(params, max_tokens or self._max_tokens)
            async for chunk in response:
                # vLLM and OpenAI send usage in a last chunk without choices; some servers on every
                # chunk (running totals): the last one counts.
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise ModelServerError(f"chat server failed: {type(exc).__name__}") from exc
        if usage is not None:
            yield TokenUsage(usage.prompt_tokens, usage.completion_tokens)

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: Mapping[str, Any], *, name: str, max_tokens: int
    ) -> tuple[str, TokenUsage | None]:
        """JSON following ``schema``, asked as this server understands it; see ``llm.structured.JsonModel``.

        A server that rejects ``json_schema`` (400/422/500: llama.cpp's) is asked again with ``json_object``
        and the schema, and this model keeps asking that way once the retry succeeds."""
        try:
            try:
                completion = await self._json(messages, schema, name, max_tokens, self._structured)
            except (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError):
                # llama.cpp's server answers 500 to json_schema; a server that is really failing fails again.
                if self._structured != "json_schema":
                    raise
                completion = await self._json(messages, schema, name, max_tokens, "json_object")
                self._structured = "json_object"
                _log.warning("chat server rejected json_schema, asking json_object model=%s", self.name)
        except openai.OpenAIError as exc:
            raise ModelServerError(f"chat server failed: {type(exc).__name__}") from exc
        text = completion.choices[0].message.content if completion.choices else None
        usage = completion.usage
        counted = TokenUsage(usage.prompt_tokens, usage.completion_tokens) if usage is not None else None
        return text or "", counted

    async def _json(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, Any],
        name: str,
        max_tokens: int,
        mode: StructuredMode,
    ) -> ChatCompletion:
        from llm.structured import response_format

        return await self._client.chat.completions.create(
            model=self.name,
            messages=_params(messages),
            max_tokens=max_tokens,
            temperature=self._temperature,
            # llama.cpp's form (a schema inside json_object) is not in the client's types: sent as is.
            extra_body={"response_format": response_format(mode, name, schema)},
        )

    async def _open(
        self, params: list[ChatCompletionMessageParam], max_tokens: int
    ) -> AsyncStream[ChatCompletionChunk]:
        if not self._ask_usage:
            return await self._create(params, max_tokens, with_usage=False)
        try:
            return await self._create(params, max_tokens, with_usage=True)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            # Strict servers reject parameters they do not know. The 400 may also be about the
            # request itself (too long a prompt): only a retry that succeeds proves it was the option.
            response = await self._create(params, max_tokens, with_usage=False)
            self._ask_usage = False
            _log.warning(
                "chat server rejected stream_options, token counts will be estimated model=%s status=%d",
                self.name,
                exc.status_code,
            )
            return response

    async def _create(
        self, params: list[ChatCompletionMessageParam], max_tokens: int, *, with_usage: bool
    ) -> AsyncStream[ChatCompletionChunk]:
        return await self._client.chat.completions.create(
            model=self.name,
            messages=params,
            max_tokens=max_tokens,
            temperature=self._temperature,
            stream=True,
            stream_options={"include_usage": True} if with_usage else openai.omit,
        )


def _params(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    return [
        {"role": "system", "content": m.content}
        if m.role == "system"
        else {"role": "assistant", "content": m.content}
        if m.role == "assistant"
        else {"role": "user", "content": m.content}
        for m in messages
    ]
