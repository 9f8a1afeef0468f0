"""A local fake of the Entra / Bot Framework identity provider, on aiohttp.

It serves what a Teams bot talks to: OpenID metadata (the Bot Framework's v1 path and Entra's v2
path, both naming ``jwks_uri`` and ``issuer``), a JWKS with the fake's own RSA keys, and the
client-credentials token endpoint (``/{tenant}/oauth2/v2.0/token``) Kura will use for its outbound
tokens, with a client secret or a certificate's signed client assertion. With ``tls=True`` it serves
HTTPS (the test CA of :mod:`tests.fakes.tls`), as msal requires of an authority.
:meth:`FakeEntra.token` signs inbound test tokens, including forged ones (another key, an unknown
``kid``, wrong claims, ``alg: none``, HS256 keyed with the public key).

Every request is recorded (``requests``) before anything else happens, so tests can count how often
the keys were fetched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.local_server import LocalServer

__all__ = [
    "APP_ID",
    "ASSERTION_TYPE",
    "BOT_FRAMEWORK_ISSUER",
    "CONNECTOR_SCOPE",
    "TENANT_ID",
    "Credential",
    "FakeEntra",
    "SigningKey",
]

JSON = dict[str, Any]
APP_ID = "00000000-0000-0000-0000-00000000b0b0"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
#: The audience of tokens for the Bot Connector (what Kura asks for when it posts).
CONNECTOR_SCOPE = "https://api.botframework.com/.default"
#: ``client_assertion_type`` of a certificate credential (RFC 7523).
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: What an app registration holds: a client secret, or a certificate (its public part).
Credential = str | x509.Certificate


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair with its ``kid``."""

    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        # 2048 bits: what Entra publishes; small enough to generate quickly in tests.
        return cls(
            kid or f"fake-{uuid.uuid4().hex[:12]}", rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> JSON:
        data: JSON = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned(header: JSON, payload: JSON) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())


