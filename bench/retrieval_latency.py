"""Retrieval latency and recall of ``KnowledgeStore.search`` with the access filter inside the SQL.

A synthetic corpus of ``--chunks`` chunks (dimension 384) is loaded straight into the embedded
PostgreSQL with a binary COPY, then the model's partial HNSW index is built with
``KnowledgeStore.ensure_vector_index``:

* vectors: a mixture of ``--clusters`` Gaussian clusters (centres are random unit vectors, a point
  is centre + noise of norm about ``--spread``, normalised), numpy seed ``--seed``;
* documents of 100 chunks; a document's chunks all carry its access list
  ``["group:g{doc % 100}", "public"]`` and classification ``doc % 4`` (clearance 3 reads all), so
  the user ``{"group:g0"}`` may read exactly 1% of the chunks and the user ``{"public"}`` all of
  them. Which chunks a user may read is independent of where they lie in the vector space;
* chunk texts are ~600 bytes of filler, the size of a real chunk, so rows have the real shape
  (a 384-dim vector plus such a text is over PostgreSQL's 2 kB TOAST threshold, and the vector,
  stored ``external``, goes out of line as it does in Kura).

Each chunk also holds 12 keywords (a 5000-word vocabulary, Zipf-like weights: the commonest word
is in ~10% of the chunks), written as a tsvector by the same COPY. Queries are ``--queries``
perturbed copies of random corpus points; a query's keywords are 3 of its corpus chunk's 12. Each
run starts on fresh pooled connections and is timed after 10 warm-up queries. Readers: ``group:g0``
(1%), ``group:g0``..``g9`` (10%), ``public`` (100%); for each:

1. ``store.search(q, [set], clearance=3, k=10)`` as Kura calls it: the store's switch decides
   exact or HNSW (the plan column says which, ``KnowledgeStore.last_path``);
2. the store's statement with the planner held to the HNSW index (SET LOCAL enable_seqscan,
   enable_bitmapscan off), and (1% and 10%) held to the GIN index on ``acl`` (bitmap, then sort);
3. ``store.search(..., exact=True)`` (first ``--exact-queries`` queries: it reads every readable row);
4. ``store.hybrid_search`` (vector and keyword legs, RRF) and ``hybrid_search(exact=True)``, its
   ground truth (first ``--exact-queries`` queries).

Then the switch's own cost (the planner estimate it uses, against a capped ``count(*)``), and with
``--halfvec`` a second HNSW index over ``embedding::halfvec(384)``, searched with the HNSW path forced.

Which plan each run really executed is reported: psycopg prepares a statement on its 5th run on a
connection, and PostgreSQL may then switch the prepared statement to one generic plan (planned
without the parameter values); ``pg_prepared_statements`` counts generic and custom plans, and
EXPLAIN / EXPLAIN (GENERIC_PLAN) give their shapes. Reported per run: latency p50/p95 of the
whole call, mean rows returned, the share of queries that got all k rows, and recall@k =
|returned ∩ exact| / |exact| against a brute-force top-k computed in numpy over the chunks the
user may read (independent of PostgreSQL, so also a check of ``exact=True``); hybrid runs against
``hybrid_search(exact=True)``.

A benchmark, not a test. Run from the repository root:

    python bench/retrieval_latency.py [--chunks 100000] [--queries 200] [--exact-queries 50] [--halfvec]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common  # first: sets the warning filter
import numpy as np
import numpy.typing as npt
from _synthetic import (
    CHUNKS_PER_DOCUMENT,
    CLEARANCE,
    DIM,
    GROUPS,
    KEYWORD_VOCABULARY,
    KEYWORDS_PER_CHUNK,
    MODEL,
    LoadReport,
    Matrix,
    TsVector,
    build_halfvec,
    halfvec_sql,
    keyword_vocabulary,
    load,
    make_keywords,
    make_texts,
    make_vectors,
    pick_queries,
    server_memory,
)
from pgvector.sqlalchemy import Vector
from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from bot.db import Database
from knowledge.store import EXACT_BELOW, HNSW_EF_CONSTRUCTION, HNSW_M, KnowledgeStore

MARKER = "/* bench: {} forced */"  # a distinct statement text per forced plan: its own prepared statement
MARK = "WITH hits AS MATERIALIZED"

#: The store's own HNSW graph (m, ef_construction): the halfvec index's unless --halfvec-graph says otherwise.
STORE_GRAPH = [HNSW_M, HNSW_EF_CONSTRUCTION]


@dataclass
class Run:
    user: str
    sees: str
    path: str
    plan: str
    latencies: list[float]
    results: list[list[int]]


def _shape(lines: Sequence[str]) -> str:
    plan = "\n".join(lines)
    if "ix_chunks_hnsw" in plan:
        return "HNSW index scan"
    if "Bitmap" in plan:
        return "GIN bitmap + sort"
    if "Seq Scan" in plan:
        return ("parallel " if "Parallel" in plan else "") + "seq scan + sort"
    return lines[0].strip() if lines else "?"


def _settings(
    ef_search: int,
    max_scan_tuples: int,
    *,
    exact: bool = False,
    iterative: str = "relaxed_order",
    forced: str | None = None,
) -> dict[str, str]:
    """What KnowledgeStore._tune sets with SET LOCAL (but plan_cache_mode); ``forced`` ("hnsw", "gin")
    leaves the planner one path."""
    settings = {
        "hnsw.ef_search": str(ef_search),
        "hnsw.iterative_scan": iterative,
        "hnsw.max_scan_tuples": str(max_scan_tuples),
    }
    if exact:
        settings |= {"enable_indexscan": "off", "enable_bitmapscan": "off"}
    if forced == "hnsw":
        settings |= {"enable_seqscan": "off", "enable_bitmapscan": "off"}
    elif forced == "gin":  # the GIN index on acl, read as a bitmap, then sort the readable rows
        settings |= {"enable_seqscan": "off", "enable_indexscan": "off"}
    return settings


def _search_sql(store: KnowledgeStore, *, forced: str | None, placeholders: bool = False) -> str:
    """The store's own search statement for one principal set (``:s0``, or ``$1``..``$4``)."""
    sql = store._search_sql.replace("{acl_filter}", "acl && :s0")  # the statement the application runs
    if placeholders:
        for name, number in ((":query", "$1"), (":clearance", "$2"), (":k", "$3"), (":s0", "$4")):
            sql = sql.replace(name, number)
    return (MARKER.format(forced) + "\n" if forced else "") + sql


