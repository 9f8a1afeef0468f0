"""Alembic environment and versions (run with ``kura db upgrade``)."""
