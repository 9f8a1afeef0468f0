"""How an audit record's hash is computed: sha256 over canonical JSON of its fields, its chain
version and the previous record's hash. Changing this breaks every existing chain: add a version.

Versions (stored per record in ``chain_version``, and hashed as ``v``, so changing the column
changes the hash):

* 1: every column but ``key_id``; ``tokens`` and ``endpoint`` only when set (they were added
  later). Text is encrypted with the record id as associated data.
* 2: every column (:data:`COVERED_OTHERWISE` says how the rest are covered), ``key_id``,
  ``tokens`` and ``endpoint`` always. Text is bound to its record, field and key id.

Kura writes version 2 only. A version 1 record after a version 2 record is refused by
verification, so a record cannot be moved to the weaker version without rewriting every record
after it (which only checkpoints kept outside the database reveal).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.audit.models import AuditRecord

__all__ = [
    "CHAIN_VERSION",
    "CHAIN_VERSIONS",
    "COVERED_OTHERWISE",
    "GENESIS",
    "hashed_fields",
    "record_hash",
    "sha256_text",
]

#: The version new records are written with.
CHAIN_VERSION = 2
#: Every version verification accepts.
CHAIN_VERSIONS = frozenset({1, 2})
GENESIS = "0" * 64

#: Columns of ``audit_records`` that are not hashed as themselves, and what covers them instead.
COVERED_OTHERWISE: Mapping[str, str] = {
    "question_enc": "question_sha256 (text may be removed for retention)",
    "answer_enc": "answer_sha256 (text may be removed for retention)",
    "prev_hash": "hashed as 'prev'",
    "hash": "the hash itself",
    "chain_version": "hashed as 'v'",
}

# Columns version 1 hashed only when set.
_V1_OPTIONAL = ("tokens", "endpoint")


def sha256_text(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hash(fields: Mapping[str, object], prev_hash: str, version: int = CHAIN_VERSION) -> str:
    """The chain hash of one record's fields (without ``hash``) linked to ``prev_hash``."""
    body = {"v": version, "prev": prev_hash, **fields}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hashed_fields(r: AuditRecord) -> dict[str, object]:
    """Exactly what the chain hash covers for a record (besides its version and the previous hash),
    by its ``chain_version``.

    Raises:
        ValueError: a chain version this code does not know.
    """
    fields: dict[str, object] = {
        "seq": r.seq,
        "id": r.id,
        "created_at": r.created_at.astimezone(UTC).isoformat(),
        "platform": r.platform,
        "channel_id": r.channel_id,
        "thread_id": r.thread_id,
        "user_ref": r.user_ref,
        "user_email": r.user_email,
        "action": r.action,
        "allowed": r.allowed,
        "reason_code": r.reason_code,
        "rules": list(r.rules),
        "retrieved": list(r.retrieved),
        "status": r.status,
        "model": r.model,
        "prompt_version": r.prompt_version,
        "policy_version": r.policy_version,
        "latency_ms": r.latency_ms,
        "first_token_ms": r.first_token_ms,
        "question_sha256": r.question_sha256,
        "answer_sha256": r.answer_sha256,
    }
    if r.chain_version == 1:
        for name in _V1_OPTIONAL:
            value = getattr(r, name)
            if value is not None:
                fields[name] = value
        return fields
    if r.chain_version == 2:
        return fields | {"tokens": r.tokens, "endpoint": r.endpoint, "key_id": r.key_id}
    raise ValueError(f"unknown chain version {r.chain_version!r}")
