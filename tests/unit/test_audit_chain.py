"""Audit chain hashing and the encryption of question and answer text."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.audit.chain import CHAIN_VERSION, COVERED_OTHERWISE, GENESIS, hashed_fields, record_hash, sha256_text
from bot.audit.crypto import TextCipher
from bot.audit.models import AuditRecord
from bot.errors import ConfigurationError

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
    assert text == cipher.decrypt(cipher.encrypt(text, "rec-0001", "question"), "rec-0001", "question")


def test_cipher_output_hides_the_text_and_varies() -> None:
    """The blob does not contain the plaintext, and two encryptions differ (random nonce)."""
    cipher = TextCipher(bytes(range(32)))
    first = cipher.encrypt("秘密の評価", "rec-0001", "answer")
    second = cipher.encrypt("秘密の評価", "rec-0001", "answer")
    assert "秘密の評価".encode() not in first
    assert first != second


def test_decrypt_with_another_record_id_raises() -> None:
    """The record id is bound in: a blob moved to another record does not decrypt."""
    cipher = TextCipher(bytes(range(32)))
    blob = cipher.encrypt("宿泊費の上限は？", "rec-0001", "question")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "rec-0002", "question")


def test_decrypt_tampered_blob_raises() -> None:
    """A changed byte in the ciphertext is detected."""
    cipher = TextCipher(bytes(range(32)))
    blob = bytearray(cipher.encrypt("宿泊費の上限は？", "rec-0001", "question"))
    blob[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(blob), "rec-0001", "question")


def test_decrypt_with_another_key_raises() -> None:
    """A different key cannot decrypt."""
    blob = TextCipher(bytes(range(32))).encrypt("宿泊費", "rec-0001", "question")
    with pytest.raises(InvalidTag):
        TextCipher(bytes(32)).decrypt(blob, "rec-0001", "question")


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


def test_from_file_creates_a_private_key_file_only_when_asked(tmp_path: Path) -> None:
    """A missing key file is an error unless creation is asked for: then 32 random bytes, readable by
    the owner only, in a folder only the owner may enter."""
    path = tmp_path / "keys" / "audit.key"
    with pytest.raises(ConfigurationError, match="no audit key"):
        TextCipher.from_file(path)
    assert not path.parent.exists()
    TextCipher.from_file(path, create=True)
    assert 32 == len(path.read_bytes())
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    assert 0o700 == stat.S_IMODE(path.parent.stat().st_mode)


def test_from_file_reuses_the_key(tmp_path: Path) -> None:
    """A second load reads the same key: the first cipher's blobs still decrypt."""
    path = tmp_path / "audit.key"
    first = TextCipher.from_file(path, create=True)
    key = path.read_bytes()
    blob = first.encrypt("宿泊費の上限は？", "rec-0001", "question")
    second = TextCipher.from_file(path, create=True)
    assert key == path.read_bytes()
    assert first.key_id == second.key_id
    assert "宿泊費の上限は？" == second.decrypt(blob, "rec-0001", "question")


def test_from_file_new_keys_are_random(tmp_path: Path) -> None:
    """Two new key files hold different keys."""
    a, b = TextCipher.from_file(tmp_path / "a.key", create=True), TextCipher.from_file(tmp_path / "b.key", create=True)
    assert a.key_id != b.key_id


# --- chain version 2: every column, the key id included -------------------------------------------


def _record(version: int = CHAIN_VERSION, /, **changes: object) -> AuditRecord:
    values: dict[str, object] = {
        "seq": 3,
        "id": "rec-0003",
        "created_at": datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        "platform": "slack",
        "channel_id": "C1",
        "thread_id": "1700000000.000100",
        "user_ref": "U1",
        "user_email": "alice@example.co.jp",
        "action": "ask",
        "allowed": True,
        "reason_code": "allowed",
        "rules": ["role:employee allows ask"],
        "retrieved": [{"chunk_id": 7}],
        "status": "answered",
        "model": "m",
        "prompt_version": "answer-v1",
        "policy_version": "abc",
        "latency_ms": 1200,
        "first_token_ms": 300,
        "tokens": 900,
        "endpoint": "local",
        "key_id": "0123456789abcdef",
        "question_enc": b"q",
        "answer_enc": b"a",
        "question_sha256": sha256_text("q"),
        "answer_sha256": sha256_text("a"),
        "prev_hash": GENESIS,
        "hash": "",
        "chain_version": version,
    }
    return AuditRecord(**(values | changes))