class FakeEntra(LocalServer):
    """The identity provider on 127.0.0.1 on a free port. ``clients`` maps client ids to the secret
    or the certificate the token endpoint accepts; ``keys`` are the keys the JWKS publishes (the first
    one signs). ``tls`` serves HTTPS."""

    def __init__(
        self,
        *,
        tenant_id: str = TENANT_ID,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        clients: dict[str, Credential] | None = None,
        tls: bool = False,
    ) -> None:
        self.tenant_id = tenant_id
        self.issuer = issuer
        self.tls = tls
        self.clients: dict[str, Credential] = dict(clients or {})
        self.keys: list[SigningKey] = [SigningKey.generate("fake-key-1")]
        self.requests: list[tuple[str, str]] = []
        self.issued: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/keys", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token_endpoint)
        return app

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def metadata_url(self) -> str:
        """For ``KURA_TEAMS_OPENID_METADATA_URL`` (the Bot Framework's v1 path)."""
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/keys"

    @property
    def authority(self) -> str:
        """For ``KURA_TEAMS_TOKEN_AUTHORITY`` (the tenant is appended by the client)."""
        return self.base_url

    # ------------------------------------------------------------------ test controls

    def count(self, path: str) -> int:
        """How many requests reached ``path``."""
        return sum(1 for _, seen in self.requests if seen == path)

    def rotate(self, kid: str | None = None) -> SigningKey:
        """Publish a new key that signs from now on; the old ones stay published."""
        key = SigningKey.generate(kid)
        self.keys.insert(0, key)
        return key

    def token(
        self,
        *,
        audience: str = APP_ID,
        issuer: str | None = None,
        expires_in: int = 3600,
        not_before: int | None = None,
        service_url: str | None = None,
        kid: str | None = None,
        key: SigningKey | None = None,
        alg: str = "RS256",
        claims: JSON | None = None,
    ) -> str:
        """A token as the Bot Framework sends with an activity.

        ``key`` signs instead of the published key (a forgery); ``kid`` overrides the header's key id
        (by default the signing key's); ``alg`` ``"none"`` leaves it unsigned and ``"HS256"`` signs it
        with HMAC keyed by the published public key's PEM (the classic algorithm-confusion attack).
        ``not_before`` is seconds from now; ``claims`` are added last and may override any claim (None removes it).
        """
        now = int(time.time())
        signer = key or self.keys[0]
        payload: JSON = {
            "iss": self.issuer if issuer is None else issuer,
            "aud": audience,
            "iat": now,
            "nbf": now + (not_before or 0),
            "exp": now + expires_in,
        }
        if service_url is not None:
            payload["serviceurl"] = service_url
        payload.update(claims or {})
        payload = {name: value for name, value in payload.items() if value is not None}
        header: JSON = {"typ": "JWT", "alg": alg, "kid": signer.kid if kid is None else kid}
        if alg == "none":
            return _unsigned(header, payload) + "."
        if alg == "HS256":
            signing_input = _unsigned(header, payload)
            mac = hmac.new(self.keys[0].public_pem(), signing_input.encode("ascii"), hashlib.sha256).digest()
            return signing_input + "." + _b64(mac)
        return jwt.encode(payload, signer.private, algorithm=alg, headers=header)

    def issued_token_check(self, token: str) -> bool:
        """True for an access token this fake's token endpoint issued (for a fake Bot Connector's
        ``token_check``)."""
        return token in self.issued

    # ------------------------------------------------------------------ handlers

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        response: web.StreamResponse = await handler(request)
        return response

    async def _metadata(self, request: web.Request) -> web.Response:
        tenant = request.match_info.get("tenant")
        issuer = self.issuer if tenant is None else f"https://login.microsoftonline.com/{tenant}/v2.0"
        return web.json_response(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{self.base_url}/{tenant or self.tenant_id}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base_url}/{tenant or self.tenant_id}/oauth2/v2.0/token",
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [key.jwk() for key in self.keys]})

    async def _token_endpoint(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id, scope = (str(form.get(name, "")) for name in ("client_id", "scope"))
        if request.match_info["tenant"] != self.tenant_id:
            return _oauth_error("invalid_request", "AADSTS90002: Tenant not found.", 400)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "AADSTS70003: only client_credentials.", 400)
        refusal = self._client_refusal(client_id, form, self._token_url(request.match_info["tenant"]))
        if refusal is not None:
            return refusal
        if not scope.endswith("/.default"):
            return _oauth_error("invalid_scope", "AADSTS1002012: scope must end with /.default.", 400)
        now = int(time.time())
        access_token = jwt.encode(
            {
                "iss": f"https://sts.windows.net/{self.tenant_id}/",
                "aud": scope.removesuffix("/.default"),
                "appid": client_id,
                "tid": self.tenant_id,
                "iat": now,
                "nbf": now,
                "exp": now + 3599,
            },
            self.keys[0].private,
            algorithm="RS256",
            headers={"kid": self.keys[0].kid},
        )
        self.issued.append(access_token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access_token}
        )

    def _token_url(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/token"

    def _client_refusal(self, client_id: str, form: Any, token_url: str) -> web.Response | None:
        """None when the request proves it is ``client_id`` (its secret, or an assertion signed with the
        registered certificate's key); else Entra's error answer."""
        expected = self.clients.get(client_id)
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if expected is None:
            return _oauth_error("invalid_client", "AADSTS700016: Application not found in the directory.", 401)
        if isinstance(expected, str):
            if isinstance(secret, str) and secrets.compare_digest(expected, secret):
                return None
            return _oauth_error("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
        if secret is not None or form.get("client_assertion_type") != ASSERTION_TYPE or not isinstance(assertion, str):
            return _oauth_error("invalid_client", "AADSTS7000218: a client_assertion is required.", 401)
        try:
            # Entra accepts RS256 and PS256 assertions; each must be signed by the registered certificate.
            claims = jwt.decode(
                assertion,
                expected.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=token_url,
                issuer=client_id,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            return _oauth_error("invalid_client", f"AADSTS700027: Client assertion failed ({type(exc).__name__}).", 401)
        if claims.get("sub") != client_id:
            return _oauth_error("invalid_client", "AADSTS700023: the assertion's subject is not the client.", 401)
        return None


def _oauth_error(error: str, description: str, status: int) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
