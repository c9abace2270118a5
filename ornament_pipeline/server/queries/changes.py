"""`change_events`: the change feed, read by a (txid, id) cursor below the watermark.

Ids are handed out at INSERT, not at COMMIT, so an id-only cursor could pass over the events of a long merge
that commits after a shorter one. As the auditor does (ornament_pipeline/sql/migrations/0004_auditor.sql,
ornament_pipeline/auditor/alerts.py), the feed returns only events of transactions older than every
transaction of this database still running (the watermark), in (txid, id) order: that set never grows behind
a cursor, so a client that keeps `next_cursor` neither misses nor repeats an event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ornament_pipeline.server.queries.rows import fetch_dicts
from ornament_pipeline.warehouse.change_stream import stream_watermark

# Money goes out as a decimal string everywhere in the API; the events store it as a JSON number.
_MONEY_AS_TEXT = ("CASE WHEN e.{v} ? 'price' THEN e.{v} || jsonb_build_object('price',"
                  " (e.{v}->>'price')::numeric(12,2)::text) ELSE e.{v} END AS {v}")

_FEED = """
SELECT e.id, e.txid::text AS txid, e.product_id, p.vendor, p.name, e.history_id, e.kind, e.changed_fields,
       """ + _MONEY_AS_TEXT.format(v="old_values") + """, """ + _MONEY_AS_TEXT.format(v="new_values") + """,
       e.occurred_at, e.recorded_at
FROM change_events e JOIN products p ON p.id = e.product_id
WHERE (e.txid, e.id) > (CAST(:txid AS xid8), :after_id)
  AND e.txid < CAST(:watermark AS xid8)
  {filters}
ORDER BY e.txid, e.id
LIMIT :limit"""


def parse_feed_cursor(cursor: str | None) -> tuple[int, int]:
    """`"<txid>-<id>"` -> (txid, id); None -> the start. Raises ValueError when malformed."""
    if not cursor:
        return 0, 0
    txid, _, event_id = cursor.partition("-")
    # ASCII digits only: int() also reads "١" (Arabic-Indic one) and "+1", which this API never writes.
    if not all(part.isascii() and part.isdigit() for part in (txid, event_id)):
        raise ValueError(cursor)
    values = int(txid), int(event_id)
    if not all(0 <= v < 2**63 for v in values):
        raise ValueError(cursor)
    return values


def feed_cursor(txid: int | str, event_id: int) -> str:
    return f"{txid}-{event_id}"


def change_feed(conn: Connection, after: tuple[int, int], limit: int, product_id: int | None = None,
                kind: str | None = None, vendor: str | None = None) -> list[dict[str, Any]]:
    """Final events after the cursor, in (txid, id) order. Each row carries its `txid` (text) for the cursor."""
    watermark = stream_watermark(conn)
    conn.commit()  # the feed is read in a later snapshot than the watermark (see the auditor's note)
    params: dict[str, Any] = {"txid": str(after[0]), "after_id": after[1], "watermark": watermark, "limit": limit}
    filters = []
    for name, column, value in (("product_id", "e.product_id", product_id), ("kind", "e.kind", kind),
                                ("vendor", "p.vendor", vendor)):
        if value is not None:
            filters.append(f"AND {column} = :{name}")
            params[name] = value
    sql = _FEED.format(filters=" ".join(filters))
    return fetch_dicts(conn, sql, params)
