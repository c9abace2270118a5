"""Watches: which ornaments a collector wants alerts about. Plain functions for the CLI and the HTTP API.

Each function takes an `Engine` (it commits its own transaction) or a `Connection` (it runs inside the
caller's transaction; the caller commits). Bad input raises `WatchError` (a `ValueError`) with a message
meant for a person; an unknown id raises `WatchNotFound` (also a `WatchError`).

A watch has an owner: a collector (made with that collector's key), or none (the operator's: made with an admin
key or the CLI). Lookups take an `Owner`, whose watches the caller may see; another owner's watch is
`WatchNotFound`, exactly like a missing one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, text

from ornament_pipeline.vendors import VENDOR_KEYS

ALERT_KINDS: tuple[str, ...] = ("price_drop", "back_in_stock", "new_listing", "all_time_low")

# The shapes `integrations.normalise.split_sku` produces; a watch of any other shape could never match.
_ITEM_NUMBER = re.compile(r"^[A-Z]{1,4}\d{3,5}$")
_CONDITION = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")
_MAX_PRICE = Decimal("99999999.99")
_LABEL_MAX = 200


class WatchError(ValueError):
    """A watch request that cannot be honoured; the message says why, naming the field."""


class WatchNotFound(WatchError):
    """No watch has that id (that the caller may see)."""


@dataclass(frozen=True)
class Owner:
    """Whose watches (and destinations) a caller sees: everyone's, the operator's only (`collector_id` None), or
    one collector's."""

    collector_id: int | None
    everyone: bool = False

    def params(self) -> dict[str, object]:
        return {"owner": self.collector_id, "everyone": self.everyone}


EVERYONE = Owner(None, everyone=True)   # an admin key, the CLI
OPERATOR = Owner(None)                  # a read key: the operator's watches, never a collector's
# The owner test of every lookup, with `Owner.params()` bound.
OWNED = "(CAST(:everyone AS boolean) OR w.collector_id IS NOT DISTINCT FROM CAST(:owner AS bigint))"


@dataclass(frozen=True)
class Watch:
    id: int
    item_number: str
    condition: str | None
    vendor: str | None
    max_price: Decimal | None
    drop_percent: Decimal | None
    kinds: tuple[str, ...]
    label: str | None
    created_at: datetime
    collector_id: int | None = None   # the owner; None: the operator's
    owner: str | None = None          # the owner's name

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "item_number": self.item_number, "condition": self.condition, "vendor": self.vendor,
            "max_price": None if self.max_price is None else str(self.max_price),
            "drop_percent": None if self.drop_percent is None else str(self.drop_percent),
            "kinds": list(self.kinds), "label": self.label, "created_at": self.created_at.isoformat(),
            "owner": self.owner,
        }


_COLUMNS = ("w.id, w.item_number, w.condition, w.vendor, w.max_price, w.drop_percent, w.kinds, w.label,"
            " w.created_at, w.collector_id, c.name AS owner")
# `w` written by the statement in the CTE `w` (INSERT/DELETE ... RETURNING *), with its owner's name.
_WITH_OWNER = f"SELECT {_COLUMNS} FROM w LEFT JOIN collectors c ON c.id = w.collector_id"


def _row_to_watch(row: Any) -> Watch:
    return Watch(row.id, row.item_number, row.condition, row.vendor, row.max_price, row.drop_percent,
                 tuple(row.kinds), row.label, row.created_at, row.collector_id, row.owner)


@contextmanager
def _connection(bind: Connection | Engine) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        yield bind


