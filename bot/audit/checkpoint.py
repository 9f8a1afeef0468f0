"""Signed checkpoints of the audit chain's head, for the operator to keep outside the database.

A checkpoint says "record N had hash H at time T", signed with HMAC-SHA256. The chain alone
cannot show that someone with write access rewrote it from some record on and recomputed every
hash, or cut its tail; a checkpoint kept elsewhere can: record N no longer has hash H, or is gone.

    checkpoint seq=N hash=H at=ISO signature=hmac-sha256:HEX key_id=K

``kura audit checkpoint`` prints one; the ``checkpoint`` job writes one to a sink outside the
database on a schedule (``bot.jobs.checkpoint_sink``); ``kura audit verify --expect-head`` and
``kura audit checkpoint --verify`` re-check one (:func:`head_problem`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.audit.chain import GENESIS
from bot.audit.signing import SCHEME as _SCHEME
from bot.audit.signing import key_id, mac, same_mac
from bot.audit.store import AuditStore
from bot.errors import InputError, KuraError

__all__ = [
    "AuditTampered",
    "ChainHead",
    "Checkpoint",
    "CheckpointCheck",
    "format_line",
    "head_problem",
    "last_line",
    "parse",
    "read_head",
    "sign",
    "to_json",
    "verify_checkpoint",
    "verify_signature",
]

# Domain separation: this key signs nothing else, but a tag costs nothing.
_DOMAIN = "kura-audit-checkpoint-v1"
_KEYS = ("seq", "hash", "at", "signature", "key_id")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class AuditTampered(KuraError):
    """The chain does not verify, or no longer holds a checkpoint taken before."""


@dataclass(frozen=True)
class ChainHead:
    """The newest record's seq and hash, and how many records there are (seq 0: empty log)."""

    seq: int
    hash: str
    records: int


@dataclass(frozen=True)
class Checkpoint:
    """A signed head. ``at`` is kept as the exact text that was signed."""

    seq: int
    hash: str
    at: str
    signature: str
    key_id: str


@dataclass(frozen=True)
class CheckpointCheck:
    """The outcome of re-checking a checkpoint; ``problem`` says why it failed."""

    ok: bool
    problem: str = ""
    records: int = 0


def _mac(key: bytes, seq: int, hash_: str, at: str) -> str:
    return mac(key, _DOMAIN, {"seq": seq, "hash": hash_, "at": at})


def sign(head: ChainHead, key: bytes, at: datetime | None = None) -> Checkpoint:
    """Sign ``head`` as of ``at`` (now by default), in UTC to the second."""
    when = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0).isoformat()
    return Checkpoint(head.seq, head.hash, when, _mac(key, head.seq, head.hash, when), key_id(key))


def verify_signature(checkpoint: Checkpoint, key: bytes) -> str:
    """Empty when ``checkpoint`` was signed with ``key`` and not altered; else the reason."""
    if checkpoint.key_id != key_id(key):
        return f"signed with key {checkpoint.key_id}, not with the configured checkpoint key {key_id(key)}"
    if not same_mac(checkpoint.signature, _mac(key, checkpoint.seq, checkpoint.hash, checkpoint.at)):
        return "the signature does not match: the checkpoint was altered"
    return ""


def format_line(checkpoint: Checkpoint) -> str:
    """The one line an operator keeps."""
    c = checkpoint
    return f"checkpoint seq={c.seq} hash={c.hash} at={c.at} signature={c.signature} key_id={c.key_id}"


def to_json(checkpoint: Checkpoint, records: int | None = None) -> dict[str, object]:
    """The checkpoint as a JSON object (``records`` is informational, not signed)."""
    body: dict[str, object] = {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": checkpoint.at,
        "signature": checkpoint.signature,
        "key_id": checkpoint.key_id,
    }
    if records is not None:
        body["records"] = records
    return body


