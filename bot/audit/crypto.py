"""Encryption at rest of question and answer text: AES-256-GCM, a key id stored per row."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["TextCipher"]


class TextCipher:
    """Encrypts text with AES-GCM; the record id is bound in as associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the audit key must be 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: Path) -> TextCipher:
        """Load the key file, creating a new random key (mode 0600) if there is none."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(AESGCM.generate_key(bit_length=256))
        return cls(path.read_bytes())

    def encrypt(self, text: str, record_id: str) -> bytes:
        """Nonce (12 bytes) followed by the ciphertext and tag."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), record_id.encode("utf-8"))

    def decrypt(self, blob: bytes, record_id: str) -> str:
        """Inverse of :meth:`encrypt`; raises if the blob or record id was tampered with."""
        return self._aead.decrypt(blob[:12], blob[12:], record_id.encode("utf-8")).decode("utf-8")
