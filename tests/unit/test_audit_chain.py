"""Audit chain hashing and the encryption of question and answer text."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from bot.audit.chain import GENESIS, record_hash, sha256_text
from bot.audit.crypto import TextCipher

pytestmark = pytest.mark.unit

FIELDS: dict[str, object] = {
    "seq": 1,
    "id": "rec-0001",
    "created_at": "2024-04-01T00:00:00+00:00",
    "user_email": "alice@example.co.jp",
    "action": "ask",
    "allowed": True,
    "rules": ["group:all-staff -> role:employee"],
    "retrieved": [{"chunk": 7, "score": 0.82}],
    "first_token_ms": None,
    "question_sha256": sha256_text("宿泊費の上限は？"),
}

CHANGED: dict[str, object] = {
    "seq": 2,
    "id": "rec-0002",
    "created_at": "2024-04-01T00:00:01+00:00",
    "user_email": "bob@example.co.jp",
    "action": "admin",
    "allowed": False,
    "rules": ["group:all-staff -> role:manager"],
    "retrieved": [{"chunk": 7, "score": 0.83}],
    "first_token_ms": 0,
    "question_sha256": sha256_text("宿泊費の上限は?"),
}


def test_record_hash_is_hex_sha256() -> None:
    """A record hash is 64 lower-case hex digits."""
    digest = record_hash(FIELDS, GENESIS)
    assert 64 == len(digest)
    assert set(digest) <= set("0123456789abcdef")


def test_record_hash_is_stable() -> None:
    """The same fields and link give the same hash."""
    assert record_hash(FIELDS, GENESIS) == record_hash(dict(FIELDS), GENESIS)


def test_record_hash_ignores_key_order() -> None:
    """Field order does not matter: the JSON is canonical."""
    reordered = dict(reversed(list(FIELDS.items())))
    assert list(FIELDS) != list(reordered)
    assert record_hash(FIELDS, GENESIS) == record_hash(reordered, GENESIS)


@pytest.mark.parametrize("key", sorted(CHANGED))
def test_record_hash_changes_with_any_field(key: str) -> None:
    """Changing any one field changes the hash."""
    assert FIELDS[key] != CHANGED[key]
    assert record_hash(FIELDS, GENESIS) != record_hash({**FIELDS, key: CHANGED[key]}, GENESIS)


def test_record_hash_changes_with_an_added_field() -> None:
    """Adding a field changes the hash."""
    assert record_hash(FIELDS, GENESIS) != record_hash({**FIELDS, "model": None}, GENESIS)


def test_record_hash_changes_with_prev_hash() -> None:
    """The hash links to the previous record's hash."""
    prev = record_hash(FIELDS, GENESIS)
    assert record_hash(FIELDS, GENESIS) != record_hash(FIELDS, prev)


def test_sha256_text_is_utf8_sha256() -> None:
    """sha256_text hashes the UTF-8 bytes."""
    assert "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" == sha256_text("")


def test_cipher_round_trips_japanese() -> None:
    """Encrypt then decrypt returns the Japanese text unchanged."""
    cipher = TextCipher(bytes(range(32)))
    text = "宿泊費の上限は？「一泊一万五千円」です。🏨"
    assert text == cipher.decrypt(cipher.encrypt(text, "rec-0001"), "rec-0001")


def test_cipher_output_hides_the_text_and_varies() -> None:
    """The blob does not contain the plaintext, and two encryptions differ (random nonce)."""
    cipher = TextCipher(bytes(range(32)))
    first = cipher.encrypt("秘密の評価", "rec-0001")
    second = cipher.encrypt("秘密の評価", "rec-0001")
    assert "秘密の評価".encode() not in first
    assert first != second


def test_decrypt_with_another_record_id_raises() -> None:
    """The record id is bound in: a blob moved to another record does not decrypt."""
    cipher = TextCipher(bytes(range(32)))
    blob = cipher.encrypt("宿泊費の上限は？", "rec-0001")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "rec-0002")


def test_decrypt_tampered_blob_raises() -> None:
    """A changed byte in the ciphertext is detected."""
    cipher = TextCipher(bytes(range(32)))
    blob = bytearray(cipher.encrypt("宿泊費の上限は？", "rec-0001"))
    blob[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(blob), "rec-0001")


def test_decrypt_with_another_key_raises() -> None:
    """A different key cannot decrypt."""
    blob = TextCipher(bytes(range(32))).encrypt("宿泊費", "rec-0001")
    with pytest.raises(InvalidTag):
        TextCipher(bytes(32)).decrypt(blob, "rec-0001")


def test_short_key_is_refused() -> None:
    """Only 32-byte keys are accepted."""
    with pytest.raises(ValueError, match="32 bytes"):
        TextCipher(bytes(16))


def test_key_id_identifies_the_key() -> None:
    """The key id is 16 hex digits and differs between keys."""
    a = TextCipher(bytes(range(32)))
    b = TextCipher(bytes(32))
    assert 16 == len(a.key_id)
    assert a.key_id != b.key_id


def test_from_file_creates_a_private_key_file(tmp_path: Path) -> None:
    """A missing key file is created with 32 random bytes, readable by the owner only."""
    path = tmp_path / "keys" / "audit.key"
    TextCipher.from_file(path)
    assert 32 == len(path.read_bytes())
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)


def test_from_file_reuses_the_key(tmp_path: Path) -> None:
    """A second load reads the same key: the first cipher's blobs still decrypt."""
    path = tmp_path / "audit.key"
    first = TextCipher.from_file(path)
    key = path.read_bytes()
    blob = first.encrypt("宿泊費の上限は？", "rec-0001")
    second = TextCipher.from_file(path)
    assert key == path.read_bytes()
    assert first.key_id == second.key_id
    assert "宿泊費の上限は？" == second.decrypt(blob, "rec-0001")


def test_from_file_new_keys_are_random(tmp_path: Path) -> None:
    """Two new key files hold different keys."""
    assert TextCipher.from_file(tmp_path / "a.key").key_id != TextCipher.from_file(tmp_path / "b.key").key_id
