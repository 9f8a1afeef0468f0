"""Export of the audit log for a SIEM: records oldest first as dicts, written as JSONL or CSV.

Rows stream from a server-side cursor and are written one by one, so memory stays constant on
millions of records. Question and answer text is exported only when asked for, decrypted, and
checked against the sha256 the chain covers: ``text_check`` says whether it holds (see
:data:`TEXT_CHECKS`), and a :class:`TextProblems` collects the records where it does not.

CSV cells that a spreadsheet would run as a formula are prefixed with ``'`` (:func:`csv_cell`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterable, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from cryptography.exceptions import InvalidTag

from bot.audit.chain import sha256_text
from bot.audit.crypto import TextField
from bot.audit.models import AuditRecord
from bot.audit.store import AuditStore
from bot.errors import InputError
from bot.redaction import redact

__all__ = [
    "FIELDS",
    "OPTIONAL_HASHED",
    "TEXT_CHECKS",
    "TEXT_FIELDS",
    "TextProblems",
    "csv_cell",
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
    # Added with chain version 2 (last, so CSV columns keep their places): how ``hash`` was made.
    "chain_version",
)
#: Added after :data:`FIELDS` with ``include_text``: the text, and whether it matches its hash.
TEXT_FIELDS: tuple[str, ...] = ("question", "answer", "text_check")
#: The values of ``text_check``: every text still held matches its sha256; no text is held any more
#: (removed for retention); a decrypted text differs from its sha256; the ciphertext does not
#: authenticate under its own key (altered, or moved from another record or column).
TEXT_CHECKS: tuple[str, ...] = ("ok", "purged", "mismatch", "undecryptable")


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


#: Fields chain version 1 covers only when set (records written before they existed lack them).
OPTIONAL_HASHED: tuple[str, ...] = ("tokens", "endpoint")


def hash_input(row: dict[str, object]) -> dict[str, object]:
    """The fields of an exported row that its ``hash`` covers, for ``record_hash(hash_input(row),
    row["prev_hash"], row["chain_version"])``: version 2, everything but prev_hash, hash,
    chain_version and text; version 1 also leaves out key_id, and the optional fields when unset."""
    skip = {"prev_hash", "hash", "chain_version", *TEXT_FIELDS}
    if row.get("chain_version") == 1:
        return {
            name: row[name]
            for name in FIELDS
            if name not in skip | {"key_id"} and not (name in OPTIONAL_HASHED and row.get(name) is None)
        }
    return {name: row[name] for name in FIELDS if name not in skip}


@dataclass
class TextProblems:
    """Records whose exported text failed its check, as ``(seq, reason)``; the first ``keep`` are
    kept, all are counted."""

    keep: int = 20
    count: int = 0
    first: list[tuple[int, str]] = field(default_factory=list)

    def add(self, seq: int, reason: str) -> None:
        """Count one more; keep it if there is room."""
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append((seq, reason))


@dataclass(frozen=True)
class _Text:
    """One text field of a record: decrypted (None when gone or undecryptable) and checked."""

    text: str | None
    check: str = "ok"  # ok | mismatch | undecryptable
    reason: str = ""


def _text(store: AuditStore, record: AuditRecord, name: TextField) -> _Text:
    question = name == "question"
    blob = record.question_enc if question else record.answer_enc
    digest = record.question_sha256 if question else record.answer_sha256
    if blob is None:
        return _Text(None)
    try:
        text = store.decrypt_question(record) if question else store.decrypt_answer(record)
    except InvalidTag:
        # The key is the record's own (a key not held raises MissingKeyError instead), so the
        # ciphertext or what it is bound to (record, column, key id) was changed.
        return _Text(None, "undecryptable", f"its {name} does not decrypt under its own key: altered or moved")
    if text is None or sha256_text(text) != digest:
        return _Text(text, "mismatch", f"its {name} does not match the sha256 the chain holds: altered")
    return _Text(text)


def _value(record: AuditRecord, name: str) -> object:
    """A column as the chain hashes it (whatever the record's chain version, even an unknown one)."""
    value = getattr(record, name)
    if name == "created_at":
        return record.created_at.astimezone(UTC).isoformat()
    if name in ("rules", "retrieved"):
        return list(value)
    return value


def to_row(
    store: AuditStore,
    record: AuditRecord,
    include_text: bool,
    redact_text: bool = False,
    problems: TextProblems | None = None,
) -> dict[str, object]:
    """One record as an export row: :data:`FIELDS`, then :data:`TEXT_FIELDS` if asked for.

    Field values are as hashed (``retrieved`` as stored, ``created_at`` ISO 8601 in UTC), so a SIEM
    can recompute each row's hash with :func:`bot.audit.chain.record_hash`. Text that fails its
    check is still exported as decrypted (``None`` when it does not decrypt), flagged in
    ``text_check`` and added to ``problems``.

    Raises:
        MissingKeyError: the record's key is not held (crypto-shredded or not copied over).
    """
    row: dict[str, object] = {name: _value(record, name) for name in FIELDS}
    if include_text:
        texts = (_text(store, record, "question"), _text(store, record, "answer"))
        # Checked before redaction: the sha256 is of the text as it was recorded.
        for name, one in zip(("question", "answer"), texts, strict=True):
            row[name] = redact(one.text) if redact_text and one.text else one.text
        checks = {one.check for one in texts}
        if checks != {"ok"}:
            row["text_check"] = "undecryptable" if "undecryptable" in checks else "mismatch"
            if problems is not None:
                problems.add(record.seq, "; ".join(one.reason for one in texts if one.reason))
        else:
            row["text_check"] = "purged" if record.question_enc is None and record.answer_enc is None else "ok"
    return row


async def export_rows(
    store: AuditStore,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    include_text: bool = False,
    redact_text: bool = False,
    batch: int = 1000,
    problems: TextProblems | None = None,
) -> AsyncGenerator[dict[str, object], None]:
    """Rows oldest first with ``since <= created_at < until``, ``batch`` rows fetched at a time;
    records whose text fails its check are added to ``problems``.

    Close it (``contextlib.aclosing``) if you stop early: it holds a database connection.
    """
    async with aclosing(store.stream(since, until, with_text=include_text, batch=batch)) as records:
        async for record in records:
            yield to_row(store, record, include_text, redact_text, problems)


async def write_jsonl(rows: AsyncIterable[dict[str, object]], out: TextIO) -> int:
    """One compact JSON object per line (UTF-8 as is, ``\\n`` ends each); returns the row count."""
    count = 0
    async for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): = + - @ first, or a
