"""A test certificate authority and a server certificate for 127.0.0.1 and localhost, so fakes can
serve HTTPS (msal, for one, refuses an ``http://`` authority).

Made once per test session (RSA key generation is the slow part) and kept in a module global; the
files live in a temporary directory removed at exit. Clients trust :func:`ca_file` only: nothing is
added to the system's trust store.
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TestPKI", "ca_file", "client_context", "pki", "self_signed", "server_context"]


@dataclass(frozen=True)
class TestPKI:
    """Where the test CA's certificate and the server's certificate chain and key are."""

    __test__ = False  # not a pytest test class, whatever its name

    directory: Path
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path


_lock = threading.Lock()
_pki: TestPKI | None = None


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def _make(directory: Path) -> TestPKI:
    ca_key, server_key = _key(), _key()
    ca_name = _name("Kura test CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), 30)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        _builder(_name("localhost"), ca_name, server_key.public_key(), 30)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TestPKI(directory, directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.server_key_file.write_bytes(_pem_key(server_key))
    return files


def pki() -> TestPKI:
    """The session's test CA and server certificate (made on first use)."""
    global _pki
    with _lock:
        if _pki is None:
            directory = Path(tempfile.mkdtemp(prefix="kura-test-pki-"))
            atexit.register(shutil.rmtree, directory, True)
            _pki = _make(directory)
        return _pki


def ca_file() -> Path:
    """The test CA's certificate (PEM): what a client should trust, e.g. ``requests.Session.verify``."""
    return pki().ca_file


def server_context() -> ssl.SSLContext:
    """A server-side context presenting the certificate for 127.0.0.1 and localhost."""
    files = pki()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.server_cert_file, files.server_key_file)
    return context


def client_context() -> ssl.SSLContext:
    """A client-side context trusting only the test CA (for aiohttp: ``TCPConnector(ssl=...)``)."""
    return ssl.create_default_context(cafile=str(ca_file()))


def self_signed(common_name: str, directory: Path) -> tuple[Path, x509.Certificate]:
    """A self-signed certificate and its private key in one PEM file (what an app registration's
    certificate credential looks like), and the certificate to register with the identity provider."""
    key = _key()
    name = _name(common_name)
    certificate = _builder(name, name, key.public_key(), 30).sign(key, hashes.SHA256())
    path = directory / f"{common_name}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + _pem_key(key))
    return path, certificate
