"""One writer per partition: merges of the same vendor-year serialise on a transaction-scoped advisory lock."""

from __future__ import annotations

from sqlalchemy import Connection, text


def lock_partition(conn: Connection, vendor: str, year: int | None) -> None:
    """Block until no other transaction holds this partition; released at commit or rollback."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('ornaments'), hashtext(:key))"),
        {"key": f"{vendor}|{year if year is not None else '*'}"},
    )
