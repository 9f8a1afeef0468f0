"""What people asked, read back from the audit log for the FAQ: the questions of allowed ``ask``
records whose text is still held (retention removes it; so a question leaves mining with its text),
with whether their answer found no sources and whether people's last click on it was 👎.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import defer

from bot.audit.keyring import MissingKeyError
from bot.audit.models import EVAL_PLATFORM, AuditRecord, Feedback
from bot.audit.store import AuditStore
from bot.faq.mining import Asked

__all__ = ["AskedQuestion", "asked_questions"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskedQuestion(Asked):
    """An asked question (record, asker's email or platform reference, text) with the reply's
    status and how many people's last feedback on the answer is 👎."""

    status: str = ""
    thumbs_down: int = 0


async def asked_questions(
    audit: AuditStore, *, batch: int = 2000, since: datetime | None = None
) -> list[AskedQuestion]:
    """Every held question of an allowed ``ask`` (asked at ``since`` or later, when given), oldest
    first (a record whose text cannot be decrypted is skipped with a log line: mining must not stop
    on one bad record)."""
    latest = select(func.max(Feedback.id)).group_by(Feedback.audit_id, Feedback.user_ref)
    down = (
        select(Feedback.audit_id, func.count().label("n"))
        .where(Feedback.id.in_(latest), Feedback.value < 0)
        .group_by(Feedback.audit_id)
        .subquery()
    )
    query = (
        select(AuditRecord, func.coalesce(down.c.n, 0))
        .outerjoin(down, down.c.audit_id == AuditRecord.id)
        .where(
            and_(
                AuditRecord.action == "ask",
                AuditRecord.platform != EVAL_PLATFORM,  # a set's questions are not people asking
                AuditRecord.allowed.is_(True),
                AuditRecord.question_enc.is_not(None),
                AuditRecord.created_at >= since if since is not None else true(),
            )
        )
        .order_by(AuditRecord.seq)
        .options(defer(AuditRecord.answer_enc, raiseload=True))
        .execution_options(yield_per=batch)
    )
    out: list[AskedQuestion] = []
    bad = 0
    async with audit.sessions() as session:
        stream = await session.stream(query)
        async for record, thumbs in stream:
            try:
                text = audit.decrypt_question(record)
            except (InvalidTag, MissingKeyError, ValueError):
                bad += 1
                continue
            if text:
                asker = (record.user_email or record.user_ref).lower()
                out.append(AskedQuestion(record.id, asker, text, record.status, int(thumbs)))
    if bad:
        _log.warning("faq mining: %d question(s) could not be decrypted and were left out", bad)
    return out
