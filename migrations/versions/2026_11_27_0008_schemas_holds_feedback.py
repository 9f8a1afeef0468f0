"""Nothing ``kura_app`` can create is on the owner's way; legal holds are the owner's, and feedback
and holds are append-only.

Until now ``kura_app`` could CREATE in ``public`` and the trigger functions resolved names through
the caller's search path: ``kura_app`` could plant, say, ``public.to_jsonb(audit_records)`` (an
exact match beats ``pg_catalog``'s polymorphic one) and the owner's next retention run would execute
it with the owner's rights. Now:

* the knowledge tables (documents, chunks, their indexes and sequences) move to the schema
  ``kura_knowledge``; ``kura_app`` keeps owning them and may CREATE there (ingest adds one HNSW index
  per embedding model). The owner never puts that schema on its search path and names the tables
  qualified;
* ``public`` keeps only the owner's tables: CREATE on it is revoked from ``kura_app`` and from
  PUBLIC. An object ``kura_app`` already planted there stops the upgrade, named, for a person to
  look at;
* every function pins ``search_path = pg_catalog, pg_temp`` and names tables qualified;
* ``legal_holds``: ``kura_app`` may only read them. Adding and releasing are owner actions
  (``Database.owner_sessions``) that append an audit record in the same transaction; the rows say
  who added and released a hold and why; a trigger lets a hold be released once and refuses every
  other change, DELETE and TRUNCATE;
* ``feedback``: each click that changes something is a new row, stored only together with the
  audit record that chains it (``record_id``, checked by a trigger on INSERT); the trigger refuses
  UPDATE and TRUNCATE, and DELETE but of feedback on records behind the newest retention anchor
  (retention removes them with their record).

Downgrading restores the grants and places of 0007 but keeps the functions' pinned search path.

Revision ID: 2026_11_27_0008
Revises: 2026_11_27_0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_27_0008"
down_revision = "2026_11_27_0007"
branch_labels = None
depends_on = None

ROLE = "kura_app"
SCHEMA = "kura_knowledge"  # knowledge.models.SCHEMA, spelled out: a revision must not change with the code

# Every function Kura defines runs with this path: pg_catalog only, and pg_temp named last so that a
# temporary table cannot shadow a real one. Tables are named with their schema.
_SAFE_PATH = "SET search_path = pg_catalog, pg_temp"

# Objects kura_app owns in public after the knowledge tables left: none may exist. Found through
# the ownership dependencies, so every kind (function, operator, type, table, ...) is covered.
_PLANTED = f"""
SELECT pg_catalog.string_agg(o.type || ' ' || o.identity, ', ' ORDER BY o.identity)
FROM pg_catalog.pg_shdepend d
CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) o
WHERE d.deptype = 'o'
  AND d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
  AND d.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = '{ROLE}')
  AND d.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
  AND o.schema = 'public'
"""

_AUDIT_APPEND_ONLY = f"""
CREATE OR REPLACE FUNCTION public.kura_audit_append_only() RETURNS trigger
LANGUAGE plpgsql {_SAFE_PATH} AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (pg_catalog.to_jsonb(OLD) - 'question_enc' - 'answer_enc')
                = (pg_catalog.to_jsonb(NEW) - 'question_enc' - 'answer_enc')
            AND (NEW.question_enc IS NULL OR NEW.question_enc IS NOT DISTINCT FROM OLD.question_enc)
            AND (NEW.answer_enc IS NULL OR NEW.answer_enc IS NOT DISTINCT FROM OLD.answer_enc)
        THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.seq <= (SELECT coalesce(pg_catalog.max(a.through_seq), 0) FROM public.audit_anchors a) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_records is append-only (% refused)', TG_OP;
END $$
"""

_ANCHORS_FROZEN = f"""
CREATE OR REPLACE FUNCTION public.kura_audit_anchors_frozen() RETURNS trigger
LANGUAGE plpgsql {_SAFE_PATH} AS $$
BEGIN
    RAISE EXCEPTION 'audit_anchors is append-only (% refused)', TG_OP;
END $$
"""

# A hold may be released once (released_at, by whom, why); nothing else about it ever changes.
_HOLDS_GUARD = f"""
CREATE FUNCTION public.kura_legal_holds_guard() RETURNS trigger
LANGUAGE plpgsql {_SAFE_PATH} AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.released_at IS NULL
        AND NEW.released_at IS NOT NULL
        AND (pg_catalog.to_jsonb(OLD) - 'released_at' - 'released_by' - 'release_reason')
            = (pg_catalog.to_jsonb(NEW) - 'released_at' - 'released_by' - 'release_reason')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'legal_holds: a hold can only be released, once (% refused)', TG_OP;
