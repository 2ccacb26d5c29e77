"""Alembic, driven from code: the migrations live in models/migrations beside the models."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

# Tables owned by libraries (APScheduler's job store) are not ours to create or drop.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Tell Alembic which database objects belong to cartwatch's models."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic configuration that migrates through ``engine``."""
    config = Config()
    config.set_main_option("script_location", "models:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema down to ``revision``."""
    command.downgrade(alembic_config(engine), revision)


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(engine), message=message, autogenerate=True)


def check(engine: Engine) -> None:
    """Fail if the models have changes no migration covers."""
    command.check(alembic_config(engine))


def current(engine: Engine) -> None:
    """Print the database's revision."""
    command.current(alembic_config(engine))
