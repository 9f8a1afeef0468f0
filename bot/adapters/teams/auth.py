"""Inbound authentication of Teams activities (issue 9): the bearer token first, before anything else.

A token is accepted only if it is RS256, signed by a key the configured OpenID metadata's
``jwks_uri`` publishes, for Kura's app id, from an allowed issuer, in date (300 s leeway, as the SDK),
and its ``serviceurl`` claim names the activity's ``serviceUrl``; that URL's host must also be on the
allowlist, since replies go there. We validate ourselves rather than through the Agents SDK because
its key URL is hard-coded by issuer, its issuer check is off by default and a ``serviceurl`` mismatch
is only logged (NOTES.md). Every refusal is one :class:`AuthError` with a short code word.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
from aiohttp import web

from bot.settings import TeamsSettings

__all__ = ["AuthError", "InboundAuth", "KeySet", "check_service_url", "guarded"]

_log = logging.getLogger(__name__)

Claims = dict[str, Any]
Clock = Callable[[], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LEEWAY_SECONDS = 300
#: Tokens are a few KB; anything far larger is not one (and is not worth parsing).
MAX_TOKEN_CHARS = 16_384
MAX_DOCUMENT_BYTES = 1_048_576
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: The request key under which a guarded handler finds the verified claims and the parsed activity.
CLAIMS_KEY: web.RequestKey[Claims] = web.RequestKey("teams_claims", dict)
ACTIVITY_KEY: web.RequestKey[dict[str, Any]] = web.RequestKey("teams_activity", dict)


class AuthError(Exception):
    """A refused request. ``reason`` is a short code word; it never holds token text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _allowed_url(url: str, hosts: frozenset[str]) -> bool:
    """https to a host on the list (exactly), or http to a loopback host on it (tests)."""
    if any(ch <= " " or ch in "\\\x7f" for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None or host not in hosts:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)


def check_service_url(service_url: object, hosts: list[str]) -> str:
    """The activity's ``serviceUrl`` if replies may go there, else :class:`AuthError` ``service_url``."""
    allowed = frozenset(host.lower() for host in hosts)
    if not isinstance(service_url, str) or not _allowed_url(service_url, allowed):
        raise AuthError("service_url")
    return service_url


async def _get_json(session: aiohttp.ClientSession, url: str) -> Mapping[str, Any]:
    async with session.get(url, allow_redirects=False) as response:
        if response.status != 200:
            raise AuthError("keys_unavailable")
        body = bytearray()
        async for chunk in response.content.iter_chunked(65_536):
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise AuthError("keys_unavailable")
    try:
        document = json.loads(body)
    except ValueError:
        raise AuthError("keys_unavailable") from None
    if not isinstance(document, dict):
        raise AuthError("keys_unavailable")
    return document


