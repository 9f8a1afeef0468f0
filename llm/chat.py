"""Chat port and its OpenAI-compatible implementation (vLLM in production, llama.cpp embedded)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import openai
from openai.types.chat import ChatCompletionMessageParam

from llm.errors import ModelServerError

__all__ = ["ChatMessage", "ChatModel", "OpenAIChatModel"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    """Generates an answer from chat messages, streamed as text pieces."""

    name: str

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> AsyncIterator[str]:
        """Stream the answer.

        Args:
            messages: the prompt, fixed instructions first.
            max_tokens: cap on generated tokens; the model's default when None.

        Returns:
            An async iterator of text pieces, in order.

        Raises:
            ModelServerError: the server is unreachable, timed out, or failed mid-stream.
        """
        ...


class OpenAIChatModel:
    """Streams from any server that speaks OpenAI's ``/v1/chat/completions``."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, *, max_tokens: int, temperature: float) -> None:
        self._client = client
        self._max_tokens = max_tokens
        self._temperature = temperature
        self.name = model

    async def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> AsyncIterator[str]:
        """Stream the answer's text pieces; see :class:`ChatModel`."""
        params: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": m.content}
            if m.role == "system"
            else {"role": "assistant", "content": m.content}
            if m.role == "assistant"
            else {"role": "user", "content": m.content}
            for m in messages
        ]
        try:
            response = await self._client.chat.completions.create(
                model=self.name,
                messages=params,
                max_tokens=max_tokens or self._max_tokens,
                temperature=self._temperature,
                stream=True,
            )
            async for chunk in response:
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise ModelServerError(f"chat server failed: {type(exc).__name__}") from exc
