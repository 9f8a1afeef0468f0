"""The sources registry on the real database with the packaged e5 embedder: register, list, sync
incrementally, remove (out of search at once), a vanished folder failing alone, FAQ entries sent
back to review when a sync changes a document they cite, and ``/kura sources|sync`` on the registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.audit import AuditStore
from bot.core.admin import AdminCommand, AdminService
from bot.db import Database
from bot.errors import InputError, Language
from bot.identity import FileDirectory
from bot.sources import SourceService
from bot.wiring import StaticPolicy, default_directory_file, default_policy_file
from knowledge import Ingestor, KnowledgeStore
from knowledge.faq_store import FaqStore, NewEntry
from knowledge.sources_store import SourceStore
from llm import E5Embedder
from policies import load_policy, load_policy_text

pytestmark = pytest.mark.db

PUBLIC = frozenset({"public"})


def _folder(
    path: Path, files: dict[str, str], access: str | None = "allow: [public]\nclassification: public\n"
) -> Path:
    path.mkdir(parents=True)
    if access is not None:
        (path / ".kura-access.yaml").write_text(access, encoding="utf-8")
    for name, body in files.items():
        (path / name).write_text(body, encoding="utf-8")
    return path


def _parts(db: Database, embedder: E5Embedder) -> tuple[SourceService, KnowledgeStore, FaqStore]:
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    faq = FaqStore(db.sessions, embedder.name, embedder.dim)
    service = SourceService(
        SourceStore(db.sessions),
        StaticPolicy(load_policy(default_policy_file())),
        ingestor=lambda: Ingestor(store, embedder, chunk_tokens=200, overlap_tokens=20),
        faq_store=lambda: faq,
    )
    return service, store, faq


HELLO = {"hello.md": "# Hello\n\nThe office opens at nine.\n", "lunch.md": "# Lunch\n\nLunch is at noon.\n"}


async def test_add_list_and_an_incremental_sync(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Registered under the folder's name (absolute path); the name and the folder are unique, each
    clash named; the first sync adds both files, the second finds them unchanged and writes nothing;
    the list has the counts and the last report."""
    sources, _, _ = _parts(db, embedder)
    docs = _folder(tmp_path / "docs", HELLO)
    added = await sources.add(tmp_path / "." / "docs", by="dave@example.co.jp")
    assert ("docs", str(docs), None, None, "dave@example.co.jp") == (
        added.name,
        added.path,
        added.allow,
        added.classification,
        added.added_by,
    )
    with pytest.raises(InputError, match=f"{docs} is registered already as source 'docs'"):
        await sources.add(docs, name="other")
    other = _folder(tmp_path / "other", {})
    with pytest.raises(InputError, match="a source named 'docs' exists already"):
        await sources.add(other, name="docs")
    with pytest.raises(InputError, match="bad source name"):
        await sources.add(other, name="no spaces")
    with pytest.raises(InputError, match="no such folder"):
        await sources.add(tmp_path / "missing")
    with pytest.raises(InputError, match="not a folder"):
        await sources.add(docs / "hello.md")

    first = await sources.sync("docs")
    [result] = first.sources
    assert result.report is not None
    assert result.error is None
    assert 2 == result.report.counts()["added"]
    second = await sources.sync("docs")
    [again] = second.sources
    assert again.report is not None
    assert (2, 0, []) == (again.report.counts()["unchanged"], again.report.chunks_written, again.report.added)
    assert () == second.stale

    [listed] = await sources.list()
    assert ("docs", 2) == (listed.name, listed.documents)
    assert listed.chunks >= 2
    assert listed.synced_at is not None
    assert listed.last_report is not None
    assert 2 == listed.last_report["counts"]["unchanged"]
    with pytest.raises(InputError, match="no source named 'nope'"):
        await sources.sync("nope")


async def test_default_names_are_unique_and_default_access_applies(
    db: Database, embedder: E5Embedder, tmp_path: Path
) -> None:
    """A second folder called docs becomes docs-2, a Japanese folder name 'source'; files without
    metadata take the source's default access (both parts needed, the principals checked)."""
    sources, store, _ = _parts(db, embedder)
    await sources.add(_folder(tmp_path / "a" / "docs", {}))
    hr = _folder(tmp_path / "b" / "docs", {"pay.md": "# Pay\n\nPay day is the 25th.\n"}, access=None)
    with pytest.raises(InputError, match="go together"):
        await sources.add(hr, allow=("group:hr",))
    with pytest.raises(InputError, match="invalid principal"):
        await sources.add(hr, allow=("hr team",), classification="confidential")
    second = await sources.add(hr, allow=("group:hr",), classification="confidential")
    assert ("docs-2", ("group:hr",), 2) == (second.name, second.allow, second.classification)
    japanese = await sources.add(_folder(tmp_path / "人事", {}))
    assert "source" == japanese.name

    run = await sources.sync("docs-2")
    assert run.sources[0].report is not None
    assert ["pay.md"] == run.sources[0].report.added
    state = (await store.documents_under(str(hr)))["pay.md"]
    assert (("group:hr",), 2) == (state.acl, state.classification)


