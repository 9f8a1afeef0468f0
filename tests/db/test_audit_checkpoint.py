"""Signed checkpoints of the chain head: line and JSON forms, verification until tampered, and a
rewritten or cut chain named against a checkpoint (`kura audit checkpoint`, `verify --expect-head`)."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore
from bot.audit.chain import GENESIS
from bot.audit.checkpoint import (
    ChainHead,
    format_line,
    head_problem,
    parse,
    read_head,
    sign,
    to_json,
    verify_checkpoint,
    verify_signature,
)
from bot.audit.signing import load_key
from bot.cli.audit import audit_export
from bot.db import Database
from bot.errors import ConfigurationError, InputError
from bot.settings import DatabaseSettings, KuraSettings
from tests.db.audit_support import export_entry, raw_sql, rewrite_chain

pytestmark = pytest.mark.db


# --- checkpoints -------------------------------------------------------------------------------


@pytest.fixture
def key(tmp_path: Path) -> bytes:
    """A new checkpoint key, created as the command creates it."""
    return load_key(tmp_path / "keys" / "checkpoint.key", create=True)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    """32 random bytes, mode 0600, the same key on the next load; missing or short keys are refused."""
    path = tmp_path / "keys" / "checkpoint.key"
    with pytest.raises(ConfigurationError, match="no checkpoint key"):
        load_key(path, create=False)
    first = load_key(path, create=True)
    assert 32 == len(first)
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    assert first == load_key(path, create=False)
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 16)
    short.chmod(0o600)
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        load_key(short, create=False)


def test_line_and_json_round_trip(key: bytes) -> None:
    """format_line and to_json both parse back to the same checkpoint, which verifies."""
    signed = sign(ChainHead(7, "a" * 64, 7), key, datetime(2026, 1, 31, 9, 0, 0, 123, tzinfo=UTC))
    line = format_line(signed)
    assert line.startswith(f"checkpoint seq=7 hash={'a' * 64} at=2026-01-31T09:00:00+00:00 signature=hmac-sha256:")
    assert line.endswith(f" key_id={signed.key_id}")
    assert signed == parse(line)
    assert signed == parse(json.dumps(to_json(signed, records=7)))
    assert "" == verify_signature(parse(line), key)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "hello",
        "checkpoint seq=1",
        f"checkpoint seq=-1 hash={'a' * 64} at=2026-01-01T00:00:00+00:00 signature=hmac-sha256:00 key_id=k",
        "checkpoint seq=1 hash=xyz at=2026-01-01T00:00:00+00:00 signature=hmac-sha256:00 key_id=k",
        f"checkpoint seq=1 hash={'a' * 64} at=soon signature=hmac-sha256:00 key_id=k",
        f"checkpoint seq=1 hash={'a' * 64} at=2026-01-01T00:00:00+00:00 signature=md5:00 key_id=k",
        f"checkpoint seq=1 seq=2 hash={'a' * 64} at=2026-01-01T00:00:00+00:00 signature=hmac-sha256:00 key_id=k",
        '{"seq": "1"}',
        "[1, 2]",
    ],
)
def test_malformed_checkpoints_are_input_errors(bad: str) -> None:
    """Anything but a well-formed line or object is bad input (exit 2), not a failed check."""
    with pytest.raises(InputError, match="not a checkpoint"):
        parse(bad)


async def test_checkpoint_verifies_until_tampered(
    db: Database, audit: AuditStore, key: bytes, tmp_path: Path, dba: AsyncEngine
) -> None:
    """sign → ok; altered line → fails; more records → the old checkpoint still holds; a record
    edited behind the trigger's back → fails."""
    for i in range(4):
        await audit.append(export_entry(i))
    head = await read_head(audit)
    assert (4, 4) == (head.seq, head.records)
    async with db.engine.connect() as conn:
        assert head.hash == (await conn.execute(text("SELECT hash FROM audit_records WHERE seq = 4"))).scalar_one()
    line = format_line(sign(head, key))
    assert (True, 4) == ((c := await verify_checkpoint(audit, parse(line), key)).ok, c.records)

    # The line altered: another signature, another seq, another key.
    forged_sig = line[:-40] + ("0" if line[-40] != "0" else "1") + line[-39:]
    for altered in (forged_sig, line.replace("seq=4", "seq=3")):
        check = await verify_checkpoint(audit, parse(altered), key)
        assert not check.ok
        assert "signature does not match" in check.problem or "signed with key" in check.problem
    other = load_key(tmp_path / "other.key", create=True)
    assert "signed with key" in (await verify_checkpoint(audit, parse(line), other)).problem

    # The head moves on; the old checkpoint's record still has its hash.
    for i in range(4, 7):
        await audit.append(export_entry(i))
    assert 7 == (await read_head(audit)).seq
    assert (True, 7) == ((c := await verify_checkpoint(audit, parse(line), key)).ok, c.records)

    # A DBA edits record 2: the chain check fails.
    await raw_sql(dba, "UPDATE audit_records SET user_email = 'mallory@example.co.jp' WHERE seq = 2")
    check = await verify_checkpoint(audit, parse(line), key)
    assert not check.ok
    assert "chain broken at record 2" in check.problem


