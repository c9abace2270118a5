"""Read rows as plain dicts straight from the driver's cursor.

The API's hot reads return a page of rows that go out as JSON at once; SQLAlchemy's Result and Row layers
cost more than the query itself on small queries (measured in benchmarks/api_bench.py), so reads take the
DBAPI cursor of the same pooled connection. SQL keeps SQLAlchemy's `:name` parameters, compiled once per
statement text to the driver's own style; values are always bound, never formatted into the text. Driver errors
come out as SQLAlchemy's, as from `conn.execute`: a dropped connection is invalidated and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


@lru_cache(maxsize=1024)
def _driver_sql(sql: str, dialect: Dialect) -> str:
    return str(text(sql).compile(dialect=dialect))


def fetch_dicts(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every row of `sql` as a dict keyed by column name, on `conn`'s connection (and transaction)."""
    dbapi_connection = conn.connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_driver_sql(sql, conn.dialect), params or {})
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    except conn.dialect.loaded_dbapi.Error as exc:
        dropped = conn.dialect.is_disconnect(exc, dbapi_connection.dbapi_connection, cursor)
        if dropped:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error,
                                  connection_invalidated=dropped, dialect=conn.dialect) from exc
    finally:
        if not cursor.closed:
            cursor.close()


def fetch_one(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    rows = fetch_dicts(conn, sql, params)
    return rows[0] if rows else None
