"""Retention of audit text on the real database: purge keeps the chain verifying, legal holds
suspend it, the trigger allows nothing else; rotated keys keep old text readable."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore, Keyring, MissingKeyError, TextCipher
from bot.audit.export import export_rows
from bot.audit.keyring import rotate_key
from bot.audit.retention import Operator, add_hold, list_holds, purge_text, release_hold
from bot.db import Database, _alembic_config
from bot.errors import ConfigurationError, InputError
from tests.db.audit_support import entry, raw_sql

pytestmark = pytest.mark.db

_LATER = datetime.now(UTC) + timedelta(days=100)  # "now" for the purge: every record is 100 days old
_BY = Operator("cli", "cli:test", "kura audit hold …")  # who changes holds (as the owner)


async def _texts(db: Database) -> dict[int, tuple[bool, bool]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT seq, question_enc IS NOT NULL, answer_enc IS NOT NULL FROM audit_records ORDER BY seq")
        )
        return {r[0]: (r[1], r[2]) for r in rows}


async def test_purge_removes_old_text_keeps_recent_and_the_chain(db: Database, audit: AuditStore) -> None:
    """With "now" 90 days and a second after record 1, only record 1 loses both texts; records 2-3
    (a second younger) keep theirs; every hash stays; the chain verifies; recent text still decrypts."""
    await audit.append(entry(1))
    await asyncio.sleep(1.1)  # created_at is kept to the second
    for i in (2, 3):
        await audit.append(entry(i))
    first = (await audit.recent(3))[-1]
    async with db.engine.connect() as conn:
        before = (await conn.execute(text("SELECT * FROM audit_records ORDER BY seq"))).mappings().all()

    assert 0 == (await purge_text(db.owner_sessions(), 90, 90)).purged  # nothing is 90 days old today
    result = await purge_text(db.owner_sessions(), 90, 90, now=first.created_at + timedelta(days=90, seconds=1))
    assert (1, 0, False) == (result.purged, result.held, result.dry_run)
    assert {1: (False, False), 2: (True, True), 3: (True, True)} == await _texts(db)
    async with db.engine.connect() as conn:
        after = (await conn.execute(text("SELECT * FROM audit_records ORDER BY seq"))).mappings().all()
    unchanged = [c for c in before[0] if c not in ("question_enc", "answer_enc")]
    assert [[r[c] for c in unchanged] for r in before] == [[r[c] for c in unchanged] for r in after]
    assert before[1:] == after[1:]
    assert (True, 3) == ((v := await audit.verify()).ok, v.records)

    purged, kept = await audit.get(first.id), await audit.get(after[1]["id"])
    assert purged is not None
    assert kept is not None
    assert (None, None) == (audit.decrypt_question(purged), audit.decrypt_answer(purged))
    assert entry(2).question == audit.decrypt_question(kept)


async def test_purge_keeps_the_chain_verifying(db: Database, audit: AuditStore) -> None:
    """Purging every record's text (via a later "now") leaves a chain that verifies, and the export
    with text gives None for purged text; a second purge finds nothing."""
    for i in range(4):
        await audit.append(entry(i))
    assert 4 == (await purge_text(db.owner_sessions(), 90, 90, now=_LATER)).purged
    assert {s: (False, False) for s in range(1, 5)} == await _texts(db)
    result = await audit.verify()
    assert (True, 4) == (result.ok, result.records)
    async with aclosing(export_rows(audit, include_text=True)) as rows:
        assert [(None, None)] * 4 == [(r["question"], r["answer"]) async for r in rows]
    assert 0 == (await purge_text(db.owner_sessions(), 90, 90, now=_LATER)).purged
    assert 0 == (await purge_text(db.owner_sessions(), 101, 101, now=_LATER)).purged  # nothing 101 days old


async def test_legal_holds_suspend_purging(db: Database, audit: AuditStore) -> None:
    """Records of a held user (any case) or in a held channel keep their text until the hold is
    released. Records 5-7 are the holds' own (an operator's, under no hold)."""
    await audit.append(entry(1, "alice@example.co.jp", "C-ALL"))
    await audit.append(entry(2, "bob@example.co.jp", "C-LEGAL"))
    await audit.append(entry(3, "bob@example.co.jp", None))
    await audit.append(entry(4, "carol@example.co.jp", "C-ALL"))
    owner = db.owner_sessions()
    user = await add_hold(owner, audit, "user", " Alice@Example.co.jp ", "litigation 2026-17", _BY)
    channel = await add_hold(owner, audit, "channel", "C-LEGAL", "investigation", _BY)
    assert ("alice@example.co.jp", "C-LEGAL") == (user.value, channel.value)
    assert [user.id, channel.id] == [h.id for h in await list_holds(db.sessions)]

    dry = await purge_text(db.owner_sessions(), 90, 90, now=_LATER, dry_run=True)
    assert (4, 2, True) == (dry.purged, dry.held, dry.dry_run)
    assert {s: (True, True) for s in range(1, 7)} == await _texts(db)  # dry run changed nothing

    result = await purge_text(db.owner_sessions(), 90, 90, now=_LATER)
    assert (4, 2) == (result.purged, result.held)
    assert {1: (True, True), 2: (True, True), 3: (False, False), 4: (False, False)} == {
        s: v for s, v in (await _texts(db)).items() if s <= 4
    }
    assert (await audit.verify()).ok

    released = await release_hold(owner, audit, user.id, "case closed", _BY)
    assert released.released_at is not None
    assert [channel.id] == [h.id for h in await list_holds(db.sessions)]
    assert [user.id, channel.id] == [h.id for h in await list_holds(db.sessions, include_released=True)]
    with pytest.raises(InputError, match="already released"):
        await release_hold(owner, audit, user.id, "again", _BY)
    with pytest.raises(InputError, match="no legal hold 999"):
        await release_hold(owner, audit, 999, "none", _BY)
    assert (2, 1) == ((r := await purge_text(db.owner_sessions(), 90, 90, now=_LATER)).purged, r.held)
    assert {1: (False, False), 2: (True, True)} == {s: v for s, v in (await _texts(db)).items() if s <= 2}
    assert (await audit.verify()).ok


async def test_hold_input_is_checked(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """A hold needs a value and a reason, and so does releasing one; the database refuses unknown
    kinds too."""
    owner = db.owner_sessions()
    with pytest.raises(InputError, match="needs a reason"):
        await add_hold(owner, audit, "user", "a@example.co.jp", "  ", _BY)
    with pytest.raises(InputError, match="needs a channel id"):
        await add_hold(owner, audit, "channel", "", "x", _BY)
    with pytest.raises(InputError, match="unknown hold kind"):
        await add_hold(owner, audit, "group", "g", "x", _BY)  # type: ignore[arg-type]
    hold = await add_hold(owner, audit, "user", "a@example.co.jp", "x", _BY)
    with pytest.raises(InputError, match="releasing a legal hold needs a reason"):
        await release_hold(owner, audit, hold.id, " ", _BY)
    with pytest.raises(DBAPIError, match="ck_legal_holds_kind"):
        async with dba.begin() as conn:
            await conn.execute(text("INSERT INTO legal_holds (kind, value, reason) VALUES ('group', 'g', 'x')"))
    with pytest.raises(InputError, match="at least 1 day"):
        await purge_text(db.owner_sessions(), 0, 0)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_records SET user_email = 'mallory@example.co.jp'",
        "UPDATE audit_records SET question_enc = NULL, answer_sha256 = 'x'",
        "UPDATE audit_records SET created_at = created_at - interval '1 day', answer_enc = NULL",
        "UPDATE audit_records SET key_id = NULL, question_enc = NULL, answer_enc = NULL",
        "UPDATE audit_records SET question_enc = '\\x00'::bytea",
        "UPDATE audit_records SET answer_enc = question_enc",
        "DELETE FROM audit_records",
        "TRUNCATE audit_records CASCADE",
    ],
)
async def test_the_trigger_allows_only_removing_text(
    db: Database, audit: AuditStore, dba: AsyncEngine, sql: str
) -> None:
    """Any UPDATE that changes another column or puts text back, and every DELETE/TRUNCATE, is
    refused: to the owner by the trigger, to Kura's role by its grants or the same trigger."""
    await audit.append(entry(1))
    with pytest.raises(DBAPIError, match="append-only"):
        async with dba.begin() as conn:
            await conn.execute(text(sql))
    with pytest.raises(DBAPIError, match=r"append-only|permission denied for table audit_records"):
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
    assert {1: (True, True)} == await _texts(db)


