"""Audit chain version 2: each record says how its hash and its text's associated data were made.

``audit_records.chain_version`` (``bot.audit.chain``): existing records are version 1 (their hash
leaves ``key_id`` out; their text is bound to the record id only) and keep verifying as they are.
New records are version 2: the hash covers every column, ``key_id`` included, and the text is bound
to its record, its column and its key id. The version is itself hashed, and verification refuses a
version 1 record after a version 2 one, so no record can be moved back to the weaker rules without
rewriting every record after it.

The column has no default once existing rows are filled: a process still running the old code
cannot append records without a version (its insert fails) rather than append ones that would
break verification. ``kura_app``'s INSERT and SELECT on the table cover the new column; the
append-only trigger compares whole rows, so it covers the column too.

Revision ID: 2026_11_27_0009
Revises: 2026_11_27_0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_27_0009"
down_revision = "2026_11_27_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The append-only trigger refuses UPDATEs; adding a column with a default fills existing rows
    # without one (a catalogue change, not a rewrite of each row).
    op.add_column(
        "audit_records",
        sa.Column("chain_version", sa.SmallInteger, nullable=False, server_default="1"),
        schema="public",
    )
    op.alter_column("audit_records", "chain_version", server_default=None, schema="public")


def downgrade() -> None:
    # Version 2 records do not verify under the old code: refuse rather than leave an unverifiable chain.
    newer = op.get_bind().execute(sa.text("SELECT count(*) FROM public.audit_records WHERE chain_version > 1")).scalar()
    if newer:
        raise RuntimeError(
            f"{newer} audit records use chain version 2, which the previous revision cannot verify: not downgraded"
        )
    op.drop_column("audit_records", "chain_version", schema="public")
