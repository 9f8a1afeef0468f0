"""Kura's own tokens (``TokenSource``: msal, client credentials) against the fake identity provider
served over TLS with a test CA, as msal requires: a secret, a certificate, the cache, and each way
the credential or the authority can be wrong."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from bot.adapters.teams.tokens import BOT_CONNECTOR_SCOPE, GRAPH_SCOPE, TokenSource
from bot.errors import ConfigurationError, UpstreamError
from bot.settings import TeamsSettings
from tests.fakes import tls
from tests.fakes.entra import APP_ID, TENANT_ID, FakeEntra

pytestmark = pytest.mark.adapters

SECRET = "s3cret-Value~with.odd_chars"  # noqa: S105 - a test value
CERT_APP_ID = "00000000-0000-0000-0000-00000000ce27"


@pytest.fixture(scope="module")
def app_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A certificate credential (PEM: certificate + private key) and the certificate Entra holds."""
    return tls.self_signed("kura-app", tmp_path_factory.mktemp("cert"))


@pytest.fixture
async def entra(app_cert: tuple[Path, Any]) -> AsyncIterator[FakeEntra]:
    async with FakeEntra(clients={APP_ID: SECRET, CERT_APP_ID: app_cert[1]}, tls=True) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """What msal talks through: trusts the test CA only, ignores the environment (proxies, and a
    REQUESTS_CA_BUNDLE that would override ``verify``)."""
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(tls.ca_file())
        yield session


def settings_for(authority: str, **values: Any) -> TeamsSettings:
    return TeamsSettings.model_validate(
        {"app_id": APP_ID, "app_password": SECRET, "tenant_id": TENANT_ID, "token_authority": authority} | values
    )


def token_requests(entra: FakeEntra) -> int:
    return entra.count(f"/{TENANT_ID}/oauth2/v2.0/token")


def claims_of(entra: FakeEntra, token: str, audience: str) -> dict[str, Any]:
    public = jwt.PyJWK(entra.keys[0].jwk()).key
    decoded: dict[str, Any] = jwt.decode(token, public, algorithms=["RS256"], audience=audience)
    return decoded


async def test_a_secret_gets_a_token_the_fake_issued(entra: FakeEntra, http: requests.Session) -> None:
    source = TokenSource(settings_for(entra.origin), http_client=http)
    token = await source.token()
    assert entra.issued_token_check(token)
    claims = claims_of(entra, token, "https://api.botframework.com")
    assert (claims["appid"], claims["tid"]) == (APP_ID, TENANT_ID)
    # msal read the tenant's metadata, then the token endpoint it names.
    assert entra.count(f"/{TENANT_ID}/v2.0/.well-known/openid-configuration") == 1
    assert token_requests(entra) == 1


async def test_a_second_call_within_the_tokens_life_is_answered_from_the_cache(
    entra: FakeEntra, http: requests.Session
) -> None:
    source = TokenSource(settings_for(entra.origin), http_client=http)
    first = await source.token(BOT_CONNECTOR_SCOPE)
    assert await source.token(BOT_CONNECTOR_SCOPE) == first
    assert token_requests(entra) == 1
    # Another scope is another token (and another audience).
    graph = await source.token(GRAPH_SCOPE)
    assert claims_of(entra, graph, "https://graph.microsoft.com")["appid"] == APP_ID
    assert token_requests(entra) == 2


async def test_a_wrong_secret_is_an_upstream_error_naming_the_code_not_the_secret(
    entra: FakeEntra, http: requests.Session
) -> None:
    wrong = "not-the-Secret-9f8e7d"
    source = TokenSource(settings_for(entra.origin, app_password=wrong), http_client=http)
    with pytest.raises(UpstreamError) as caught:
        await source.token()
    message = str(caught.value)
    assert "invalid_client" in message
    assert wrong not in message
    assert SECRET not in message
    assert "\n" not in message
    assert entra.issued == []


async def test_an_unknown_app_is_refused(entra: FakeEntra, http: requests.Session) -> None:
    source = TokenSource(settings_for(entra.origin, app_id="stranger"), http_client=http)
    with pytest.raises(UpstreamError, match="invalid_client"):
        await source.token()


