"""The schema's migrations: one head, and down to nothing and up again on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from hub.db.engine import make_engine
from hub.db.migrate import alembic_config, downgrade, upgrade_to_head


def test_the_migrations_have_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == ["0009_one_head"], (
        "two heads: add a merge revision (alembic merge heads) before the next schema change")


def _tables(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_upgrade_downgrade_and_upgrade_again(db: str, request: pytest.FixtureRequest) -> None:
    db_url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    upgrade_to_head(db_url)
    tables = _tables(db_url)
    assert {"edges", "devices", "students", "ledger_entries", "alerts", "commands"} <= tables
    downgrade(db_url, "base")
    assert _tables(db_url) == set()
    upgrade_to_head(db_url)
    assert _tables(db_url) == tables
