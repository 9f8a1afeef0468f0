"""Fixtures of the database tests (the database itself comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.audit import AuditStore, TextCipher
from bot.db import Database
from llm import E5Embedder


@pytest.fixture
def audit(db: Database, tmp_path: Path) -> AuditStore:
    """An audit store with a fresh single key (as before keyrings existed)."""
    return AuditStore(db.sessions, TextCipher.from_file(tmp_path / "audit.key", create=True))


@pytest.fixture(scope="session")
def embedder() -> E5Embedder:
    """The packaged multilingual-e5-small, loaded once for all the database tests."""
    return E5Embedder(threads=2)
