"""Nothing Kura's runtime role can create is ever run by the owner: ``kura_app`` cannot create in
``public`` (or make a schema), every function pins its search path, the owner's sessions resolve
names only through schemas ``kura_app`` cannot write, and objects planted before the upgrade stop it.

The attack these close: ``kura_app`` defines ``public.to_jsonb(audit_records)`` (an exact match wins
over ``pg_catalog``'s polymorphic one); the append-only trigger calls ``to_jsonb(OLD)``; the owner's
next retention run executes the planted function with the owner's rights (a superuser when
embedded).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit import AuditStore, TextCipher
from bot.audit.retention import prune_records, purge_text
from bot.db import Database, _alembic_config
from knowledge.models import SCHEMA
from knowledge.store import ChunkRow, DocumentRow, KnowledgeStore
from tests.db.audit_support import entry

pytestmark = pytest.mark.db

_LATER = datetime.now(UTC) + timedelta(days=400)

# Schemas kura_app may create in (or owns), besides public, which is always tried.
_WRITABLE = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  AND (has_schema_privilege('kura_app', oid, 'CREATE') OR pg_has_role('kura_app', nspowner, 'USAGE'))
"""


def _plants(schema: str) -> list[str]:
    """What kura_app tries to leave for the owner in ``schema``: functions and an operator that
    out-match pg_catalog's for the trigger's and retention's calls, and tables that shadow the
    ones the trigger reads. Each one, if ever run, writes who ran it into ``planted_ran``."""
    mark = f"INSERT INTO {schema}.planted_ran VALUES (current_user)"
    return [
        f"CREATE TABLE {schema}.planted_ran (who text)",
        f"GRANT ALL ON {schema}.planted_ran TO PUBLIC",
        # Exact row type: beats pg_catalog.to_jsonb(anyelement) in the append-only trigger.
        f"""CREATE FUNCTION {schema}.to_jsonb(public.audit_records) RETURNS jsonb LANGUAGE plpgsql AS $$
            BEGIN {mark}; RETURN '{{}}'::jsonb; END $$""",
        f"""CREATE FUNCTION {schema}.to_jsonb(public.legal_holds) RETURNS jsonb LANGUAGE plpgsql AS $$
            BEGIN {mark}; RETURN '{{}}'::jsonb; END $$""",
        f"""CREATE FUNCTION {schema}.lower(varchar) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN {mark}; RETURN ''; END $$""",
        f"""CREATE FUNCTION {schema}.kura_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN {mark}; RETURN false; END $$""",
        f"CREATE OPERATOR {schema}.= (LEFTARG = text, RIGHTARG = text, FUNCTION = {schema}.kura_eq)",
        # Shadows for the tables the trigger and retention read, unqualified before.
        f"CREATE TABLE {schema}.audit_anchors (through_seq bigint)",
        f"INSERT INTO {schema}.audit_anchors VALUES (1000000)",
        f"CREATE TABLE {schema}.legal_holds (LIKE public.legal_holds)",
    ]


