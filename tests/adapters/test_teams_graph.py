"""Entra groups from Microsoft Graph (``GraphGroups``) against a local fake Graph over TLS, with a
real token from the fake identity provider (``TokenSource``) as the bearer, and the session's
``RetryPolicy`` doing the retrying."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import jwt
import pytest
import requests

from bot.adapters.teams.graph import GraphGroups, is_object_id
from bot.adapters.teams.retry import RetryPolicy
from bot.adapters.teams.tokens import GRAPH_SCOPE, TokenSource
from bot.errors import ConfigurationError, DirectoryUnavailable
from bot.settings import GraphSettings, TeamsSettings
from tests.fakes import tls
from tests.fakes.entra import APP_ID, TENANT_ID, FakeEntra
from tests.fakes.graph import FakeGraph, GraphGroup, new_id

pytestmark = pytest.mark.adapters

SECRET = "graph-test-secret"  # noqa: S105 - a test value

ALICE = "7d1f6a53-35b0-4d8e-9d7b-2f2f0f6c1a01"
BOB = "0b6c7e1a-9a55-4c0e-8f0e-6f5f3b2c2b02"
STRANGER = "99999999-9999-4999-8999-999999999999"
HR = GraphGroup("11111111-1111-4111-8111-111111111111", "hr")
ALL_STAFF = GraphGroup("22222222-2222-4222-8222-222222222222", "all-staff")
FINANCE = GraphGroup("33333333-3333-4333-8333-333333333333", "Finance")
#: alice is in hr, and hr in all-staff.
ALICES = frozenset({"hr", HR.id, "all-staff", ALL_STAFF.id})


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    async with FakeEntra(clients={APP_ID: SECRET}, tls=True) as fake:
        yield fake


@pytest.fixture
async def graph(entra: FakeEntra) -> AsyncIterator[FakeGraph]:
    fake = FakeGraph(token_check=entra.issued_token_check)
    fake.add_group(ALL_STAFF)
    fake.add_group(HR, ALL_STAFF.id)  # hr is inside all-staff: alice is in both, transitively
    fake.add_group(FINANCE)
    fake.add_user(ALICE, HR.id)
    fake.add_user(BOB)
    async with fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(tls.ca_file())
        yield session


def teams_settings(entra: FakeEntra, password: str) -> TeamsSettings:
    values = {"app_id": APP_ID, "app_password": password, "tenant_id": TENANT_ID, "token_authority": entra.origin}
    return TeamsSettings.model_validate(values)


@pytest.fixture
def tokens(entra: FakeEntra, http: requests.Session) -> TokenSource:
    return TokenSource(teams_settings(entra, SECRET), http_client=http)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """As Kura's runner makes it: retries in the middleware (short backoff for the tests)."""
    connector = aiohttp.TCPConnector(ssl=tls.client_context())
    async with aiohttp.ClientSession(
        connector=connector,
        middlewares=(RetryPolicy(base_s=0.05),),
        timeout=aiohttp.ClientTimeout(total=10),
    ) as client:
        yield client


@pytest.fixture
def groups(session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph) -> GraphGroups:
    return GraphGroups(session, tokens, graph.base_url)


async def test_a_users_groups_come_back_by_name_and_id_nested_included(
    groups: GraphGroups, graph: FakeGraph, entra: FakeEntra
) -> None:
    assert await groups.groups_of(ALICE) == ALICES
    [call] = graph.group_calls(ALICE)
    assert call.path == f"/v1.0/users/{ALICE}/transitiveMemberOf/microsoft.graph.group"
    assert call.query == {"$select": "id,displayName", "$top": "999"}
    assert call.authorization is not None
    assert entra.issued_token_check(call.authorization.removeprefix("Bearer "))


async def test_the_token_is_for_the_configured_graph(
    session: aiohttp.ClientSession, tokens: TokenSource, groups: GraphGroups, graph: FakeGraph, entra: FakeEntra
) -> None:
    await groups.groups_of(ALICE)
    [call] = graph.group_calls(ALICE)
    assert call.authorization is not None
    public = jwt.PyJWK(entra.keys[0].jwk()).key
    claims = jwt.decode(call.authorization.removeprefix("Bearer "), public, algorithms=["RS256"], audience=graph.origin)
    assert claims["appid"] == APP_ID
    # With the default base URL the scope is the public Graph's, as tokens.GRAPH_SCOPE says.
    assert GraphGroups(session, tokens, GraphSettings().base_url).scope == GRAPH_SCOPE


