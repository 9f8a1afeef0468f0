"""The audit keyring's files: the current key, retired keys (mode 0600), rotation, shredding."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from bot.audit import Keyring, MissingKeyError, TextCipher
from bot.audit.keyring import current_key_file, old_keys_dir, rotate_key
from bot.errors import ConfigurationError
from bot.settings import KuraSettings

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotation_retires_the_key_and_both_decrypt(tmp_path: Path) -> None:
    """Rotating keeps the old key as old/<key_id>.key (0600), writes a new 0600 current key, and a
    keyring loaded afterwards encrypts with the new key and decrypts text under either."""
    current, old_dir = tmp_path / "keys" / "audit.key", tmp_path / "keys" / "old"
    before = Keyring.from_files(current, old_dir)
    assert 0o600 == _mode(current)
    blob_before = before.encrypt("前のキーで", "r1")

    done = rotate_key(current, old_dir)
    assert before.key_id == done.old_key_id
    assert old_dir / f"{before.key_id}.key" == done.old_key_file
    assert 0o600 == _mode(done.old_key_file)
    assert 0o600 == _mode(current)
    assert 0o700 == _mode(old_dir)
    assert [done.old_key_file.name] == [p.name for p in old_dir.iterdir()]
    assert not list(current.parent.glob("*.part"))

    after = Keyring.from_files(current, old_dir)
    assert done.new_key_id == after.key_id != before.key_id
    assert {before.key_id, after.key_id} == after.key_ids
    blob_after = after.encrypt("新しいキーで", "r2")
    assert "前のキーで" == after.decrypt(blob_before, "r1", before.key_id)
    assert "新しいキーで" == after.decrypt(blob_after, "r2", after.key_id)
    assert "新しいキーで" == after.decrypt(blob_after, "r2")  # no key id: the current key
    with pytest.raises(InvalidTag):
        after.decrypt(blob_before, "r2", before.key_id)  # the record id is bound in


def test_rotating_twice_keeps_every_old_key(tmp_path: Path) -> None:
    """Each rotation adds one retired key; all of them still decrypt."""
    current, old_dir = tmp_path / "audit.key", tmp_path / "old"
    blobs = []
    for i in range(3):
        ring = Keyring.from_files(current, old_dir)
        blobs.append((ring.key_id, ring.encrypt(f"text {i}", f"r{i}")))
        if i < 2:
            rotate_key(current, old_dir)
    assert 2 == len(list(old_dir.glob("*.key")))
    ring = Keyring.from_files(current, old_dir)
    assert [f"text {i}" for i in range(3)] == [ring.decrypt(b, f"r{i}", k) for i, (k, b) in enumerate(blobs)]


def test_a_deleted_old_key_shreds_its_text(tmp_path: Path) -> None:
    """Without the retired key file, its text raises MissingKeyError (a ConfigurationError) naming it."""
    current, old_dir = tmp_path / "audit.key", tmp_path / "old"
    ring = Keyring.from_files(current, old_dir)
    blob = ring.encrypt("secret", "r1")
    done = rotate_key(current, old_dir)
    done.old_key_file.unlink()
    ring = Keyring.from_files(current, old_dir)
    with pytest.raises(MissingKeyError, match=f"its key {done.old_key_id} is neither the current audit key nor in"):
        ring.decrypt(blob, "r1", done.old_key_id)
    assert issubclass(MissingKeyError, ConfigurationError)


def test_rotate_without_a_key_or_with_a_bad_key_is_refused(tmp_path: Path) -> None:
    """No current key: nothing to rotate. A key of the wrong size: a ConfigurationError, nothing moved."""
    with pytest.raises(ConfigurationError, match="no current audit key"):
        rotate_key(tmp_path / "missing.key", tmp_path / "old")
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 16)
    with pytest.raises(ConfigurationError, match="32 bytes"):
        rotate_key(short, tmp_path / "old")
    assert not (tmp_path / "old").exists()
    with pytest.raises(ConfigurationError, match="32 bytes"):
        Keyring.from_files(short)


def test_a_bad_old_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A truncated file in the old-keys folder names itself."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "bad.key").write_bytes(b"short")
    with pytest.raises(ConfigurationError, match=r"bad\.key"):
        Keyring.from_files(tmp_path / "audit.key", tmp_path / "old")


def test_a_single_cipher_is_a_keyring_of_one(tmp_path: Path) -> None:
    """Keyring(TextCipher) encrypts and decrypts like the cipher, and knows only its key."""
    cipher = TextCipher.from_file(tmp_path / "audit.key")
    ring = Keyring(cipher)
    assert cipher.key_id == ring.key_id
    assert "x" == cipher.decrypt(ring.encrypt("x", "r"), "r")
    with pytest.raises(MissingKeyError, match="not the audit key"):
        ring.decrypt(cipher.encrypt("x", "r"), "r", "0" * 16)


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    """Keys live under data_dir/keys by default; both paths can be set."""
    settings = KuraSettings(data_dir=tmp_path)
    assert tmp_path / "keys" / "audit.key" == current_key_file(settings)
    assert tmp_path / "keys" / "old" == old_keys_dir(settings)
    assert 90 == settings.audit_text_retention_days
    custom = KuraSettings(data_dir=tmp_path, audit_key_file=tmp_path / "k", audit_old_keys_dir=tmp_path / "o")
    assert (tmp_path / "k", tmp_path / "o") == (current_key_file(custom), old_keys_dir(custom))
    ring = Keyring.from_settings(custom)
    assert ring.key_id == TextCipher((tmp_path / "k").read_bytes()).key_id
