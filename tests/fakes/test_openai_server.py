"""The fake OpenAI-compatible model server, exercised with the real ``openai`` client over 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI, local_client, pieces_of

pytestmark = pytest.mark.unit

MESSAGES: list[Any] = [{"role": "user", "content": "締め日は？"}]


@pytest.fixture
async def client() -> AsyncIterator[openai.AsyncOpenAI]:
    """An OpenAI client that never goes through a proxy and never retries."""
    async with local_client() as c:
        yield c


async def _stream(client: openai.AsyncOpenAI, fake: FakeOpenAI, **kwargs: Any) -> list[Any]:
    stream = await client.with_options(base_url=fake.url).chat.completions.create(
        model="served", messages=MESSAGES, stream=True, **kwargs
    )
    return [chunk async for chunk in stream]


def test_text_is_streamed_word_by_word_and_loses_nothing() -> None:
    assert ["締め日は ", "毎月 ", "25日です"] == pieces_of("締め日は 毎月 25日です")
    assert [" a ", "b\n"] == pieces_of([" a ", "b\n"])
    assert " lead  and trail " == "".join(pieces_of(" lead  and trail "))


async def test_a_stream_carries_the_pieces_in_order_then_stop(client: openai.AsyncOpenAI) -> None:
    async with FakeOpenAI(["締め日は", "毎月", "25日です"]) as fake:
        chunks = await _stream(client, fake)

    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert ["締め日は", "毎月", "25日です"] == texts
    assert "assistant" == chunks[0].choices[0].delta.role
    assert "stop" == chunks[-1].choices[0].finish_reason
    assert {"chat.completion.chunk"} == {c.object for c in chunks}
    assert all(c.usage is None for c in chunks)
    [exchange] = fake.exchanges
    assert "served" == exchange.body["model"]
    assert [exchange.body] == fake.requests
    assert 3 == exchange.pieces


async def test_usage_comes_last_and_only_when_asked(client: openai.AsyncOpenAI) -> None:
    async with FakeOpenAI("a b", counts=(10, 2)) as fake:
        asked = await _stream(client, fake, stream_options={"include_usage": True})
        not_asked = await _stream(client, fake)

    assert [] == asked[-1].choices
    usage = asked[-1].usage
    assert usage is not None
    assert (10, 2, 12) == (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
    assert all(c.usage is None for c in asked[:-1])
    assert all(c.usage is None for c in not_asked)


async def test_a_whole_answer_and_the_model_list(client: openai.AsyncOpenAI) -> None:
    async with FakeOpenAI("締め日は 25日", counts=(7, 3), model="qwen") as fake:
        c = client.with_options(base_url=fake.url)
        completion = await c.chat.completions.create(model="served", messages=MESSAGES)
        models = await c.models.list()

    assert "締め日は 25日" == completion.choices[0].message.content
    assert "stop" == completion.choices[0].finish_reason
    assert completion.usage is not None
    assert 10 == completion.usage.total_tokens
    assert ["qwen"] == [m.id for m in models.data]


async def test_the_answer_may_depend_on_the_request(client: openai.AsyncOpenAI) -> None:
    """A function of the body: here an answer with a link and a zero-width space, echoing the question."""

    def answer(body: dict[str, Any]) -> list[str]:
        return [body["messages"][-1]["content"], " <https://evil.example/x|見る>", "\u200b"]

    async with FakeOpenAI(answer) as fake:
        chunks = await _stream(client, fake)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "締め日は？ <https://evil.example/x|見る>\u200b" == text


async def test_pieces_keep_their_schedule(client: openai.AsyncOpenAI) -> None:
    async with FakeOpenAI(["a", "b", "c"], first_token_s=0.2, token_delay_s=0.05) as fake:
        started = time.perf_counter()
        stream = await client.with_options(base_url=fake.url).chat.completions.create(
            model="served", messages=MESSAGES, stream=True
        )
        arrivals = [time.perf_counter() - started async for c in stream if c.choices and c.choices[0].delta.content]

    assert 3 == len(arrivals)
    assert 0.2 <= arrivals[0] < 0.6
    assert arrivals[2] - arrivals[0] >= 0.09
    [exchange] = fake.exchanges
    assert exchange.first_piece is not None
    assert exchange.seconds is not None
    assert 0.3 <= exchange.seconds < 0.8


async def test_strict_rejects_stream_options_and_too_long_rejects_everything(client: openai.AsyncOpenAI) -> None:
    async with FakeOpenAI("ok", strict=True) as fake:
        with pytest.raises(openai.BadRequestError):
            await _stream(client, fake, stream_options={"include_usage": True})
        assert 1 == len(await _stream(client, fake)) - 2  # role chunk, "ok", stop
        fake.too_long = True
        with pytest.raises(openai.BadRequestError) as raised:
            await _stream(client, fake)

    assert "maximum context length" in str(raised.value)
    assert [400, 200, 400] == [e.status for e in fake.exchanges]


async def test_a_failing_server(client: openai.AsyncOpenAI) -> None:
    async with FakeOpenAI("one two three", fail="500") as fake:
        with pytest.raises(openai.InternalServerError):
            await _stream(client, fake)
        fake.fail = "drop"
        c = client.with_options(base_url=fake.url)
        with pytest.raises(openai.APIConnectionError):
            await c.chat.completions.create(model="served", messages=MESSAGES)
        with pytest.raises(openai.APIError):  # the stream starts, then the connection is cut
            await _stream(client, fake)

    assert [500, 0, 0] == [e.status for e in fake.exchanges]
    assert 1 == fake.exchanges[2].pieces