async def test_remove_takes_the_documents_out_of_search(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Removing a source deletes its documents and chunks in the same transaction as the row: a
    search that found them finds nothing; the other source stays."""
    sources, store, _ = _parts(db, embedder)
    await sources.add(_folder(tmp_path / "docs", HELLO))
    kept = await sources.add(_folder(tmp_path / "kept", {"rules.md": "# Rules\n\nBadges are worn at all times.\n"}))
    await sources.sync()
    query = await embedder.embed_query("When does the office open?")
    assert any(hit.source == "hello.md" for hit in await store.search(query, [PUBLIC], 0, 5))

    removed = await sources.remove("docs")
    assert ("docs", 2) == (removed.source.name, removed.documents)
    assert not any(hit.source in HELLO for hit in await store.search(query, [PUBLIC], 0, 5))
    assert [kept.name] == [s.name for s in await sources.list()]
    assert 1 == (await store.stats()).documents
    with pytest.raises(InputError, match="no source named 'docs'"):
        await sources.remove("docs")


async def test_a_vanished_folder_fails_alone(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Syncing all: the source whose folder is gone gets one line and its failure recorded (its
    last good sync time kept); the other is synced; its documents stay served until it is removed."""
    sources, store, _ = _parts(db, embedder)
    gone = await sources.add(_folder(tmp_path / "gone", HELLO))
    await sources.add(_folder(tmp_path / "here", {"rules.md": "# Rules\n\nBadges are worn at all times.\n"}))
    await sources.sync()
    before = await sources.store.get("gone")
    assert before is not None
    assert before.synced_at is not None
    shutil.rmtree(tmp_path / "gone")

    run = await sources.sync()
    failed, synced = run.sources
    assert ("gone", None, f"{gone.path}: no such folder") == (failed.name, failed.report, failed.error)
    assert synced.report is not None
    assert 1 == synced.report.counts()["unchanged"]
    after = await sources.store.get("gone")
    assert after is not None
    assert (before.synced_at, {"error": f"{gone.path}: no such folder"}, 2) == (
        after.synced_at,
        after.last_report,
        after.documents,
    )
    assert 3 == (await store.stats()).documents
    assert {"name": "gone", "counts": None, "error": f"{gone.path}: no such folder"}.items() <= failed.as_json().items()


async def test_a_sync_sends_faq_entries_citing_a_changed_document_back_to_review(
    db: Database, embedder: E5Embedder, tmp_path: Path
) -> None:
    """An approved entry citing hello.md: a sync with nothing changed leaves it approved; after the
    file changes, the sync's stale list names it once and the entry is stale."""
    sources, store, faq = _parts(db, embedder)
    docs = _folder(tmp_path / "docs", HELLO)
    await sources.add(docs)
    await sources.sync("docs")
    hello = (await store.documents_under(str(docs)))["hello.md"].id
    vector = await embedder.embed_query("When does the office open?")
    entry = await faq.add(
        NewEntry(
            "When does the office open?",
            "At nine.",
            "en",
            "approved",
            "manual",
            "carol@example.co.jp",
            3,
            vector,
            None,
            (hello,),
            "carol@example.co.jp",
        )
    )
    assert () == (await sources.sync("docs")).stale

    (docs / "hello.md").write_text("# Hello\n\nThe office opens at ten from April.\n", encoding="utf-8")
    run = await sources.sync("docs")
    assert ((entry, "hello.md changed"),) == run.stale
    assert [{"id": entry, "reason": "hello.md changed"}] == run.as_json()["stale"]
    view = await faq.get(entry)
    assert view is not None
    assert "stale" == view.status


_ADMIN_POLICY = """\
version: 1
roles:
  operator:
    actions: [admin]
groups:
  it:
    roles: [operator]
"""


async def test_chat_admins_list_and_sync_the_registry(
    db: Database, embedder: E5Embedder, audit: AuditStore, tmp_path: Path
) -> None:
    """``/kura sync PATH`` outside the sync roots changes nothing; under one, the folder is registered
    and synced; ``/kura sources`` lists it by name; ``/kura sync NAME`` in Japanese; a vanished folder
    gets its own line. Each reply says how many FAQ entries went back to review."""
    sources, store, _ = _parts(db, embedder)
    policy = StaticPolicy(load_policy_text(_ADMIN_POLICY))
    directory = FileDirectory.load(default_directory_file())
    admin = AdminService(directory, policy, audit, store, sources, model_name="test", sync_roots=[tmp_path / "roots"])

    async def run(*words: str, language: Language = "en") -> str:
        reply = await admin.handle(AdminCommand("console", "dave@example.co.jp", words, language=language))
        assert reply.allowed
        return reply.text

    assert (await run("sources")).startswith("No knowledge sources yet.")
    outside = _folder(tmp_path / "outside", HELLO)
    assert (await run("sync", str(outside))).startswith(f"`{outside}` is not a source's name")
    assert [] == await sources.list()

    docs = _folder(tmp_path / "roots" / "docs", HELLO)
    text = await run("sync", str(docs))
    assert text.startswith("*Sync*\n• `docs`: added 2 (")
    assert text.endswith("0 FAQ entries sent back to review.")
    [source] = await sources.list()
    assert ("docs", str(docs), "dave@example.co.jp") == (source.name, source.path, source.added_by)
    listing = await run("sources")
    assert f"• `docs` `{docs}` — 2 documents, " in listing
    text = await run("sync", "docs", language="ja")
    assert "• `docs`: 変更なし 2（" in text
    assert text.endswith("FAQ 0 件をレビューに戻しました。")

    shutil.rmtree(docs)
    text = await run("sync")
    assert f"• `docs`: the folder `{docs}` is missing or unreadable" in text
    assert "(the last attempt failed)" in await run("sources")