def _decimal(value: Decimal | str | float | int | None, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        # str() first: Decimal(0.1) would carry the float's binary noise.
        number = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        raise WatchError(f"{field}: {value!r} is not a number") from None
    if not number.is_finite():
        raise WatchError(f"{field}: {value!r} is not a number")
    return number


def validate_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    """`"price_drop,back_in_stock"` or a list -> a tuple in canonical order; None -> every kind."""
    if kinds is None:
        return ALERT_KINDS
    items = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    wanted = {str(item).strip().lower() for item in items if str(item).strip()}
    unknown = sorted(wanted - set(ALERT_KINDS))
    if unknown:
        raise WatchError(f"kinds: unknown alert kind(s) {', '.join(unknown)};"
                         f" expected some of {', '.join(ALERT_KINDS)}")
    if not wanted:
        raise WatchError(f"kinds: name at least one of {', '.join(ALERT_KINDS)}")
    return tuple(kind for kind in ALERT_KINDS if kind in wanted)


def add_watch(
    bind: Connection | Engine,
    item_number: str,
    condition: str | None = None,
    vendor: str | None = None,
    max_price: Decimal | str | float | int | None = None,
    drop_percent: Decimal | str | float | int | None = None,
    kinds: str | Iterable[str] | None = None,
    label: str | None = None,
    collector_id: int | None = None,
) -> Watch:
    """Validate and store a watch (owned by `collector_id`, or the operator's); returns it with its id. Alerts
    start with the next unread change event."""
    item = (item_number or "").strip().upper()
    if not _ITEM_NUMBER.match(item):
        raise WatchError(f"item_number: {item_number!r} is not a Hallmark item number (like QX1571 or QXM4152)")
    cond = condition.strip().upper() if condition and condition.strip() else None
    if cond is not None and not _CONDITION.match(cond):
        raise WatchError(f"condition: {condition!r} is not a condition code (like MIB or NB)")
    vend = vendor.strip() if vendor and vendor.strip() else None
    if vend is not None and vend not in VENDOR_KEYS:
        raise WatchError(f"vendor: unknown vendor {vendor!r}; expected one of {', '.join(VENDOR_KEYS)}")
    price = _decimal(max_price, "max_price")
    if price is not None and not (0 < price <= _MAX_PRICE):
        raise WatchError(f"max_price: must be above 0 and at most {_MAX_PRICE}, got {max_price}")
    if price is not None and price != price.quantize(Decimal("0.01")):
        raise WatchError(f"max_price: at most two decimal places, got {max_price}")
    percent = _decimal(drop_percent, "drop_percent")
    if percent is not None and not (0 < percent <= 100):
        raise WatchError(f"drop_percent: must be above 0 and at most 100, got {drop_percent}")
    if percent is not None and percent != percent.quantize(Decimal("0.01")):
        raise WatchError(f"drop_percent: at most two decimal places, got {drop_percent}")
    alert_kinds = validate_kinds(kinds)
    note = label.strip() if label and label.strip() else None
    if note is not None and len(note) > _LABEL_MAX:
        raise WatchError(f"label: at most {_LABEL_MAX} characters, got {len(note)}")
    with _connection(bind) as conn:
        row = conn.execute(
            text(f"WITH w AS (INSERT INTO watches (item_number, condition, vendor, max_price, drop_percent, kinds,"
                 f" label, collector_id) VALUES (:item, :cond, :vendor, :price, :percent, :kinds, :label, :owner)"
                 f" RETURNING *) {_WITH_OWNER}"),
            {"item": item, "cond": cond, "vendor": vend, "price": price, "percent": percent,
             "kinds": list(alert_kinds), "label": note, "owner": collector_id},
        ).one()
    return _row_to_watch(row)


def list_watches(bind: Connection | Engine, item_number: str | None = None, *, after_id: int = 0,
                 limit: int | None = None, owner: Owner = EVERYONE) -> list[Watch]:
    """`owner`'s watches (all, or those of one item number) with an id above `after_id`, oldest first, at most
    `limit`."""
    sql = (f"SELECT {_COLUMNS} FROM watches w LEFT JOIN collectors c ON c.id = w.collector_id"
           f" WHERE w.id > :after_id AND {OWNED} AND (CAST(:item AS text) IS NULL OR w.item_number = :item)"
           f" ORDER BY w.id LIMIT :limit")
    item = item_number.strip().upper() if item_number and item_number.strip() else None
    with _connection(bind) as conn:
        rows = conn.execute(text(sql), {"after_id": after_id, "limit": limit, "item": item, **owner.params()}).all()
    return [_row_to_watch(row) for row in rows]


def get_watch(bind: Connection | Engine, watch_id: int | str, owner: Owner = EVERYONE) -> Watch:
    """One of `owner`'s watches by id; `WatchNotFound` when there is none."""
    with _connection(bind) as conn:
        row = conn.execute(text(f"SELECT {_COLUMNS} FROM watches w LEFT JOIN collectors c ON c.id = w.collector_id"
                                f" WHERE w.id = :id AND {OWNED}"),
                           {"id": _watch_id(watch_id), **owner.params()}).first()
    if row is None:
        raise WatchNotFound(f"no watch with id {watch_id}")
    return _row_to_watch(row)


def remove_watch(bind: Connection | Engine, watch_id: int | str, owner: Owner = EVERYONE) -> Watch:
    """Delete one of `owner`'s watches and return what it was. Alerts already raised stay (and are still
    delivered)."""
    with _connection(bind) as conn:
        row = conn.execute(text(f"WITH w AS (DELETE FROM watches w WHERE w.id = :id AND {OWNED} RETURNING *)"
                                f" {_WITH_OWNER}"),
                           {"id": _watch_id(watch_id), **owner.params()}).first()
    if row is None:
        raise WatchNotFound(f"no watch with id {watch_id}")
    return _row_to_watch(row)


@dataclass(frozen=True)
class RaisedAlert:
    """An alert a watch raised (the payload is what its deliveries carry)."""

    id: int
    kind: str
    created_at: datetime
    payload: dict[str, Any]


def watch_alerts(bind: Connection | Engine, watch_id: int | str, owner: Owner = EVERYONE, *,
                 before_id: int | None = None, limit: int = 100) -> list[RaisedAlert]:
    """The alerts one of `owner`'s watches raised, newest first, at most `limit` with ids below `before_id`;
    `WatchNotFound` when the watch is not one of `owner`'s (alerts of a removed watch have no watch)."""
    with _connection(bind) as conn:
        get_watch(conn, watch_id, owner)
        rows = conn.execute(text(
            "SELECT id, kind, created_at, payload FROM alerts WHERE watch_id = :id"
            " AND (CAST(:before AS bigint) IS NULL OR id < :before) ORDER BY id DESC LIMIT :limit"),
            {"id": _watch_id(watch_id), "before": before_id, "limit": limit}).all()
    return [RaisedAlert(row.id, row.kind, row.created_at, row.payload) for row in rows]


def _watch_id(watch_id: int | str) -> int:
    try:
        value = int(watch_id)
    except (TypeError, ValueError):
        raise WatchError(f"id: {watch_id!r} is not a watch id") from None
    if not 0 < value < 2**63:
        raise WatchNotFound(f"no watch with id {watch_id}")
    return value
