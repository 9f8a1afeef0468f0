"""The audit tables. Records are append-only: a trigger rejects any UPDATE but removing text, and any
DELETE but of records behind a signed retention anchor (migrations 0001, 0004, 0005)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["EVAL_PLATFORM", "AuditAnchor", "AuditBase", "AuditRecord", "Feedback", "HandledEvent", "LegalHold"]

#: The platform of questions an evaluation run asks (``kura eval``): audited like any question, but
#: not anyone's usage (rate limits, token quotas, capacity plans) and not mined for the FAQ.
EVAL_PLATFORM = "eval"


class AuditBase(DeclarativeBase):
    """Declarative base of the audit tables."""


class AuditRecord(AuditBase):
    """One request or admin action. ``hash`` covers every column but the encrypted text (whose
    sha256 it covers instead), so purging text later keeps the chain verifiable; records of chain
    version 1 (before migration 0009) leave ``key_id`` out (``bot.audit.chain``)."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    platform: Mapped[str] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(Text)
    thread_id: Mapped[str | None] = mapped_column(Text)
    user_ref: Mapped[str] = mapped_column(Text)
    user_email: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str] = mapped_column(Text)
    rules: Mapped[list[str]] = mapped_column(JSONB)
    retrieved: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    prompt_version: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int] = mapped_column(Integer)
    first_token_ms: Mapped[int | None] = mapped_column(Integer)
    tokens: Mapped[int | None] = mapped_column(Integer)
    endpoint: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(Text)
    question_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    question_sha256: Mapped[str] = mapped_column(Text)
    answer_sha256: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(Text, unique=True)
    #: How ``hash`` and the text's associated data were made (``bot.audit.chain``; migration 0009).
    chain_version: Mapped[int] = mapped_column(SmallInteger)


class Feedback(AuditBase):
    """A 👍 (+1) or 👎 (-1) on an answer, stored against its audit record (the last click counts).
    Append-only (trigger, migration 0008): each click that changes something is a new row, and
    ``record_id`` names the audit record that put it in the chain."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    audit_id: Mapped[str] = mapped_column(Text, ForeignKey("audit_records.id"))
    user_ref: Mapped[str] = mapped_column(Text)
    value: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: None for feedback stored before migration 0008.
    record_id: Mapped[str | None] = mapped_column(Text, ForeignKey("audit_records.id"))


class HandledEvent(AuditBase):
    """A chat platform event id already handled: retries and duplicate deliveries are dropped."""

    __tablename__ = "handled_events"

    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LegalHold(AuditBase):
    """A legal hold on a user (``kind`` ``user``, value an email) or a channel (``channel``, its id):
    while not released, ``kura audit purge`` keeps the text of their audit records. Added and
    released by the owner only, each with an audit record; released once, never changed otherwise
    (trigger, migration 0008)."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Who added it, who released it and why (None on holds from before migration 0008).
    created_by: Mapped[str | None] = mapped_column(Text)
    released_by: Mapped[str | None] = mapped_column(Text)
    release_reason: Mapped[str | None] = mapped_column(Text)


class AuditAnchor(AuditBase):
    """A signed retention anchor: records up to ``through_seq`` were removed for retention, and the
    chain goes on from ``through_hash``. Append-only (trigger); see ``bot.audit.anchors``."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    through_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    through_hash: Mapped[str] = mapped_column(Text)
    #: Records created before this instant (ISO, UTC) were due; signed as text.
    cutoff: Mapped[str] = mapped_column(Text)
    #: How many records this anchor removed.
    pruned: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChatConversation(AuditBase):
    """Where a platform's conversation is reached (a conversation reference): saved when Kura is
    installed in a team or chat, or first hears from it, so jobs can post there later (Teams needs
    the service URL the conversation lives on)."""

    __tablename__ = "chat_conversations"

    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(Text, primary_key=True)
    service_url: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str | None] = mapped_column(Text)
    #: personal, groupChat or channel (Teams' conversationType).
    kind: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChatReply(AuditBase):
    """Which posted message carries which answer: feedback on a platform that names only the
    message (Teams' feedback loop) is stored against the answer's audit record."""

    __tablename__ = "chat_replies"

    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(Text, primary_key=True)
    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    audit_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
