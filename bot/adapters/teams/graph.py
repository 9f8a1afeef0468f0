"""Entra ID groups as the directory (issue 9): the groups a person is in, from Microsoft Graph.

``GET /users/{id}/transitiveMemberOf/microsoft.graph.group`` lists every group the user is in,
directly or through other groups, up to 999 a page; ``@odata.nextLink`` pages are followed only while
they stay on the configured Graph origin, since each carries Kura's token. Every group counts by its
display name and by its id, exactly as Graph gives them: Kura compares group names exactly
(``group:`` entries in access metadata and the directory file's groups are not case-folded), so
``group:HR`` and ``group:hr`` are different groups here too, and an id names a group whatever it is
renamed to.

Results are cached per user for ``ttl_s`` (a person removed from a group loses it within that time),
and lookups of one user that overlap share one Graph call. Retries of 429/5xx belong to the session
(``RetryPolicy`` middleware), which the caller creates.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import aiohttp
from yarl import URL

from bot.adapters.cache import Shared, TTLCache
from bot.adapters.teams.tokens import TokenSource
from bot.errors import ConfigurationError, DirectoryUnavailable, UpstreamError

__all__ = ["GRAPH_PAGE_SIZE", "MAX_PAGES", "GraphGroups", "is_object_id"]

_log = logging.getLogger(__name__)

#: The most Graph returns a page for directory objects.
GRAPH_PAGE_SIZE = 999
#: Pages followed at most (about 100,000 groups): a link that never ends is a fault, not a directory.
MAX_PAGES = 100
_OBJECT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def is_object_id(value: object) -> bool:
    """True for an Entra object id (a GUID), the only thing put into a Graph URL."""
    return isinstance(value, str) and _OBJECT_ID.fullmatch(value) is not None


def _base(base_url: str) -> URL:
    url = URL(base_url.rstrip("/"))
    secure = url.scheme == "https" or (url.scheme == "http" and url.host in _LOOPBACK)
    if not url.is_absolute() or not secure or url.user is not None or url.password is not None:
        raise ConfigurationError(f"KURA_GRAPH_BASE_URL must be an https URL: {base_url!r}")
    return url


def _names(body: Any) -> set[str]:
    """Display names and ids of the groups in one page (anything malformed is left out)."""
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise DirectoryUnavailable("Graph transitiveMemberOf: the answer holds no list of groups")
    names: set[str] = set()
    for group in values:
        if not isinstance(group, dict):
            continue
        for field in ("id", "displayName"):
            value = group.get(field)
            if isinstance(value, str) and value:
                names.add(value)
    return names


def _error_code(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    # A code word from Graph, kept short and printable for a one-line log and error.
    return re.sub(r"[^A-Za-z0-9_.-]", "", code)[:64] if isinstance(code, str) else "unknown"


class GraphGroups:
    """The Entra groups of a user, by object id (``groups_of``)."""

    def __init__(
        self, session: aiohttp.ClientSession, tokens: TokenSource, base_url: str, *, ttl_s: float = 300.0
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._base = _base(base_url)
        # Graph's app id URI is its origin in every cloud (graph.microsoft.com, graph.microsoft.us,
        # microsoftgraph.chinacloudapi.cn): a token for another Graph would be refused.
        self.scope = f"{self._base.origin()}/.default"
        # Results (a frozenset, or None for a user Graph does not know) kept as a 1-tuple, since the
        # cache's None means "not cached".
        self._cache = TTLCache(ttl_s)
        self._shared = Shared()

    async def groups_of(self, aad_object_id: str) -> frozenset[str] | None:
        """Every group ``aad_object_id`` is a transitive member of, by display name and by id; None
        when Graph does not know the user (or the id is not an object id: no call is made).

        Raises:
            DirectoryUnavailable: Graph or the token authority failed (one line, no token in it).
        """
        if not is_object_id(aad_object_id):
            _log.warning("not an Entra object id: no Graph lookup")
            return None
        key = aad_object_id.lower()  # GUIDs are case-insensitive: one cache entry per person
        hit = self._cache.get(key)
        if hit is not None:
            cached: frozenset[str] | None = hit[0]
            return cached
        return await self._shared.run(key, lambda: self._fetch(key))

    async def _fetch(self, object_id: str) -> frozenset[str] | None:
        url: URL | None = (
            self._base / "users" / object_id / "transitiveMemberOf" / "microsoft.graph.group"
        ).with_query({"$select": "id,displayName", "$top": str(GRAPH_PAGE_SIZE)})
        names: set[str] = set()
        pages = 0
        while url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise DirectoryUnavailable(f"Graph transitiveMemberOf: more than {MAX_PAGES} pages")
            body = await self._get(url, first=pages == 1)
            if body is None:
                self._cache.put(object_id, (None,))
                return None
            names |= _names(body)
            url = self._next(body)
        result = frozenset(names)
        self._cache.put(object_id, (result,))
        return result

    def _next(self, body: dict[str, Any]) -> URL | None:
        link = body.get("@odata.nextLink")
        if link is None:
            return None
        if not isinstance(link, str):
            raise DirectoryUnavailable("Graph transitiveMemberOf: a malformed next page link")
        # encoded=True: the link's $skiptoken is already percent-encoded and must go back as is.
        url = URL(link, encoded=True)
        base = self._base
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        if not same_origin or url.user is not None or not url.path.startswith(base.path.rstrip("/") + "/"):
            # Following it would hand Kura's Graph token to whoever wrote the link.
            raise DirectoryUnavailable("Graph transitiveMemberOf: a next page link leaves the Graph host: refused")
        return url

    async def _get(self, url: URL, *, first: bool) -> dict[str, Any] | None:
        """One page; None for a user Graph does not know (404 ``Request_ResourceNotFound`` on the
        first page)."""
        try:
            token = await self._tokens.token(self.scope)
        except (UpstreamError, ConfigurationError) as exc:
            raise DirectoryUnavailable(f"no Graph token: {exc}") from exc
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False) as response:
                status = response.status
                text = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DirectoryUnavailable(f"Graph transitiveMemberOf could not be read ({type(exc).__name__})") from exc
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = None  # a proxy's error page, say: the status says what happened
        if status == 404 and first and _error_code(body) == "Request_ResourceNotFound":
            return None  # any other 404 (a wrong base URL, a proxy) is a fault, not an unknown user
        if status != 200 or not isinstance(body, dict):
            code = _error_code(body)
            _log.warning("Graph transitiveMemberOf failed status=%s code=%s", status, code)
            raise DirectoryUnavailable(f"Graph transitiveMemberOf answered {status} ({code})")
        return body
