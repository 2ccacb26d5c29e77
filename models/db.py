"""Engine set-up shared by the web app, the scheduler and the command line (no Flask here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event


def engine_options(url: str) -> dict[str, Any]:
    """Return create_engine() options suited to the database behind ``url``."""
    if url.startswith("sqlite"):
        # A busy writer makes others wait (up to 15 s) instead of failing at once.
        return {"connect_args": {"timeout": 15}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


def configure_engine(engine: Engine) -> Engine:
    """Apply per-connection settings: SQLite needs foreign keys and WAL switched on."""
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def make_engine(url: str) -> Engine:
    """Create a configured engine for ``url`` (used outside the web app)."""
    return configure_engine(create_engine(url, **engine_options(url)))
