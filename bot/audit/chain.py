"""How an audit record's hash is computed: sha256 over canonical JSON of its fields and the
previous record's hash. Changing this breaks every existing chain: version it if you must."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

__all__ = ["CHAIN_VERSION", "GENESIS", "record_hash", "sha256_text"]

CHAIN_VERSION = 1
GENESIS = "0" * 64


def sha256_text(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hash(fields: Mapping[str, object], prev_hash: str) -> str:
    """The chain hash of one record's fields (without ``hash``) linked to ``prev_hash``."""
    body = {"v": CHAIN_VERSION, "prev": prev_hash, **fields}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
