"""Inbound Teams authentication against a local fake identity provider (tests/fakes/entra.py):
real RS256 tokens, keys fetched over HTTP, each kind of forgery refused with its reason."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable

import aiohttp
import jwt
import pytest
from aiohttp import web

from bot.adapters.teams.auth import (
    ACTIVITY_KEY,
    CLAIMS_KEY,
    LEEWAY_SECONDS,
    AuthError,
    InboundAuth,
    KeySet,
    check_service_url,
    guarded,
)
from bot.settings import TeamsSettings
from tests.fakes.entra import APP_ID, BOT_FRAMEWORK_ISSUER, CONNECTOR_SCOPE, TENANT_ID, FakeEntra, SigningKey

pytestmark = pytest.mark.adapters

SERVICE_URL = "https://smba.trafficmanager.net/amer/"


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    async with FakeEntra(clients={APP_ID: "s3cret"}) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


def teams_settings(entra: FakeEntra, **overrides: object) -> TeamsSettings:
    values: dict[str, object] = {
        "app_id": APP_ID,
        "openid_metadata_url": entra.metadata_url,
        "issuers": [BOT_FRAMEWORK_ISSUER],
        "service_url_hosts": ["smba.trafficmanager.net", "127.0.0.1"],
    }
    return TeamsSettings.model_validate(values | overrides)


@pytest.fixture
def auth(entra: FakeEntra, session: aiohttp.ClientSession) -> InboundAuth:
    return InboundAuth.from_settings(teams_settings(entra), session)


async def refused(auth: InboundAuth, authorization: str | None, service_url: object = SERVICE_URL) -> str:
    with pytest.raises(AuthError) as caught:
        await auth.verify(authorization, service_url)
    return caught.value.reason


# ---------------------------------------------------------------------------------------- tokens


async def test_a_valid_token_passes(entra: FakeEntra, auth: InboundAuth) -> None:
    claims = await auth.verify(f"Bearer {entra.token(service_url=SERVICE_URL)}", SERVICE_URL)
    assert claims["aud"] == APP_ID
    assert claims["iss"] == BOT_FRAMEWORK_ISSUER


async def test_expiry_within_the_leeway_passes(entra: FakeEntra, auth: InboundAuth) -> None:
    token = entra.token(service_url=SERVICE_URL, expires_in=-(LEEWAY_SECONDS - 60))
    assert (await auth.verify(f"bearer {token}", SERVICE_URL))["aud"] == APP_ID


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["aud"] = APP_ID
    claims["serviceurl"] = SERVICE_URL
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


def signed(**options: object) -> Callable[[FakeEntra], str]:
    """A token for the expected service URL with ``options`` passed to :meth:`FakeEntra.token`."""
    return lambda entra: entra.token(**{"service_url": SERVICE_URL, **options})  # type: ignore[arg-type]


FORGERIES: dict[str, tuple[Callable[[FakeEntra], str], str]] = {
    "another key, published kid": (signed(key=SigningKey.generate("fake-key-1")), "signature"),
    "payload changed after signing": (lambda e: _tamper(signed(audience="someone-else")(e)), "signature"),
    "unknown kid": (signed(kid="no-such-key"), "unknown_kid"),
    "empty kid": (signed(kid=""), "unknown_kid"),
    "wrong audience": (signed(audience="another-bot"), "audience"),
    "audience as a prefix": (signed(audience=APP_ID + "0"), "audience"),
    "wrong issuer": (signed(issuer="https://evil.example.com"), "issuer"),
    "issuer with a suffix": (signed(issuer=BOT_FRAMEWORK_ISSUER + ".evil.com"), "issuer"),
    "no issuer": (signed(claims={"iss": None}), "missing_claim"),
    "no expiry": (signed(claims={"exp": None}), "missing_claim"),
    "no audience": (signed(claims={"aud": None}), "missing_claim"),
    "expired": (signed(expires_in=-(LEEWAY_SECONDS + 60)), "expired"),
    "not yet valid": (signed(not_before=LEEWAY_SECONDS + 600), "not_yet_valid"),
    "alg none": (signed(alg="none"), "algorithm"),
    "HS256 keyed with the public key": (signed(alg="HS256"), "algorithm"),
    "RS512": (signed(alg="RS512"), "algorithm"),
    "no serviceurl claim": (signed(service_url=None), "serviceurl_claim"),
    "serviceurl of another region": (signed(service_url="https://smba.trafficmanager.net/emea/"), "serviceurl_claim"),
    "serviceurl not a string": (signed(claims={"serviceurl": [SERVICE_URL]}), "serviceurl_claim"),
}


@pytest.mark.parametrize("case", list(FORGERIES))
async def test_forged_tokens_are_refused_with_their_reason(entra: FakeEntra, auth: InboundAuth, case: str) -> None:
    make, reason = FORGERIES[case]
    assert await refused(auth, f"Bearer {make(entra)}") == reason


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Basic dXNlcjpwYXNz", "malformed_header"),
        ("Bearer", "malformed_header"),
        ("Bearer ", "malformed_header"),
        ("Bearer a.b", "malformed_header"),
        ("Bearer a.b.c d", "malformed_header"),
        ("Bearer " + "a" * 20_000 + ".b.c", "malformed_header"),
        ("Bearer ａ.b.c", "malformed_header"),
        ("Bearer garbage.garbage.garbage", "malformed_token"),
    ],
)
async def test_missing_or_malformed_headers_are_refused(
    entra: FakeEntra, auth: InboundAuth, authorization: str | None, reason: str
) -> None:
    assert await refused(auth, authorization) == reason
    assert entra.count("/keys") == 0  # refused before any key is fetched


async def test_the_reason_never_holds_the_token(entra: FakeEntra, auth: InboundAuth) -> None:
    token = entra.token(service_url=SERVICE_URL, audience="another-bot")
    with pytest.raises(AuthError) as caught:
        await auth.verify(f"Bearer {token}", SERVICE_URL)
    assert token.split(".")[1] not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_nothing_is_accepted_without_an_app_id(entra: FakeEntra, session: aiohttp.ClientSession) -> None:
    unconfigured = InboundAuth.from_settings(teams_settings(entra, app_id=None), session)
    assert await refused(unconfigured, f"Bearer {entra.token(service_url=SERVICE_URL)}") == "not_configured"


# ---------------------------------------------------------------------------------------- service URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://smba.trafficmanager.net/amer/",
        "https://SMBA.trafficmanager.net/teams/",
        "https://smba.trafficmanager.net:443/emea/",
        "http://127.0.0.1:8080/teams/",
        "https://127.0.0.1/teams/",
    ],
)
def test_allowed_service_urls(url: str) -> None:
    assert check_service_url(url, ["smba.trafficmanager.net", "127.0.0.1"]) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://smba.trafficmanager.net/amer/",  # plain http leaves the loopback: never
        "https://smba.trafficmanager.net.evil.com/",
        "https://evil.smba.trafficmanager.net/",
        "https://smba.trafficmanager.net./",
        "https://evil.com/smba.trafficmanager.net/",
        "https://smba.trafficmanager.net@evil.com/",
        "https://user:pw@smba.trafficmanager.net/",
        "https://evil.com\\@smba.trafficmanager.net/",
        "https://evil.com\\.smba.trafficmanager.net/",
        " https://smba.trafficmanager.net/",
        "https://smba.trafficmanager.net/\n",
        "https://smba.trafficmanager.net:99999/",
        "ftp://smba.trafficmanager.net/",
        "//smba.trafficmanager.net/",
        "smba.trafficmanager.net",
        "http://localhost/teams/",  # loopback, but not on the list
        "",
        None,
        42,
    ],
)
def test_refused_service_urls(url: object) -> None:
    with pytest.raises(AuthError, match=r"^service_url$"):
        check_service_url(url, ["smba.trafficmanager.net", "127.0.0.1"])


async def test_a_valid_token_for_a_host_not_on_the_list_is_refused(entra: FakeEntra, auth: InboundAuth) -> None:
    evil = "https://evil.example.com/teams/"
    assert await refused(auth, f"Bearer {entra.token(service_url=evil)}", evil) == "service_url"


# ---------------------------------------------------------------------------------------- keys


async def test_keys_are_fetched_once_for_many_requests(entra: FakeEntra, auth: InboundAuth) -> None:
    for _ in range(20):
        await auth.verify(f"Bearer {entra.token(service_url=SERVICE_URL)}", SERVICE_URL)
    assert entra.count("/v1/.well-known/openidconfiguration") == 1
    assert entra.count("/keys") == 1


async def test_concurrent_first_requests_share_one_fetch(entra: FakeEntra, auth: InboundAuth) -> None:
    token = f"Bearer {entra.token(service_url=SERVICE_URL)}"
    await asyncio.gather(*(auth.verify(token, SERVICE_URL) for _ in range(20)))
    assert entra.count("/keys") == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_new_kid_refreshes_the_keys_once(entra: FakeEntra, session: aiohttp.ClientSession) -> None:
    clock = Clock()
    auth = InboundAuth(teams_settings(entra), KeySet(entra.metadata_url, session, min_interval=60, clock=clock))
    await auth.verify(f"Bearer {entra.token(service_url=SERVICE_URL)}", SERVICE_URL)
    clock.now += 61
    entra.rotate("fake-key-2")
    rotated = f"Bearer {entra.token(service_url=SERVICE_URL)}"
    for _ in range(5):
        assert (await auth.verify(rotated, SERVICE_URL))["aud"] == APP_ID
    assert entra.count("/keys") == 2


async def test_a_flood_of_unknown_kids_cannot_hammer_the_provider(
    entra: FakeEntra, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    auth = InboundAuth(teams_settings(entra), KeySet(entra.metadata_url, session, min_interval=60, clock=clock))
    await auth.verify(f"Bearer {entra.token(service_url=SERVICE_URL)}", SERVICE_URL)
    flood = [f"Bearer {entra.token(service_url=SERVICE_URL, kid=uuid.uuid4().hex)}" for _ in range(50)]
    reasons = await asyncio.gather(*(refused(auth, token) for token in flood))
    assert set(reasons) == {"unknown_kid"}
    assert entra.count("/keys") == 1  # within the floor: no refetch at all
    clock.now += 61
    reasons = await asyncio.gather(*(refused(auth, token) for token in flood))
    assert set(reasons) == {"unknown_kid"}
    assert entra.count("/keys") == 2  # one per interval, however many kids


async def test_a_key_withdrawn_from_the_set_stops_working(entra: FakeEntra, session: aiohttp.ClientSession) -> None:
    clock = Clock()
    auth = InboundAuth(teams_settings(entra), KeySet(entra.metadata_url, session, min_interval=60, clock=clock))
    old = f"Bearer {entra.token(service_url=SERVICE_URL)}"
    await auth.verify(old, SERVICE_URL)
    entra.keys = [SigningKey.generate("fake-key-2")]
    clock.now += 86_400  # the cached set is now too old and is refetched
    assert await refused(auth, old) == "unknown_kid"


async def test_known_keys_stay_in_use_while_the_provider_is_down(
    entra: FakeEntra, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    auth = InboundAuth(teams_settings(entra), KeySet(entra.metadata_url, session, min_interval=60, clock=clock))
    token = f"Bearer {entra.token(service_url=SERVICE_URL)}"
    await auth.verify(token, SERVICE_URL)
    await entra.stop()
    clock.now += 86_400  # due for a refresh, which fails
    assert (await auth.verify(token, SERVICE_URL))["aud"] == APP_ID
    assert await refused(auth, f"Bearer {entra.token(service_url=SERVICE_URL, kid='new-kid')}") == "unknown_kid"


async def test_unreachable_keys_are_unavailable_not_accepted(entra: FakeEntra, session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    dead = teams_settings(
        entra, openid_metadata_url=f"http://127.0.0.1:{closed_port}/v1/.well-known/openidconfiguration"
    )
    auth = InboundAuth.from_settings(dead, session)
    assert await refused(auth, f"Bearer {entra.token(service_url=SERVICE_URL)}") == "keys_unavailable"


# ---------------------------------------------------------------------------------------- guarded handler


@pytest.fixture
async def guarded_app(auth: InboundAuth) -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    seen: list[dict[str, object]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append({"claims": request[CLAIMS_KEY], "activity": request[ACTIVITY_KEY]})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/api/messages", guarded(auth, handler))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/messages", seen
    finally:
        await runner.cleanup()


async def _post(session: aiohttp.ClientSession, url: str, token: str | None, body: bytes) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.read()


async def test_guarded_handler_runs_only_for_an_authenticated_activity(
    entra: FakeEntra, session: aiohttp.ClientSession, guarded_app: tuple[str, list[dict[str, object]]]
) -> None:
    url, seen = guarded_app
    activity = json.dumps({"type": "message", "serviceUrl": SERVICE_URL, "text": "hi"}).encode()
    status, _ = await _post(session, url, entra.token(service_url=SERVICE_URL), activity)
    assert status == 200
    assert seen[0]["activity"] == {"type": "message", "serviceUrl": SERVICE_URL, "text": "hi"}

    other = json.dumps({"type": "message", "serviceUrl": "https://evil.example.com/", "text": "hi"}).encode()
    refusals = [
        (None, activity),
        (entra.token(service_url=SERVICE_URL, key=SigningKey.generate("fake-key-1")), activity),
        (entra.token(service_url=SERVICE_URL, expires_in=-3600), activity),
        (entra.token(service_url=SERVICE_URL, audience="another-bot"), activity),
        (entra.token(service_url=SERVICE_URL, issuer="https://evil.example.com"), activity),
        (entra.token(service_url=SERVICE_URL), other),
        (entra.token(service_url="https://evil.example.com/"), other),
        (entra.token(service_url=SERVICE_URL), b"not json"),
        (entra.token(service_url=SERVICE_URL), b"[1, 2]"),
    ]
    for token, body in refusals:
        assert await _post(session, url, token, body) == (401, b"")
    assert len(seen) == 1


async def test_guarded_handler_answers_503_while_keys_are_unavailable(
    entra: FakeEntra, session: aiohttp.ClientSession, guarded_app: tuple[str, list[dict[str, object]]]
) -> None:
    url, seen = guarded_app
    token = entra.token(service_url=SERVICE_URL)
    await entra.stop()
    activity = json.dumps({"type": "message", "serviceUrl": SERVICE_URL}).encode()
    assert (await _post(session, url, token, activity))[0] == 503
    assert seen == []


# ---------------------------------------------------------------------------------------- the fake itself


async def test_fake_serves_metadata_on_both_paths(entra: FakeEntra, session: aiohttp.ClientSession) -> None:
    async with session.get(entra.metadata_url) as response:
        v1 = await response.json()
    async with session.get(f"{entra.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration") as response:
        v2 = await response.json()
    assert v1["issuer"] == BOT_FRAMEWORK_ISSUER
    assert v2["issuer"] == f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
    assert v1["jwks_uri"] == v2["jwks_uri"] == entra.jwks_url
    async with session.get(entra.jwks_url) as response:
        keys = (await response.json())["keys"]
    assert [key["kid"] for key in keys] == ["fake-key-1"]
    assert keys[0]["kty"] == "RSA"
    assert "d" not in keys[0]  # the public half only


async def test_fake_token_endpoint_issues_client_credentials_tokens(
    entra: FakeEntra, session: aiohttp.ClientSession
) -> None:
    url = f"{entra.authority}/{TENANT_ID}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": APP_ID,
        "client_secret": "s3cret",
        "scope": CONNECTOR_SCOPE,
    }
    async with session.post(url, data=form) as response:
        assert response.status == 200
        body = await response.json()
    assert body["token_type"] == "Bearer"  # noqa: S105 - a token type, not a secret
    token = body["access_token"]
    assert entra.issued_token_check(token)
    assert not entra.issued_token_check(entra.token())
    public = jwt.PyJWK(entra.keys[0].jwk()).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="https://api.botframework.com")
    assert claims["appid"] == APP_ID

    failures = [
        (url, form | {"client_secret": "wrong"}, 401, "invalid_client"),
        (url, form | {"client_id": "stranger"}, 401, "invalid_client"),
        (url, form | {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (url, form | {"scope": "https://api.botframework.com"}, 400, "invalid_scope"),
        (f"{entra.authority}/other-tenant/oauth2/v2.0/token", form, 400, "invalid_request"),
    ]
    for target, data, status, error in failures:
        async with session.post(target, data=data) as response:
            assert (response.status, (await response.json())["error"]) == (status, error)
    assert len(entra.issued) == 1