async def test_a_user_in_no_group_has_none(groups: GraphGroups) -> None:
    assert await groups.groups_of(BOB) == frozenset()


async def test_names_are_kept_exactly_as_access_metadata_compares_them(groups: GraphGroups, graph: FakeGraph) -> None:
    graph.add_user(BOB, FINANCE.id)
    # Kura compares group names exactly (knowledge/access.py, bot/identity.py): no case folding.
    assert await groups.groups_of(BOB) == frozenset({"Finance", FINANCE.id})


async def test_pages_are_followed(session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph) -> None:
    many = [GraphGroup(new_id(), f"team-{n:02}") for n in range(7)]
    for group in many:
        graph.add_group(group)
    graph.add_user(BOB, *(group.id for group in many))
    graph.page_size = 3
    found = await GraphGroups(session, tokens, graph.base_url).groups_of(BOB)
    assert found == frozenset({group.display_name for group in many} | {group.id for group in many})
    calls = graph.group_calls(BOB)
    assert len(calls) == 3
    assert all("$skiptoken" in call.query for call in calls[1:])
    assert all(call.authorization == calls[0].authorization for call in calls)


async def test_a_cycle_of_groups_is_finite(groups: GraphGroups, graph: FakeGraph) -> None:
    graph.add_group(FINANCE, HR.id)
    graph.add_group(HR, ALL_STAFF.id, FINANCE.id)  # hr ⊂ finance ⊂ hr
    assert await groups.groups_of(ALICE) == ALICES | {"Finance", FINANCE.id}


async def test_a_second_lookup_within_the_ttl_is_cached(groups: GraphGroups, graph: FakeGraph) -> None:
    first = await groups.groups_of(ALICE)
    assert await groups.groups_of(ALICE) == first
    assert await groups.groups_of(ALICE.upper()) == first  # object ids are GUIDs: case does not matter
    assert len(graph.group_calls()) == 1


async def test_after_the_ttl_graph_is_asked_again(
    session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph
) -> None:
    short = GraphGroups(session, tokens, graph.base_url, ttl_s=0.2)
    assert await short.groups_of(ALICE) == ALICES
    graph.directory.member_of[ALICE] = []  # alice leaves hr
    assert await short.groups_of(ALICE) == ALICES  # still cached
    await asyncio.sleep(0.3)
    assert await short.groups_of(ALICE) == frozenset()
    assert len(graph.group_calls(ALICE)) == 2


async def test_concurrent_lookups_of_one_user_share_one_call(groups: GraphGroups, graph: FakeGraph) -> None:
    results = await asyncio.gather(*(groups.groups_of(ALICE) for _ in range(20)))
    assert all(result == results[0] for result in results)
    assert len(graph.group_calls(ALICE)) == 1


async def test_an_unknown_user_is_none_and_remembered(groups: GraphGroups, graph: FakeGraph) -> None:
    assert await groups.groups_of(STRANGER) is None
    assert await groups.groups_of(STRANGER) is None
    assert len(graph.group_calls(STRANGER)) == 1


@pytest.mark.parametrize(
    "object_id",
    [
        "",
        "alice@example.co.jp",
        "../../groups",
        f"{ALICE}/../{BOB}",
        f"{ALICE}?$select=mail",
        f"{ALICE}#",
        f" {ALICE}",
        f"{ALICE}\n",
        ALICE.replace("-", ""),
        "{" + ALICE + "}",
        "7d1f6a53-35b0-4d8e-9d7b-2f2f0f6c1a0g",
        "７d1f6a53-35b0-4d8e-9d7b-2f2f0f6c1a01",  # a full-width digit
    ],
)
async def test_a_malformed_object_id_makes_no_call(groups: GraphGroups, graph: FakeGraph, object_id: str) -> None:
    assert not is_object_id(object_id)
    assert await groups.groups_of(object_id) is None
    assert graph.calls == []


async def test_a_404_that_is_not_about_the_user_is_directory_unavailable(groups: GraphGroups, graph: FakeGraph) -> None:
    # A wrong base URL or a proxy's 404 must not read as "this person is in no Entra group".
    graph.fail(404)
    with pytest.raises(DirectoryUnavailable, match="404"):
        await groups.groups_of(ALICE)


async def test_a_wrong_base_path_is_directory_unavailable(
    session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph
) -> None:
    with pytest.raises(DirectoryUnavailable):
        await GraphGroups(session, tokens, f"{graph.origin}/beta").groups_of(ALICE)


