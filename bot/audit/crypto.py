"""Encryption at rest of question and answer text: AES-256-GCM, a key id stored per row.

The associated data (checked by GCM, not stored) says where a ciphertext belongs:

* version 1 (records of chain version 1): the record id alone. A question's ciphertext could be
  moved into the answer column of the same record and still decrypt.
* version 2: the record id, the field (``question`` or ``answer``) and the key id, so a ciphertext
  decrypts only in its own record, its own column and under the key id the row names.

Each record's ``chain_version`` says which one its text was encrypted with (``bot.audit.chain``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.audit.keyfiles import KeyFile, read_key_file

__all__ = ["TextCipher", "TextField", "associated_data"]

TextField = Literal["question", "answer"]


def associated_data(record_id: str, field: TextField | None, key_id: str) -> bytes:
    """The associated data of a text: version 2 with a ``field``, version 1 (record id only) without."""
    if field is None:
        return record_id.encode("utf-8")
    # JSON: unambiguous whatever the id holds (no separator can be forged by an id containing it).
    return json.dumps(["kura-audit-text", 2, record_id, field, key_id], separators=(",", ":")).encode("utf-8")


class TextCipher:
    """Encrypts text with AES-GCM; the record id, the field and the key id are bound in."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the audit key must be 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> TextCipher:
        """Load a key file (mode 0600 or stricter); with ``create``, a new random key (0600) if
        there is none.

        Raises:
            ConfigurationError: missing (and not ``create``), readable by others, or unreadable.
            ValueError: not a 32-byte key.
        """
        where = KeyFile(path, "audit key", "KURA_AUDIT_KEY_FILE", configured=False)
        return cls(read_key_file(where, create=create))

    def encrypt(self, text: str, record_id: str, field: TextField) -> bytes:
        """Nonce (12 bytes) followed by the ciphertext and tag, bound to the record, field and key."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), associated_data(record_id, field, self.key_id))

    def decrypt(self, blob: bytes, record_id: str, field: TextField | None) -> str:
        """Inverse of :meth:`encrypt`; ``field`` None reads text of version 1 (bound to the record id
        only).

        Raises:
            cryptography.exceptions.InvalidTag: the blob was altered, or belongs to another record,
                field or key.
        """
        aad = associated_data(record_id, field, self.key_id)
        return self._aead.decrypt(blob[:12], blob[12:], aad).decode("utf-8")
