"""The signing key kept beside the audit log, and the HMAC-SHA256 it signs with.

One key signs the chain heads an operator keeps (checkpoints) and the retention anchors stored in
the database; each kind of message has its own domain tag, so one can never pass for the other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from bot.errors import ConfigurationError

__all__ = ["SCHEME", "key_id", "load_key", "mac", "same_mac"]

SCHEME = "hmac-sha256:"


def key_id(key: bytes) -> str:
    """A short public name for a key (same scheme as the audit text key)."""
    return hashlib.sha256(key).hexdigest()[:16]


def load_key(path: Path, *, create: bool) -> bytes:
    """The signing key; with ``create``, a new random 32-byte key (mode 0600) if there is none.

    Raises:
        ConfigurationError: no key file (and not ``create``), unreadable, or shorter than 32 bytes.
    """
    try:
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(os.urandom(32))
        key = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no checkpoint key (KURA_AUDIT_CHECKPOINT_KEY_FILE)") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the checkpoint key: {exc.strerror}") from exc
    if len(key) < 32:
        raise ConfigurationError(f"{path}: the checkpoint key must be at least 32 bytes")
    return key


def mac(key: bytes, domain: str, fields: dict[str, object]) -> str:
    """``hmac-sha256:HEX`` over the domain tag and ``name=value`` lines, in the given order."""
    message = "\n".join([domain, *(f"{name}={value}" for name, value in fields.items())]).encode()
    return SCHEME + hmac.new(key, message, hashlib.sha256).hexdigest()


def same_mac(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a, b)
