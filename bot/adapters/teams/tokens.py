"""Kura's own access tokens (client credentials from Entra, with msal): for the Bot Connector when
it replies or posts, and for Microsoft Graph when groups come from Entra.

msal is synchronous (requests), so each call runs in a thread; msal caches the tokens and renews
them shortly before they expire, so most calls return at once without a request. The credential is
the app password or a certificate (a PEM holding the certificate and its private key).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from bot.errors import ConfigurationError, UpstreamError
from bot.settings import TeamsSettings

__all__ = ["BOT_CONNECTOR_SCOPE", "GRAPH_SCOPE", "TokenSource"]

#: What the Bot Connector accepts (the Bot Framework's app id URI).
BOT_CONNECTOR_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: A token kept in memory is renewed when it has less than this to live (msal renews at 5 minutes).
RENEW_S = 600.0


def _certificate_credential(path: Path) -> dict[str, str]:
    """msal's certificate credential from a PEM with the certificate and its private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"KURA_TEAMS_CERT_FILE cannot be read: {path} ({exc.strerror})") from exc
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ConfigurationError(f"KURA_TEAMS_CERT_FILE holds no PEM certificate: {path}") from exc
    if b"PRIVATE KEY-----" not in pem:
        raise ConfigurationError(f"KURA_TEAMS_CERT_FILE holds no private key: {path}")
    # msal reads the key only when it signs, where a bad key would look like an unreachable authority.
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:  # unreadable, or encrypted (no passphrase setting)
        raise ConfigurationError(f"KURA_TEAMS_CERT_FILE holds no usable unencrypted private key: {path}") from exc
    public = certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo) != public:
        raise ConfigurationError(f"KURA_TEAMS_CERT_FILE: the private key is not the certificate's: {path}")
    return {
        "private_key": pem.decode("ascii"),
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - the x5t Entra asks for
        "public_certificate": certificate.public_bytes(Encoding.PEM).decode("ascii"),
    }


class TokenSource:
    """Client-credential tokens for one app registration, from ``KURA_TEAMS_TOKEN_AUTHORITY``.

    ``http_client`` is handed to msal (a ``requests.Session``-like object); None uses msal's own.
    """

    def __init__(self, settings: TeamsSettings, *, http_client: Any = None) -> None:
        if not settings.configured or settings.app_id is None:
            raise ConfigurationError("Teams is not configured: set KURA_TEAMS_APP_ID and KURA_TEAMS_APP_PASSWORD")
        if settings.tenant_id is None:
            raise ConfigurationError("KURA_TEAMS_TENANT_ID is not set (Kura is a single-tenant app)")
        self._settings = settings
        self._http_client = http_client
        self._app: Any = None
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, float]] = {}
        self._renewing: dict[str, asyncio.Lock] = {}

    def _client(self) -> Any:
        with self._lock:
            if self._app is None:
                import msal

                s = self._settings
                credential: Any = (
                    s.app_password.get_secret_value()
                    if s.app_password is not None
                    else _certificate_credential(s.cert_file or Path())
                )
                authority = f"{s.token_authority.rstrip('/')}/{s.tenant_id}"
                try:
                    self._app = msal.ConfidentialClientApplication(
                        s.app_id,
                        client_credential=credential,
                        authority=authority,
                        instance_discovery=False,
                        http_client=self._http_client,
                    )
                except ValueError as exc:  # msal refuses a malformed or non-https authority
                    raise ConfigurationError(f"KURA_TEAMS_TOKEN_AUTHORITY is not usable: {exc}") from exc
                except Exception as exc:  # the authority's metadata could not be read
                    raise UpstreamError(f"the token authority could not be reached ({type(exc).__name__})") from exc
            return self._app

    def _acquire(self, scope: str) -> tuple[str, float]:
        result = self._client().acquire_token_for_client(scopes=[scope])
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            # error and error_description name the problem (AADSTS codes); never the secret.
            error = result.get("error", "unknown") if isinstance(result, dict) else "unknown"
            raise UpstreamError(f"Entra refused Kura's token request ({error})")
        lifetime = result.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 0.0
        return str(token), time.monotonic() + seconds

    async def token(self, scope: str = BOT_CONNECTOR_SCOPE) -> str:
        """An access token for ``scope``: from memory while it has more than ``RENEW_S`` to live
        (no thread, no lock: every reply of every turn asks), else from msal (its own cache, then
        the authority), one request at a time per scope.

        Raises:
            UpstreamError: the authority refused or could not be reached.
            ConfigurationError: the settings cannot work (bad certificate file, bad authority).
        """
        held = self._held.get(scope)
        if held is not None and held[1] - time.monotonic() > RENEW_S:
            return held[0]
        async with self._renewing.setdefault(scope, asyncio.Lock()):
            held = self._held.get(scope)
            if held is not None and held[1] - time.monotonic() > RENEW_S:
                return held[0]
            try:
                token, expires = await asyncio.to_thread(self._acquire, scope)
            except (UpstreamError, ConfigurationError):
                raise
            except Exception as exc:
                raise UpstreamError(f"the token authority could not be reached ({type(exc).__name__})") from exc
            self._held[scope] = (token, expires)
            return token
