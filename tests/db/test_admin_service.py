"""Admin commands by policy action: reading audit records needs ``audit_export``, running Kura
needs ``admin``; each role gets exactly its own, and every attempt is an audit record."""

from __future__ import annotations

import pytest

from bot.audit import AuditStore
from bot.core.admin import AdminCommand, AdminService
from bot.core.messages import admin_text
from bot.db import Database
from bot.errors import Language
from bot.identity import FileDirectory
from bot.sources import SourceService
from bot.wiring import StaticPolicy, default_directory_file
from knowledge import Ingestor, KnowledgeStore
from knowledge.faq_store import FaqStore
from knowledge.sources_store import SourceStore
from llm import E5Embedder
from policies import load_policy_text

pytestmark = pytest.mark.db

# dave (group it) runs Kura; carol (group hr) may read the audit log and nothing else of admin.
_POLICY = """\
version: 1
roles:
  operator:
    actions: [admin]
  auditor:
    actions: [audit_export]
groups:
  it:
    roles: [operator]
  hr:
    roles: [auditor]
"""


def _service(db: Database, audit: AuditStore) -> AdminService:
    embedder = E5Embedder(threads=1)
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    policy = StaticPolicy(load_policy_text(_POLICY))
    sources = SourceService(
        SourceStore(db.sessions),
        policy,
        ingestor=lambda: Ingestor(store, embedder),
        faq_store=lambda: FaqStore(db.sessions, embedder.name, embedder.dim),
    )
    return AdminService(
        FileDirectory.load(default_directory_file()),
        policy,
        audit,
        store,
        sources,
        model_name="test",
    )


async def test_audit_recent_needs_audit_export_and_status_needs_admin(db: Database, audit: AuditStore) -> None:
    """The operator gets status but not the audit log; the auditor the reverse; four records, each
    naming the action it needed and whether it was allowed."""
    admin = _service(db, audit)

    async def run(user: str, *words: str) -> bool:
        return (await admin.handle(AdminCommand("console", user, words))).allowed

    assert await run("dave@example.co.jp", "status")
    assert not await run("dave@example.co.jp", "audit", "recent")
    assert await run("carol@example.co.jp", "audit", "recent")
    assert not await run("carol@example.co.jp", "status")
    records = list(reversed(await audit.recent(4)))
    assert [
        ("dave@example.co.jp", "admin", True),
        ("dave@example.co.jp", "audit_export", False),
        ("carol@example.co.jp", "audit_export", True),
        ("carol@example.co.jp", "admin", False),
    ] == [(r.user_email, r.action, r.allowed) for r in records]


async def test_admin_replies_come_in_the_admins_language(db: Database, audit: AuditStore) -> None:
    """The same commands from a Japanese-speaking admin are answered in Japanese, from the catalogue;
    an English one gets English (the words live in bot/core/messages.py, not in the service)."""
    admin = _service(db, audit)

    async def text(language: Language, *words: str) -> str:
        return (await admin.handle(AdminCommand("console", "dave@example.co.jp", words, language=language))).text

    assert (await text("ja", "status")).startswith("*Kura の状態*\n• モデル: `test`")
    assert (await text("en", "status")).startswith("*Kura status*\n• model: `test`")
    assert admin_text("help", "ja") == await text("ja", "help")
    assert "ナレッジソースはまだありません" in await text("ja", "sources")
    assert "監査チェーンは改ざんされていません" in await text("ja", "audit", "verify")
    assert "audit chain intact" in await text("en", "audit", "verify")
