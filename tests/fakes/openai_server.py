"""A local fake of an OpenAI-compatible model server (vLLM, llama.cpp), on aiohttp.

It speaks the real wire protocol, so the real ``openai`` client (and Kura's ``OpenAIChatModel``) work
against it unmodified: ``POST /v1/chat/completions`` streamed as server-sent events
(``chat.completion.chunk`` objects, then ``data: [DONE]``) or answered whole (``chat.completion``),
and ``GET /v1/models``.

The answer is fixed text, a list of pieces (one per chunk, as a server sends about one token per
chunk), or a function of the request body returning either, so a test can make the model write
what it needs (links, invisible characters, the question back). Timing is a knob too: the first
piece after ``first_token_s``, each next one ``token_delay_s`` later, on a fixed schedule from the
moment the request arrived, so a slow event loop does not stretch it beyond what it delays itself.

Every request body is kept in ``requests`` and every exchange, with when it arrived and when its
first and last chunks went out, in ``exchanges``: a benchmark can compare its own latency with the
model's.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import openai
from aiohttp import web

from tests.fakes.local_server import LocalServer

__all__ = ["Answer", "Exchange", "FakeOpenAI", "local_client", "pieces_of"]

JSON = dict[str, Any]
#: What the fake answers: text (streamed word by word), pieces, or a function of the request body.
Answer = str | Sequence[str] | Callable[[JSON], "str | Sequence[str]"]
Failure = Literal["500", "drop"]

_WORD = re.compile(r"\S+\s*|\s+")
_CREATED = 1_700_000_000


def pieces_of(answer: str | Sequence[str]) -> list[str]:
    """The chunks an answer is streamed in: text in words (each with the spaces after it), a
    sequence as given. ``"".join(pieces_of(a))`` is the whole answer."""
    if isinstance(answer, str):
        return _WORD.findall(answer)
    return list(answer)


@dataclass
class Exchange:
    """One request to ``/v1/chat/completions`` and when the fake answered it (``time.perf_counter``)."""

    body: JSON
    received: float
    status: int = 200
    first_piece: float | None = None  # the first chunk with content went out
    finished: float | None = None  # the last chunk (usage or finish_reason) went out
    pieces: int = 0

    @property
    def seconds(self) -> float | None:
        """The model's own time: from the request's arrival to the last chunk sent."""
        return None if self.finished is None else self.finished - self.received


class FakeOpenAI(LocalServer):
    """An OpenAI-compatible chat server on 127.0.0.1 with a fixed, timed answer.

    Args:
        answer: text, pieces, or ``f(request_body) -> text | pieces``.
        first_token_s: delay from the request to the first piece.
        token_delay_s: delay between pieces.
        counts: ``(prompt_tokens, completion_tokens)`` reported as usage: in a last chunk with
            ``choices: []`` when a streamed request asked for ``stream_options.include_usage``
            (as vLLM does), and in every whole answer. None: no usage (as llama.cpp when streaming).
        strict: answer 400 to any request carrying ``stream_options`` (servers that reject unknown
            parameters).
        too_long: answer 400 to every request (a prompt over the context).
        fail: ``"500"`` answers 500; ``"drop"`` closes the connection (a stream after its first
            piece, a whole answer before any byte).
        model: the id ``GET /v1/models`` lists (any model name is accepted in requests).

    The knobs are plain attributes: change them between requests.
    """

    def __init__(
        self,
        answer: Answer = "OK",
        *,
        first_token_s: float = 0.0,
        token_delay_s: float = 0.0,
        counts: tuple[int, int] | None = None,
        strict: bool = False,
        too_long: bool = False,
        fail: Failure | None = None,
        model: str = "fake-model",
    ) -> None:
        self.answer = answer
        self.first_token_s = first_token_s
        self.token_delay_s = token_delay_s
        self.counts = counts
        self.strict = strict
        self.too_long = too_long
        self.fail = fail
        self.model = model
        self.requests: list[JSON] = []
        self.exchanges: list[Exchange] = []
        self._ids = 0

    # ------------------------------------------------------------------ lifecycle

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        return app

    @property
    def url(self) -> str:
        """The ``base_url`` for ``openai.AsyncOpenAI`` (ends in ``/v1``)."""
        return f"{self.origin}/v1"

    # ------------------------------------------------------------------ handlers

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": self.model, "object": "model", "created": _CREATED, "owned_by": "fake"}
        return web.json_response({"object": "list", "data": [model]})

    def _error(self, exchange: Exchange, status: int, message: str, kind: str) -> web.Response:
        exchange.status = status
        error = {"object": "error", "message": message, "type": kind, "param": None, "code": status}
        return web.json_response(error, status=status)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        received = time.perf_counter()
        try:
            body: JSON = await request.json()
        except ValueError:
            body = {}
        self.requests.append(body)
        exchange = Exchange(body, received)
        self.exchanges.append(exchange)
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return self._error(exchange, 400, "model and messages are required", "BadRequestError")
        if self.too_long:
            return self._error(exchange, 400, "maximum context length exceeded", "BadRequestError")
        if self.strict and "stream_options" in body:
            return self._error(exchange, 400, "unknown field: stream_options", "BadRequestError")
        if self.fail == "500":
            return self._error(exchange, 500, "the model server failed", "InternalServerError")
        answer = self.answer(body) if callable(self.answer) else self.answer
        pieces = pieces_of(answer)
        self._ids += 1
        completion_id = f"chatcmpl-fake-{self._ids}"
        if body.get("stream"):
            return await self._stream(request, body, exchange, pieces, completion_id)
        return await self._whole(request, body, exchange, pieces, completion_id)

    async def _wait_until(self, exchange: Exchange, index: int) -> None:
        """Sleep until piece ``index`` is due (a fixed schedule from the request's arrival)."""
        due = exchange.received + self.first_token_s + index * self.token_delay_s
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    def _usage(self) -> JSON | None:
        if self.counts is None:
            return None
        prompt, completion = self.counts
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _whole(
        self, request: web.Request, body: JSON, exchange: Exchange, pieces: list[str], completion_id: str
    ) -> web.StreamResponse:
        for index in range(len(pieces)):
            await self._wait_until(exchange, index)
        if self.fail == "drop":
            _drop(request)
            exchange.status = 0
            return web.Response()
        message = {"role": "assistant", "content": "".join(pieces)}
        completion: JSON = {
            "id": completion_id,
            "object": "chat.completion",
            "created": _CREATED,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        }
        usage = self._usage()
        if usage is not None:
            completion["usage"] = usage
        exchange.pieces = len(pieces)
        exchange.first_piece = exchange.finished = time.perf_counter()
        return web.json_response(completion)

    async def _stream(
        self, request: web.Request, body: JSON, exchange: Exchange, pieces: list[str], completion_id: str
    ) -> web.StreamResponse:
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": _CREATED, "model": body["model"]}

        async def send(choices: list[JSON], **extra: Any) -> None:
            chunk = base | {"choices": choices} | ({"usage": None} if with_usage else {}) | extra
            await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        for index, piece in enumerate(pieces):
            await self._wait_until(exchange, index)
            await send([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            exchange.pieces += 1
            if exchange.first_piece is None:
                exchange.first_piece = time.perf_counter()
            if self.fail == "drop":
                _drop(request)
                exchange.status = 0
                return response
        await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        usage = self._usage()
        if with_usage and usage is not None:
            await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        exchange.finished = time.perf_counter()
        return response


def _drop(request: web.Request) -> None:
    """Cut the connection without finishing the response."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def local_client(base_url: str = "http://unused.invalid/v1") -> openai.AsyncOpenAI:
    """A real ``openai`` client for a fake on loopback: never through a proxy, never retrying
    (``async with`` it, or ``close()`` it)."""
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key="test",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(trust_env=False),
    )