# tab or carriage return. Checked after leading whitespace and NFKC (full-width ＝＋－＠, small
# ﹦﹢﹣ and the like become their ASCII forms), as spreadsheets are lenient in both.
_FORMULA_START = frozenset("=+-@")
_CONTROL_START = ("\t", "\r")


def csv_cell(value: object) -> str:
    """One CSV cell: null empty, booleans ``true``/``false``, lists and objects as JSON; text that a
    spreadsheet would run as a formula gets a leading ``'`` (numbers are written as they are)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    if isinstance(value, str) and _formula_like(text):
        return "'" + text
    return text


def _formula_like(text: str) -> bool:
    if text.startswith(_CONTROL_START):
        return True
    stripped = text.lstrip()
    if not stripped:
        return False
    return stripped[0] in _FORMULA_START or unicodedata.normalize("NFKC", stripped[0])[:1] in _FORMULA_START


async def write_csv(rows: AsyncIterable[dict[str, object]], out: TextIO, fields: Sequence[str] = FIELDS) -> int:
    """A header row of ``fields``, then one row per record (cells as :func:`csv_cell` writes them);
    returns the row count (without the header).

    Text cells a spreadsheet would take for a formula start with an added ``'``: the CSV is for
    people and spreadsheets; re-hash rows from the JSONL export, which is exact.
    """
    writer = csv.writer(out)
    writer.writerow(fields)
    count = 0
    async for row in rows:
        writer.writerow([csv_cell(row.get(name)) for name in fields])
        count += 1
    return count


@contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """Where an export goes: stdout, or ``path`` written whole or not at all, mode 0600 since it
    holds emails and perhaps text.

    The file is first written under a new random name in the same folder, created exclusively
    (``tempfile.mkstemp``: ``O_CREAT | O_EXCL``, so nothing planted there, a symbolic link
    included, is followed or reused), synced, then renamed over ``path`` (a link at ``path`` is
    replaced, not followed); on failure it is removed.

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
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}") from exc
    part = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
