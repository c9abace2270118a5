"""`alert_destinations`: the webhook URLs collectors register; create, list, look up, record a test, remove.

Every lookup takes an `Owner` (auditor.watches): another collector's destination is not found, like a missing one.
A removed destination keeps its row (its deliveries refer to it) and is found by nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ornament_pipeline.auditor.delivery import DESTINATION_REMOVED
from ornament_pipeline.auditor.watches import OWNED as _OWNED
from ornament_pipeline.auditor.watches import Owner


@dataclass(frozen=True)
class Destination:
    id: int
    collector_id: int
    owner: str
    url: str
    label: str | None
    created_at: datetime
    verified_at: datetime | None
    last_checked_at: datetime | None
    last_check_status: int | None
    last_check_error: str | None

    @property
    def status(self) -> str:
        """`verified` (alerts go to it), `failed` (its last test got no 2xx) or `pending` (not tested yet)."""
        if self.verified_at is not None:
            return "verified"
        return "failed" if self.last_checked_at is not None else "pending"


_COLUMNS = ("w.id, w.collector_id, c.name AS owner, w.url, w.label, w.created_at, w.verified_at,"
            " w.last_checked_at, w.last_check_status, w.last_check_error")
_FROM = "alert_destinations w JOIN collectors c ON c.id = w.collector_id"


def _one(conn: Connection, sql: str, params: dict[str, object]) -> Destination | None:
    row = conn.execute(text(sql), params).first()
    return Destination(*row) if row else None


class DestinationExists(ValueError):
    """The collector has a destination with that URL already."""


def insert_destination(conn: Connection, collector_id: int, url: str, secret: str, label: str | None) -> int:
    try:
        return conn.execute(text(
            "INSERT INTO alert_destinations (collector_id, url, secret, label)"
            " VALUES (:owner, :url, :secret, :label) RETURNING id"),
            {"owner": collector_id, "url": url, "secret": secret, "label": label}).scalar_one()
    except IntegrityError as exc:   # (in a transaction, the caller's is aborted: it raises on too)
        if "alert_destinations_collector_url_key" in str(exc.orig):
            raise DestinationExists(f"url: {url!r} is one of your destinations already") from None
        raise


def list_destinations(conn: Connection, owner: Owner, *, after_id: int = 0, limit: int = 1000) -> list[Destination]:
    rows = conn.execute(text(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE w.deleted_at IS NULL AND {_OWNED} AND w.id > :after_id"
        f" ORDER BY w.id LIMIT :limit"), {"after_id": after_id, "limit": limit, **owner.params()}).all()
    return [Destination(*row) for row in rows]


def get_destination(conn: Connection, destination_id: int, owner: Owner) -> Destination | None:
    return _one(conn, f"SELECT {_COLUMNS} FROM {_FROM} WHERE w.id = :id AND w.deleted_at IS NULL AND {_OWNED}",
                {"id": destination_id, **owner.params()})


def destination_secret(conn: Connection, destination_id: int) -> str:
    return conn.execute(text("SELECT secret FROM alert_destinations WHERE id = :id"),
                        {"id": destination_id}).scalar_one()


def record_check(conn: Connection, destination_id: int, verified: bool, status_code: int | None,
                 error: str | None) -> Destination | None:
    """The outcome of a test delivery: a 2xx verifies the destination (for good); a failure is shown, and leaves
    a destination verified earlier verified. None when it was removed meanwhile."""
    return _one(conn, f"""
        WITH w AS (
            UPDATE alert_destinations
            SET last_checked_at = now(), last_check_status = :status, last_check_error = :error,
                verified_at = CASE WHEN :verified THEN COALESCE(verified_at, now()) ELSE verified_at END
            WHERE id = :id AND deleted_at IS NULL
            RETURNING *
        )
        SELECT {_COLUMNS} FROM w JOIN collectors c ON c.id = w.collector_id""",
                {"id": destination_id, "verified": verified, "status": status_code, "error": error})


def remove_destination(conn: Connection, destination_id: int, owner: Owner) -> Destination | None:
    """Remove one of `owner`'s destinations: nothing more is sent to it, and its pending deliveries end as
    `failed` ("the destination was removed"); delivered ones stay on record. None when it is not `owner`'s."""
    removed = _one(conn, f"""
        WITH w AS (
            UPDATE alert_destinations w SET deleted_at = now()
            WHERE w.id = :id AND w.deleted_at IS NULL AND {_OWNED}
            RETURNING *
        )
        SELECT {_COLUMNS} FROM w JOIN collectors c ON c.id = w.collector_id""",
                   {"id": destination_id, **owner.params()})
    if removed is not None:
        conn.execute(text(
            "UPDATE alert_deliveries SET status = 'failed', last_error = :reason"
            " WHERE destination_id = :id AND status = 'pending'"),
            {"id": destination_id, "reason": DESTINATION_REMOVED})
    return removed
