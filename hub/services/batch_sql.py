"""SQL for batches of requests, in as few statements and round trips as the database allows.

- :func:`among`: a list parameter with one SQL text whatever the list's length. An expanding
  ``IN (:a_1, :a_2, ...)`` makes a new text for every length; psycopg prepares a statement
  once it ran five times and keeps a hundred, so batches of every size filled that cache and
  each eviction cost a ``DEALLOCATE`` round trip. On PostgreSQL ``column = ANY(:list)`` with an
  array parameter is one text; elsewhere the expanding ``IN`` stays.
- :func:`read_together`: several reads sent at once (psycopg's pipeline mode): on PostgreSQL
  one round trip for all of them, and for the transaction's ``BEGIN`` when they open it.
- :func:`insert_rows`: an insert run for many rows, on PostgreSQL handed to psycopg as is
  (SQLAlchemy's per-execution work cost more than psycopg's).
- :func:`pipelined`: writes whose results nobody reads, sent with the ``COMMIT`` that ends
  their transaction in one round trip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import ColumnElement, Connection, Executable, Insert, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import Compiled

#: Statements compiled once per dialect (keyed by identity: the callers build them once).
_compiled: dict[tuple[int, str], tuple[Executable, Compiled]] = {}
_inserts: dict[tuple[int, str, tuple[str, ...]], tuple[Insert, str]] = {}


def among(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN :name`` for a list parameter ``name``, written for ``dialect``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


def read_together(connection: Connection,
                  *reads: tuple[Executable, Mapping[str, Any]]) -> list[Sequence[Any]]:
    """The rows of each ``(statement, parameters)``, in order; rows are read by column name.

    On PostgreSQL (psycopg) they go to the server in one pipeline: one round trip, the
    transaction's ``BEGIN`` included. Statements must take their lists through :func:`among`
    and need no result processing (psycopg returns dates, times and booleans itself)."""
    if not _pipelines(connection):
        return [connection.execute(statement, dict(params)).all() for statement, params in reads]
    driver = connection.connection.driver_connection
    queries = [(_compile(statement, connection), params) for statement, params in reads]
    with _wrapped_errors(connection), driver.pipeline():  # type: ignore[union-attr]
        cursors = [driver.cursor(row_factory=namedtuple_row)  # type: ignore[union-attr]
                   for _ in queries]
        for cursor, (compiled, params) in zip(cursors, queries, strict=True):
            cursor.execute(compiled.string, compiled.construct_params(params))
        return [cursor.fetchall() for cursor in cursors]


def insert_rows(connection: Connection, statement: Insert, rows: list[dict[str, Any]]) -> None:
    """Run the insert ``statement`` for each of ``rows`` (same keys each, every column the
    database does not default itself: Python-side defaults do not apply); nothing is read
    back, so it may run in :func:`pipelined`. On PostgreSQL the rows go straight to psycopg,
    the statement compiled once."""
    if not rows:
        return
    if not _pipelines(connection):
        connection.execute(statement, rows)
        return
    names = tuple(rows[0])
    key = (id(statement), connection.dialect.name, names)
    found = _inserts.get(key)
    if found is None or found[0] is not statement:
        sql = statement.compile(dialect=connection.dialect, column_keys=list(names)).string
        _inserts[key] = found = (statement, sql)
    driver = connection.connection.driver_connection
    with _wrapped_errors(connection):
        driver.cursor().executemany(found[1], rows)  # type: ignore[union-attr]


@contextlib.contextmanager
def pipelined(connection: Connection) -> Iterator[None]:
    """On PostgreSQL (psycopg), send what runs in the block, up to and including a commit, in
    one round trip. Only for statements whose results nobody reads (inserts without
    RETURNING, updates whose row count does not matter)."""
    if not _pipelines(connection):
        yield
        return
    with _wrapped_errors(connection), \
            connection.connection.driver_connection.pipeline():  # type: ignore[union-attr]
        yield


@contextlib.contextmanager
def _wrapped_errors(connection: Connection) -> Iterator[None]:
    """psycopg's errors as SQLAlchemy's (``OperationalError``, ``IntegrityError``...), as if
    SQLAlchemy had run the statement: callers handle one kind."""
    base = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        raise DBAPIError.instance(None, None, error, base) from error


def _pipelines(connection: Connection) -> bool:
    return connection.dialect.driver == "psycopg"


def _compile(statement: Executable, connection: Connection) -> Compiled:
    key = (id(statement), connection.dialect.name)
    found = _compiled.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=connection.dialect)  # type: ignore[attr-defined]
        _compiled[key] = found = (statement, compiled)
    return found[1]