async def raw_search(
    db: Database,
    store: KnowledgeStore,
    query: Matrix,
    principals: frozenset[str],
    k: int,
    settings: dict[str, str],
    *,
    forced: str | None,
    explain: bool = False,
) -> list[Row[Any]]:
    """The store's search statement under the given SET LOCAL settings, in one transaction."""
    statement = text(("EXPLAIN " if explain else "") + _search_sql(store, forced=forced)).bindparams(
        bindparam("query", type_=Vector(store.dim)), bindparam("s0", type_=ARRAY(Text))
    )
    params = {"query": np.asarray(query, dtype=np.float32), "clearance": CLEARANCE, "k": k, "s0": sorted(principals)}
    async with db.sessions.begin() as session:
        for name, value in settings.items():
            await session.execute(text(f"SET LOCAL {name} = {value}"))
        return list((await session.execute(statement, params)).all())


async def plan_shapes(
    db: Database,
    store: KnowledgeStore,
    query: Matrix,
    principals: frozenset[str],
    k: int,
    settings: dict[str, str],
    *,
    forced: str | None,
) -> tuple[str, str]:
    """(custom plan, generic plan) of the search statement under ``settings``, by EXPLAIN."""
    custom = await raw_search(db, store, query, principals, k, settings, forced=forced, explain=True)
    async with db.sessions.begin() as session:
        for name, value in settings.items():
            await session.execute(text(f"SET LOCAL {name} = {value}"))
        sql = "EXPLAIN (GENERIC_PLAN) " + _search_sql(store, forced=forced, placeholders=True)
        generic = (await session.execute(text(sql))).all()
    return _shape([str(r[0]) for r in custom]), _shape([str(r[0]) for r in generic])


