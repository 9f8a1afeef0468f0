"""Key rotation for the audit text: the current key encrypts, older keys only decrypt.

Keys are files of 32 random bytes. The current key is ``KURA_AUDIT_KEY_FILE`` (default
``$KURA_DATA_DIR/keys/audit.key``); retired keys live in ``KURA_AUDIT_OLD_KEYS_DIR`` (default
``$KURA_DATA_DIR/keys/old``) as ``<key_id>.key``, mode 0600. Each audit row records the id of the
key its text was encrypted with, so a row is decrypted with exactly that key. Deleting an old key
file makes the text encrypted with it unreadable for good (crypto-shredding).

Only keys at their default locations are created on first use; a key file or folder the settings
name must exist, and every key file must be private (``bot.audit.keyfiles``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.audit.crypto import TextCipher, TextField
from bot.audit.keyfiles import KeyFile, read_key_file
from bot.audit.signing import read_signing_key
from bot.errors import ConfigurationError
from bot.settings import KuraSettings

__all__ = [
    "Keyring",
    "MissingKeyError",
    "Rotation",
    "checkpoint_key",
    "checkpoint_key_file",
    "current_key_file",
    "existing_checkpoint_key",
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


def _checkpoint_key_file(settings: KuraSettings) -> KeyFile:
    configured = settings.audit_checkpoint_key_file is not None
    return KeyFile(checkpoint_key_file(settings), "checkpoint key", "KURA_AUDIT_CHECKPOINT_KEY_FILE", configured)


def checkpoint_key(settings: KuraSettings) -> bytes:
    """The checkpoint key, made at its default location on first use (a configured one must exist).

    Raises:
        ConfigurationError: see :func:`bot.audit.keyfiles.read_key_file`; or shorter than 32 bytes.
    """
    return read_signing_key(_checkpoint_key_file(settings), create=True)


def existing_checkpoint_key(settings: KuraSettings) -> bytes | None:
    """The checkpoint key if there is one; None while the default one was never made.

    Raises:
        ConfigurationError: a configured key file that is missing, or any bad key file.
    """
    key = _checkpoint_key_file(settings)
    if not key.configured and not os.path.lexists(key.path):
        return None
    return read_signing_key(key)


def _cipher(key: KeyFile, *, create: bool = False, data: bytes | None = None) -> TextCipher:
    try:
        return TextCipher(read_key_file(key, create=create) if data is None else data)
    except ValueError as exc:
        raise ConfigurationError(f"{key.path}: {exc}") from None


def _load(path: Path) -> TextCipher:
    """A retired key (its folder was listed, so it exists; it must still be private)."""
    return _cipher(KeyFile(path, "retired audit key", "KURA_AUDIT_OLD_KEYS_DIR", configured=True))


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
    def from_files(
        cls, current: Path, old_dir: Path | None = None, *, create: bool = False, old_dir_configured: bool = False
    ) -> Keyring:
        """The current key and every ``*.key`` in ``old_dir``.

        Args:
            current: the current key file.
            old_dir: the folder of retired keys (absent: none retired yet, unless configured).
            create: ``current`` is the default location: make it (0600) when it is missing.
                Without it, ``current`` was configured and must exist.
            old_dir_configured: the settings named ``old_dir``: it must exist.

        Raises:
            ConfigurationError: a key file that is missing when it must exist, cannot be read, is
                readable by others or is not 32 bytes; a configured folder that is missing.
        """
        cipher = _cipher(KeyFile(current, "audit key", "KURA_AUDIT_KEY_FILE", configured=not create), create=create)
        if old_dir is not None and old_dir_configured and not old_dir.is_dir():
            raise ConfigurationError(
                f"{old_dir}: the folder of retired audit keys named by KURA_AUDIT_OLD_KEYS_DIR does not exist "
                "(is the secret mounted?)"
            )
        old = [_load(p) for p in sorted(old_dir.glob("*.key"))] if old_dir is not None and old_dir.is_dir() else []
        return cls(cipher, old, old_dir)

    @classmethod
    def from_settings(cls, settings: KuraSettings) -> Keyring:
        """The keyring the settings name: keys at their default locations are created on first use,
        configured ones must exist (see the module docstring)."""
        return cls.from_files(
            current_key_file(settings),
            old_keys_dir(settings),
            create=settings.audit_key_file is None,
            old_dir_configured=settings.audit_old_keys_dir is not None,
        )

    @property
    def key_id(self) -> str:
        """The id of the current key, stored with each new record."""
        return self._current.key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this keyring can decrypt."""
        return frozenset(self._ciphers)

    def encrypt(self, text: str, record_id: str, field: TextField) -> bytes:
        """Encrypt with the current key."""
        return self._current.encrypt(text, record_id, field)

    def decrypt(self, blob: bytes, record_id: str, key_id: str | None = None, *, field: TextField | None) -> str:
        """Decrypt with the key ``key_id`` (the current key when None); ``field`` None for text of
        version 1 (see :mod:`bot.audit.crypto`).

        Raises:
            MissingKeyError: no key with that id (deleted: crypto-shredded, or not copied over).
            cryptography.exceptions.InvalidTag: the blob, or the record, field or key it is bound
                to, was tampered with.
        """
        cipher = self._ciphers.get(key_id or self._current.key_id)
        if cipher is None:
            where = f"neither the current audit key nor in {self._old_dir}" if self._old_dir else "not the audit key"
            raise MissingKeyError(
                f"its text does not decrypt: its key {key_id} is {where} "
                "(the key file was removed, i.e. the text was crypto-shredded, or it was not copied over)"
            )
        return cipher.decrypt(blob, record_id, field)


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
    where = KeyFile(current, "audit key", "KURA_AUDIT_KEY_FILE", configured=True)
    key = read_key_file(where)
    old = _cipher(where, data=key)
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
