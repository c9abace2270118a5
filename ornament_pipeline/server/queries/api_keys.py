"""`api_keys`: create, list, revoke, look up by prefix, record last use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ornament_pipeline.server.queries.rows import fetch_one


class KeyNameTaken(ValueError):
    """An API key of that name exists already (revoked keys keep their name)."""


@dataclass(frozen=True)
class StoredKey:
    id: int
    name: str
    scope: str
    prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


_COLUMNS = "id, name, scope, prefix, key_hash, created_at, revoked_at, last_used_at"


def insert_key(conn: Connection, name: str, scope: str, prefix: str, key_hash: str) -> StoredKey:
    try:
        with conn.begin_nested():
            row = conn.execute(
                text(f"INSERT INTO api_keys (name, scope, prefix, key_hash) VALUES (:name, :scope, :prefix, :hash)"
                     f" RETURNING {_COLUMNS}"),
                {"name": name, "scope": scope, "prefix": prefix, "hash": key_hash},
            ).one()
    except IntegrityError as exc:
        if "api_keys_name_key" in str(exc.orig):
            raise KeyNameTaken(f"an API key named {name!r} exists already") from None
        raise
    return StoredKey(*row)


def list_keys(conn: Connection) -> list[StoredKey]:
    return [StoredKey(*row) for row in conn.execute(text(f"SELECT {_COLUMNS} FROM api_keys ORDER BY name"))]


def revoke_key(conn: Connection, name: str) -> bool:
    """Revoke the named key; False when there is no active key of that name."""
    result = conn.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE name = :name AND revoked_at IS NULL"), {"name": name}
    )
    return result.rowcount == 1


def key_by_prefix(conn: Connection, prefix: str) -> StoredKey | None:
    row = fetch_one(conn, f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = :prefix", {"prefix": prefix})
    return StoredKey(**row) if row else None


def touch_key(conn: Connection, key_id: int) -> None:
    conn.execute(text("UPDATE api_keys SET last_used_at = now() WHERE id = :id"), {"id": key_id})