async def plan_counts(db: Database, *, forced: str | None) -> tuple[int, int]:
    """Generic and custom plans used so far by the search statement, over every pooled connection.

    psycopg prepares a statement on its 5th execution on a connection; PostgreSQL then plans the
    next 5 executions with the parameters (custom plans) and may switch to one generic plan for
    good. ``pg_prepared_statements`` counts both kinds, per connection.
    """
    pooled = max(1, db.engine.pool.checkedin())  # type: ignore[attr-defined]
    connections = [await db.engine.connect() for _ in range(pooled)]  # held together: distinct connections
    generic = custom = 0
    try:
        for conn in connections:
            rows = await conn.execute(
                text(
                    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE strpos(statement, :mark) > 0"
                ),
                {"mark": MARK},
            )
            for statement, g, c in rows:
                ours = statement.startswith(MARKER.format(forced)) if forced else not statement.startswith("/* bench")
                if ours and not statement.lstrip().startswith("EXPLAIN"):
                    generic += int(g)
                    custom += int(c)
    finally:
        for conn in connections:
            # COMMIT, not the ROLLBACK a plain close does: psycopg drops every prepared statement of
            # a connection on ROLLBACK, which would reset what this function is here to observe.
            await conn.commit()
            await conn.close()
    return generic, custom


def ground_truth(
    vectors: Matrix, queries: Matrix, chunk_ids: npt.NDArray[np.int64], visible: npt.NDArray[np.bool_], k: int
) -> list[list[int]]:
    """Exact top-k by cosine distance over the visible chunks, in numpy (independent of PostgreSQL)."""
    candidates = vectors[visible]
    ids = chunk_ids[visible]
    truth: list[list[int]] = []
    for start in range(0, len(queries), 50):
        similarity = queries[start : start + 50] @ candidates.T
        for row in similarity:
            top = np.argpartition(-row, min(k, len(row) - 1))[:k]
            truth.append([int(ids[j]) for j in top[np.argsort(-row[top])]])
    return truth


