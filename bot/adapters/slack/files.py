"""``SlackFiles``: the bytes of a file attached to a Slack message (a transcript to summarise),
downloaded with the bot token (scope ``files:read``) from Slack's own hosts only."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.types import FileRef
from bot.errors import InputError, UpstreamError

__all__ = ["SlackFiles"]

#: Where Slack serves ``url_private_download``.
_FILES_ORIGIN = ("https", "files.slack.com")
_CHUNK = 64 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n / 1024:g} KB" if n >= 1024 else f"{n} bytes"


class SlackFiles:
    """The Files port for Slack. The token goes only to ``files.slack.com`` or the configured API
    host (a local Slack in tests), never to a URL an event merely names."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._token = client.token or ""
        api = urlsplit(client.base_url)
        self._origins = {_FILES_ORIGIN, (api.scheme, api.netloc)}

    async def fetch(self, file: FileRef, max_bytes: int) -> bytes:
        """The file's bytes, refused before downloading when Slack says it is larger than
        ``max_bytes`` and cut off when it turns out larger.

        Raises:
            InputError: the file is larger than ``max_bytes``.
            UpstreamError: not a Slack URL, Slack refused (a sign-in page means the token was not
                accepted), or Slack could not be reached.
        """
        if file.size > max_bytes:
            raise InputError(f"the file is larger than {_size(max_bytes)}")
        url = urlsplit(file.url)
        if (url.scheme, url.netloc) not in self._origins:
            raise UpstreamError(f"Slack did not give the file: {url.netloc or 'no'} host is not Slack's")
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.get(file.url, headers=headers) as response,
            ):
                if response.status != 200:
                    raise UpstreamError(f"Slack did not give the file: HTTP {response.status}")
                if response.content_type == "text/html":
                    raise UpstreamError("Slack did not give the file: a sign-in page came back (token not accepted)")
                if (response.content_length or 0) > max_bytes:
                    raise InputError(f"the file is larger than {_size(max_bytes)}")
                body = bytearray()
                async for chunk in response.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise InputError(f"the file is larger than {_size(max_bytes)}")
                return bytes(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"Slack did not give the file: {type(exc).__name__}") from exc
