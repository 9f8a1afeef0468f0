"""All SQL of the knowledge package: documents, chunks, the per-model vector index, and search.

Search is one statement: the access filter, the classification ceiling and the model are inside the
same query as the vector ordering, and pgvector's iterative index scan keeps reading the HNSW index
until k rows pass the filter (so a user who may read 1% of the chunks still gets k results).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import RowMapping, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import Text

from knowledge.models import SCHEMA, Chunk, Document
from knowledge.rows import ChunkRow, DocumentRow, DocumentState, SearchHit, SourceRow, StoreStats
from llm.embeddings import Vector as Array

__all__ = [
    "EXACT_BELOW",
    "EXACT_SHARE",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_M",
    "ChunkRow",
    "DocumentRow",
    "DocumentState",
    "KnowledgeStore",
    "SearchHit",
    "SourceRow",
    "StoreStats",
    "checked_model",
]

#: Default of ``KnowledgeStore(exact_below=…)`` (``KURA_RETRIEVAL_EXACT_BELOW``): a search whose scope
#: may read about this many chunks or fewer is exact. Measured with bench/retrieval_latency.py at
#: 1,000,000 chunks (dim 384, 2 shared cores; bench/README.md): reading and sorting readable rows
#: costs ~8 µs a row (10,000 rows: 80 ms; 100,000: 780 ms), while the HNSW search costs 20-25 ms
#: for a 10-100% reader and 62 ms (recall@10 0.90) for a 1% reader. At 10,000 rows the exact path
#: costs about what HNSW costs for a scope that small, and its recall is 1.
EXACT_BELOW = 10_000
#: ... and only when the scope reads at most this share of the model's chunks: for a broad scope HNSW
#: is both fast and accurate (10,000 chunks all readable: HNSW 4 ms, recall 1.0; exact 46 ms), so a
#: small deployment's everyday search stays on the index.
EXACT_SHARE = 0.05
#: The HNSW graph. At 1,000,000 chunks (bench/retrieval_latency.py --halfvec-graph 16,128; 2 cores)
#: ef_construction 128 instead of pgvector's 64 raised recall@10 from 0.86 to 0.95-0.96 for 1%-100%
#: readers at the same query cost (p95 ~14 ms at ef_search 100), for a build 1.4x as long.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128

_MODEL_NAME = re.compile(r"^[A-Za-z0-9._/:@+-]{1,200}$")


def _index_name(model: str, dim: int) -> str:
    return f"ix_chunks_hnsw_{hashlib.sha256(model.encode()).hexdigest()[:10]}_{dim}"


def checked_model(model: str) -> str:
    # The model name is written into SQL text (a partial index only matches a literal predicate),
    # so it must be a plain identifier-like string.
    if not _MODEL_NAME.match(model):
        raise ValueError(f"embedding model name {model!r} has characters Kura does not allow")
    return model


class KnowledgeStore:
    """Reads and writes documents and chunks in PostgreSQL with pgvector."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        model: str,
        dim: int,
        *,
        exact_below: int = EXACT_BELOW,
        exact_share: float = EXACT_SHARE,
    ) -> None:
        """``exact_below``, ``exact_share``: a search whose scope may read at most this many chunks of
        the model AND at most this share of them reads them all and sorts them (exact) instead of
        walking the HNSW graph; ``exact_below=0`` always uses HNSW. See :data:`EXACT_BELOW`."""
        self._sessions = sessions
        self.model = checked_model(model)
        self.dim = int(dim)
        self.exact_below = max(0, int(exact_below))
        self.exact_share = float(exact_share)
        #: Which way the last search's vector part ran ("exact" or "hnsw"): a diagnostic for tests and
        #: benchmarks (shared by concurrent searches, so only meaningful when one runs at a time).
        self.last_path = ""
        self._search_sql = text(
            f"""
            WITH hits AS MATERIALIZED (
                SELECT id, document_id, source, title, text, acl, classification, location,
                       (embedding::vector({self.dim})) <=> :query AS distance
                FROM {SCHEMA}.chunks
                WHERE embedding_model = '{self.model}'
                  AND classification <= :clearance
                  AND {{acl_filter}}
                ORDER BY (embedding::vector({self.dim})) <=> :query
                LIMIT :k
            )
            SELECT * FROM hits ORDER BY distance
            """  # noqa: S608 - model checked by checked_model, dim is an int, SCHEMA a constant, filter below
        ).text
        # Hybrid: each leg applies the model, the clearance and the access filter before its own
        # LIMIT of candidates (a filter after the LIMIT would let unreadable chunks use up the
        # candidates and hand the reader fewer, never more); then reciprocal rank fusion over the
        # FULL OUTER JOIN of the two candidate lists, and k rows with each leg's rank and score.
        readable = f"embedding_model = '{self.model}' AND classification <= :clearance AND {{acl_filter}}"
        # The switch reads the planner's estimate of the scope's readable chunks (the same access
        # condition as the search; statistics of the acl array's elements, planned for these values).
        # One planning gives both: the scope's rows (first branch) and the model's rows (second).
        self._readable_sql = (
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {SCHEMA}.chunks WHERE {readable} "  # noqa: S608
            f"UNION ALL SELECT 1 FROM {SCHEMA}.chunks WHERE embedding_model = '{self.model}'"
        )
        self._hybrid_sql = text(
            f"""
            WITH vector_hits AS MATERIALIZED (
                SELECT id, (embedding::vector({self.dim})) <=> :query AS distance
                FROM {SCHEMA}.chunks
                WHERE {readable}
                ORDER BY (embedding::vector({self.dim})) <=> :query
                LIMIT :vector_candidates
            ),
            vector_leg AS (
                SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM vector_hits
            ),
            keyword_hits AS MATERIALIZED (
                SELECT id, ts_rank_cd(keywords, CAST(:tsquery AS tsquery)) AS score
                FROM {SCHEMA}.chunks
                WHERE {readable} AND keywords @@ CAST(:tsquery AS tsquery)
                  AND (length(keywords) - length(ts_delete(keywords, CAST(:terms AS text[]))) >= :min_match
                       OR keywords @@ CAST(:codes AS tsquery))
                ORDER BY score DESC, id
                LIMIT :keyword_candidates
            ),
            keyword_leg AS (
                SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM keyword_hits
            ),
            fused AS (
                SELECT coalesce(v.id, w.id) AS id, v.rank AS vector_rank, w.rank AS keyword_rank,
                       w.score AS keyword_score,
                       coalesce(1.0 / (:rrf_k + v.rank), 0) + coalesce(1.0 / (:rrf_k + w.rank), 0) AS fused
                FROM vector_leg v FULL OUTER JOIN keyword_leg w ON v.id = w.id
                ORDER BY fused DESC, id
                LIMIT :k
            )
            SELECT c.id, c.document_id, c.source, c.title, c.text, c.acl, c.classification, c.location,
                   (c.embedding::vector({self.dim})) <=> :query AS distance,
                   f.fused, f.vector_rank, f.keyword_rank, f.keyword_score,
                   coalesce(length(c.keywords) - length(ts_delete(c.keywords, CAST(:terms AS text[]))), 0)::float
                   / greatest(cardinality(CAST(:terms AS text[])), 1) AS keyword_coverage
            FROM fused f JOIN {SCHEMA}.chunks c ON c.id = f.id
            ORDER BY f.fused DESC, distance
            """  # noqa: S608 - as above
        ).text

    async def ensure_vector_index(self) -> None:
        """Create this model's partial HNSW cosine index if it does not exist (in the table's schema).
        An index built earlier keeps its graph; dropped, the next ingest builds it with today's."""
        name = _index_name(self.model, self.dim)
        ddl = (
            f"CREATE INDEX IF NOT EXISTS {name} ON {SCHEMA}.chunks USING hnsw "
            f"((embedding::vector({self.dim})) vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE embedding_model = '{self.model}'"
        )
        async with self._sessions.begin() as session:
            await session.execute(text(ddl))

    async def documents_under(self, root: str) -> dict[str, DocumentState]:
        """Every stored document of an ingest root, by relative path."""
        async with self._sessions() as session:
            rows = await session.execute(select(Document).where(Document.root == root))
            return {
                d.path: DocumentState(d.id, d.content_hash, tuple(d.acl), d.classification, d.owner, d.embedding_model)
                for d in rows.scalars()
            }

    async def replace_document(self, doc: DocumentRow, chunks: Sequence[ChunkRow], vectors: Array) -> int:
        """Write a document and its chunks in one transaction, replacing what was there."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        async with self._sessions.begin() as session:
            existing = await session.scalar(
                select(Document).where(Document.root == doc.root, Document.path == doc.path).with_for_update()
            )
            if existing is None:
                existing = Document(root=doc.root, path=doc.path)
                session.add(existing)
            else:
                await session.execute(delete(Chunk).where(Chunk.document_id == existing.id))
            existing.title = doc.title
            existing.content_hash = doc.content_hash
            existing.acl = list(doc.acl)
            existing.classification = doc.classification
            existing.owner = doc.owner
            existing.embedding_model = doc.embedding_model
            existing.chunk_count = len(chunks)
            existing.ingested_at = func.now()
            await session.flush()
            session.add_all(
                Chunk(
                    document_id=existing.id,
                    ordinal=c.ordinal,
                    text=c.text,
                    source=doc.path,
                    title=doc.title,
                    acl=list(doc.acl),
                    classification=doc.classification,
                    token_count=c.token_count,
                    embedding_model=self.model,
                    embedding_dim=self.dim,
                    embedding=np.asarray(v, dtype=np.float32),
                    location=c.location,
                    keywords=c.keywords,
                )
                for c, v in zip(chunks, vectors, strict=True)
            )
            return existing.id

    async def update_access(
        self, document_id: int, acl: tuple[str, ...], classification: int, owner: str | None
    ) -> None:
        """Change a document's access without re-embedding: the document and all its chunks, together."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(acl=list(acl), classification=classification, owner=owner)
            )
            await session.execute(
                update(Chunk)
                .where(Chunk.document_id == document_id)
                .values(acl=list(acl), classification=classification)
            )

    async def delete_documents(self, ids: Sequence[int]) -> None:
        """Delete documents; their chunks go with them (ON DELETE CASCADE)."""
        if ids:
            async with self._sessions.begin() as session:
                await session.execute(delete(Document).where(Document.id.in_(list(ids))))

    async def search(
        self,
        query: Array,
        principal_sets: Sequence[frozenset[str]],
        clearance: int,
        k: int,
        *,
        ef_search: int = 100,
        max_scan_tuples: int = 20_000,
        exact: bool = False,
    ) -> list[SearchHit]:
        """The k nearest chunks the scope may read.

        Args:
            query: the query vector (this store's model and dimension).
            principal_sets: a chunk is returned only if its access list intersects every set.
            clearance: the highest classification rank returned.
            k: how many rows at most.
            ef_search: HNSW candidate list size.
            max_scan_tuples: bound of the iterative scan.
            exact: disable the index (benchmarks: the ground truth).

        Returns:
            Hits ordered by cosine distance, nearest first. Empty when ``principal_sets`` is empty.
        """
        if not principal_sets or k <= 0:
            return []
        names = [f"s{i}" for i in range(len(principal_sets))]
        acl_filter = " AND ".join(f"acl && :{n}" for n in names)
        statement = text(self._search_sql.replace("{acl_filter}", acl_filter)).bindparams(
            bindparam("query", type_=Vector(self.dim)),
            *(bindparam(n, type_=ARRAY(Text)) for n in names),
        )
        params: dict[str, object] = {
            "query": np.asarray(query, dtype=np.float32),
            "clearance": int(clearance),
            "k": int(k),
            **{n: sorted(s) for n, s in zip(names, principal_sets, strict=True)},
        }
        async with self._sessions.begin() as session:
            await self._tune(session, ef_search, max_scan_tuples, exact)
            await self._switch(session, acl_filter, names, params, exact)
            rows = (await session.execute(statement, params)).mappings().all()
        return [_hit(r) for r in rows]

    async def _switch(
        self, session: AsyncSession, acl_filter: str, names: Sequence[str], params: dict[str, object], exact: bool
    ) -> None:
        """Exact (index scans off) when the scope may read few chunks (``exact_below``, ``exact_share``), else HNSW.

        A selective scope is where filtered HNSW is weakest: the iterative scan walks many graph
        nodes per readable one and may still miss near neighbours, while reading a few thousand
        readable rows through the GIN index on ``acl`` and sorting them is exact and cheap.
        """
        if exact:
            self.last_path = "exact"
            return
        if self.exact_below <= 0:
            self.last_path = "hnsw"
            return
        readable, total = await self._readable_estimate(session, acl_filter, names, params)
        exact = readable <= self.exact_below and readable <= self.exact_share * max(total, 1)
        self.last_path = "exact" if exact else "hnsw"
        if self.last_path == "exact":  # the HNSW index is an index scan: the planner reads the GIN bitmap and sorts
            await session.execute(select(func.set_config("enable_indexscan", "off", True)))

    async def _readable_estimate(
        self, session: AsyncSession, acl_filter: str, names: Sequence[str], params: dict[str, object]
    ) -> tuple[int, int]:
        """The planner's estimates of the chunks the scope may read and of the model's chunks
        (planning only, no row read).

        Measured against a capped ``count(*)`` through the GIN index (bench/retrieval_latency.py):
        the count is exact but reads up to ``exact_below`` heap rows (20-48 ms for a 10-100% reader
        at 1M chunks, as much as the HNSW search itself); the estimate costs one planning. Independent
        estimates of several sets multiply, so a correlated scope is underestimated: it is then
        read exactly, slower but never less exact or less strict.
        """
        statement = text(self._readable_sql.replace("{acl_filter}", acl_filter)).bindparams(
            *(bindparam(n, type_=ARRAY(Text)) for n in names)
        )
        values = {n: params[n] for n in names} | {"clearance": params["clearance"]}
        plan = (await session.execute(statement, values)).scalar_one()[0]["Plan"]
        branches = plan.get("Plans") or [plan, plan]  # an Append of the two SELECTs
        return int(branches[0]["Plan Rows"]), int(branches[1]["Plan Rows"])

    async def hybrid_search(
        self,
        query: Array,
        terms: Sequence[str],
        principal_sets: Sequence[frozenset[str]],
        clearance: int,
        k: int,
        *,
        legs: tuple[bool, bool] = (True, True),
        candidates: int | None = None,
        rrf_k: int = 60,
        match: str = "or",
        min_share: float = 0.5,
        ef_search: int = 100,
        max_scan_tuples: int = 20_000,
        exact: bool = False,
    ) -> list[SearchHit]:
        """The k chunks the scope may read, by reciprocal rank fusion of a vector and a keyword leg.

        One statement: each leg is filtered by model, clearance and access before its own LIMIT.
        Exact codes and names (``G3``, ``KH-101``) come from the keyword leg even when their
        vectors rank them low.

        Args:
            query: the query vector (this store's model and dimension).
            terms: the question's keywords (:func:`knowledge.keywords.query_terms`).
            principal_sets: a chunk is returned only if its access list intersects every set.
            clearance: the highest classification rank returned.
            k: how many rows at most.
            legs: which legs run (vector, keyword): ``(False, True)`` is keyword-only search.
            candidates: each leg's LIMIT (default ``max(4 * k, 20)``).
            rrf_k: the fusion constant: a leg's rank r adds ``1 / (rrf_k + r)``.
            match: ``or`` (a chunk holding any term) or ``and`` (all terms) for the keyword leg.
            min_share: the keyword leg keeps a chunk only if it holds this share of the question's
                distinct terms, or one of its codes (:func:`knowledge.keywords.code_terms`): a
                chunk sharing one common word with the question is no keyword match (measured on
                bench/retrieval_quality.yaml: 0.5 beats 0, which lets English words drag English
                documents over the Japanese one a cross-language question is about).
            ef_search: HNSW candidate list size.
            max_scan_tuples: bound of the iterative scan.
            exact: the vector leg reads every readable chunk and sorts (benchmarks: the ground truth).

        Returns:
            Hits, best fused score first, with ``distance`` (cosine, for every hit), ``fused``, each
            leg's rank and the keyword score and coverage. Empty when ``principal_sets`` is empty.
        """
        from knowledge.keywords import code_terms, tsquery_of

        if not principal_sets or k <= 0:
            return []
        per_leg = int(candidates) if candidates is not None else max(4 * int(k), 20)
        tsquery = tsquery_of(terms, mode=match)
        names = [f"s{i}" for i in range(len(principal_sets))]
        acl_filter = " AND ".join(f"acl && :{n}" for n in names)
        statement = text(self._hybrid_sql.replace("{acl_filter}", acl_filter)).bindparams(
            bindparam("query", type_=Vector(self.dim)),
            bindparam("terms", type_=ARRAY(Text)),
            *(bindparam(n, type_=ARRAY(Text)) for n in names),
        )
        params: dict[str, object] = {
            "query": np.asarray(query, dtype=np.float32),
            "terms": list(terms),
            "tsquery": tsquery,  # NULL when the question has no keywords: the leg returns nothing
            "codes": tsquery_of(code_terms(terms)),
            "min_match": max(1, math.ceil(min_share * len(set(terms)))),
            "clearance": int(clearance),
            "k": int(k),
            "rrf_k": int(rrf_k),
            "vector_candidates": per_leg if legs[0] else 0,
            "keyword_candidates": per_leg if legs[1] and tsquery is not None else 0,
            **{n: sorted(s) for n, s in zip(names, principal_sets, strict=True)},
        }
        async with self._sessions.begin() as session:
            await self._tune(session, max(ef_search, per_leg), max_scan_tuples, False)
            if exact:  # index scans off; bitmap scans (the keyword leg's GIN index) stay on
                await session.execute(select(func.set_config("enable_indexscan", "off", True)))
                self.last_path = "exact"
            elif legs[0]:  # the keyword leg reads its GIN index either way
                await self._switch(session, acl_filter, names, params, False)
            rows = (await session.execute(statement, params)).mappings().all()
        return [_hit(r) for r in rows]

    async def fill_keywords(self, root: str, make: Callable[[str], str], *, batch: int = 500) -> int:
        """Compute the keywords of a root's chunks that have none (ingested before migration 0012).

        No re-embedding: each chunk's ``title`` and ``text`` (what ingest would have used) go through
        ``make`` (:func:`knowledge.keywords.to_tsvector`). Cheap when nothing is missing: one
        indexed read of the root's documents' chunks. Returns how many chunks were filled.
        """
        pending = (
            select(Chunk.id, Chunk.title, Chunk.text)
            .join(Document, Document.id == Chunk.document_id)
            .where(Document.root == root, Chunk.keywords.is_(None))
            .order_by(Chunk.id)
            .limit(batch)
        )
        filled = 0
        while True:
            async with self._sessions.begin() as session:
                rows = (await session.execute(pending)).all()
                if rows:  # one executemany by primary key
                    values = [{"id": i, "keywords": make(f"{title}\n{body}")} for i, title, body in rows]
                    await session.execute(update(Chunk), values)
            filled += len(rows)
            if len(rows) < batch:
                return filled

    @staticmethod
    async def _tune(session: AsyncSession, ef_search: int, max_scan_tuples: int, exact: bool) -> None:
        settings = {
            # psycopg prepares repeated statements; PostgreSQL then may switch to a generic plan
            # made without the query's values (seen in bench: a full ACL-index read and sort,
            # 88 ms instead of 7 ms). Plan each search for its own scope and vector.
            "plan_cache_mode": "force_custom_plan",
            "hnsw.ef_search": str(int(ef_search)),
            "hnsw.iterative_scan": "relaxed_order",
            "hnsw.max_scan_tuples": str(int(max_scan_tuples)),
        }
        if exact:
            settings |= {"enable_indexscan": "off", "enable_bitmapscan": "off"}
        # One statement, not one per setting: each round trip costs the event loop ~0.3 ms or more
        # and searches run once per question (bench/conversation_load.py).
        await session.execute(select(*(func.set_config(name, value, True) for name, value in settings.items())))

    async def sources(self) -> list[SourceRow]:
        """Every ingest root with its document and chunk counts and the last ingest time."""
        query = (
            select(Document.root, func.count(), func.sum(Document.chunk_count), func.max(Document.ingested_at))
            .group_by(Document.root)
            .order_by(Document.root)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [SourceRow(r[0], int(r[1]), int(r[2] or 0), r[3]) for r in rows]

    async def stats(self) -> StoreStats:
        """Document and chunk counts."""
        async with self._sessions() as session:
            documents = await session.scalar(select(func.count()).select_from(Document))
            chunks = await session.scalar(select(func.count()).select_from(Chunk))
        return StoreStats(int(documents or 0), int(chunks or 0))


def _hit(r: RowMapping) -> SearchHit:
    """A search row as a hit; the hybrid statement's extra columns when it has them."""
    score = r.get("keyword_score")
    return SearchHit(
        chunk_id=r["id"],
        document_id=r["document_id"],
        source=r["source"],
        title=r["title"],
        text=r["text"],
        acl=tuple(r["acl"]),
        classification=r["classification"],
        distance=float(r["distance"]),
        location=r["location"],
        fused=None if r.get("fused") is None else float(r["fused"]),
        vector_rank=r.get("vector_rank"),
        keyword_rank=r.get("keyword_rank"),
        keyword_score=None if score is None else float(score),
        keyword_coverage=None if r.get("keyword_coverage") is None else float(r["keyword_coverage"]),
    )
