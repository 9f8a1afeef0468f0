"""Retention anchors: the signed statement that lets old audit records be removed.

Removing the oldest records of a hash chain breaks its start: the first remaining record links to
a hash nobody can recompute. An anchor, stored in ``audit_anchors`` when records are removed, says
"records up to N were removed for retention; record N had hash H", HMAC-signed with the checkpoint
key (kept outside the database). Verification starts from the newest anchor instead of the genesis
hash, after checking its signature: whoever deletes records without the key cannot make them pass.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.audit.models import AuditAnchor
from bot.audit.signing import key_id, mac, same_mac

__all__ = ["anchor_problem", "sign_anchor"]

_DOMAIN = "kura-audit-retention-anchor-v1"


def _mac(key: bytes, through_seq: int, through_hash: str, cutoff: str, pruned: int, at: str) -> str:
    fields: dict[str, object] = {
        "through_seq": through_seq,
        "through_hash": through_hash,
        "cutoff": cutoff,
        "pruned": pruned,
        "at": at,
    }
    return mac(key, _DOMAIN, fields)


def sign_anchor(
    key: bytes, through_seq: int, through_hash: str, cutoff: datetime, pruned: int, at: datetime | None = None
) -> AuditAnchor:
    """A new anchor row (not yet added to a session) for removing records up to ``through_seq``."""
    when = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0).isoformat()
    cut = cutoff.astimezone(UTC).isoformat()
    return AuditAnchor(
        through_seq=through_seq,
        through_hash=through_hash,
        cutoff=cut,
        pruned=pruned,
        at=when,
        signature=_mac(key, through_seq, through_hash, cut, pruned, when),
        key_id=key_id(key),
    )


def anchor_problem(anchor: AuditAnchor, key: bytes | None) -> str:
    """Empty when ``anchor`` was signed with ``key`` and not altered; else the reason."""
    if key is None:
        return "cannot check its signature: no checkpoint key (KURA_AUDIT_CHECKPOINT_KEY_FILE)"
    if anchor.key_id != key_id(key):
        return f"signed with key {anchor.key_id}, not with the configured checkpoint key {key_id(key)}"
    expected = _mac(key, anchor.through_seq, anchor.through_hash, anchor.cutoff, anchor.pruned, anchor.at)
    if not same_mac(anchor.signature, expected):
        return "the signature does not match: the anchor was forged or altered"
    return ""