def parse(text: str) -> Checkpoint:
    """A checkpoint from its line (:func:`format_line`) or its JSON (:func:`to_json`).

    Raises:
        InputError: ``text`` is not a well-formed checkpoint.
    """
    text = text.strip()
    fields: dict[str, object]
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            raise InputError("not a checkpoint: invalid JSON") from None
        if not isinstance(loaded, dict):
            raise InputError("not a checkpoint: expected a JSON object")
        fields = {k: v for k, v in loaded.items() if k in _KEYS}
    else:
        words = text.split()
        if not words or words[0] != "checkpoint":
            raise InputError("not a checkpoint: expected a line starting with 'checkpoint'")
        fields = {}
        for word in words[1:]:
            name, sep, value = word.partition("=")
            if not sep or name not in _KEYS or name in fields:
                raise InputError(f"not a checkpoint: unexpected {word[:40]!r}")
            fields[name] = value
    missing = [k for k in _KEYS if k not in fields]
    if missing:
        raise InputError(f"not a checkpoint: missing {', '.join(missing)}")
    seq, hash_, at, signature, kid = (fields[k] for k in _KEYS)
    if isinstance(seq, str) and seq.isdecimal():
        seq = int(seq)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InputError("not a checkpoint: seq must be a whole number")
    if not isinstance(hash_, str) or not _HEX64.fullmatch(hash_):
        raise InputError("not a checkpoint: hash must be 64 hex digits")
    if not isinstance(signature, str) or not signature.startswith(_SCHEME):
        raise InputError(f"not a checkpoint: signature must start with {_SCHEME}")
    if not isinstance(at, str) or not isinstance(kid, str):
        raise InputError("not a checkpoint: at and key_id must be text")
    try:
        datetime.fromisoformat(at)
    except ValueError:
        raise InputError(f"not a checkpoint: at {at[:40]!r} is not an ISO datetime") from None
    return Checkpoint(seq, hash_, at, signature, kid)


async def read_head(store: AuditStore) -> ChainHead:
    """The chain's current head."""
    seq, hash_, records = await store.head()
    return ChainHead(seq, hash_, records)


def last_line(text: str, where: str) -> str:
    """The newest checkpoint in a file of them (one per line, as the ``file:`` sink appends them).

    Raises:
        InputError: no checkpoint line in it.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(f"{where}: holds no checkpoint")
    return lines[-1]


async def head_problem(store: AuditStore, checkpoint: Checkpoint, key: bytes) -> str:
    """Empty when ``checkpoint`` is signed with ``key`` and its record still has its hash; else the
    reason. It does not walk the chain: with :meth:`AuditStore.verify` passing, a record that still
    has its checkpointed hash means nothing up to it was rewritten, and its presence that the tail
    was not cut below it."""
    problem = verify_signature(checkpoint, key)
    if problem:
        return problem
    stored = GENESIS if checkpoint.seq == 0 else await store.hash_at(checkpoint.seq)
    if stored is None:
        through = await store.anchor_through()
        if checkpoint.seq <= through:
            return (
                f"record {checkpoint.seq} was removed for retention (records up to {through} are gone): "
                "re-check a newer checkpoint"
            )
        head = await store.head()
        if head[0] < checkpoint.seq:
            return f"record {checkpoint.seq} is missing: the chain ends at record {head[0]} (its tail was cut)"
        return f"record {checkpoint.seq} is missing"
    if stored != checkpoint.hash:
        return f"record {checkpoint.seq} no longer has the checkpointed hash: the chain was rewritten"
    return ""


async def verify_checkpoint(store: AuditStore, checkpoint: Checkpoint, key: bytes) -> CheckpointCheck:
    """A checkpoint holds when its signature is valid, its record still has its hash, and the whole
    chain verifies."""
    problem = await head_problem(store, checkpoint, key)
    if problem:
        return CheckpointCheck(False, problem)
    result = await store.verify()
    if not result.ok:
        return CheckpointCheck(False, f"chain broken at record {result.first_bad}: {result.problem}", result.records)
    return CheckpointCheck(True, "", result.records)