async def test_forbidden_is_directory_unavailable_without_the_token(groups: GraphGroups, graph: FakeGraph) -> None:
    graph.fail(403)
    with pytest.raises(DirectoryUnavailable) as caught:
        await groups.groups_of(ALICE)
    message = str(caught.value)
    assert "403" in message
    assert "Authorization_RequestDenied" in message
    assert "\n" not in message
    [call] = graph.group_calls(ALICE)
    assert call.authorization is not None
    assert call.authorization.removeprefix("Bearer ") not in message
    # A failure is not cached: the next lookup asks again.
    assert await groups.groups_of(ALICE) == ALICES


async def test_a_token_graph_does_not_accept_is_directory_unavailable(groups: GraphGroups, graph: FakeGraph) -> None:
    graph.token_check = lambda token: False
    with pytest.raises(DirectoryUnavailable, match="401"):
        await groups.groups_of(ALICE)


async def test_rate_limited_then_answered_honours_retry_after(groups: GraphGroups, graph: FakeGraph) -> None:
    graph.rate_limit(times=1, retry_after=1)
    started = time.monotonic()
    assert await groups.groups_of(ALICE) == ALICES
    assert time.monotonic() - started >= 0.9
    assert len(graph.group_calls(ALICE)) == 2


async def test_unavailable_after_retries_is_directory_unavailable(groups: GraphGroups, graph: FakeGraph) -> None:
    graph.fail(503, times=10)
    with pytest.raises(DirectoryUnavailable, match="503"):
        await groups.groups_of(ALICE)
    assert len(graph.group_calls(ALICE)) == RetryPolicy().attempts


@pytest.mark.parametrize(
    "origin",
    [
        "https://graph.evil.example",
        "http://127.0.0.1:{port}",  # the same host, downgraded to http
        "https://127.0.0.1:1",  # the same host, another port
        "https://user@127.0.0.1:{port}",
        "https://127.0.0.1:{port}@graph.evil.example",
    ],
)
async def test_a_next_page_link_off_the_graph_origin_is_refused(
    session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph, origin: str
) -> None:
    graph.add_user(BOB, HR.id, FINANCE.id)
    graph.page_size = 1
    graph.next_link_origin = origin.format(port=graph.port)
    with pytest.raises(DirectoryUnavailable, match="refused"):
        await GraphGroups(session, tokens, graph.base_url).groups_of(BOB)
    assert len(graph.group_calls()) == 1  # the token never went anywhere else


async def test_a_next_page_link_outside_the_base_path_is_refused(
    session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph
) -> None:
    graph.add_user(BOB, HR.id, FINANCE.id)
    graph.page_size = 1
    graph.next_link_origin = f"{graph.origin}/elsewhere"  # → /elsewhere/v1.0/…: not under /v1.0/
    with pytest.raises(DirectoryUnavailable, match="refused"):
        await GraphGroups(session, tokens, graph.base_url).groups_of(BOB)


async def test_an_unreachable_graph_is_directory_unavailable(
    session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph
) -> None:
    base = graph.base_url
    await graph.stop()
    with pytest.raises(DirectoryUnavailable, match="could not be read"):
        await GraphGroups(session, tokens, base).groups_of(ALICE)


async def test_no_token_is_directory_unavailable(
    session: aiohttp.ClientSession, entra: FakeEntra, http: requests.Session, graph: FakeGraph
) -> None:
    refused = GraphGroups(session, TokenSource(teams_settings(entra, "wrong"), http_client=http), graph.base_url)
    with pytest.raises(DirectoryUnavailable, match="invalid_client"):
        await refused.groups_of(ALICE)
    assert graph.calls == []


@pytest.mark.parametrize(
    "base_url", ["http://graph.microsoft.com/v1.0", "graph.microsoft.com/v1.0", "https://u:p@graph.microsoft.com/v1.0"]
)
def test_a_base_url_that_would_leak_the_token_is_a_configuration_error(
    session: aiohttp.ClientSession, tokens: TokenSource, base_url: str
) -> None:
    with pytest.raises(ConfigurationError, match="KURA_GRAPH_BASE_URL"):
        GraphGroups(session, tokens, base_url)


def test_graph_settings_defaults_and_bounds() -> None:
    settings = GraphSettings()
    assert (settings.base_url, settings.groups, settings.groups_ttl_s) == (
        "https://graph.microsoft.com/v1.0",
        False,
        300.0,
    )
    with pytest.raises(ValueError, match="greater than 0"):
        GraphSettings(groups_ttl_s=0)
