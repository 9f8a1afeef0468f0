"""The chat model clients the runtime uses: the configured OpenAI-compatible server (vLLM) or the
embedded local model started on llama.cpp, and the optional second endpoint for public data.
Part of the composition root (``bot.wiring``); openai and the local runtime are imported here, when
a model is asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from bot.errors import ConfigurationError, ModelUnavailable
from bot.settings import KuraSettings

if TYPE_CHECKING:
    from llm import ChatModel
    from llm.chat import OpenAIChatModel

__all__ = ["Status", "chat_model", "secondary_model"]

#: Where progress lines go (the terminal, or nowhere).
Status = Callable[[str], None]


async def chat_model(settings: KuraSettings, stack: AsyncExitStack, status: Status) -> tuple[OpenAIChatModel, str]:
    """The chat model (its client closed by ``stack``) and its base URL: the configured server, or
    the embedded model, fetched, verified and served on llama.cpp for as long as ``stack`` lives.

    Raises:
        ConfigurationError: an unknown local model, or one whose licence forbids commercial use.
        ModelUnavailable: the local model could not be fetched or started.
    """
    import openai

    from llm.catalog import get_local_model
    from llm.chat import OpenAIChatModel
    from llm.errors import LLMError
    from llm.runtime import LocalModelServer, ensure_model_file

    llm = settings.llm
    base_url = llm.base_url
    model_name = llm.model
    if base_url is None:
        try:
            entry = get_local_model(llm.local_model)
        except KeyError as exc:
            raise ConfigurationError(str(exc.args[0])) from exc
        if not entry.licence.commercial_use and not llm.allow_noncommercial:
            raise ConfigurationError(
                f"{entry.id} is licensed {entry.licence.spdx}, which does not allow commercial use; "
                "set KURA_LLM_ALLOW_NONCOMMERCIAL=true to override"
            )
        status(f"model: {entry.id} ({entry.upstream}, {entry.licence.spdx})")
        try:
            path = await asyncio.to_thread(ensure_model_file, entry, settings.model_cache_dir)
            status("model: starting the local server (llama.cpp, CPU)")
            server = LocalModelServer(
                path,
                entry.id,
                threads=llm.local_threads,
                context=llm.local_context,
                log_file=settings.data_dir / "logs" / "local-model.log",
                start_timeout_s=llm.local_start_timeout_s,
            )
            await stack.enter_async_context(server)
        except LLMError as exc:
            raise ModelUnavailable(str(exc)) from exc
        base_url, model_name = server.base_url, entry.id
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key=llm.api_key.get_secret_value(), timeout=llm.timeout_s, max_retries=llm.max_retries
    )
    stack.push_async_callback(client.close)
    structured = llm.structured_output
    if structured == "auto":
        structured = "json_object" if llm.base_url is None else "json_schema"
    model = OpenAIChatModel(
        client, model_name, max_tokens=llm.max_tokens, temperature=llm.temperature, structured=structured
    )
    return model, base_url


def secondary_model(settings: KuraSettings, stack: AsyncExitStack) -> ChatModel | None:
    """The optional second endpoint (``KURA_SECONDARY_BASE_URL``, public data only), or None."""
    second = settings.secondary
    if second.base_url is None:
        return None
    import openai

    from llm.chat import OpenAIChatModel

    client = openai.AsyncOpenAI(
        base_url=second.base_url, api_key=second.api_key.get_secret_value(), timeout=second.timeout_s, max_retries=1
    )
    stack.push_async_callback(client.close)
    return OpenAIChatModel(
        client, second.model, max_tokens=settings.llm.max_tokens, temperature=settings.llm.temperature
    )