async def test_rewritten_chain_is_caught_by_the_checkpoint(
    db: Database, audit: AuditStore, key: bytes, dba: AsyncEngine
) -> None:
    """Someone rewrites the chain from record 3 on and recomputes every hash: the chain verifies,
    but record 3 no longer has the checkpointed hash."""
    for i in range(4):
        await audit.append(export_entry(i))
    line = format_line(sign(await read_head(audit), key))
    await rewrite_chain(dba, 3, lambda record: setattr(record, "user_email", "mallory@example.co.jp"))
    assert (await audit.verify()).ok
    check = await verify_checkpoint(audit, parse(line), key)
    assert not check.ok
    assert check.problem.startswith("record 4 no longer has the checkpointed hash")
    await raw_sql(dba, "DELETE FROM audit_records WHERE seq = 4")
    assert (await verify_checkpoint(audit, parse(line), key)).problem.startswith("record 4 is missing")


async def test_empty_log_checkpoint(audit: AuditStore, key: bytes) -> None:
    """An empty log has head seq 0 at the genesis hash, and its checkpoint verifies."""
    head = await read_head(audit)
    assert ChainHead(0, GENESIS, 0) == head
    assert (await verify_checkpoint(audit, parse(format_line(sign(head, key))), key)).ok


# --- a rewritten or cut chain against a checkpoint ------------------------------------------------


async def test_head_problem_names_a_rewrite_and_a_cut_tail(audit: AuditStore, key: bytes, dba: AsyncEngine) -> None:
    """Cutting the tail leaves a chain that verifies; the checkpoint says the record is gone and
    where the chain now ends. A consistent rewrite below the checkpoint: its hash is gone."""
    for i in range(5):
        await audit.append(export_entry(i))
    signed = sign(await read_head(audit), key)
    assert "" == await head_problem(audit, signed, key)
    await raw_sql(dba, "DELETE FROM audit_records WHERE seq >= 4")
    assert (await audit.verify()).ok
    assert "record 5 is missing: the chain ends at record 3 (its tail was cut)" == await head_problem(
        audit, signed, key
    )
    older = sign(await read_head(audit), key)
    await rewrite_chain(dba, 2, lambda record: setattr(record, "allowed", False))
    assert (await audit.verify()).ok
    assert "record 3 no longer has the checkpointed hash: the chain was rewritten" == await head_problem(
        audit, older, key
    )


async def test_the_export_command_names_bad_text_and_exits_1(
    db: Database, audit: AuditStore, dba: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kura audit export --include-text`` writes every row, then names each record whose text
    failed its check on stderr and exits 1; without text nothing is checked and it exits 0."""
    for i in range(3):
        await audit.append(export_entry(i))
    await raw_sql(dba, "UPDATE audit_records SET question_enc = answer_enc, answer_enc = question_enc WHERE seq = 2")
    url = db.engine.url.render_as_string(hide_password=False)
    settings = KuraSettings(
        data_dir=tmp_path / "data", database=DatabaseSettings(url=SecretStr(url)), audit_key_file=tmp_path / "audit.key"
    )
    out = tmp_path / "audit.jsonl"
    args = argparse.Namespace(since=None, until=None, include_text=True, format="jsonl", output=str(out), redact=False)
    assert 1 == await audit_export(settings, args)
    err = capsys.readouterr().err.strip().splitlines()
    assert [
        "warning: audit record 2: its question does not decrypt under its own key: altered or moved; "
        "its answer does not decrypt under its own key: altered or moved",
        "FAILED: the text of 1 exported records does not match what the chain recorded (see text_check)",
    ] == err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert ["ok", "undecryptable", "ok"] == [r["text_check"] for r in rows]
    assert 0 == await audit_export(settings, argparse.Namespace(**(vars(args) | {"include_text": False})))
