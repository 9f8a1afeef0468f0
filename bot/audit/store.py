"""All SQL of the audit log: append a record to the chain, verify the chain, read recent records."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from bot.audit.anchors import anchor_problem
from bot.audit.chain import CHAIN_VERSION, CHAIN_VERSIONS, GENESIS, hashed_fields, record_hash, sha256_text
from bot.audit.crypto import TextCipher, TextField
from bot.audit.keyring import Keyring, MissingKeyError
from bot.audit.models import EVAL_PLATFORM, AuditAnchor, AuditRecord, Feedback
from bot.group_commit import GroupCommit

__all__ = ["CHAIN_LOCK", "AuditEntry", "AuditStore", "VerifyResult", "hashed_fields", "operator_entry"]

# pg_advisory_xact_lock key serialising appends across processes and replicas ("kura").
CHAIN_LOCK = 0x6B757261

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    """What one request leaves behind."""

    platform: str
    user_ref: str
    user_email: str | None
    action: str
    allowed: bool
    reason_code: str
    status: str
    question: str
    answer: str
    latency_ms: int
    channel_id: str | None = None
    thread_id: str | None = None
    rules: Sequence[str] = ()
    retrieved: Sequence[dict[str, Any]] = field(default_factory=tuple)
    model: str | None = None
    prompt_version: str | None = None
    policy_version: str | None = None
    first_token_ms: int | None = None
    #: Prompt and answer tokens (as counted or estimated), for per-day limits.
    tokens: int | None = None
    #: The model endpoint used (``local``, ``secondary``).
    endpoint: str | None = None


def operator_entry(
    platform: str,
    actor: str,
    command: str,
    outcome: str,
    latency_ms: int,
    *,
    action: str = "admin",
    reason_code: str = "operator",
    policy_version: str | None = None,
) -> AuditEntry:
    """The record of something an operator or a scheduled job did (no directory user, no policy
    decision: they hold the database and the keys): the command as the question, the outcome as
    the answer."""
    return AuditEntry(
        platform=platform,
        user_ref=actor,
        user_email=None,
        action=action,
        allowed=True,
        reason_code=reason_code,
        status="done",
        question=command,
        answer=outcome,
        latency_ms=latency_ms,
        policy_version=policy_version,
    )


def _feedback_entry(
    audit_id: str,
    user_ref: str,
    value: int,
    previous: int | None,
    platform: str,
    channel_id: str | None,
    thread_id: str | None,
) -> AuditEntry:
    """The record of a 👍/👎 click: where the rated answer was, who clicked, and in ``retrieved``
    (kept when text is purged) the rated record, the new value and the one it replaced."""
    shown = f"{value:+d}" if previous is None else f"{value:+d} (was {previous:+d})"
    return AuditEntry(
        platform=platform,
        user_ref=user_ref,
        user_email=None,
        action="feedback",
        allowed=True,
        reason_code="feedback",
        status="recorded" if previous is None else "changed",
        question=f"feedback on audit record {audit_id}",
        answer=shown,
        latency_ms=0,
        channel_id=channel_id,
        thread_id=thread_id,
        retrieved=[{"audit_id": audit_id, "value": value, "previous": previous}],
    )


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain; ``first_bad`` names the first record that fails."""

    ok: bool
    records: int
    first_bad: int | None = None
    problem: str = ""
    #: Records up to this seq were removed for retention under a signed anchor (0: none removed).
    pruned_through: int = 0


def _check(record: AuditRecord, expected_seq: int, prev: str, newest_version: int) -> str:
    if record.seq != expected_seq:
        return f"expected record {expected_seq}, found {record.seq}"
    if record.prev_hash != prev:
        return "does not link to the previous record"
    if record.chain_version not in CHAIN_VERSIONS:
        return f"unknown chain version {record.chain_version}"
    # Versions only go up: a record of an older (weaker) version after a newer one was downgraded.
    if record.chain_version < newest_version:
        return f"chain version {record.chain_version} after a record of version {newest_version}: downgraded"
    if record_hash(hashed_fields(record), prev, record.chain_version) != record.hash:
        return "content does not match its hash"
    return ""


