"""Alerts: read the change stream by cursor and turn events that match a watch into alerts, set-based.

One batch is one transaction: lock the cursor row, read the next events, insert their alerts (and one pending
delivery per channel), move the cursor. A crash anywhere rolls all of it back, so every event becomes alerts
exactly once; the unique idempotency key (watch, event, kind) guards the same thing a second time.

The stream is read in (txid, id) order, and only below the oldest transaction of this database still running
(the watermark): ids are assigned at insert, not at commit, so an id-only cursor could pass over the events of
a long merge that commits after a shorter one (see ornament_pipeline/sql/migrations/0004_auditor.sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from ornament_pipeline.warehouse.change_stream import stream_watermark

CURSOR_NAME = "alerts"
DEFAULT_BATCH = 5000

_ENSURE_CURSOR = "INSERT INTO auditor_cursors (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"

_LOCK_CURSOR = """
SELECT last_txid::text AS txid, last_event_id FROM auditor_cursors WHERE name = :name FOR UPDATE"""

# Only events of finished transactions, in (txid, id) order: that set never grows behind the cursor.
_READ_BATCH = """
CREATE TEMP TABLE alert_batch ON COMMIT DROP AS
SELECT e.id, e.txid, e.product_id, e.history_id, e.kind, e.occurred_at, p.vendor, p.vendor_id,
       e.new_values->>'item_number' AS item_number, e.new_values->>'condition' AS condition,
       e.new_values->>'name' AS name, e.new_values->>'link' AS link,
       (e.old_values->>'price')::numeric AS old_price, (e.new_values->>'price')::numeric AS new_price,
       e.old_values->>'availability' AS old_availability, e.new_values->>'availability' AS new_availability,
       COALESCE((e.old_values->>'is_delisted')::boolean, false) AS old_delisted,
       COALESCE((e.new_values->>'is_delisted')::boolean, false) AS new_delisted
FROM change_events e
JOIN products p ON p.id = e.product_id
WHERE (e.txid, e.id) > (CAST(:txid AS xid8), :event_id)
  AND e.txid < CAST(:watermark AS xid8)
