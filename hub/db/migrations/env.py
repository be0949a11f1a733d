"""Alembic environment: uses the connection handed over by ``upgrade_to_head``."""

from __future__ import annotations

from alembic import context

from hub.db import people  # noqa: F401 - registers the tables on Base.metadata
from hub.db.engine import make_engine
from hub.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run online migrations on the given connection, or on one made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