async def test_a_certificate_credential_works(
    entra: FakeEntra, http: requests.Session, app_cert: tuple[Path, Any]
) -> None:
    settings = settings_for(entra.origin, app_id=CERT_APP_ID, app_password=None, cert_file=app_cert[0])
    token = await TokenSource(settings, http_client=http).token()
    assert entra.issued_token_check(token)
    assert claims_of(entra, token, "https://api.botframework.com")["appid"] == CERT_APP_ID


async def test_a_certificate_entra_does_not_hold_is_refused(
    entra: FakeEntra, http: requests.Session, tmp_path: Path
) -> None:
    other, _ = tls.self_signed("impostor", tmp_path)
    settings = settings_for(entra.origin, app_id=CERT_APP_ID, app_password=None, cert_file=other)
    with pytest.raises(UpstreamError, match="invalid_client"):
        await TokenSource(settings, http_client=http).token()
    assert entra.issued == []


def _bad_cert_files(directory: Path, good: Path) -> dict[str, Path]:
    pem = good.read_text()
    certificate, _, key = pem.partition("-----END CERTIFICATE-----\n")
    certificate += "-----END CERTIFICATE-----\n"
    files = {
        "garbage": b"\x00\xffnot a pem at all",
        "certificate-only": certificate.encode(),
        "key-only": key.encode(),
        "garbage-key": (
            certificate + "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n"
        ).encode(),
        "empty": b"",
    }
    paths = {}
    for name, content in files.items():
        path = directory / f"{name}.pem"
        path.write_bytes(content)
        paths[name] = path
    paths["missing"] = directory / "missing.pem"
    paths["directory"] = directory
    return paths


@pytest.mark.parametrize(
    "case", ["garbage", "certificate-only", "key-only", "garbage-key", "empty", "missing", "directory"]
)
async def test_an_unusable_certificate_file_is_a_configuration_error(
    entra: FakeEntra, http: requests.Session, app_cert: tuple[Path, Any], tmp_path: Path, case: str
) -> None:
    path = _bad_cert_files(tmp_path, app_cert[0])[case]
    settings = settings_for(entra.origin, app_id=CERT_APP_ID, app_password=None, cert_file=path)
    with pytest.raises(ConfigurationError) as caught:
        await TokenSource(settings, http_client=http).token()
    message = str(caught.value)
    assert "KURA_TEAMS_CERT_FILE" in message
    assert "\n" not in message
    assert "PRIVATE KEY" not in message
    assert entra.issued == []


async def test_a_key_that_is_not_the_certificates_is_a_configuration_error(
    entra: FakeEntra, http: requests.Session, app_cert: tuple[Path, Any], tmp_path: Path
) -> None:
    other, _ = tls.self_signed("other", tmp_path)
    certificate = app_cert[0].read_text().partition("-----END CERTIFICATE-----\n")[0] + "-----END CERTIFICATE-----\n"
    other_key = other.read_text().partition("-----END CERTIFICATE-----\n")[2]
    mixed = tmp_path / "mixed.pem"
    mixed.write_text(certificate + other_key)
    settings = settings_for(entra.origin, app_id=CERT_APP_ID, app_password=None, cert_file=mixed)
    with pytest.raises(ConfigurationError, match="KURA_TEAMS_CERT_FILE"):
        await TokenSource(settings, http_client=http).token()
    assert token_requests(entra) == 0


@pytest.mark.parametrize("authority", ["http://127.0.0.1:{port}", "ftp://127.0.0.1:{port}", "not a url"])
async def test_an_authority_that_is_not_https_is_a_configuration_error(
    entra: FakeEntra, http: requests.Session, authority: str
) -> None:
    source = TokenSource(settings_for(authority.format(port=entra.port)), http_client=http)
    with pytest.raises(ConfigurationError, match="KURA_TEAMS_TOKEN_AUTHORITY"):
        await source.token()
    assert entra.requests == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_authority_is_an_upstream_error(http: requests.Session) -> None:
    source = TokenSource(settings_for(f"https://127.0.0.1:{_closed_port()}"), http_client=http)
    with pytest.raises(UpstreamError, match="could not be reached"):
        await source.token()


async def test_an_authority_whose_certificate_is_not_trusted_is_refused(entra: FakeEntra) -> None:
    with requests.Session() as untrusting:
        untrusting.trust_env = False  # the system's CAs only: the test CA is not among them
        source = TokenSource(settings_for(entra.origin), http_client=untrusting)
        with pytest.raises(UpstreamError):
            await source.token()
    assert entra.issued == []