ORDER BY e.txid, e.id
LIMIT :batch"""

# Each branch is one alert kind; the rules are spelled out in docs/auditor.md.
_RAISE = """
WITH matched AS (
    SELECT b.*, w.id AS watch_id, w.kinds, w.max_price, w.drop_percent, w.label,
           w.condition AS watch_condition, w.vendor AS watch_vendor,
           row_number() OVER (ORDER BY b.txid, b.id, w.id) AS seq
    FROM alert_batch b
    JOIN watches w ON w.item_number = b.item_number
                  AND (w.condition IS NULL OR w.condition = b.condition)
                  AND (w.vendor IS NULL OR w.vendor = b.vendor)
),
under_target AS (  -- a watch's max_price is a ceiling for every kind (price_drop uses it as its threshold)
    SELECT * FROM matched WHERE max_price IS NULL OR new_price <= max_price
),
raised AS (
    SELECT m.*, 'new_listing' AS alert_kind, NULL::numeric AS previous_low
    FROM under_target m
    -- 'identified': a listing first stored without its item number, now known: new to the item's watchers
    WHERE 'new_listing' = ANY(m.kinds) AND m.kind IN ('new', 'identified') AND NOT m.new_delisted
  UNION ALL
    SELECT m.*, 'back_in_stock', NULL
    FROM under_target m
    WHERE 'back_in_stock' = ANY(m.kinds) AND m.kind IN ('changed', 'relisted') AND NOT m.new_delisted
      AND m.new_availability = 'available' AND (m.old_availability IS DISTINCT FROM 'available' OR m.old_delisted)
  UNION ALL
    SELECT m.*, 'price_drop', NULL
    FROM matched m
    WHERE 'price_drop' = ANY(m.kinds) AND m.kind IN ('changed', 'relisted') AND NOT m.new_delisted
      AND m.new_price < m.old_price
      AND ((m.drop_percent IS NULL AND m.max_price IS NULL)
           OR (m.drop_percent IS NOT NULL AND (m.old_price - m.new_price) * 100 >= m.drop_percent * m.old_price)
           OR (m.max_price IS NOT NULL AND m.new_price <= m.max_price))
  UNION ALL
    SELECT m.*, 'all_time_low', low.previous_low
    FROM under_target m
    CROSS JOIN LATERAL (
        -- the lowest price any vendor offered this item (number and condition) in stock before this version
        SELECT min(h.price) AS previous_low
        FROM price_history h
        WHERE h.item_number = m.item_number AND h.condition IS NOT DISTINCT FROM m.condition
          AND h.price IS NOT NULL AND h.availability IN ('available', 'preorder') AND NOT h.is_delisted
          AND (h.valid_from, h.id) < (m.occurred_at, m.history_id)
    ) low
    WHERE 'all_time_low' = ANY(m.kinds) AND NOT m.new_delisted AND m.new_availability IN ('available', 'preorder')
      AND m.new_price < low.previous_low
),
keyed AS (
    SELECT r.*, 'w' || r.watch_id || '-e' || r.id || '-' || r.alert_kind AS idempotency_key FROM raised r
),
inserted AS (
    INSERT INTO alerts (idempotency_key, watch_id, event_id, product_id, kind, payload)
    SELECT k.idempotency_key, k.watch_id, k.id, k.product_id, k.alert_kind, jsonb_build_object(
        'idempotency_key', k.idempotency_key,
        'kind', k.alert_kind,
        'event', jsonb_build_object('id', k.id, 'kind', k.kind, 'occurred_at', k.occurred_at),
        'watch', jsonb_build_object('id', k.watch_id, 'item_number', k.item_number, 'label', k.label,
                                    'condition', k.watch_condition, 'vendor', k.watch_vendor,
                                    'max_price', k.max_price::text, 'drop_percent', k.drop_percent::text),
        'product', jsonb_build_object('id', k.product_id, 'vendor', k.vendor, 'vendor_id', k.vendor_id,
                                      'name', k.name, 'item_number', k.item_number, 'condition', k.condition,
                                      'link', k.link),
        'price', k.new_price::text, 'previous_price', k.old_price::text,
        'availability', k.new_availability, 'previous_availability', k.old_availability,
        'drop_percent', CASE WHEN k.alert_kind = 'price_drop'
                             THEN round((k.old_price - k.new_price) * 100 / k.old_price, 2)::text END,
        'previous_low', k.previous_low::text)
    FROM keyed k
    ORDER BY k.seq, array_position(ARRAY['price_drop', 'back_in_stock', 'new_listing', 'all_time_low'], k.alert_kind)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, kind, watch_id
),
owned AS (
    SELECT i.id, w.collector_id FROM inserted i JOIN watches w ON w.id = i.watch_id
),
queued AS (  -- the log always; the configured webhook for the operator's watches; a collector's verified destinations
    INSERT INTO alert_deliveries (alert_id, channel, destination_id)
    SELECT o.id, c.channel, NULL::bigint FROM owned o CROSS JOIN unnest(CAST(:channels AS text[])) AS c (channel)
    WHERE c.channel = 'log' OR o.collector_id IS NULL
    UNION ALL
    SELECT o.id, 'webhook', d.id FROM owned o
    JOIN alert_destinations d ON d.collector_id = o.collector_id AND d.verified_at IS NOT NULL AND d.deleted_at IS NULL
)
SELECT kind, count(*) AS n FROM inserted GROUP BY kind"""

_LAST_OF_BATCH = "SELECT txid::text, id FROM alert_batch ORDER BY txid DESC, id DESC LIMIT 1"

_MOVE_CURSOR = """
UPDATE auditor_cursors SET last_txid = CAST(:txid AS xid8), last_event_id = :event_id, updated_at = now()
WHERE name = :name"""


@dataclass
class AlertBatch:
    """What one or more batches read and raised."""

    events: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    cursor: str = ""

    @property
    def alert_count(self) -> int:
        return sum(self.alerts.values())

    def add(self, other: AlertBatch) -> None:
        self.events += other.events
        for kind, n in other.alerts.items():
            self.alerts[kind] = self.alerts.get(kind, 0) + n
        self.cursor = other.cursor or self.cursor


def raise_alerts_batch(conn: Connection, channels: Sequence[str], batch: int = DEFAULT_BATCH,
                       cursor_name: str = CURSOR_NAME) -> AlertBatch:
    """Read up to `batch` events after the cursor, raise their alerts, move the cursor; in the caller's transaction.

    `channels` are the deliveries queued per alert of an operator's watch (`log`, `webhook`); an alert of a
    collector's watch queues the log (when in `channels`) and one webhook delivery per verified destination of
    the collector, whether or not a webhook is configured."""
    conn.execute(text(_ENSURE_CURSOR), {"name": cursor_name})
    txid, event_id = conn.execute(text(_LOCK_CURSOR), {"name": cursor_name}).one()
    if conn.execute(text("SHOW transaction_isolation")).scalar_one() != "read committed":
        # The batch must be read with a newer snapshot than the watermark's (see stream_watermark).
        raise RuntimeError("raise_alerts_batch needs a READ COMMITTED transaction")
    watermark = stream_watermark(conn)
    conn.execute(text(_READ_BATCH), {"txid": txid, "event_id": event_id, "batch": batch, "watermark": watermark})
    last = conn.execute(text(_LAST_OF_BATCH)).first()
    if last is None:
        conn.execute(text("DROP TABLE alert_batch"))
        return AlertBatch(cursor=f"{txid}:{event_id}")
    events = conn.execute(text("SELECT count(*) FROM alert_batch")).scalar_one()
    raised = {kind: n for kind, n in conn.execute(text(_RAISE), {"channels": list(channels)}).all()}
    conn.execute(text(_MOVE_CURSOR), {"txid": last[0], "event_id": last[1], "name": cursor_name})
    conn.execute(text("DROP TABLE alert_batch"))
    return AlertBatch(events=events, alerts=raised, cursor=f"{last[0]}:{last[1]}")


def raise_alerts(engine: Engine, channels: Sequence[str], batch: int = DEFAULT_BATCH, max_batches: int | None = None,
                 cursor_name: str = CURSOR_NAME) -> AlertBatch:
    """Drain the stream: one transaction per batch until no finished event is left (or `max_batches`)."""
    total = AlertBatch()
    done = 0
    while max_batches is None or done < max_batches:
        with engine.begin() as conn:
            result = raise_alerts_batch(conn, channels, batch, cursor_name)
        total.add(result)
        done += 1
        if result.events < batch:
            break
    return total
