"""The private PostgreSQL and the SQLite URL: create, insert, select through SQLAlchemy."""

from __future__ import annotations

import sqlalchemy as sa

from smartschool_cli.localservers.postgres import Postgres

metadata = sa.MetaData()
students = sa.Table(
    "students",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("class_name", sa.Text, nullable=False),
)


def _roundtrip(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                students.insert(),
                [
                    {"name": "Nguyễn Thị Mai Anh", "class_name": "10A1"},
                    {"name": "Trần Quốc Bảo", "class_name": "11C3"},
                ],
            )
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(students.c.name, students.c.class_name).order_by(students.c.id)
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_postgres_roundtrip(pg_url: str) -> None:
    assert pg_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert _roundtrip(pg_url) == [("Nguyễn Thị Mai Anh", "10A1"), ("Trần Quốc Bảo", "11C3")]


def test_each_test_gets_an_empty_database(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW fsync")).scalar() == "on"
            assert conn.execute(sa.text("SELECT upper('đ')")).scalar() == "Đ"
    finally:
        engine.dispose()


def test_committed_rows_survive_a_kill(postgres: Postgres, pg_url: str) -> None:
    _roundtrip(pg_url)
    postgres.kill()
    postgres.start()
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(students)).scalar() == 2
    finally:
        engine.dispose()


def test_sqlite_roundtrip(sqlite_url: str) -> None:
    assert sqlite_url.startswith("sqlite:///")
    assert _roundtrip(sqlite_url) == [("Nguyễn Thị Mai Anh", "10A1"), ("Trần Quốc Bảo", "11C3")]
