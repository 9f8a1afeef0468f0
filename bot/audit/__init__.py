"""The hash-chained, append-only audit log."""

from bot.audit.chain import GENESIS, record_hash
from bot.audit.crypto import TextCipher
from bot.audit.keyring import Keyring, MissingKeyError
from bot.audit.store import AuditEntry, AuditStore, VerifyResult

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditStore",
    "Keyring",
    "MissingKeyError",
    "TextCipher",
    "VerifyResult",
    "record_hash",
]