async def measure(args: argparse.Namespace, db: Database, where: str, data_dir: Path) -> None:
    rng = np.random.default_rng(args.seed)
    store = KnowledgeStore(db.sessions, MODEL, DIM, exact_below=args.exact_below)
    report = LoadReport()
    started = time.perf_counter()
    vectors = await asyncio.to_thread(make_vectors, rng, args.chunks, args.clusters, args.spread)
    texts = await asyncio.to_thread(make_texts, rng, args.chunks)
    vocabulary = keyword_vocabulary(rng)
    keyword_rows = await asyncio.to_thread(make_keywords, rng, args.chunks)
    keywords = [TsVector.of([vocabulary[j] for j in row]) for row in keyword_rows]
    queries, picks = pick_queries(rng, vectors, args.queries, args.query_noise)
    # A question about a chunk names 3 of its 12 keywords (the keyword leg keeps chunks holding 2).
    terms_of = {
        q.tobytes(): [vocabulary[j] for j in rng.choice(keyword_rows[row], size=3, replace=False)]
        for q, row in zip(queries, picks, strict=True)
    }
    report.generate_s = time.perf_counter() - started
    await load(db, store, vectors, texts, report, keywords)
    stats = await store.stats()

    # Chunk id of every corpus row (row i is chunk i % 100 of document i // 100).
    async with db.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT c.id, d.path, c.ordinal FROM kura_knowledge.chunks c "
                    "JOIN kura_knowledge.documents d ON d.id = c.document_id "
                    "WHERE c.embedding_model = :m"
                ),
                {"m": MODEL},
            )
        ).all()
    chunk_ids = np.zeros(args.chunks, dtype=np.int64)
    for chunk_id, path, ordinal in rows:
        chunk_ids[int(path.removeprefix("doc-")) * CHUNKS_PER_DOCUMENT + ordinal] = chunk_id
    assert len(rows) == args.chunks, "chunk count differs from the corpus"
    assert np.all(chunk_ids > 0), "chunk ids do not cover the corpus"
    doc_of_row = np.arange(args.chunks) // CHUNKS_PER_DOCUMENT

    k, ef, max_scan = args.k, args.ef_search, args.max_scan_tuples
    users = [
        ("1% reader", frozenset({"group:g0"}), doc_of_row % GROUPS == 0),
        ("10% reader", frozenset(f"group:g{g}" for g in range(10)), doc_of_row % GROUPS < 10),
        ("100% reader", frozenset({"public"}), np.ones(args.chunks, dtype=bool)),
    ]
    started = time.perf_counter()
    truth = {name: ground_truth(vectors, queries, chunk_ids, visible, k) for name, _p, visible in users}
    truth_s = time.perf_counter() - started
    warmup = min(10, len(queries))
    few = queries[: args.exact_queries]  # the exact runs read every readable row: a few queries suffice
    runs: list[Run] = []

    async def measured(
        name: str,
        principals: frozenset[str],
        label: str,
        call: Callable[[Matrix], Awaitable[list[int]]],
        settings: dict[str, str] | None,
        *,
        forced: str | None,
        asked: Matrix = queries,
        plan: str = "",
    ) -> None:
        # Fresh connections: no prepared statement or cached plan left over from an earlier run.
        await db.engine.dispose()
        for q in asked[:warmup]:  # connection, caches and plan cache settle; not timed
            await call(q)
        before = await plan_counts(db, forced=forced)
        latencies, results, paths = [], [], []
        for q in asked:
            started = time.perf_counter()
            ids = await call(q)
            latencies.append(time.perf_counter() - started)
            results.append(ids)
            paths.append(store.last_path)
        if plan:
            pass
        elif settings is None:  # hybrid: the switch's choice is the plan of its vector leg
            plan = ", ".join(f"{p} {paths.count(p)}" for p in dict.fromkeys(paths))
        else:
            after = await plan_counts(db, forced=forced)
            if forced is None and paths[-1] == "exact":  # what the store's switch set for the statement
                settings = settings | {"enable_indexscan": "off"}
            custom_shape, generic_shape = await plan_shapes(db, store, asked[0], principals, k, settings, forced=forced)
            plan = _plan_label(len(asked), before, after, custom_shape, generic_shape)
            if forced is None:
                plan = f"switch {paths[-1]}: " + plan
        runs.append(Run(name, sees[name], label, plan, latencies, results))
        r = runs[-1]  # as it comes: a long run still leaves its figures in the log
        print(f"  {name:11} {label:34} p50 {1000 * np.median(r.latencies):7.1f} ms  {plan}", file=sys.stderr)

    async def store_run(name: str, principals: frozenset[str], label: str, *, exact: bool) -> None:
        async def call(q: Matrix) -> list[int]:
            hits = await store.search(
                q, [principals], CLEARANCE, k, ef_search=ef, max_scan_tuples=max_scan, exact=exact
            )
            return [h.chunk_id for h in hits]

        settings = _settings(ef, max_scan, exact=exact)
        await measured(name, principals, label, call, settings, forced=None, asked=few if exact else queries)

    async def hybrid_run(name: str, principals: frozenset[str], label: str, *, exact: bool) -> None:
        async def call(q: Matrix) -> list[int]:
            hits = await store.hybrid_search(
                q,
                terms_of[q.tobytes()],
                [principals],
                CLEARANCE,
                k,
                ef_search=ef,
                max_scan_tuples=max_scan,
                exact=exact,
            )
            return [h.chunk_id for h in hits]

        await measured(name, principals, label, call, None, forced=None, asked=few if exact else queries)

    async def forced_run(
        name: str, principals: frozenset[str], forced: str, iterative: str = "relaxed_order", *, at: int | None = None
    ) -> None:
        settings = _settings(at or ef, max_scan, iterative=iterative, forced=forced)

        async def call(q: Matrix) -> list[int]:
            rows = await raw_search(db, store, q, principals, k, settings, forced=forced)
            return [int(r[0]) for r in rows]

        label = f"HNSW forced, iterative {iterative}" if forced == "hnsw" else "GIN bitmap forced (exact)"
        label += f", ef_search {at}" if at else ""
        await measured(
            name, principals, label, call, settings, forced=forced, asked=few if forced == "gin" else queries
        )

    sees = {name: f"{100 * visible.mean():.3g}%" for name, _p, visible in users}
    print("runs:", file=sys.stderr)
    for name, principals, _v in users:
        await store_run(name, principals, "store.search", exact=False)
        await forced_run(name, principals, "hnsw")
        await store_run(name, principals, "store.search exact=True", exact=True)
        if name != "100% reader":
            await forced_run(name, principals, "gin")
        await hybrid_run(name, principals, "hybrid_search", exact=False)
        await hybrid_run(name, principals, "hybrid_search exact", exact=True)
    # The hybrid runs' recall is against the exact hybrid (same statement, vector leg read exactly),
    # over the queries both answered.
    hybrid_truth = {r.user: r.results for r in runs if r.path == "hybrid_search exact"}
    switch_rows = [
        await switch_cost(db, store, name, principals, int(visible.sum()), args.exact_below)
        for name, principals, visible in users
    ]
    for at in args.sweep_ef:  # the recall/latency trade-off of the graph itself
        for name, principals, _v in users:
            await forced_run(name, principals, "hnsw", at=at)
    if args.halfvec:  # the same graph over 16-bit floats: half the index; its recall against numpy
        report.halfvec_s, report.sizes["HNSW halfvec index"] = await build_halfvec(db, store, *args.halfvec_graph)
        half = text(halfvec_sql(store)).bindparams(
            bindparam("query", type_=Vector(store.dim)), bindparam("s0", type_=ARRAY(Text))
        )
        for at in [ef, *args.sweep_ef]:
            half_settings = _settings(at, max_scan, forced="hnsw")
            label = "halfvec HNSW forced" + (f", ef_search {at}" if at != ef else "")
            for name, principals, _v in users:

                async def call(
                    q: Matrix, principals: frozenset[str] = principals, half_settings: dict[str, str] = half_settings
                ) -> list[int]:
                    params = {"query": q, "clearance": CLEARANCE, "k": k, "s0": sorted(principals)}
                    async with db.sessions.begin() as session:
                        for setting, value in half_settings.items():
                            await session.execute(text(f"SET LOCAL {setting} = {value}"))
                        return [int(r[0]) for r in (await session.execute(half, params)).all()]

                await measured(name, principals, label, call, None, forced=None, plan="halfvec HNSW")
    processes, pss = server_memory(data_dir)

    table_rows = []
    for r in runs:
        want = hybrid_truth[r.user] if r.path.startswith("hybrid") else truth[r.user]
        pairs = list(zip(r.results, want, strict=False))  # the exact runs answered the first queries only
        recall = np.mean([len(set(got) & set(w)) / max(len(w), 1) for got, w in pairs])
        ms = [1000 * x for x in r.latencies]
        table_rows.append(
            [
                r.user,
                r.sees,
                r.path,
                r.plan,
                f"{_common.percentile(ms, 50):.1f}",
                f"{_common.percentile(ms, 95):.1f}",
                f"{np.mean([len(x) for x in r.results]):.2f}",
                f"{100 * np.mean([len(x) == k for x in r.results]):.0f}%",
                f"{recall:.3f}",
            ]
        )

    command = _common.reproduce(
        __file__,
        [
            "--chunks",
            str(args.chunks),
            "--queries",
            str(args.queries),
            "--clusters",
            str(args.clusters),
            "--spread",
            str(args.spread),
            "--query-noise",
            str(args.query_noise),
            "--k",
            str(k),
            "--ef-search",
            str(ef),
            "--max-scan-tuples",
            str(max_scan),
            "--exact-queries",
            str(args.exact_queries),
            "--exact-below",
            str(args.exact_below),
            *(["--halfvec"] if args.halfvec else []),
            *(["--halfvec-graph", ",".join(map(str, args.halfvec_graph))] if args.halfvec_graph != STORE_GRAPH else []),
            *(["--sweep-ef", ",".join(map(str, args.sweep_ef))] if args.sweep_ef else []),
            "--seed",
            str(args.seed),
        ],
    )
    mib = ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in report.sizes.items())
    s = report.settings
    print(f"Kura retrieval latency  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(
        f"db:      {where}; PostgreSQL {s['server_version']}, pgvector {s['pgvector']}, "
        f"shared_buffers {s['shared_buffers']}, work_mem {s['work_mem']}"
    )
    print(
        f"data:    {stats.chunks} chunks (dim {DIM}) in {stats.documents} documents; {args.clusters} Gaussian "
        f"clusters, spread {args.spread}; ~{np.mean([len(t) for t in texts[:1000]]):.0f}-byte texts"
    )
    print(f"size:    {mib}")
    print(
        f"load:    generate {report.generate_s:.1f} s, documents + binary COPY {report.copy_s:.1f} s "
        f"({args.chunks / report.copy_s:,.0f} rows/s), ANALYZE {report.analyze_s:.1f} s"
    )
    print(
        f"index:   HNSW (m {HNSW_M}, ef_construction {HNSW_EF_CONSTRUCTION}) built in {report.index_s:.1f} s "
        f"(maintenance_work_mem {s['maintenance_work_mem']}, "
        f"max_parallel_maintenance_workers {s['max_parallel_maintenance_workers']})"
    )
    print(
        f"queries: {args.queries} per run (perturbed corpus points, noise {args.query_noise}) after {warmup} "
        f"untimed warm-up queries; k {k}, clearance {CLEARANCE}, ef_search {ef}, max_scan_tuples {max_scan}; "
        f"numpy ground truth in {truth_s:.1f} s"
    )
    if args.halfvec:
        print(
            f"halfvec: HNSW over embedding::halfvec({DIM}) (m {args.halfvec_graph[0]}, "
            f"ef_construction {args.halfvec_graph[1]}) built in {report.halfvec_s:.1f} s"
        )
    print(
        f"memory:  PostgreSQL {processes} processes, PSS {pss / 2**20:,.0f} MiB after the runs "
        f"(shared_buffers {s['shared_buffers']}; the rest of the index is read through the OS page cache)"
    )
    print(
        f"switch:  store exact_below {store.exact_below} readable chunks and share {store.exact_share}; "
        "hybrid keywords: "
        f"{KEYWORDS_PER_CHUNK} of a {KEYWORD_VOCABULARY}-word Zipf vocabulary per chunk, 3 of them per question; "
        f"exact runs on the first {len(few)} queries"
    )
    print(f"command: {command}")
    print()
    print(
        _common.table(
            [
                "switch cost",
                "readable",
                "planner estimate",
                "estimate p50 ms",
                f"count(*) LIMIT {args.exact_below + 1} p50 ms",
            ],
            switch_rows,
        )
    )
    print()
    print(
        _common.table(
            ["user", "sees", "path", "plan used (executions)", "p50 ms", "p95 ms", "rows", f"got {k}", f"recall@{k}"],
            table_rows,
        )
    )
    print()
    print(
        f"recall@{k}: |returned ∩ exact| / |exact| per query, averaged; exact = brute force in numpy over the "
        "chunks the user may read.\n"
        "latency: the whole call (pool checkout, SET LOCALs, statement, rows). plan: from pg_prepared_statements "
        "(generic/custom counts) and EXPLAIN / EXPLAIN (GENERIC_PLAN)\n"
        "of the same statement and settings; 'unprepared' = executions before psycopg prepared the statement.\n"
        "'HNSW forced' / 'GIN bitmap forced' = the store's statement with SET LOCAL enable_seqscan and "
        "enable_bitmapscan / enable_indexscan off.\n"
        "store.search / hybrid_search: 'switch exact|hnsw' = what the store chose (KnowledgeStore.last_path); "
        "hybrid recall is against hybrid_search exact (vector leg read exactly, same fusion)."
    )


