"""The audit keyring's files: the current key, retired keys (mode 0600), rotation, shredding."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from bot.audit import Keyring, MissingKeyError, TextCipher
from bot.audit.keyring import (
    checkpoint_key,
    checkpoint_key_file,
    current_key_file,
    existing_checkpoint_key,
    old_keys_dir,
    rotate_key,
)
from bot.errors import ConfigurationError
from bot.settings import KuraSettings

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotation_retires_the_key_and_both_decrypt(tmp_path: Path) -> None:
    """Rotating keeps the old key as old/<key_id>.key (0600), writes a new 0600 current key, and a
    keyring loaded afterwards encrypts with the new key and decrypts text under either."""
    current, old_dir = tmp_path / "keys" / "audit.key", tmp_path / "keys" / "old"
    before = Keyring.from_files(current, old_dir, create=True)
    assert 0o600 == _mode(current)
    blob_before = before.encrypt("前のキーで", "r1", "question")

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
    blob_after = after.encrypt("新しいキーで", "r2", "question")
    assert "前のキーで" == after.decrypt(blob_before, "r1", before.key_id, field="question")
    assert "新しいキーで" == after.decrypt(blob_after, "r2", after.key_id, field="question")
    assert "新しいキーで" == after.decrypt(blob_after, "r2", field="question")  # no key id: the current key
    with pytest.raises(InvalidTag):
        after.decrypt(blob_before, "r2", before.key_id, field="question")  # the record id is bound in


def test_rotating_twice_keeps_every_old_key(tmp_path: Path) -> None:
    """Each rotation adds one retired key; all of them still decrypt."""
    current, old_dir = tmp_path / "audit.key", tmp_path / "old"
    blobs = []
    for i in range(3):
        ring = Keyring.from_files(current, old_dir, create=True)
        blobs.append((ring.key_id, ring.encrypt(f"text {i}", f"r{i}", "answer")))
        if i < 2:
            rotate_key(current, old_dir)
    assert 2 == len(list(old_dir.glob("*.key")))
    ring = Keyring.from_files(current, old_dir)
    texts = [ring.decrypt(b, f"r{i}", k, field="answer") for i, (k, b) in enumerate(blobs)]
    assert [f"text {i}" for i in range(3)] == texts


def test_a_deleted_old_key_shreds_its_text(tmp_path: Path) -> None:
    """Without the retired key file, its text raises MissingKeyError (a ConfigurationError) naming it."""
    current, old_dir = tmp_path / "audit.key", tmp_path / "old"
    ring = Keyring.from_files(current, old_dir, create=True)
    blob = ring.encrypt("secret", "r1", "answer")
    done = rotate_key(current, old_dir)
    done.old_key_file.unlink()
    ring = Keyring.from_files(current, old_dir)
    with pytest.raises(MissingKeyError, match=f"its key {done.old_key_id} is neither the current audit key nor in"):
        ring.decrypt(blob, "r1", done.old_key_id, field="answer")
    assert issubclass(MissingKeyError, ConfigurationError)


def test_rotate_without_a_key_or_with_a_bad_key_is_refused(tmp_path: Path) -> None:
    """No current key: nothing to rotate. A key of the wrong size: a ConfigurationError, nothing moved."""
    with pytest.raises(ConfigurationError, match="no current audit key"):
        rotate_key(tmp_path / "missing.key", tmp_path / "old")
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 16)
    short.chmod(0o600)
    with pytest.raises(ConfigurationError, match="32 bytes"):
        rotate_key(short, tmp_path / "old")
    assert not (tmp_path / "old").exists()
    with pytest.raises(ConfigurationError, match="32 bytes"):
        Keyring.from_files(short)


def test_a_bad_old_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A truncated file in the old-keys folder names itself."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "bad.key").write_bytes(b"short")
    (tmp_path / "old" / "bad.key").chmod(0o600)
    with pytest.raises(ConfigurationError, match=r"bad\.key: the audit key must be 32 bytes"):
        Keyring.from_files(tmp_path / "audit.key", tmp_path / "old", create=True)


def test_a_single_cipher_is_a_keyring_of_one(tmp_path: Path) -> None:
    """Keyring(TextCipher) encrypts and decrypts like the cipher, and knows only its key."""
    cipher = TextCipher.from_file(tmp_path / "audit.key", create=True)
    ring = Keyring(cipher)
    assert cipher.key_id == ring.key_id
    assert "x" == cipher.decrypt(ring.encrypt("x", "r", "question"), "r", "question")
    with pytest.raises(MissingKeyError, match="not the audit key"):
        ring.decrypt(cipher.encrypt("x", "r", "question"), "r", "0" * 16, field="question")


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    """Keys live under data_dir/keys by default (made on first use); both paths can be set, and
    then are used as they are."""
    settings = KuraSettings(data_dir=tmp_path)
    assert tmp_path / "keys" / "audit.key" == current_key_file(settings)
    assert tmp_path / "keys" / "old" == old_keys_dir(settings)
    assert 90 == settings.audit_text_retention_days
    made = Keyring.from_settings(settings)
    assert made.key_id == TextCipher((tmp_path / "keys" / "audit.key").read_bytes()).key_id
    assert 0o600 == _mode(tmp_path / "keys" / "audit.key")
    custom = KuraSettings(data_dir=tmp_path, audit_key_file=tmp_path / "k", audit_old_keys_dir=tmp_path / "o")
    assert (tmp_path / "k", tmp_path / "o") == (current_key_file(custom), old_keys_dir(custom))
    TextCipher.from_file(tmp_path / "k", create=True)
    (tmp_path / "o").mkdir(mode=0o700)
    ring = Keyring.from_settings(custom)
    assert ring.key_id == TextCipher((tmp_path / "k").read_bytes()).key_id


# --- configured keys are never created; key files must be private --------------------------------


def _key(path: Path, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(32))
    path.chmod(mode)
    return path


def test_a_configured_audit_key_that_is_missing_is_refused_not_created(tmp_path: Path) -> None:
    """KURA_AUDIT_KEY_FILE naming a file that is not there (a secret mount that failed to appear)
    stops Kura with one line naming it; no key appears there or at the default location."""
    missing = tmp_path / "secrets" / "audit.key"
    settings = KuraSettings(data_dir=tmp_path / "data", audit_key_file=missing)
    with pytest.raises(ConfigurationError) as caught:
        Keyring.from_settings(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{missing}: the audit key named by KURA_AUDIT_KEY_FILE does not exist" in message
    assert not missing.exists()
    assert not missing.parent.exists()
    assert not (tmp_path / "data" / "keys").exists()


def test_a_configured_checkpoint_key_that_is_missing_is_refused_not_created(tmp_path: Path) -> None:
    """KURA_AUDIT_CHECKPOINT_KEY_FILE likewise, both where a key would be made (checkpoints,
    retention) and where one is only read (verification)."""
    missing = tmp_path / "secrets" / "checkpoint.key"
    settings = KuraSettings(data_dir=tmp_path / "data", audit_checkpoint_key_file=missing)
    for load in (checkpoint_key, existing_checkpoint_key):
        with pytest.raises(ConfigurationError, match="named by KURA_AUDIT_CHECKPOINT_KEY_FILE does not exist"):
            load(settings)
    assert not missing.exists()
    assert not (tmp_path / "data" / "keys").exists()


def test_a_configured_old_keys_folder_that_is_missing_is_refused(tmp_path: Path) -> None:
    """Retired keys decrypt older records: a configured folder that is not there is an error, not
    an empty keyring (which would read as every old record crypto-shredded)."""
    settings = KuraSettings(
        data_dir=tmp_path, audit_key_file=_key(tmp_path / "audit.key"), audit_old_keys_dir=tmp_path / "gone"
    )
    with pytest.raises(ConfigurationError, match="KURA_AUDIT_OLD_KEYS_DIR does not exist"):
        Keyring.from_settings(settings)


def test_default_keys_are_made_on_first_use_only_there(tmp_path: Path) -> None:
    """Unset settings: both keys are created under data_dir/keys (0600, folder 0700) and reused;
    verification alone does not create a checkpoint key."""
    settings = KuraSettings(data_dir=tmp_path)
    assert existing_checkpoint_key(settings) is None
    assert not checkpoint_key_file(settings).exists()
    key = checkpoint_key(settings)
    assert (32, 0o600, 0o700) == (len(key), _mode(checkpoint_key_file(settings)), _mode(tmp_path / "keys"))
    assert key == checkpoint_key(settings) == existing_checkpoint_key(settings)
    ring = Keyring.from_settings(settings)
    assert ring.key_id == Keyring.from_settings(settings).key_id


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o700 | 0o004])
@pytest.mark.parametrize("which", ["audit", "old", "checkpoint"])
def test_key_files_others_may_touch_are_refused(tmp_path: Path, mode: int, which: str) -> None:
    """Any group or other permission bit on a key file (current, retired or checkpoint): refused,
    naming the file and the chmod that fixes it; the file is left as it was."""
    old_dir = tmp_path / "old"
    settings = KuraSettings(
        data_dir=tmp_path,
        audit_key_file=_key(tmp_path / "audit.key", mode if which == "audit" else 0o600),
        audit_old_keys_dir=old_dir,
        audit_checkpoint_key_file=_key(tmp_path / "cp.key", mode if which == "checkpoint" else 0o600),
    )
    bad = _key(old_dir / "0123456789abcdef.key", mode if which == "old" else 0o600)
    if which == "audit":
        bad = tmp_path / "audit.key"
    elif which == "checkpoint":
        bad = tmp_path / "cp.key"
    load: Callable[[KuraSettings], object] = existing_checkpoint_key if which == "checkpoint" else Keyring.from_settings
    with pytest.raises(ConfigurationError) as caught:
        load(settings)
    message = str(caught.value)
    assert message.startswith(f"{bad}: ")
    assert f"(mode {mode:04o}); run `chmod 600 {bad}`" in message
    assert mode == _mode(bad)


def test_private_key_files_and_links_to_them_are_accepted(tmp_path: Path) -> None:
    """0600 and 0400 keys load; a symbolic link to a private key (how secret mounts look) is read
    through."""
    target = _key(tmp_path / "mounted" / "..data" / "audit.key", 0o400)
    link = tmp_path / "mounted" / "audit.key"
    link.symlink_to(target)
    ring = Keyring.from_settings(KuraSettings(data_dir=tmp_path, audit_key_file=link))
    assert ring.key_id == TextCipher(target.read_bytes()).key_id


def test_a_planted_link_or_fifo_at_the_default_key_is_not_followed(tmp_path: Path) -> None:
    """A dangling link at the default key path is not followed to create a key elsewhere; a FIFO
    or a folder there is refused at once (no hang)."""
    settings = KuraSettings(data_dir=tmp_path)
    victim = tmp_path / "elsewhere" / "stolen.key"
    (tmp_path / "keys").mkdir(mode=0o700)
    current_key_file(settings).symlink_to(victim)
    with pytest.raises(ConfigurationError, match="no audit key"):
        Keyring.from_settings(settings)
    assert not victim.exists()
    current_key_file(settings).unlink()
    os.mkfifo(current_key_file(settings), 0o600)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        Keyring.from_settings(settings)
    current_key_file(settings).unlink()
    current_key_file(settings).mkdir()
    with pytest.raises(ConfigurationError, match="audit key"):
        Keyring.from_settings(settings)


def test_rotation_refuses_a_key_others_may_read(tmp_path: Path) -> None:
    """rotate-key reads the current key through the same checks: a 0644 key is not copied into
    the old-keys folder."""
    current = _key(tmp_path / "audit.key", 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        rotate_key(current, tmp_path / "old")
    assert not (tmp_path / "old").exists()