class AuditStore:
    """Appends hash-chained records; verifies the chain."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: TextCipher | Keyring,
        *,
        anchor_key: bytes | None = None,
    ) -> None:
        """``anchor_key`` (the checkpoint key) checks retention anchors; without it a chain that had
        records removed for retention does not verify."""
        self._sessions = sessions
        self._anchor_key = anchor_key
        # A single key is a keyring without retired keys: every record is decrypted by its key id.
        self._cipher = cipher if isinstance(cipher, Keyring) else Keyring(cipher)
        # Appends that arrive together share a transaction (see ``append``).
        self._group: GroupCommit[AuditEntry, str] = GroupCommit(
            self._write_group, lambda: SQLAlchemyError("the audit writer was stopped")
        )

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Kura's sessions on the audit tables (for readers such as ``bot.audit.asked``)."""
        return self._sessions

    def use_anchor_key(self, key: bytes) -> None:
        """Check retention anchors with ``key`` from now on (it was created after this store)."""
        self._anchor_key = key

    async def append(self, entry: AuditEntry, session: AsyncSession | None = None) -> str:
        """Write one record at the head of the chain and return its id.

        Args:
            entry: the record's content.
            session: a session already in a transaction, so the record commits together with the
                request's other writes; a new transaction when None.
        """
        if session is not None:
            return (await self._append_all([entry], session))[0]
        # Group commit: appends that arrive while a transaction is writing go together in the next
        # one (one chain lock, one head read, one insert, one commit), as every answer finishing at
        # once would otherwise queue on the lock one transaction at a time, each holding a pooled
        # connection (bench/conversation_load.py). The record is committed before this returns.
        return await self._group.submit(entry)

    async def _write_group(self, entries: list[AuditEntry]) -> list[str | Exception]:
        """One transaction for the group; when the database refuses it (not when it is out of
        reach), each record alone, so one bad record does not cost the others theirs."""
        try:
            return list(await self._commit(entries))
        except (OperationalError, InterfaceError):
            raise  # the database is out of reach: every record of the group fails
        except SQLAlchemyError:
            if len(entries) == 1:
                raise
            _log.warning("audit group failed, writing its records one by one records=%d", len(entries))
        results: list[str | Exception] = []
        for entry in entries:
            try:
                results.append((await self._commit([entry]))[0])
            except SQLAlchemyError as one:
                results.append(one)
        return results

    async def _commit(self, entries: Sequence[AuditEntry]) -> list[str]:
        async with self._sessions.begin() as session:
            return await self._append_all(entries, session)

    async def _append_all(self, entries: Sequence[AuditEntry], session: AsyncSession) -> list[str]:
        """Add records at the head of the chain, in order, under the chain lock; return their ids."""
        await session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK)))
        head = (
            await session.execute(select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1))
        ).first()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS)
        records = []
        for entry in entries:
            seq += 1
            record = self._record(entry, seq, prev)
            prev = record.hash
            records.append(record)
        session.add_all(records)
        await session.flush()
        return [record.id for record in records]

    def _record(self, entry: AuditEntry, seq: int, prev: str) -> AuditRecord:
        record_id = str(uuid.uuid4())
        record = AuditRecord(
            seq=seq,
            id=record_id,
            created_at=datetime.now(UTC).replace(microsecond=0),
            platform=entry.platform,
            channel_id=entry.channel_id,
            thread_id=entry.thread_id,
            user_ref=entry.user_ref,
            user_email=entry.user_email,
            action=entry.action,
            allowed=entry.allowed,
            reason_code=entry.reason_code,
            rules=list(entry.rules),
            retrieved=list(entry.retrieved),
            status=entry.status,
            model=entry.model,
            prompt_version=entry.prompt_version,
            policy_version=entry.policy_version,
            latency_ms=entry.latency_ms,
            first_token_ms=entry.first_token_ms,
            tokens=entry.tokens,
            endpoint=entry.endpoint,
            key_id=self._cipher.key_id,
            question_enc=self._cipher.encrypt(entry.question, record_id, "question"),
            answer_enc=self._cipher.encrypt(entry.answer, record_id, "answer"),
            question_sha256=sha256_text(entry.question),
            answer_sha256=sha256_text(entry.answer),
            prev_hash=prev,
            chain_version=CHAIN_VERSION,
        )
        record.hash = record_hash(hashed_fields(record), prev, CHAIN_VERSION)
        return record

    async def verify(self, batch: int = 1000) -> VerifyResult:
        """Walk the chain in order (a server-side cursor: constant memory); the first record whose
        position, link or hash fails is reported.

        The chain starts from the genesis hash, or, once records were removed for retention, from
        the newest retention anchor: every anchor's signature is checked with the checkpoint key
        first, and the first remaining record must follow the newest anchor.
        """
        async with self._sessions() as session:
            anchors = list(await session.scalars(select(AuditAnchor).order_by(AuditAnchor.through_seq)))
            for anchor in anchors:
                problem = anchor_problem(anchor, self._anchor_key)
                if problem:
                    return VerifyResult(
                        False,
                        0,
                        anchor.through_seq + 1,
                        f"retention anchor through record {anchor.through_seq}: {problem}",
                    )
            start, prev = (anchors[-1].through_seq, anchors[-1].through_hash) if anchors else (0, GENESIS)
            count = 0
            newest_version = 1
            stream = await session.stream_scalars(
                select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)
            )
            try:
                async for record in stream:
                    count += 1
                    if record.seq <= start:
                        problem = f"should have been removed with the records up to the retention anchor {start}"
                    else:
                        problem = _check(record, start + count, prev, newest_version)
                    if problem:
                        return VerifyResult(False, count, record.seq, problem, start)
                    prev = record.hash
                    newest_version = record.chain_version
            finally:
                await stream.close()
        return VerifyResult(True, count, pruned_through=start)

    async def anchor_through(self) -> int:
        """The seq up to which records were removed for retention (0: none)."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.coalesce(func.max(AuditAnchor.through_seq), 0))) or 0)

    async def get(self, record_id: str) -> AuditRecord | None:
        """One record by id."""
        async with self._sessions() as session:
            return await session.scalar(select(AuditRecord).where(AuditRecord.id == record_id))

    async def recent(self, limit: int = 10, user_email: str | None = None) -> list[AuditRecord]:
        """The newest records, newest first; only one user's when ``user_email`` is given."""
        query = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
        if user_email is not None:
            query = query.where(AuditRecord.user_email == user_email.lower())
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def usage(self, user_email: str) -> tuple[int, int]:
        """(questions in the last minute, tokens since midnight UTC) of one user."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        minute_ago = datetime.now(UTC) - timedelta(minutes=1)
        query = select(
            func.count().filter(AuditRecord.created_at >= minute_ago),
            func.coalesce(func.sum(AuditRecord.tokens).filter(AuditRecord.created_at >= today), 0),
        ).where(
            AuditRecord.user_email == user_email.lower(),
            AuditRecord.action == "ask",
            AuditRecord.platform != EVAL_PLATFORM,
            AuditRecord.created_at >= min(today, minute_ago),
        )
        async with self._sessions() as session:
            row = (await session.execute(query)).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def record_feedback(self, audit_id: str, user_ref: str, value: int) -> bool:
        """Store a 👍/👎 against an answer's record, with an audit record of the click in the same
        transaction: feedback is part of what an auditor reviews, so a new or changed value is in the
        chain (a repeat of the person's current value changes nothing and writes nothing). Feedback
        rows are append-only (migration 0008); the newest row per person counts.

        Returns:
            False when no such record exists.
        """
        if value not in (-1, 1):
            raise ValueError("feedback is +1 or -1")
        async with self._sessions.begin() as session:
            # The chain lock first: two clicks of one person are then stored and chained in one order.
            await session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK)))
            rated = (
                await session.execute(
                    select(AuditRecord.platform, AuditRecord.channel_id, AuditRecord.thread_id).where(
                        AuditRecord.id == audit_id
                    )
                )
            ).first()
            if rated is None:
                return False
            previous = await session.scalar(
                select(Feedback.value)
                .where(Feedback.audit_id == audit_id, Feedback.user_ref == user_ref)
                .order_by(Feedback.id.desc())
                .limit(1)
            )
            if previous == value:
                return True
            entry = _feedback_entry(
                audit_id, user_ref, value, previous, rated.platform, rated.channel_id, rated.thread_id
            )
            (record_id,) = await self._append_all([entry], session)
            session.add(Feedback(audit_id=audit_id, user_ref=user_ref, value=value, record_id=record_id))
        return True

    def decrypt_question(self, record: AuditRecord) -> str | None:
        """The question text of a record, if its text is still held."""
        if record.question_enc is None:
            return None
        return self._decrypt(record, record.question_enc, "question")

    def decrypt_answer(self, record: AuditRecord) -> str | None:
        """The answer text of a record, if its text is still held."""
        if record.answer_enc is None:
            return None
        return self._decrypt(record, record.answer_enc, "answer")

    def _decrypt(self, record: AuditRecord, blob: bytes, field: TextField) -> str:
        """Raises InvalidTag when the text was altered or moved (to another record, field or key id)."""
        # Text of chain version 1 was bound to the record id only.
        bound = field if record.chain_version >= 2 else None
        try:
            return self._cipher.decrypt(blob, record.id, record.key_id, field=bound)
        except MissingKeyError as exc:
            raise MissingKeyError(f"audit record {record.seq}: {exc}") from None

    async def stream(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        with_text: bool = False,
        batch: int = 1000,
    ) -> AsyncGenerator[AuditRecord, None]:
        """Records oldest first, ``since <= created_at < until``, through a server-side cursor
        (constant memory). Without ``with_text`` the encrypted text is not even fetched.

        Close the iterator (``contextlib.aclosing``) if you stop early: it holds a connection.
        """
        query = select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)
        if since is not None:
            query = query.where(AuditRecord.created_at >= since)
        if until is not None:
            query = query.where(AuditRecord.created_at < until)
        if not with_text:
            query = query.options(
                defer(AuditRecord.question_enc, raiseload=True), defer(AuditRecord.answer_enc, raiseload=True)
            )
        async with self._sessions() as session:
            stream = await session.stream_scalars(query)
            try:
                async for record in stream:
                    yield record
            finally:
                await stream.close()

    async def head(self) -> tuple[int, str, int]:
        """``(seq, hash, record count)`` of the newest record, read in one statement (one snapshot);
        ``(0, GENESIS, 0)`` for an empty log."""
        count = select(func.count()).select_from(AuditRecord).scalar_subquery()
        query = select(AuditRecord.seq, AuditRecord.hash, count).order_by(AuditRecord.seq.desc()).limit(1)
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return (row[0], row[1], row[2]) if row else (0, GENESIS, 0)

    async def hash_at(self, seq: int) -> str | None:
        """The stored hash of record ``seq``; None when there is no such record."""
        async with self._sessions() as session:
            return await session.scalar(select(AuditRecord.hash).where(AuditRecord.seq == seq))
