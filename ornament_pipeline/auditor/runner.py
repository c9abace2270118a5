"""The auditor loop outside Dagster: raise alerts and deliver them, woken by `LISTEN change_events`.

`ornaments watch run` and `python -m ornament_pipeline.auditor` run it. It is safe to run beside the Dagster
sensors and to kill at any moment: all its state is in Postgres (see alerts.py and delivery.py).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from dataclasses import dataclass

import psycopg2
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ornament_pipeline.auditor.alerts import AlertBatch, raise_alerts
from ornament_pipeline.auditor.delivery import (
    DeliveryReport,
    RetryPolicy,
    WebhookConfig,
    channels_for,
    deliver_due,
    next_due_in,
)

log = logging.getLogger(__name__)
# How often an idle loop looks at its stop flag: SIGTERM ends `ornaments watch run` within about this long.
STOP_CHECK_SECONDS = 0.25


@dataclass
class LoopTotals:
    alerts: AlertBatch
    deliveries: DeliveryReport


def run_once(engine: Engine, webhook: WebhookConfig | None, policy: RetryPolicy, budget_seconds: float = 20.0,
             workers: int = 4, stop: threading.Event | None = None) -> LoopTotals:
    """Drain the change stream into alerts, then deliver what is due (bounded by `budget_seconds`; `stop`
    abandons the sends in flight)."""
    alerts = raise_alerts(engine, channels_for(webhook))
    deliveries = deliver_due(engine, webhook, policy, budget_seconds=budget_seconds, workers=workers, stop=stop)
    return LoopTotals(alerts, deliveries)


def _listen(engine: Engine) -> psycopg2.extensions.connection:
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    conn = psycopg2.connect(url.render_as_string(hide_password=False))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("LISTEN change_events")
    return conn


def run_forever(engine: Engine, webhook: WebhookConfig | None, policy: RetryPolicy, poll_seconds: float = 10.0,
                workers: int = 4, stop: threading.Event | None = None) -> None:
    """Loop until `stop` is set: work, then sleep until a NOTIFY, the next due retry, or `poll_seconds`.

    `stop` is honoured within about STOP_CHECK_SECONDS, mid-delivery too (the sends in flight are abandoned and
    their deliveries stay pending, due again at once)."""
    stop = stop or threading.Event()
    listener = _listen(engine)
    try:
        while not stop.is_set():
            totals = run_once(engine, webhook, policy, workers=workers, stop=stop)
            if totals.alerts.events or totals.deliveries.delivered or totals.deliveries.failed_attempts:
                log.info("read %d event(s), raised %d alert(s); delivered %d, %d failed attempt(s)",
                         totals.alerts.events, totals.alerts.alert_count, totals.deliveries.delivered,
                         totals.deliveries.failed_attempts)
            due = next_due_in(engine)
            # At least a moment: a due row locked by another worker must not make this loop spin.
            wait = max(poll_seconds if due is None else min(poll_seconds, due), 0.05)
            # The NOTIFY only says "look now"; the cursor, not the payload, decides what is read. Waited for in
            # slices: a signal handler setting `stop` does not cut a select short (it is resumed, PEP 475).
            until = time.monotonic() + wait
            while not stop.is_set() and (left := until - time.monotonic()) > 0:
                if select.select([listener], [], [], min(left, STOP_CHECK_SECONDS)) != ([], [], []):
                    listener.poll()
                    listener.notifies.clear()
                    break
    finally:
        listener.close()