async def test_text_cannot_be_put_back_after_a_purge(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """Once NULL, text stays NULL; removing one text alone is allowed (to the owner: Kura's role may
    not update audit records at all)."""
    await audit.append(entry(1))
    async with dba.begin() as conn:
        await conn.execute(text("UPDATE audit_records SET answer_enc = NULL"))
    assert {1: (True, False)} == await _texts(db)
    with pytest.raises(DBAPIError, match="append-only"):
        async with dba.begin() as conn:
            await conn.execute(text("UPDATE audit_records SET answer_enc = question_enc"))
    assert (await audit.verify()).ok


async def test_records_before_and_after_rotation_both_decrypt(db: Database, tmp_path: Path) -> None:
    """Records written before a rotation decrypt with the retired key, later ones with the new key;
    each row names its key; export --include-text works across keys."""
    current, old_dir = tmp_path / "keys" / "audit.key", tmp_path / "keys" / "old"
    first = AuditStore(db.sessions, Keyring.from_files(current, old_dir, create=True))
    await first.append(entry(1))
    done = rotate_key(current, old_dir)
    second = AuditStore(db.sessions, Keyring.from_files(current, old_dir))
    await second.append(entry(2))

    async with db.engine.connect() as conn:
        key_ids = (await conn.execute(text("SELECT key_id FROM audit_records ORDER BY seq"))).scalars().all()
    assert [done.old_key_id, done.new_key_id] == key_ids
    async with aclosing(export_rows(second, include_text=True)) as rows:
        assert [entry(1).question, entry(2).question] == [r["question"] async for r in rows]
    assert (await second.verify()).ok

    # A store given only the new key as a plain cipher (no old keys) cannot read record 1.
    only_new = AuditStore(db.sessions, TextCipher.from_file(current))
    with pytest.raises(ConfigurationError, match="record 1: its text does not decrypt"):
        async with aclosing(export_rows(only_new, include_text=True)) as rows:
            _ = [r async for r in rows]


async def test_a_deleted_key_file_shreds_its_records(db: Database, tmp_path: Path) -> None:
    """Crypto-shredding: once the retired key file is gone, its records raise a clear error; records
    under the current key still decrypt and the chain still verifies."""
    current, old_dir = tmp_path / "audit.key", tmp_path / "old"
    store = AuditStore(db.sessions, Keyring.from_files(current, old_dir, create=True))
    old_id = await store.append(entry(1))
    done = rotate_key(current, old_dir)
    done.old_key_file.unlink()
    store = AuditStore(db.sessions, Keyring.from_files(current, old_dir))
    new_id = await store.append(entry(2))

    old_record, new_record = await store.get(old_id), await store.get(new_id)
    assert old_record is not None
    assert new_record is not None
    with pytest.raises(MissingKeyError, match=rf"audit record 1: .*its key {done.old_key_id} is neither"):
        store.decrypt_answer(old_record)
    assert entry(2).answer == store.decrypt_answer(new_record)
    assert (await store.verify()).ok


async def test_downgrade_restores_the_strict_trigger(db: Database, audit: AuditStore, dba: AsyncEngine) -> None:
    """Downgrading drops legal_holds and refuses even text removal again; upgrading brings both back."""
    await audit.append(entry(1))
    # Records of chain version 2 stop a downgrade below 0009 (the older code cannot verify them).
    await raw_sql(dba, "UPDATE audit_records SET chain_version = 1")
    url = db.engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.downgrade, _alembic_config(url), "2026_11_24_0003")
    with pytest.raises(DBAPIError, match="append-only"):
        async with dba.begin() as conn:
            await conn.execute(text("UPDATE audit_records SET answer_enc = NULL"))
    async with dba.connect() as conn:
        assert (await conn.execute(text("SELECT to_regclass('legal_holds')"))).scalar_one() is None
    await db.upgrade()
    assert 1 == (await purge_text(db.owner_sessions(), 90, 90, now=_LATER)).purged
    assert [] == await list_holds(db.sessions)