async def switch_cost(
    db: Database, store: KnowledgeStore, name: str, principals: frozenset[str], readable: int, cap: int
) -> list[str]:
    """What the store's switch costs: its planner estimate, against a capped count through the GIN index."""
    params: dict[str, object] = {"s0": sorted(principals), "clearance": CLEARANCE}
    count = text(
        "SELECT count(*) FROM (SELECT 1 FROM kura_knowledge.chunks WHERE embedding_model = :m "
        "AND classification <= :clearance AND acl && :s0 LIMIT :cap) AS r"
    ).bindparams(bindparam("s0", type_=ARRAY(Text)))
    estimates, estimate_s, count_s = [], [], []
    await db.engine.dispose()
    for i in range(60):
        async with db.sessions.begin() as session:
            await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            started = time.perf_counter()
            estimates.append((await store._readable_estimate(session, "acl && :s0", ["s0"], params))[0])
            estimate_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            await session.execute(count, params | {"m": MODEL, "cap": cap + 1})
            count_s.append(time.perf_counter() - started)
        if i < 10:  # warm-up
            estimate_s.clear()
            count_s.clear()
    return [
        name,
        f"{readable:,}",
        f"{estimates[-1]:,}",
        f"{1000 * np.median(estimate_s):.2f}",
        f"{1000 * np.median(count_s):.2f}",
    ]


