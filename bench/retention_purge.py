"""Retention on a large audit log: text purge, record removal behind a signed anchor, and chain
verification before and after.

N synthetic audit records (question/answer encrypted with a real key, hash-chained exactly as
``AuditStore.append`` does) are inserted in batches, ``created_at`` spread evenly over the last
``--days`` days, so with the default 730 days and the shipped policy (text 90 days, records
365 days) ~88% of the records lose their text and ~50% are removed. Timed, on the database Kura
would use (embedded PostgreSQL by default), as Kura's runtime role:

* ``AuditStore.verify()`` over all N records (server-side cursor, constant memory);
* ``purge_text`` (one UPDATE; the append-only trigger checks every row);
* ``prune_records`` (anchor + one DELETE of feedback + one DELETE of records; the trigger checks
  every row against the newest anchor);
* ``verify()`` again, starting from the anchor.

    python bench/retention_purge.py [--records 100000] [--days 730]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import database, machine_lines, reproduce, table
from sqlalchemy import insert

from bot.audit import AuditStore, TextCipher
from bot.audit.chain import CHAIN_VERSION, GENESIS, record_hash, sha256_text
from bot.audit.models import AuditRecord
from bot.audit.retention import prune_records, purge_text
from bot.audit.store import hashed_fields


def _rows(n: int, days: int, cipher: TextCipher) -> list[dict[str, object]]:
    """N chained records, oldest first, spread evenly over ``days`` days before now."""
    now = datetime.now(UTC).replace(microsecond=0)
    step = timedelta(days=days) / max(n, 1)
    prev, rows = GENESIS, []
    for i in range(n):
        record_id = str(uuid.uuid4())
        question, answer = f"経費精算の締め日は？ #{i}", f"毎月25日です。[1] #{i}"
        record = AuditRecord(
            seq=i + 1,
            id=record_id,
            created_at=(now - timedelta(days=days) + step * i).replace(microsecond=0),
            platform="slack",
            channel_id="C-ALL" if i % 3 else None,
            thread_id=None,
            user_ref=f"U{i % 500}",
            user_email=f"user{i % 500}@example.co.jp",
            action="ask",
            allowed=True,
            reason_code="allowed",
            rules=["role:employee allows ask"],
            retrieved=[{"chunk_id": i, "source": "handbook/経費精算.md", "acl": ["group:all-staff"]}],
            status="answered",
            model="bench",
            prompt_version="answer-v1",
            policy_version="bench",
            latency_ms=1200,
            first_token_ms=300,
            tokens=900,
            endpoint="local",
            key_id=cipher.key_id,
            question_enc=cipher.encrypt(question, record_id, "question"),
            answer_enc=cipher.encrypt(answer, record_id, "answer"),
            question_sha256=sha256_text(question),
            answer_sha256=sha256_text(answer),
            prev_hash=prev,
            chain_version=CHAIN_VERSION,
        )
        record.hash = prev = record_hash(hashed_fields(record), prev)
        rows.append({c.key: getattr(record, c.key) for c in AuditRecord.__table__.columns})
    return rows


async def run(args: argparse.Namespace) -> None:
    async with database(args.data_dir, keep=args.keep) as (settings, db, where):
        cipher = TextCipher.from_file(settings.data_dir / "bench-audit.key", create=True)
        key = os.urandom(32)
        store = AuditStore(db.sessions, cipher, anchor_key=key)
        started = time.perf_counter()
        rows = _rows(args.records, args.days, cipher)
        built = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, len(rows), 5000):
            async with db.sessions.begin() as session:
                await session.execute(insert(AuditRecord), rows[i : i + 5000])
        loaded = time.perf_counter() - started

        timings: list[tuple[str, float, str]] = [
            ("build + hash + encrypt (Python)", built, f"{args.records:,} records"),
            ("insert (batches of 5,000)", loaded, f"{args.records / loaded:,.0f} records/s"),
        ]
        started = time.perf_counter()
        before = await store.verify()
        took = time.perf_counter() - started
        timings.append(("verify, whole chain", took, f"ok={before.ok}, {before.records / took:,.0f} records/s"))
        started = time.perf_counter()
        text = await purge_text(db.owner_sessions(), 90, 90)  # retention runs as the owner, as Kura does
        timings.append(("purge text > 90 days", time.perf_counter() - started, f"{text.purged:,} records lost text"))
        started = time.perf_counter()
        pruned = await prune_records(db.owner_sessions(), 365, key)
        took = time.perf_counter() - started
        timings.append(("remove records > 365 days", took, f"{pruned.pruned:,} removed, through #{pruned.through_seq}"))
        started = time.perf_counter()
        after = await store.verify()
        took = time.perf_counter() - started
        timings.append(
            ("verify, from the anchor", took, f"ok={after.ok}, {after.records:,} records, from #{after.pruned_through}")
        )

    print(f"Kura retention purge  ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print("\n".join(machine_lines()))
    print(f"data:    {args.records:,} audit records over {args.days} days; {where}")
    print(f"command: {reproduce(__file__, sys.argv[1:])}")
    print()
    print(table(("step", "seconds", "result"), [(name, f"{s:.2f}", note) for name, s, note in timings]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=100_000, help="audit records (default 100,000)")
    parser.add_argument("--days", type=int, default=730, help="spread over this many days before now (default 730)")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    if args.records < 2 or args.days < 1:
        parser.error("--records must be at least 2 and --days at least 1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
