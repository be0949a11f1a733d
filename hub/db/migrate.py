"""Alembic migrations run from code at start (no alembic.ini needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.db.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db_url: str) -> Config:
    """An Alembic config pointing at the hub's migrations and ``db_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    return config


def upgrade_to_head(db_url: str) -> None:
    """Create or upgrade the schema of ``db_url`` to the newest revision."""
    # "heads", not "head": a database left on a branch by an older hub still upgrades if a new
    # branch ever appears; tests/hub/test_migrations.py keeps it to one.
    _migrate(db_url, command.upgrade, "heads")


def downgrade(db_url: str, revision: str) -> None:
    """Take the schema of ``db_url`` back to ``revision`` (``base``: no tables at all)."""
    _migrate(db_url, command.downgrade, revision)


def _migrate(db_url: str, step: Callable[[Config, str], None], revision: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(db_url)
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        engine.dispose()