def test_every_column_is_covered_by_the_v2_hash() -> None:
    """Each column of audit_records is hashed as itself, or named in COVERED_OTHERWISE with what
    covers it: a column added later without either fails here."""
    hashed = set(hashed_fields(_record()))
    columns = {c.key for c in AuditRecord.__table__.columns}
    assert set() == columns - hashed - set(COVERED_OTHERWISE)
    assert set() == set(COVERED_OTHERWISE) & hashed
    assert "key_id" in hashed


@pytest.mark.parametrize(
    ("column", "value"),
    [("key_id", "fedcba9876543210"), ("key_id", None), ("tokens", None), ("endpoint", None), ("tokens", 901)],
)
def test_v2_hash_changes_with_key_id_and_optional_columns(column: str, value: object) -> None:
    """Version 2 hashes key_id, and tokens/endpoint even when they are null (version 1 left out
    key_id, and the others when null: a key id could be swapped, a null dropped unseen)."""
    before = record_hash(hashed_fields(_record()), GENESIS)
    assert before != record_hash(hashed_fields(_record(**{column: value})), GENESIS)


def test_v1_hash_is_unchanged_for_old_records() -> None:
    """A version 1 record hashes exactly as before version 2 existed (so old chains verify)."""
    old = _record(1, tokens=None, endpoint=None)
    fields = hashed_fields(old)
    assert {"key_id", "tokens", "endpoint"}.isdisjoint(fields)
    assert fields == hashed_fields(_record(1, tokens=None, endpoint=None, key_id="another"))
    assert 900 == hashed_fields(_record(1))["tokens"]


def test_the_version_is_part_of_the_hash() -> None:
    """The same fields under another version give another hash: a record cannot claim the other
    version's rules without its hash changing."""
    fields = hashed_fields(_record(1))
    assert record_hash(fields, GENESIS, 1) != record_hash(fields, GENESIS, 2)


def test_unknown_chain_version_is_refused() -> None:
    """A version this code does not know is an error, not a guess."""
    with pytest.raises(ValueError, match="unknown chain version 3"):
        hashed_fields(_record(3))


# --- associated data: record, field and key id ----------------------------------------------------


def test_question_and_answer_ciphertexts_cannot_be_swapped() -> None:
    """Text is bound to its field: a question's ciphertext does not decrypt as the answer (or the
    other way round) of the same record."""
    cipher = TextCipher(bytes(range(32)))
    question = cipher.encrypt("給与は？", "rec-0001", "question")
    answer = cipher.encrypt("お答えできません", "rec-0001", "answer")
    with pytest.raises(InvalidTag):
        cipher.decrypt(question, "rec-0001", "answer")
    with pytest.raises(InvalidTag):
        cipher.decrypt(answer, "rec-0001", "question")
    with pytest.raises(InvalidTag):
        cipher.decrypt(answer, "rec-0001", None)  # nor read as version 1 text


def test_version_1_ciphertexts_still_decrypt() -> None:
    """Text written before fields were bound (AES-GCM, the record id as associated data) still
    decrypts with field None, and only so."""
    key = bytes(range(32))
    nonce = os.urandom(12)
    old = nonce + AESGCM(key).encrypt(nonce, "宿泊費の上限は？".encode(), b"rec-0001")
    cipher = TextCipher(key)
    assert "宿泊費の上限は？" == cipher.decrypt(old, "rec-0001", None)
    with pytest.raises(InvalidTag):
        cipher.decrypt(old, "rec-0001", "question")
    with pytest.raises(InvalidTag):
        cipher.decrypt(old, "rec-0002", None)


def test_record_ids_cannot_forge_another_binding() -> None:
    """An id holding separators cannot make one (record, field) look like another."""
    cipher = TextCipher(bytes(range(32)))
    blob = cipher.encrypt("x", 'a","answer', "question")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "a", "answer")
