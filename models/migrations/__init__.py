"""Alembic migration environment (see models/migrate.py)."""
