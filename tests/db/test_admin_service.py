"""Admin commands by policy action: reading audit records needs ``audit_export``, running Kura
needs ``admin``; each role gets exactly its own, and every attempt is an audit record."""

from __future__ import annotations

import pytest

from bot.audit import AuditStore
from bot.core.admin import AdminCommand, AdminService
from bot.db import Database
from bot.identity import FileDirectory
from bot.wiring import StaticPolicy, default_directory_file
from knowledge import Ingestor, KnowledgeStore
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


async def test_audit_recent_needs_audit_export_and_status_needs_admin(db: Database, audit: AuditStore) -> None:
    """The operator gets status but not the audit log; the auditor the reverse; four records, each
    naming the action it needed and whether it was allowed."""
    embedder = E5Embedder(threads=1)
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    admin = AdminService(
        FileDirectory.load(default_directory_file()),
        StaticPolicy(load_policy_text(_POLICY)),
        audit,
        store,
        Ingestor(store, embedder),
        model_name="test",
    )

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