END $$
"""

# A feedback row comes in only with the chained record of that click (AuditStore.record_feedback
# writes both in one transaction), so no click is stored that the chain does not show. It goes only
# with the record it rates, when retention removes that record behind a signed anchor
# (prune_records writes the anchor first, then deletes feedback, then records).
_FEEDBACK_APPEND_ONLY = f"""
CREATE FUNCTION public.kura_feedback_append_only() RETURNS trigger
LANGUAGE plpgsql {_SAFE_PATH} AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (
            SELECT FROM public.audit_records r
            WHERE r.id = NEW.record_id
              AND r.action = 'feedback'
              AND r.user_ref = NEW.user_ref
              AND r.retrieved @> pg_catalog.jsonb_build_array(
                  pg_catalog.jsonb_build_object('audit_id', NEW.audit_id, 'value', NEW.value))
        ) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'feedback is stored only with its audit record (record_id)';
    END IF;
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT FROM public.audit_records r
        WHERE r.id = OLD.audit_id
          AND r.seq <= (SELECT coalesce(pg_catalog.max(a.through_seq), 0) FROM public.audit_anchors a)
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'feedback is append-only (% refused)', TG_OP;
END $$
"""

_TRIGGERS = [
    "CREATE TRIGGER legal_holds_guard BEFORE UPDATE OR DELETE ON public.legal_holds "
    "FOR EACH ROW EXECUTE FUNCTION public.kura_legal_holds_guard()",
    "CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON public.legal_holds "
    "FOR EACH STATEMENT EXECUTE FUNCTION public.kura_legal_holds_guard()",
    "CREATE TRIGGER feedback_append_only BEFORE INSERT OR UPDATE OR DELETE ON public.feedback "
    "FOR EACH ROW EXECUTE FUNCTION public.kura_feedback_append_only()",
    "CREATE TRIGGER feedback_no_truncate BEFORE TRUNCATE ON public.feedback "
    "FOR EACH STATEMENT EXECUTE FUNCTION public.kura_feedback_append_only()",
]

_UP = [
    f"CREATE SCHEMA {SCHEMA}",
    # Usage to find the tables; CREATE for the per-model vector index (CREATE INDEX needs it on
    # the table's schema besides owning the table). The schema itself stays the owner's.
    f"GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO {ROLE}",
    # Their indexes, the sequences they own and the HNSW indexes ingest made go with them.
    f"ALTER TABLE public.documents SET SCHEMA {SCHEMA}",
    f"ALTER TABLE public.chunks SET SCHEMA {SCHEMA}",
    f"REVOKE CREATE ON SCHEMA public FROM {ROLE}",
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    # Holds are the owner's to add and release (with an audit record); Kura only reads them.
    f"REVOKE INSERT, UPDATE, DELETE ON public.legal_holds FROM {ROLE}",
    f"REVOKE UPDATE (released_at) ON public.legal_holds FROM {ROLE}",
    f"REVOKE ALL ON SEQUENCE public.legal_holds_id_seq FROM {ROLE}",
]

_DOWN = [
    f"GRANT INSERT ON public.legal_holds TO {ROLE}",
    f"GRANT UPDATE (released_at) ON public.legal_holds TO {ROLE}",
    f"GRANT USAGE, SELECT ON SEQUENCE public.legal_holds_id_seq TO {ROLE}",
    f"GRANT USAGE, CREATE ON SCHEMA public TO {ROLE}",
    f"ALTER TABLE {SCHEMA}.chunks SET SCHEMA public",
    f"ALTER TABLE {SCHEMA}.documents SET SCHEMA public",
    f"DROP SCHEMA {SCHEMA}",
]


def upgrade() -> None:
    for statement in _UP:
        op.execute(statement)
    planted = op.get_bind().execute(sa.text(_PLANTED)).scalar()
    if planted:
        raise RuntimeError(
            f"{ROLE} owns objects in the public schema, where only the owner's tables belong: {planted}. "
            "It may have planted them for the owner to run: look at them, drop them, then upgrade again"
        )
    op.execute(_AUDIT_APPEND_ONLY)
    op.execute(_ANCHORS_FROZEN)
    op.add_column("legal_holds", sa.Column("created_by", sa.Text), schema="public")
    op.add_column("legal_holds", sa.Column("released_by", sa.Text), schema="public")
    op.add_column("legal_holds", sa.Column("release_reason", sa.Text), schema="public")
    op.add_column("feedback", sa.Column("record_id", sa.Text), schema="public")
    op.create_foreign_key(
        "fk_feedback_record_id",
        "feedback",
        "audit_records",
        ["record_id"],
        ["id"],
        source_schema="public",
        referent_schema="public",
    )
    op.create_index("uq_feedback_record_id", "feedback", ["record_id"], unique=True, schema="public")
    op.execute(_HOLDS_GUARD)
    op.execute(_FEEDBACK_APPEND_ONLY)
    for statement in _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("legal_holds", "feedback"):
        op.execute(f"DROP TRIGGER {table}_no_truncate ON public.{table}")
    op.execute("DROP TRIGGER legal_holds_guard ON public.legal_holds")
    op.execute("DROP TRIGGER feedback_append_only ON public.feedback")
    op.execute("DROP FUNCTION public.kura_legal_holds_guard()")
    op.execute("DROP FUNCTION public.kura_feedback_append_only()")
    op.drop_index("uq_feedback_record_id", "feedback", schema="public")
    op.drop_constraint("fk_feedback_record_id", "feedback", schema="public")
    op.drop_column("feedback", "record_id", schema="public")
    for column in ("release_reason", "released_by", "created_by"):
        op.drop_column("legal_holds", column, schema="public")
    for statement in _DOWN:
        op.execute(statement)
