"""The signing key kept beside the audit log, and the HMAC-SHA256 it signs with.

One key signs the chain heads an operator keeps (checkpoints) and the retention anchors stored in
the database; each kind of message has its own domain tag, so one can never pass for the other.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from bot.audit.keyfiles import KeyFile, read_key_file
from bot.errors import ConfigurationError

__all__ = ["SCHEME", "key_id", "load_key", "mac", "read_signing_key", "same_mac"]

SCHEME = "hmac-sha256:"


def key_id(key: bytes) -> str:
    """A short public name for a key (same scheme as the audit text key)."""
    return hashlib.sha256(key).hexdigest()[:16]


def read_signing_key(key: KeyFile, *, create: bool = False) -> bytes:
    """The signing key in ``key``'s file (see :func:`bot.audit.keyfiles.read_key_file`).

    Raises:
        ConfigurationError: as ``read_key_file``, or shorter than 32 bytes.
    """
    data = read_key_file(key, create=create)
    if len(data) < 32:
        raise ConfigurationError(f"{key.path}: the checkpoint key must be at least 32 bytes")
    return data


def load_key(path: Path, *, create: bool) -> bytes:
    """The signing key at ``path``; with ``create``, a new random 32-byte key (mode 0600) if there is
    none. Kura itself goes through ``bot.audit.keyring.checkpoint_key``, which creates only the
    default location.

    Raises:
        ConfigurationError: no key file (and not ``create``), unreadable, readable by others, or
            shorter than 32 bytes.
    """
    return read_signing_key(KeyFile(path, "checkpoint key", "KURA_AUDIT_CHECKPOINT_KEY_FILE", False), create=create)


def mac(key: bytes, domain: str, fields: dict[str, object]) -> str:
    """``hmac-sha256:HEX`` over the domain tag and ``name=value`` lines, in the given order."""
    message = "\n".join([domain, *(f"{name}={value}" for name, value in fields.items())]).encode()
    return SCHEME + hmac.new(key, message, hashlib.sha256).hexdigest()


def same_mac(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a, b)
