"""The role Kura runs as: ``kura_app``, which cannot change or remove audit records.

Kura connects with ``KURA_DATABASE_URL`` and then acts as ``kura_app`` (``KURA_DATABASE_RUN_AS``);
migrations run as the connecting role, the owner of the audit tables. ``kura_app``:

* owns the knowledge tables (documents, chunks) and may create in the public schema: ingest
  creates a vector index per embedding model;
* on ``audit_records``: SELECT and INSERT, nothing else; on ``audit_anchors``: SELECT. Retention
  (removing text, or records behind a signed anchor) runs as the owner: ``Database.owner_sessions``;
* on ``feedback``: SELECT and INSERT (retention removes feedback with its record, as the owner);
* on ``legal_holds``: SELECT, INSERT, UPDATE of ``released_at``; on ``handled_events``: all four.

It is not the owner of any audit table, so it cannot drop or disable the trigger, alter a table,
grant itself more, or set ``session_replication_role``. A role is cluster-wide: it is created once
and kept on downgrade (only this database's grants are revoked).

Revision ID: 2026_11_24_0006
Revises: 2026_11_24_0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "2026_11_24_0006"
down_revision = "2026_11_24_0005"
branch_labels = None
depends_on = None

ROLE = "kura_app"

_CREATE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
        CREATE ROLE {ROLE} NOLOGIN;
    END IF;
    -- The migrating role must be able to act as kura_app (to hand it the knowledge tables, and
    -- to run Kura when it is also the login role). A superuser already can.
    IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
        EXECUTE format('GRANT {ROLE} TO %I', current_user);
    END IF;
END $$
"""

_GRANTS = [
    # Creating an index needs CREATE on its schema besides owning the table.
    f"GRANT USAGE, CREATE ON SCHEMA public TO {ROLE}",
    f"ALTER TABLE documents OWNER TO {ROLE}",
    f"ALTER TABLE chunks OWNER TO {ROLE}",
    f"GRANT SELECT, INSERT ON audit_records, feedback TO {ROLE}",
    f"GRANT SELECT ON audit_anchors TO {ROLE}",
    f"GRANT SELECT, INSERT ON legal_holds TO {ROLE}",
    f"GRANT UPDATE (released_at) ON legal_holds TO {ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON handled_events TO {ROLE}",
    f"GRANT USAGE, SELECT ON SEQUENCE legal_holds_id_seq, feedback_id_seq TO {ROLE}",
    f"GRANT SELECT ON alembic_version TO {ROLE}",
]

_REVOKES = [
    f"REVOKE CREATE ON SCHEMA public FROM {ROLE}",
    f"REVOKE ALL ON audit_records, audit_anchors, legal_holds, feedback, handled_events, alembic_version FROM {ROLE}",
    f"REVOKE ALL ON SEQUENCE legal_holds_id_seq, feedback_id_seq FROM {ROLE}",
    "ALTER TABLE documents OWNER TO CURRENT_USER",
    "ALTER TABLE chunks OWNER TO CURRENT_USER",
]


def upgrade() -> None:
    op.execute(_CREATE)
    for statement in _GRANTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in _REVOKES:
        op.execute(statement)
