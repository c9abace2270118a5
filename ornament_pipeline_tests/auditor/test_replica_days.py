"""A sequence of replica days through merge, history, alerts and webhook: exactly the expected events and alerts.

The expectation is computed here, independently, from the replica's truth of consecutive days (no browser:
the scrape itself is tested elsewhere; `test_pipeline_sensor.py` drives the Dagster assets)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import RetryPolicy, deliver_due, make_webhook
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.listing import Listing
from ornament_pipeline.replica import truth
from ornament_pipeline.replica.catalogue import DEFAULT_SEED
from ornament_pipeline.vendors import VENDOR_KEYS
from ornament_pipeline.warehouse.products import MIN_SHARE_BEFORE_DELISTING
from ornament_pipeline_tests.auditor.conftest import SECRET, T0, rows, sync
from ornament_pipeline_tests.auditor.receiver import Receiver

DAYS = (0, 1, 2, 50, 100)   # consecutive days, then jumps long enough for delistings and relistings
BASE_URLS = {vendor: f"http://127.0.0.1:{8701 + n}" for n, vendor in enumerate(VENDOR_KEYS)}


@dataclass
class State:
    price: Decimal | None
    availability: str
    listed: bool


class Oracle:
    """What the auditor must produce, from the truth alone: change events and (for all-kind watches) alerts."""

    def __init__(self, watched: set[str]) -> None:
        self.watched = watched
        self.state: dict[tuple[str, str], State] = {}
        self.partition_of: dict[tuple[str, str], tuple[str, int]] = {}
        self.item_of: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self.low: dict[tuple[str | None, str | None], Decimal] = {}   # lowest in-stock price so far
        self.events: Counter = Counter()
        self.alerts: Counter = Counter()

    def partition(self, day: int, vendor: str, year: int, listings: list[Listing]) -> None:
        keys = {(vendor, x.vendor_id) for x in listings}
        before = [k for k, p in self.partition_of.items() if p == (vendor, year) and self.state[k].listed]
        changes: list[tuple[tuple[str, str], str, State | None, State]] = []
        for x in listings:
            key, new = (vendor, x.vendor_id), State(x.price, x.availability, True)
            self.partition_of[key], self.item_of[key] = (vendor, year), (x.item_number, x.condition)
            old = self.state.get(key)
            if old is None:
                changes.append((key, "new", None, new))
            elif not old.listed:
                changes.append((key, "relisted", old, new))
            elif (old.price, old.availability) != (new.price, new.availability):
                changes.append((key, "changed", old, new))
        if not (before and len(listings) < MIN_SHARE_BEFORE_DELISTING * len(before)):
            for key in before:
                if key not in keys:
                    old = self.state[key]
                    changes.append((key, "delisted", old, State(old.price, old.availability, False)))
        for key, kind, old, new in changes:
            self.events[(*key, day, kind)] += 1
            self.state[key] = new
            for alert in self.rules(key, kind, old, new):
                self.alerts[(*key, day, alert)] += 1
        for key, _, _, new in changes:   # versions of this partition count for later partitions
            if new.listed and new.price is not None and new.availability != "unavailable":
                item = self.item_of[key]
                self.low[item] = min(self.low.get(item, new.price), new.price)

    def rules(self, key: tuple[str, str], kind: str, old: State | None, new: State) -> list[str]:
        out: list[str] = []
        if self.item_of[key][0] not in self.watched:
            return out
        if kind in ("changed", "relisted") and old and old.price and new.price and new.price < old.price:
            out.append("price_drop")
        if kind in ("changed", "relisted") and new.availability == "available" and (
                old.availability != "available" or not old.listed):
            out.append("back_in_stock")
        if kind == "new":
            out.append("new_listing")
        low = self.low.get(self.item_of[key])
        if (kind != "delisted" and new.availability != "unavailable" and new.price is not None and low is not None
                and new.price < low):
            out.append("all_time_low")
        return out


def test_replica_days_yield_exactly_the_expected_events_alerts_and_deliveries(
        engine: Engine, receiver: Receiver) -> None:
    day0 = truth("small", 0, DEFAULT_SEED, BASE_URLS)
    items = sorted({x.item_number for x in day0 if x.item_number})
    for item in items:
        add_watch(engine, item)
    # The all-time-low expectation assumes one listing per item and condition within a partition.
    assert len({(x.vendor, x.release_year, x.item_number, x.condition) for x in day0}) == len(day0)

    oracle = Oracle(set(items))   # items that appear later are not watched
    webhook = make_webhook(receiver.url, SECRET)
    for day in DAYS:
        listings = truth("small", day, DEFAULT_SEED, BASE_URLS)
        partitions = sorted({(x.vendor, x.release_year) for x in listings})
        for n, (vendor, year) in enumerate(partitions):
            part = [x for x in listings if (x.vendor, x.release_year) == (vendor, year)]
            sync(engine, vendor, part, T0 + timedelta(days=day, seconds=n), year=year)
            oracle.partition(day, vendor, year, part)
        raise_alerts(engine, ["webhook"], batch=500)   # small batches: several cursor moves per day
        deliver_due(engine, webhook, RetryPolicy(backoff_seconds=0.1), workers=8)

    events = Counter(tuple(r) for r in rows(engine, """
        SELECT p.vendor, p.vendor_id, (extract(day FROM e.occurred_at - :t0))::int, e.kind
        FROM change_events e JOIN products p ON p.id = e.product_id""", t0=T0))
    assert events == oracle.events
    assert {kind for *_, kind in oracle.events} == {"new", "changed", "delisted", "relisted"}, "a varied sequence"

    alerts = Counter(tuple(r) for r in rows(engine, """
        SELECT p.vendor, p.vendor_id, (extract(day FROM e.occurred_at - :t0))::int, a.kind
        FROM alerts a JOIN change_events e ON e.id = a.event_id JOIN products p ON p.id = a.product_id""", t0=T0))
    assert alerts == oracle.alerts
    assert {kind for *_, kind in alerts} == {"price_drop", "back_in_stock", "new_listing", "all_time_low"}

    deadline = time.monotonic() + 20
    while rows(engine, "SELECT count(*) FROM alert_deliveries WHERE status <> 'delivered'") != [(0,)]:
        assert time.monotonic() < deadline
        deliver_due(engine, webhook, RetryPolicy(backoff_seconds=0.1), workers=8)
    keys = [key for (key,) in rows(engine, "SELECT idempotency_key FROM alerts")]
    assert Counter(receiver.keys("accepted")) == Counter(keys) and len(receiver.received) == len(keys)
