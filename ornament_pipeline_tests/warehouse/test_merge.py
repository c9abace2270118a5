"""The products merge and the SCD2 snapshot on real Postgres, with listings built in the test."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.listing import Listing
from ornament_pipeline.warehouse.history import snapshot
from ornament_pipeline.warehouse.products import merge_partition

VENDOR = "ornament_shop_com"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
TRACKED = ("price", "availability")


def listing(n: int, price: str = "24.95", availability: str = "available", **extra: object) -> Listing:
    return Listing(vendor=VENDOR, vendor_id=str(1000 + n), name=f"2020 Frosty Friends {n}", availability=availability,
                   link=f"https://www.ornament-shop.com/p{n}/", price=Decimal(price), sku=f"QX{6000 + n}MIB",
                   item_number=f"QX{6000 + n}", condition="MIB", release_year=2020, **extra)


def day0() -> list[Listing]:
    return [listing(n, price=f"{10 + n}.95") for n in range(20)]


@pytest.fixture
def engine(migrated_db_url: str) -> Engine:
    return create_engine(sqlalchemy_url(migrated_db_url))


def sync(engine: Engine, listings: list[Listing], at: datetime, complete: bool = True, tracked=TRACKED):
    with engine.begin() as conn:
        merged = merge_partition(conn, VENDOR, 2020, listings, at, complete)
    with engine.begin() as conn:
        history = snapshot(conn, tracked, VENDOR, 2020)
    return merged, history


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def products_state(engine: Engine) -> list[tuple]:
    return rows(engine, "SELECT vendor_id, name, price, availability, sku, item_number, condition, link, release_year,"
                        " delisted_at FROM products ORDER BY vendor_id")


def test_first_sync_stores_every_listing_and_one_version_each(engine: Engine) -> None:
    merged, history = sync(engine, day0(), T0)
    assert (merged.seen, merged.new, merged.updated, merged.delisted) == (20, 20, 0, 0)
    assert history.new == 20 and history.versions == 20
    stored = products_state(engine)
    assert [(r[0], r[2], r[3], r[4]) for r in stored] == [
        (item.vendor_id, item.price, item.availability, item.sku) for item in sorted(day0(), key=lambda x: x.vendor_id)
    ]
    assert rows(engine, "SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL), min(valid_from) FROM price_history"
                ) == [(20, 20, T0)]
    assert rows(engine, "SELECT kind, count(*) FROM change_events GROUP BY kind") == [("new", 20)]


def test_resync_without_changes_changes_nothing(engine: Engine) -> None:
    sync(engine, day0(), T0)
    before = products_state(engine), rows(engine, "SELECT * FROM price_history ORDER BY id")
    merged, history = sync(engine, day0(), T0 + timedelta(days=1))
    assert (merged.new, merged.delisted, history.versions) == (0, 0, 0)
    assert (products_state(engine), rows(engine, "SELECT * FROM price_history ORDER BY id")) == before
    assert rows(engine, "SELECT count(*) FROM change_events") == [(20,)]


def test_changes_close_the_current_version_and_open_one(engine: Engine) -> None:
    sync(engine, day0(), T0)
    t1 = T0 + timedelta(days=1)
    changed = day0()
    changed[3] = replace(changed[3], price=Decimal("99.00"))
    changed[5] = replace(changed[5], availability="unavailable")
    changed[7] = replace(changed[7], name="renamed, but name is not tracked")
    _, history = sync(engine, changed, t1)
    assert (history.changed, history.versions) == (2, 2)
    versions = rows(engine, "SELECT p.vendor_id, h.price, h.availability, h.valid_from, h.valid_to FROM price_history h"
                            " JOIN products p ON p.id = h.product_id WHERE p.vendor_id IN ('1003', '1005')"
                            " ORDER BY p.vendor_id, h.valid_from")
    assert versions == [
        ("1003", Decimal("13.95"), "available", T0, t1), ("1003", Decimal("99.00"), "available", t1, None),
        ("1005", Decimal("15.95"), "available", T0, t1), ("1005", Decimal("15.95"), "unavailable", t1, None),
    ]
    events = rows(engine, "SELECT kind, changed_fields, old_values->>'price', new_values->>'price' FROM change_events"
                          " WHERE kind = 'changed' ORDER BY id")
    assert events == [("changed", ["price"], "13.95", "99.00"), ("changed", ["availability"], "15.95", "15.95")]
    assert rows(engine, "SELECT name FROM products WHERE vendor_id = '1007'") == [("renamed, but name is not tracked",)]


def test_complete_scrape_delists_and_relists(engine: Engine) -> None:
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    merged, history = sync(engine, day0()[:-1], t1)
    assert (merged.delisted, history.delisted) == (1, 1)
    assert rows(engine, "SELECT delisted_at FROM products WHERE vendor_id = '1019'") == [(t1,)]
    assert rows(engine, "SELECT is_delisted, valid_from FROM price_history h JOIN products p ON p.id = h.product_id"
                        " WHERE vendor_id = '1019' AND valid_to IS NULL") == [(True, t1)]
    merged, history = sync(engine, day0(), t2)
    assert (merged.delisted, history.relisted, history.versions) == (0, 1, 1)
    assert rows(engine, "SELECT kind FROM change_events ORDER BY id DESC LIMIT 2") == [("relisted",), ("delisted",)]


def test_partial_scrape_never_delists(engine: Engine) -> None:
    sync(engine, day0(), T0)
    merged, history = sync(engine, day0()[:-3], T0 + timedelta(days=1), complete=False)
    assert merged.delisted == 0 and merged.delisting_skipped.startswith("some pages failed")
    assert history.versions == 0
    assert rows(engine, "SELECT count(*) FROM products WHERE delisted_at IS NOT NULL") == [(0,)]


def test_sudden_fall_is_not_stored_as_delistings(engine: Engine) -> None:
    sync(engine, day0(), T0)
    merged, history = sync(engine, day0()[:10], T0 + timedelta(days=1))
    assert merged.suspicious_drop and merged.delisted == 0 and history.versions == 0


def test_switching_on_a_tracked_field_keeps_old_history(engine: Engine) -> None:
    sync(engine, day0(), T0)
    versions_sql = "SELECT id, name, price, valid_from, valid_to FROM price_history ORDER BY id"
    before = rows(engine, versions_sql)
    renamed = [replace(item, name=item.name + " (Club)") if item.vendor_id == "1002" else item for item in day0()]
    t1 = T0 + timedelta(days=1)
    _, history = sync(engine, renamed, t1, tracked=("price", "availability", "name"))
    assert history.changed == 1
    after = rows(engine, versions_sql)
    # Earlier versions are untouched, except that the renamed listing's version was closed at t1.
    closed = next(r for r in before if r[1] == "2020 Frosty Friends 2")
    assert [r for r in after[:20] if r not in before] == [closed[:4] + (t1,)]
    assert after[20][1:] == ("2020 Frosty Friends 2 (Club)", closed[2], t1, None)
    assert rows(engine, "SELECT changed_fields FROM change_events WHERE kind = 'changed'") == [(["name"],)]


def test_failed_merge_leaves_nothing_behind(engine: Engine) -> None:
    sync(engine, day0(), T0)
    before = products_state(engine)
    bad = day0() + [listing(99, availability="in stock")]  # violates the availability constraint
    with pytest.raises(IntegrityError), engine.begin() as conn:
        merge_partition(conn, VENDOR, 2020, [replace(i, price=Decimal("1.00")) for i in bad], T0 + timedelta(1), True)
    assert products_state(engine) == before


def test_concurrent_runs_of_one_partition_keep_one_current_version(engine: Engine) -> None:
    sync(engine, day0(), T0)
    changed = [replace(item, price=item.price + 1) for item in day0()]
    errors: list[BaseException] = []

    def run(at: datetime) -> None:
        try:
            sync(engine, changed, at)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(T0 + timedelta(hours=h),)) for h in (1, 1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert rows(engine, "SELECT count(*) FROM price_history WHERE valid_to IS NULL") == [(20,)]
    assert rows(engine, "SELECT count(*) FROM price_history") == [(40,)]  # one new version each, not three
