"""`api_keys` and `collectors`: create, list, revoke, look up by prefix, record last use."""

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
    collector_id: int | None = None   # set for `collector` keys: whose watches and destinations they manage
    collector: str | None = None      # that collector's name (not read by `key_by_prefix`)


_KEY_COLUMNS = "k.id, k.name, k.scope, k.prefix, k.key_hash, k.created_at, k.revoked_at, k.last_used_at, k.collector_id"
_COLUMNS = f"{_KEY_COLUMNS}, c.name AS collector"
_FROM = "api_keys k LEFT JOIN collectors c ON c.id = k.collector_id"


def collector_id(conn: Connection, name: str) -> int:
    """The id of the collector named `name`, created if it does not exist yet."""
    return conn.execute(text(
        "INSERT INTO collectors (name) VALUES (:name) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name"
        " RETURNING id"), {"name": name}).scalar_one()


def insert_key(conn: Connection, name: str, scope: str, prefix: str, key_hash: str,
               collector: int | None = None) -> StoredKey:
    try:
        with conn.begin_nested():
            key_id = conn.execute(
                text("INSERT INTO api_keys (name, scope, prefix, key_hash, collector_id)"
                     " VALUES (:name, :scope, :prefix, :hash, :collector) RETURNING id"),
                {"name": name, "scope": scope, "prefix": prefix, "hash": key_hash, "collector": collector},
            ).scalar_one()
    except IntegrityError as exc:
        if "api_keys_name_key" in str(exc.orig):
            raise KeyNameTaken(f"an API key named {name!r} exists already") from None
        raise
    return StoredKey(*conn.execute(text(f"SELECT {_COLUMNS} FROM {_FROM} WHERE k.id = :id"), {"id": key_id}).one())


def list_keys(conn: Connection) -> list[StoredKey]:
    return [StoredKey(*row) for row in conn.execute(text(f"SELECT {_COLUMNS} FROM {_FROM} ORDER BY k.name"))]


def revoke_key(conn: Connection, name: str) -> bool:
    """Revoke the named key; False when there is no active key of that name."""
    result = conn.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE name = :name AND revoked_at IS NULL"), {"name": name}
    )
    return result.rowcount == 1


def key_by_prefix(conn: Connection, prefix: str) -> StoredKey | None:
    # Every request's key check: the key's row alone (joining the collector's name doubled its cost).
    row = fetch_one(conn, f"SELECT {_KEY_COLUMNS} FROM api_keys k WHERE k.prefix = :prefix", {"prefix": prefix})
    return StoredKey(**row) if row else None


def collector_name(conn: Connection, collector: int) -> str:
    return conn.execute(text("SELECT name FROM collectors WHERE id = :id"), {"id": collector}).scalar_one()


def touch_key(conn: Connection, key_id: int) -> None:
    conn.execute(text("UPDATE api_keys SET last_used_at = now() WHERE id = :id"), {"id": key_id})