def _upgrade(url: str) -> None:
    """Upgrade on a connection this test closes, failing or not."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config = _alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()


async def _plant_everywhere(db: Database) -> dict[str, set[str]]:
    """Try each plant on its own in public and in each schema kura_app may write;
    {schema: the first line of each refusal, or "planted"}."""
    async with db.engine.connect() as conn:
        schemas = ["public", *(s for s in (await conn.execute(text(_WRITABLE))).scalars() if s != "public")]
    outcome: dict[str, set[str]] = {}
    for schema in schemas:
        for statement in _plants(schema):
            try:
                async with db.engine.begin() as conn:
                    await conn.execute(text(statement))
                outcome.setdefault(schema, set()).add("planted")
            except DBAPIError as exc:
                outcome.setdefault(schema, set()).add(str(exc.orig).splitlines()[0])
    return outcome


async def test_kura_app_cannot_create_in_public_nor_make_a_schema(db: Database, dba: AsyncEngine) -> None:
    """No CREATE on public for kura_app or PUBLIC (PostgreSQL before 15 granted it to PUBLIC), and
    no CREATE on the database: it cannot make a schema named after the owner ("$user")."""
    async with dba.connect() as conn:
        owner = (await conn.execute(text("SELECT current_user"))).scalar_one()
        creators = (
            (
                await conn.execute(
                    text(
                        "SELECT coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC') "
                        "FROM pg_namespace n, aclexplode(n.nspacl) a "
                        "WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner"
                    )
                )
            )
            .scalars()
            .all()
        )
        may = (
            await conn.execute(
                text(
                    "SELECT has_schema_privilege('kura_app', 'public', 'CREATE'), "
                    "has_database_privilege('kura_app', current_database(), 'CREATE')"
                )
            )
        ).one()
    assert (False, False) == tuple(may)
    assert [] == creators  # nobody but public's owner, PUBLIC included
    for statement in ("CREATE TABLE public.mine (x int)", f'CREATE SCHEMA "{owner}"', "CREATE SCHEMA kura_app"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))


async def test_every_function_pins_a_search_path_kura_app_cannot_write(db: Database, dba: AsyncEngine) -> None:
    """Each function written in a language that resolves names (not C or internal) in any
    non-system schema sets search_path, and every schema on it is pg_catalog, pg_temp, or one
    kura_app can neither create in nor owns."""
    async with dba.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """
                    SELECT p.oid::regprocedure::text, p.proconfig
                    FROM pg_proc p
                    JOIN pg_namespace n ON n.oid = p.pronamespace
                    JOIN pg_language l ON l.oid = p.prolang
                    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                      AND l.lanname NOT IN ('c', 'internal')
                    """
                )
            )
        ).all()
        writable = set((await conn.execute(text(_WRITABLE))).scalars())
    assert {"kura_audit_append_only()", "kura_audit_anchors_frozen()"} <= {r[0] for r in rows}
    for name, config in rows:
        paths = [c.split("=", 1)[1] for c in config or () if c.startswith("search_path=")]
        assert paths, f"{name} has no pinned search_path"
        schemas = [s.strip().strip('"') for s in paths[0].split(",")]
        assert schemas[0] == "pg_catalog", f"{name}: pg_catalog must come first, got {paths[0]}"
        assert "pg_temp" in schemas, f"{name}: pg_temp must be named (last), or it is searched first"
        assert schemas[-1] == "pg_temp", f"{name}: {paths[0]}"
        assert not set(schemas) & (writable | {"$user"}), f"{name}: {paths[0]} has a schema kura_app may write"


async def test_the_owners_sessions_resolve_nothing_through_a_schema_kura_app_can_write(db: Database) -> None:
    """Retention's sessions (the owner's) search only schemas kura_app can neither create in nor own."""
    async with db.owner_sessions()() as session:
        path = list((await session.execute(text("SELECT unnest(current_schemas(true))"))).scalars())
        writable = set((await session.execute(text(_WRITABLE))).scalars())
        config = (await session.execute(text("SHOW search_path"))).scalar_one()
    assert SCHEMA in writable
    assert not set(path) & writable, path
    assert "$user" not in config, config


async def test_nothing_kura_app_plants_runs_in_the_owners_retention(db: Database) -> None:
    """kura_app tries functions, an operator and shadow tables in public and in its own schema; the
    owner then purges text and removes records (the append-only trigger runs for each row). Planting
    in public is refused; whatever landed in kura_app's own schema is never run, and retention does
    exactly what it should."""
    audit = AuditStore(db.sessions, TextCipher(os.urandom(32)))
    for i in range(3):
        await audit.append(entry(i, "bob@example.co.jp"))
    outcome = await _plant_everywhere(db)
    assert "planted" not in outcome["public"]
    assert "permission denied for schema public" in outcome["public"]
    assert {"planted"} == outcome.get(SCHEMA)  # its own schema: allowed, and harmless below

    purged = await purge_text(db.owner_sessions(), 90, 90, now=_LATER)
    pruned = await prune_records(db.owner_sessions(), 365, b"k" * 32, now=_LATER)
    assert (3, 2) == (purged.purged, pruned.pruned)
    async with db.engine.connect() as conn:
        for schema in outcome:
            ran = (
                await conn.scalar(text(f"SELECT array_agg(who) FROM {schema}.planted_ran"))
                if "planted" in outcome[schema]
                else None
            )
            assert ran is None, f"the owner ran what kura_app planted in {schema}: {ran}"
    with pytest.raises(DBAPIError, match="append-only"):  # the trigger still refuses, not a planted to_jsonb
        async with db.owner_sessions().begin() as session:
            await session.execute(text("UPDATE audit_records SET user_email = 'mallory@example.co.jp'"))


async def test_an_object_planted_before_the_upgrade_stops_it(db: Database, dba: AsyncEngine) -> None:
    """Downgraded to before this fix, kura_app plants a function in public; the upgrade refuses,
    naming it, until someone drops it."""
    url = db.engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.downgrade, _alembic_config(url), "2026_11_27_0007")
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION public.to_jsonb(public.audit_records) RETURNS jsonb "
                "LANGUAGE sql AS $$ SELECT '{}'::jsonb $$"
            )
        )
    with pytest.raises(
        RuntimeError,
        match=r"kura_app owns objects in the public schema.*: function public\.to_jsonb\(public\.audit_records\)",
    ):
        await asyncio.to_thread(_upgrade, url)
    async with dba.begin() as conn:
        await conn.execute(text("DROP FUNCTION public.to_jsonb(public.audit_records)"))
    await db.upgrade()
    async with dba.connect() as conn:
        assert not (await conn.execute(text("SELECT has_schema_privilege('kura_app', 'public', 'CREATE')"))).scalar()


async def test_knowledge_lives_in_its_own_schema_and_its_indexes_too(db: Database, dba: AsyncEngine) -> None:
    """Documents, chunks and the per-model HNSW index ingest creates are in kura_knowledge, owned by
    kura_app; public holds nothing of kura_app's; search works through the qualified names."""
    store = KnowledgeStore(db.sessions, "test-model", 3)
    await store.ensure_vector_index()
    doc = DocumentRow("root", "a.md", "A", "h", ("public",), 0, None, "test-model")
    await store.replace_document(doc, [ChunkRow(0, "text", 1)], np.asarray([[1.0, 0.0, 0.0]], dtype=np.float32))
    hits = await store.search(np.asarray([1.0, 0.0, 0.0], dtype=np.float32), [frozenset({"public"})], 0, 5)
    assert ["a.md"] == [h.source for h in hits]
    async with dba.connect() as conn:
        owned = (
            await conn.execute(
                text(
                    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE pg_get_userbyid(c.relowner) = 'kura_app' AND n.nspname <> 'pg_toast' ORDER BY 1, 2"
                )
            )
        ).all()
    assert {SCHEMA} == {r[0] for r in owned}
    names = {r[1] for r in owned}
    assert {"documents", "chunks", "ix_chunks_acl"} <= names
    assert any(n.startswith("ix_chunks_hnsw_") for n in names)


async def test_downgrade_puts_knowledge_back_in_public(db: Database, dba: AsyncEngine, tmp_path: Path) -> None:
    """Downgrading 0008 moves the tables (with their rows) back to public and restores 0007's grants;
    upgrading moves them again."""
    store = KnowledgeStore(db.sessions, "test-model", 3)
    doc = DocumentRow("root", "a.md", "A", "h", ("public",), 0, None, "test-model")
    await store.replace_document(doc, [ChunkRow(0, "text", 1)], np.asarray([[1.0, 0.0, 0.0]], dtype=np.float32))
    url = db.engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.downgrade, _alembic_config(url), "2026_11_27_0007")
    async with dba.connect() as conn:
        assert 1 == (await conn.execute(text("SELECT count(*) FROM public.chunks"))).scalar_one()
        assert (await conn.execute(text("SELECT to_regnamespace('kura_knowledge')"))).scalar() is None
    await db.upgrade()
    assert 1 == (await store.stats()).chunks