def _plan_label(
    executions: int, before: tuple[int, int], after: tuple[int, int], custom_shape: str, generic_shape: str
) -> str:
    generic, custom = after[0] - before[0], after[1] - before[1]
    unprepared = executions - generic - custom
    parts = []
    if generic:
        parts.append(f"generic {generic}: {generic_shape}")
    if custom or unprepared:
        counts = " + ".join(f"{label} {n}" for label, n in (("custom", custom), ("unprepared", unprepared)) if n)
        parts.append(f"{counts}: {custom_shape}")
    return "; ".join(parts)


async def run(args: argparse.Namespace) -> None:
    async with _common.database(args.data_dir, keep=args.keep) as (settings, db, where):
        await measure(args, db, where, settings.data_dir / "postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="corpus size (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per run (default 200)")
    parser.add_argument("--clusters", type=int, default=1000, help="Gaussian clusters (default 1000)")
    parser.add_argument("--spread", type=float, default=0.5, help="noise norm around a cluster centre (default 0.5)")
    parser.add_argument("--query-noise", type=float, default=0.25, help="noise norm added to a query (default 0.25)")
    parser.add_argument("--k", type=int, default=10, help="rows per search (default 10)")
    parser.add_argument("--ef-search", type=int, default=100, help="hnsw.ef_search (default 100, as Kura)")
    parser.add_argument("--max-scan-tuples", type=int, default=20_000, help="hnsw.max_scan_tuples (default 20000)")
    parser.add_argument(
        "--exact-queries", type=int, default=50, help="queries of the exact runs (they read every readable row)"
    )
    parser.add_argument(
        "--exact-below", type=int, default=EXACT_BELOW, help=f"the store's switch (default {EXACT_BELOW})"
    )
    parser.add_argument("--halfvec", action="store_true", help="also build a halfvec HNSW index and search it")
    parser.add_argument(
        "--halfvec-graph",
        type=lambda v: [int(x) for x in v.split(",")],
        default=STORE_GRAPH,
        metavar="M,EF_CONSTRUCTION",
        help="the halfvec index's graph (default: the store's, HNSW_M,HNSW_EF_CONSTRUCTION)",
    )
    parser.add_argument(
        "--sweep-ef",
        type=lambda v: [int(x) for x in v.split(",") if x],
        default=[],
        metavar="N,N",
        help="also search the HNSW graph(s), forced, at these ef_search values (e.g. 40,200,400)",
    )
    parser.add_argument("--seed", type=int, default=0, help="numpy seed (default 0)")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database folder")
    args = parser.parse_args()
    if args.chunks < CHUNKS_PER_DOCUMENT * GROUPS:
        parser.error(f"--chunks must be at least {CHUNKS_PER_DOCUMENT * GROUPS} (one document per group)")
    if not 1 <= args.queries <= args.chunks or args.k < 1:
        parser.error("--queries must be between 1 and --chunks, --k at least 1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