class KeySet:
    """The signing keys behind an OpenID metadata URL, fetched with aiohttp and cached.

    Keys are refetched when older than ``max_age`` or when a token names an unknown ``kid`` (a
    rotation), but never more often than every ``min_interval`` seconds, so a flood of made-up kids
    costs the identity provider one request per interval. Concurrent misses share one fetch.
    """

    def __init__(
        self,
        metadata_url: str,
        session: aiohttp.ClientSession,
        *,
        min_interval: float = 60.0,
        max_age: float = 86_400.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._metadata_url = metadata_url
        self._session = session
        self._min_interval = min_interval
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # the last successful fetch
        self._attempted_at: float | None = None  # the last attempt, successful or not
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, refreshing the set if allowed; None if it is not published."""
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:
            if (kid not in self._keys or self._stale()) and self._may_fetch():
                await self._refresh()
        if not self._keys:
            raise AuthError("keys_unavailable")
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_interval

    async def _refresh(self) -> None:
        # The floor counts failed attempts too: an unreachable provider is not retried per request.
        # Until a fetch succeeds, the keys already known stay in use.
        self._attempted_at = self._clock()
        try:
            metadata = await _get_json(self._session, self._metadata_url)
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise AuthError("keys_unavailable")
            document = await _get_json(self._session, jwks_uri)
        except (aiohttp.ClientError, TimeoutError) as exc:
            _log.warning("teams signing keys could not be fetched: %s", type(exc).__name__)
            return
        except AuthError:
            _log.warning("teams signing keys could not be fetched: bad response")
            return
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys") or []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            try:
                key = jwt.PyJWK(entry, algorithm="RS256")
            except jwt.PyJWKError:
                continue
            if isinstance(kid, str) and kid:
                keys[kid] = key
        if keys:
            self._keys = keys
            self._fetched_at = self._attempted_at
        else:
            _log.warning("teams signing keys: the key set holds no usable RSA key")


_DECODE_ERRORS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
)


class InboundAuth:
    """Validates the ``Authorization`` header of an activity request against ``settings``."""

    def __init__(self, settings: TeamsSettings, keys: KeySet) -> None:
        self._settings = settings
        self._keys = keys

    @classmethod
    def from_settings(
        cls, settings: TeamsSettings, session: aiohttp.ClientSession, *, min_interval: float = 60.0
    ) -> InboundAuth:
        return cls(settings, KeySet(settings.openid_metadata_url, session, min_interval=min_interval))

    async def verify(self, authorization: str | None, service_url: object) -> Claims:
        """The token's claims if the request may proceed for an activity naming ``service_url``."""
        claims = await self.verify_token(authorization)
        self.check_activity(claims, service_url)
        return claims

    def check_activity(self, claims: Claims, service_url: object) -> str:
        """The activity's service URL if it is allowed and is the one the token was issued for."""
        expected = check_service_url(service_url, self._settings.service_url_hosts)
        claimed = claims.get("serviceurl")
        # A trailing slash is not a different endpoint; anything else is.
        if not isinstance(claimed, str) or claimed.rstrip("/") != expected.rstrip("/"):
            raise AuthError("serviceurl_claim")
        return expected

    async def verify_token(self, authorization: str | None) -> Claims:
        """The token's claims (signature, algorithm, audience, issuer, dates), without the
        activity checks; :meth:`verify` is the whole check."""
        app_id = self._settings.app_id
        if not app_id:
            raise AuthError("not_configured")
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("malformed_token") from None
        if header.get("alg") != "RS256":
            raise AuthError("algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("unknown_kid")
        key = await self._keys.get(kid)
        if key is None:
            raise AuthError("unknown_kid")
        try:
            claims: Claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=app_id,
                issuer=list(self._settings.issuers),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as exc:
            reason = next((code for kind, code in _DECODE_ERRORS if isinstance(exc, kind)), "invalid_token")
            raise AuthError(reason) from None
        return claims


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        raise AuthError("malformed_header")
    if token.count(".") != 2 or not all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in token):
        raise AuthError("malformed_header")
    return token


def guarded(auth: InboundAuth, handler: Handler) -> Handler:
    """``handler`` behind :class:`InboundAuth`: a refused request gets a bare 401 (503 while the
    keys cannot be fetched, so the connector retries) and the handler never runs. The handler finds
    the verified claims at ``request[CLAIMS_KEY]`` and the parsed activity at ``request[ACTIVITY_KEY]``.
    """

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            # The token is checked before the body is even read.
            claims = await auth.verify_token(request.headers.get("Authorization"))
            try:
                activity = json.loads(await request.read())
            except (ValueError, web.HTTPRequestEntityTooLarge):
                raise AuthError("malformed_activity") from None
            if not isinstance(activity, dict):
                raise AuthError("malformed_activity")
            auth.check_activity(claims, activity.get("serviceUrl"))
        except AuthError as exc:
            _log.info("teams request refused: %s", exc.reason)
            if exc.reason == "keys_unavailable":
                return web.Response(status=503)
            return web.Response(status=401)
        request[CLAIMS_KEY] = claims
        request[ACTIVITY_KEY] = activity
        return await handler(request)

    return wrapper
