"""Export of the audit log for a SIEM: records oldest first as dicts, written as JSONL or CSV.

Rows stream from a server-side cursor and are written one by one, so memory stays constant on
millions of records. Question and answer text is exported only when asked for, decrypted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import AsyncGenerator, AsyncIterable, Iterator, Sequence
from contextlib import aclosing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from cryptography.exceptions import InvalidTag

from bot.audit.models import AuditRecord
from bot.audit.store import AuditStore, hashed_fields
from bot.errors import ConfigurationError, InputError
from bot.redaction import redact

__all__ = [
    "FIELDS",
    "OPTIONAL_HASHED",
    "TEXT_FIELDS",
    "export_rows",
    "hash_input",
    "open_output",
    "parse_when",
    "to_row",
    "write_csv",
    "write_jsonl",
]

#: Every exported field, in order (the CSV header).
FIELDS: tuple[str, ...] = (
    "seq",
    "id",
    "created_at",
    "platform",
    "channel_id",
    "thread_id",
    "user_ref",
    "user_email",
    "action",
    "allowed",
    "reason_code",
    "rules",
    "retrieved",
    "status",
    "model",
    "prompt_version",
    "policy_version",
    "latency_ms",
    "first_token_ms",
    "tokens",
    "endpoint",
    "key_id",
    "question_sha256",
    "answer_sha256",
    "prev_hash",
    "hash",
)
#: Added after :data:`FIELDS` with ``include_text``.
TEXT_FIELDS: tuple[str, ...] = ("question", "answer")


def parse_when(value: str, flag: str) -> datetime:
    """An ISO 8601 date or datetime; a bare date is midnight, and no offset means UTC.

    Raises:
        InputError: ``"{flag} {value!r}: not an ISO date"``.
    """
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{flag} {value!r}: not an ISO date (e.g. 2026-01-31 or 2026-01-31T09:00:00+09:00)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


#: Fields the chain covers only when set (records written before they existed lack them).
OPTIONAL_HASHED: tuple[str, ...] = ("tokens", "endpoint")


def hash_input(row: dict[str, object]) -> dict[str, object]:
    """The fields of an exported row that its ``hash`` covers, for ``record_hash(hash_input(row),
    row["prev_hash"])``: everything but key_id, prev_hash, hash and text, and the optional fields
    only when they are set."""
    skip = {"key_id", "prev_hash", "hash", *TEXT_FIELDS}
    return {
        name: row[name]
        for name in FIELDS
        if name not in skip and not (name in OPTIONAL_HASHED and row.get(name) is None)
    }


def to_row(store: AuditStore, record: AuditRecord, include_text: bool, redact_text: bool = False) -> dict[str, object]:
    """One record as an export row: :data:`FIELDS`, then :data:`TEXT_FIELDS` if asked for.

    Field values are as hashed (``retrieved`` as stored, ``created_at`` ISO 8601 in UTC), so a SIEM
    can recompute each row's hash with :func:`bot.audit.chain.record_hash`.
    """
    # The chain covers ``tokens`` and ``endpoint`` only when they are set (older records lack them).
    base = hashed_fields(record) | {"key_id": record.key_id, "prev_hash": record.prev_hash, "hash": record.hash}
    row: dict[str, object] = {name: base.get(name) for name in FIELDS}
    if include_text:
        try:
            question, answer = store.decrypt_question(record), store.decrypt_answer(record)
            row["question"] = redact(question) if redact_text and question else question
            row["answer"] = redact(answer) if redact_text and answer else answer
        except InvalidTag:
            raise ConfigurationError(
                f"audit record {record.seq}: its text does not decrypt with the configured audit key "
                f"(the record's key id is {record.key_id})"
            ) from None
    return row


async def export_rows(
    store: AuditStore,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    include_text: bool = False,
    redact_text: bool = False,
    batch: int = 1000,
) -> AsyncGenerator[dict[str, object], None]:
    """Rows oldest first with ``since <= created_at < until``, ``batch`` rows fetched at a time.

    Close it (``contextlib.aclosing``) if you stop early: it holds a database connection.
    """
    async with aclosing(store.stream(since, until, with_text=include_text, batch=batch)) as records:
        async for record in records:
            yield to_row(store, record, include_text, redact_text)


async def write_jsonl(rows: AsyncIterable[dict[str, object]], out: TextIO) -> int:
    """One compact JSON object per line (UTF-8 as is, ``\\n`` ends each); returns the row count."""
    count = 0
    async for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


async def write_csv(rows: AsyncIterable[dict[str, object]], out: TextIO, fields: Sequence[str] = FIELDS) -> int:
    """A header row of ``fields``, then one row per record: lists and objects as JSON, booleans
    ``true``/``false``, null as an empty cell; returns the row count (without the header).

    Values are written exactly as recorded: a spreadsheet opening the file may treat a cell that
    starts with ``=`` as a formula.
    """
    writer = csv.writer(out)
    writer.writerow(fields)
    count = 0
    async for row in rows:
        writer.writerow([_cell(row.get(name)) for name in fields])
        count += 1
    return count


@contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """Where an export goes: stdout, or ``path`` written whole or not at all (a ``.part`` file
    renamed at the end, removed on failure), mode 0600 since it holds emails and perhaps text.

    Raises:
        InputError: the file cannot be created.
    """
    if path is None:
        if isinstance(sys.stdout, io.TextIOWrapper):  # UTF-8 whatever the locale; CSV keeps its \r\n
            sys.stdout.reconfigure(encoding="utf-8", newline="")
        yield sys.stdout
        sys.stdout.flush()
        return
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    part = path.with_name(path.name + ".part")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
