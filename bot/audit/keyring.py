"""Key rotation for the audit text: the current key encrypts, older keys only decrypt.

Keys are files of 32 random bytes. The current key is ``KURA_AUDIT_KEY_FILE`` (default
``$KURA_DATA_DIR/keys/audit.key``); retired keys live in ``KURA_AUDIT_OLD_KEYS_DIR`` (default
``$KURA_DATA_DIR/keys/old``) as ``<key_id>.key``, mode 0600. Each audit row records the id of the
key its text was encrypted with, so a row is decrypted with exactly that key. Deleting an old key
file makes the text encrypted with it unreadable for good (crypto-shredding).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.audit.crypto import TextCipher
from bot.errors import ConfigurationError
from bot.settings import KuraSettings

__all__ = [
    "Keyring",
    "MissingKeyError",
    "Rotation",
    "checkpoint_key_file",
    "current_key_file",
    "old_keys_dir",
    "rotate_key",
]


class MissingKeyError(ConfigurationError):
    """A record's text was encrypted with a key the keyring does not hold (shredded or misplaced)."""


def current_key_file(settings: KuraSettings) -> Path:
    """The key new records are encrypted with."""
    return settings.audit_key_file or settings.data_dir / "keys" / "audit.key"


def checkpoint_key_file(settings: KuraSettings) -> Path:
    """The key that signs checkpoints and retention anchors (``KURA_AUDIT_CHECKPOINT_KEY_FILE``;
    unset: ``data_dir/keys/checkpoint.key``)."""
    return settings.audit_checkpoint_key_file or settings.data_dir / "keys" / "checkpoint.key"


def old_keys_dir(settings: KuraSettings) -> Path:
    """The folder of retired keys, each ``<key_id>.key``."""
    return settings.audit_old_keys_dir or settings.data_dir / "keys" / "old"


def _load(path: Path) -> TextCipher:
    try:
        return TextCipher(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the audit key: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None


class Keyring:
    """The current cipher (encrypts; its ``key_id`` is stored per row) and older ones (decrypt only).

    Same interface as :class:`TextCipher` (``key_id``, ``encrypt``, ``decrypt``); ``decrypt`` also
    takes the row's key id.
    """

    def __init__(self, current: TextCipher, old: Iterable[TextCipher] = (), old_dir: Path | None = None) -> None:
        self._current = current
        self._ciphers = {c.key_id: c for c in old}
        self._ciphers[current.key_id] = current
        self._old_dir = old_dir

    @classmethod
    def from_files(cls, current: Path, old_dir: Path | None = None) -> Keyring:
        """The current key (created, mode 0600, if there is none) and every ``*.key`` in ``old_dir``.

        Raises:
            ConfigurationError: a key file that cannot be read or is not 32 bytes.
        """
        try:
            cipher = TextCipher.from_file(current)
        except ValueError as exc:
            raise ConfigurationError(f"{current}: {exc}") from None
        old = [_load(p) for p in sorted(old_dir.glob("*.key"))] if old_dir is not None and old_dir.is_dir() else []
        return cls(cipher, old, old_dir)

    @classmethod
    def from_settings(cls, settings: KuraSettings) -> Keyring:
        """The keyring the settings name (see the module docstring for the defaults)."""
        return cls.from_files(current_key_file(settings), old_keys_dir(settings))

    @property
    def key_id(self) -> str:
        """The id of the current key, stored with each new record."""
        return self._current.key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this keyring can decrypt."""
        return frozenset(self._ciphers)

    def encrypt(self, text: str, record_id: str) -> bytes:
        """Encrypt with the current key."""
        return self._current.encrypt(text, record_id)

    def decrypt(self, blob: bytes, record_id: str, key_id: str | None = None) -> str:
        """Decrypt with the key ``key_id`` (the current key when None).

        Raises:
            MissingKeyError: no key with that id (deleted: crypto-shredded, or not copied over).
            cryptography.exceptions.InvalidTag: the blob or record id was tampered with.
        """
        cipher = self._ciphers.get(key_id or self._current.key_id)
        if cipher is None:
            where = f"neither the current audit key nor in {self._old_dir}" if self._old_dir else "not the audit key"
            raise MissingKeyError(
                f"its text does not decrypt: its key {key_id} is {where} "
                "(the key file was removed, i.e. the text was crypto-shredded, or it was not copied over)"
            )
        return cipher.decrypt(blob, record_id)


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate_key` did."""

    old_key_id: str
    old_key_file: Path
    new_key_id: str
    new_key_file: Path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def rotate_key(current: Path, old_dir: Path) -> Rotation:
    """Retire the current key into ``old_dir`` as ``<key_id>.key`` (0600) and put a new random key
    in its place (0600). The retired copy is written before the current file is replaced (atomically),
    so a crash at any point loses no key.

    Raises:
        ConfigurationError: there is no current key, it is not a valid key, or it cannot be moved.
    """
    if not current.is_file():
        raise ConfigurationError(f"{current}: no current audit key to rotate")
    key = current.read_bytes()
    old = _load(current)
    try:
        old_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        retired = old_dir / f"{old.key_id}.key"
        if not retired.exists():
            _write_private(retired, key)
        elif retired.read_bytes() != key:
            raise ConfigurationError(f"{retired}: exists with other content; not overwritten")
        new_key = AESGCM.generate_key(bit_length=256)
        part = current.with_name(current.name + ".part")
        part.unlink(missing_ok=True)
        _write_private(part, new_key)
        os.replace(part, current)
    except OSError as exc:
        raise ConfigurationError(f"cannot rotate the audit key: {exc}") from exc
    return Rotation(old.key_id, retired, TextCipher(new_key).key_id, current)
