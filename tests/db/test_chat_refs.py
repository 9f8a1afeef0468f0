"""Conversation references and reply message ids (bot/chat_refs.py, migration 0010) on the real
database, as Kura's runtime role ``kura_app``: what it may do with the two tables, and nothing more."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat_refs import ChatRefs, ConversationRef
from bot.db import Database

pytestmark = pytest.mark.db

URL = "https://smba.trafficmanager.net/jp/"
MOVED = "https://smba.trafficmanager.net/apac/"
TENANT = "00000000-0000-0000-0000-0000000000aa"
CHANNEL = ConversationRef("teams", "19:general@thread.tacv2", URL, "channel", TENANT, "team-1")

#: What Kura does with the tables (chat_refs.py): upsert references; insert and read reply ids.
EXPECTED = {
    "chat_conversations": {"SELECT", "INSERT", "UPDATE"},
    "chat_replies": {"SELECT", "INSERT"},
}
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture
def refs(db: Database) -> ChatRefs:
    return ChatRefs(db.sessions)


async def test_a_reference_is_found_as_it_was_remembered(refs: ChatRefs) -> None:
    await refs.remember(CHANNEL)
    assert await refs.find("teams", CHANNEL.conversation_id) == CHANNEL
    personal = ConversationRef("teams", "a:1:alice", URL, "personal")
    await refs.remember(personal)
    assert await refs.find("teams", "a:1:alice") == personal  # no tenant or team: None, not ""


async def test_an_unknown_conversation_or_another_platform_finds_nothing(refs: ChatRefs) -> None:
    await refs.remember(CHANNEL)
    assert await refs.find("teams", "19:other@thread.tacv2") is None
    assert await refs.find("slack", CHANNEL.conversation_id) is None
    assert await refs.find("teams", CHANNEL.conversation_id.upper()) is None  # ids are exact
    assert await refs.find("teams", CHANNEL.conversation_id + ";messageid=1") is None


async def test_remembering_again_refreshes_the_reference(refs: ChatRefs) -> None:
    """The service URL can move (Teams says so on the next activity): the newest one is kept, once."""
    await refs.remember(CHANNEL)
    moved = ConversationRef("teams", CHANNEL.conversation_id, MOVED, "channel", TENANT, "team-2")
    await refs.remember(moved)
    assert await refs.find("teams", CHANNEL.conversation_id) == moved


async def test_the_same_id_on_two_platforms_is_two_references(refs: ChatRefs) -> None:
    await refs.remember(CHANNEL)
    other = ConversationRef("other", CHANNEL.conversation_id, MOVED, "channel")
    await refs.remember(other)
    assert await refs.find("teams", CHANNEL.conversation_id) == CHANNEL
    assert await refs.find("other", CHANNEL.conversation_id) == other


async def test_any_service_url_is_the_most_recently_heard(refs: ChatRefs) -> None:
    assert await refs.any_service_url("teams") is None
    await refs.remember(CHANNEL)
    assert await refs.any_service_url("teams") == URL
    await refs.remember(ConversationRef("teams", "a:1:bob", MOVED, "personal"))
    assert await refs.any_service_url("teams") == MOVED
    await refs.remember(CHANNEL)  # heard from the channel again: its URL is the newest
    assert await refs.any_service_url("teams") == URL
    assert await refs.any_service_url("slack") is None


async def test_a_reply_is_found_by_its_message(refs: ChatRefs) -> None:
    await refs.record_reply("teams", CHANNEL.conversation_id, "1700000000001", "audit-1")
    assert await refs.audit_id_of("teams", CHANNEL.conversation_id, "1700000000001") == "audit-1"
    assert await refs.audit_id_of("teams", CHANNEL.conversation_id, "1700000000002") is None
    assert await refs.audit_id_of("teams", "19:other@thread.tacv2", "1700000000001") is None
    assert await refs.audit_id_of("slack", CHANNEL.conversation_id, "1700000000001") is None


async def test_recording_a_reply_twice_is_no_error_and_the_first_stays(refs: ChatRefs) -> None:
    """A retried delivery records the same message again; a message never changes which answer it
    carries (feedback goes to the record that was shown)."""
    await refs.record_reply("teams", CHANNEL.conversation_id, "m1", "audit-1")
    await refs.record_reply("teams", CHANNEL.conversation_id, "m1", "audit-1")
    await refs.record_reply("teams", CHANNEL.conversation_id, "m1", "audit-2")
    assert await refs.audit_id_of("teams", CHANNEL.conversation_id, "m1") == "audit-1"


async def test_kura_app_has_exactly_the_grants_it_uses(dba: AsyncEngine) -> None:
    async with dba.connect() as conn:
        for table, expected in EXPECTED.items():
            granted = set()
            for privilege in PRIVILEGES:
                query = text("SELECT has_table_privilege('kura_app', :table, :privilege)")
                if (await conn.execute(query, {"table": f"public.{table}", "privilege": privilege})).scalar_one():
                    granted.add(privilege)
            assert granted == expected, table
        public = text("SELECT has_table_privilege('public', :table, 'SELECT')")
        for table in EXPECTED:
            assert not (await conn.execute(public, {"table": f"public.{table}"})).scalar_one()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM chat_conversations",
        "TRUNCATE chat_conversations",
        "UPDATE chat_replies SET audit_id = 'other'",
        "DELETE FROM chat_replies",
        "TRUNCATE chat_replies",
        "ALTER TABLE chat_replies ADD COLUMN x int",
        "CREATE TRIGGER t BEFORE INSERT ON chat_replies FOR EACH ROW "
        "EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    ],
)
async def test_kura_app_cannot_rewrite_or_remove_what_is_recorded(db: Database, refs: ChatRefs, sql: str) -> None:
    """Which answer a message carries decides where feedback is stored: Kura's role cannot change
    or drop that (nor forget where a conversation is reached)."""
    await refs.remember(CHANNEL)
    await refs.record_reply("teams", CHANNEL.conversation_id, "m1", "audit-1")
    with pytest.raises(DBAPIError, match=r"permission denied|must be (the )?owner"):
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
    assert await refs.audit_id_of("teams", CHANNEL.conversation_id, "m1") == "audit-1"
    assert await refs.find("teams", CHANNEL.conversation_id) == CHANNEL


async def test_text_is_stored_as_given_not_interpreted(refs: ChatRefs) -> None:
    """Ids come from the network: quotes, wildcards and odd characters are data."""
    odd = ConversationRef("teams", "19:x'; DROP TABLE chat_replies;--%_\\@thread", URL, "channel", None, "t'")
    await refs.remember(odd)
    assert await refs.find("teams", odd.conversation_id) == odd
    assert await refs.find("teams", "19:x%") is None
    await refs.record_reply("teams", odd.conversation_id, "%", "audit-%")
    assert await refs.audit_id_of("teams", odd.conversation_id, "%") == "audit-%"
    assert await refs.audit_id_of("teams", odd.conversation_id, "1") is None
