"""Fixtures of the people tests: a migrated database (SQLite and PostgreSQL) with the school."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import SchoolRow
from tests.hub.people.samples import SCHOOL, SCHOOL_NAME


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each test runs on SQLite and on PostgreSQL."""
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database holding THPT Chuyên Trần Đại Nghĩa."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add(SchoolRow(id=SCHOOL, name=SCHOOL_NAME, area="Quận 1"))
    yield engine
    engine.dispose()
