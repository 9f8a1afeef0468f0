"""The FAQ's SQL on the real database: an entry answers only an audience that may read every
document it cites, as those documents are now; a change sends it back to review."""

from __future__ import annotations

import numpy as np
import pytest

from bot.db import Database
from knowledge.faq_store import FaqStore, NewEntry
from knowledge.store import ChunkRow, DocumentRow, KnowledgeStore

pytestmark = pytest.mark.db

MODEL = "test-model"
HR = frozenset({"public", "group:hr", "group:all-staff"})
SALES = frozenset({"public", "group:sales", "group:all-staff"})
INTERNAL, CONFIDENTIAL = 1, 2


def _v(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


async def _doc(store: KnowledgeStore, path: str, acl: tuple[str, ...], level: int, body: str = "h1") -> int:
    row = DocumentRow("/kb", path, path.upper(), body, acl, level, "carol@example.co.jp", MODEL)
    return await store.replace_document(row, [ChunkRow(0, "text", 1)], np.asarray([[1.0, 0.0, 0.0]], np.float32))


async def _entry(faq: FaqStore, docs: tuple[int, ...], vector: np.ndarray, status: str = "approved") -> int:
    return await faq.add(
        NewEntry(
            "Q?", "A.", "en", status, "manual", "carol@example.co.jp", 3, vector, None, docs, "carol@example.co.jp"
        )
    )


async def test_an_entry_is_served_only_to_readers_of_every_source(db: Database) -> None:
    store, faq = KnowledgeStore(db.sessions, MODEL, 3), FaqStore(db.sessions, MODEL, 3)
    pay = await _doc(store, "hr/pay.md", ("group:hr",), CONFIDENTIAL)
    leave = await _doc(store, "handbook/leave.md", ("group:all-staff",), INTERNAL)
    hr_entry = await _entry(faq, (pay, leave), _v(1, 0, 0))
    staff_entry = await _entry(faq, (leave,), _v(0, 1, 0))
    hit = await faq.match(_v(1, 0.05, 0), [HR], CONFIDENTIAL, 0.9)
    assert hit is not None
    assert hit.entry.id == hr_entry
    assert await faq.match(_v(1, 0.05, 0), [SALES], CONFIDENTIAL, 0.9) is None
    assert await faq.match(_v(1, 0.05, 0), [HR], INTERNAL, 0.9) is None  # clearance too
    assert await faq.match(_v(1, 0.05, 0), [HR, SALES], CONFIDENTIAL, 0.9) is None  # a channel with both
    both = await faq.match(_v(0, 1, 0.05), [HR, SALES], INTERNAL, 0.9)
    assert both is not None
    assert both.entry.id == staff_entry
    assert await faq.match(_v(0, 0, 1), [HR], CONFIDENTIAL, 0.9) is None  # nothing close enough
    assert {staff_entry} == await faq.readable([hr_entry, staff_entry], [SALES], CONFIDENTIAL)


async def test_a_changed_source_stops_serving_and_goes_back_to_review(db: Database) -> None:
    store, faq = KnowledgeStore(db.sessions, MODEL, 3), FaqStore(db.sessions, MODEL, 3)
    leave = await _doc(store, "handbook/leave.md", ("group:all-staff",), INTERNAL)
    entry = await _entry(faq, (leave,), _v(1, 0, 0))
    assert await faq.match(_v(1, 0, 0), [SALES], INTERNAL, 0.9) is not None
    await _doc(store, "handbook/leave.md", ("group:all-staff",), INTERNAL, body="h2")
    assert await faq.match(_v(1, 0, 0), [SALES], INTERNAL, 0.9) is None  # before any refresh
    assert [(entry, "handbook/leave.md changed")] == await faq.mark_stale(180)
    view = await faq.get(entry)
    assert view is not None
    assert view.status == "stale"
    assert await faq.approve(entry, "carol@example.co.jp")  # re-verified against the new text
    assert await faq.match(_v(1, 0, 0), [SALES], INTERNAL, 0.9) is not None


async def test_readers_lost_or_document_gone_make_an_entry_stale(db: Database) -> None:
    store, faq = KnowledgeStore(db.sessions, MODEL, 3), FaqStore(db.sessions, MODEL, 3)
    a = await _doc(store, "a.md", ("group:all-staff",), INTERNAL)
    b = await _doc(store, "b.md", ("group:all-staff",), INTERNAL)
    first, second = await _entry(faq, (a,), _v(1, 0, 0)), await _entry(faq, (b,), _v(0, 1, 0))
    await store.update_access(a, ("group:hr",), INTERNAL, None)
    await store.delete_documents([b])
    assert [(first, "a.md has other readers now"), (second, "b.md was moved or removed")] == await faq.mark_stale(None)
    assert not await faq.approve(second, "carol@example.co.jp")  # its document is gone


async def test_nearest_and_asked_vectors(db: Database) -> None:
    faq = FaqStore(db.sessions, MODEL, 3)
    store = KnowledgeStore(db.sessions, MODEL, 3)
    a = await _doc(store, "a.md", ("group:all-staff",), INTERNAL)
    entry = await _entry(faq, (a,), _v(1, 0, 0), status="rejected")
    near = await faq.nearest(_v(1, 0.1, 0), 0.9)
    assert near is not None
    assert near[:2] == (entry, "rejected")
    await faq.keep_asked(["r1", "r2"], {"r1": _v(1, 0, 0), "r2": _v(0, 1, 0)})
    assert {"r1", "r2"} == set(await faq.asked_vectors(["r1", "r2", "r3"]))
    await faq.keep_asked(["r2"], {})
    assert {"r2"} == set(await faq.asked_vectors(["r1", "r2"]))
