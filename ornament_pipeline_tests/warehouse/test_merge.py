"""The products merge and the SCD2 snapshot on real Postgres, with listings built in the test."""

from __future__ import annotations

import select
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import available_migrations, migrate
from ornament_pipeline.listing import Listing
from ornament_pipeline.server.queries.products import get_product
from ornament_pipeline.warehouse.products import MAX_PRICE, TEXT_LIMITS
from ornament_pipeline.warehouse.scrapes import apply_pending, merge_observation, record_scrape

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
        applied = merge_observation(conn, VENDOR, 2020, listings, at, complete=complete, tracked=tracked)
    return applied.products, applied.history


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
    before = products_state(engine), rows(engine, "SELECT count(*) FROM scrapes")
    changed = [replace(i, price=Decimal("1.00")) for i in day0()]
    with pytest.raises(DBAPIError), engine.begin() as conn:
        merge_observation(conn, VENDOR, 2020, changed, T0 + timedelta(1), complete=True, tracked=TRACKED)
        conn.execute(text("SELECT 1 / 0"))  # anything failing before the commit
    assert (products_state(engine), rows(engine, "SELECT count(*) FROM scrapes")) == before


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


def current_versions(engine: Engine) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(engine, (
        "SELECT p.vendor_id, h.sku, h.item_number, h.condition, h.price, h.availability, h.is_delisted"
        " FROM price_history h JOIN products p ON p.id = h.product_id WHERE h.valid_to IS NULL"))}


def product_rows(engine: Engine) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(engine, (
        "SELECT vendor_id, sku, item_number, condition, price, availability, delisted_at IS NOT NULL FROM products"))}


def test_identity_learned_later_reaches_history_and_the_stream_once(engine: Engine) -> None:
    """A first-seen listing whose product page failed is stored without SKU/item/condition; once its page is read,
    its current version carries the identity (an `identified` version and event), once."""
    anonymous = [replace(item, sku=None, item_number=None, condition=None) if item.vendor_id == "1004" else item
                 for item in day0()]
    sync(engine, anonymous, T0)
    assert current_versions(engine)["1004"][:3] == (None, None, None)
    _, history = sync(engine, day0(), T0 + timedelta(days=1))
    assert (history.identified, history.versions) == (1, 1)
    assert current_versions(engine) == product_rows(engine)
    assert rows(engine, "SELECT kind, changed_fields, new_values->>'item_number' FROM change_events"
                        " WHERE kind <> 'new'") == [("identified", ["sku", "item_number", "condition"], "QX6004")]
    _, history = sync(engine, anonymous, T0 + timedelta(days=2))  # the listing page alone again: identity stays
    assert history.versions == 0 and current_versions(engine) == product_rows(engine)


def test_an_observation_left_pending_by_a_kill_is_applied_before_a_newer_one(engine: Engine) -> None:
    """Killed after the scrape was recorded and before the merge; the site changes again before the rerun. The
    rerun applies both observations in order: the same history as two uninterrupted runs."""
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    back_in_stock = [replace(item, availability="unavailable") if item.vendor_id == "1002" else item for item in day0()]
    with engine.begin() as conn:  # day 1 scrape recorded; its run dies before the merge
        record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=t1, complete=True,
                      status="complete", listings=back_in_stock)
    _, history = sync(engine, day0(), t2)  # day 2: the rerun
    assert history.changed == 1  # only day 2's own change is returned for its scrape...
    assert rows(engine, "SELECT h.availability, h.valid_from, h.valid_to FROM price_history h JOIN products p"
                        " ON p.id = h.product_id WHERE p.vendor_id = '1002' ORDER BY h.valid_from") == [
        ("available", T0, t1), ("unavailable", t1, t2), ("available", t2, None)]  # ...but day 1 is in history
    assert rows(engine, "SELECT count(*) FROM scrapes WHERE applied_at IS NULL") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM scrape_listings") == [(0,)]


def test_an_older_observation_never_undoes_a_delisting(engine: Engine) -> None:
    """A scrape that started before a delisting and commits after it does not relist (or overwrite) anything."""
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    merged, _ = sync(engine, day0()[:-1], t2)  # 1019 gone at t2
    assert merged.delisted == 1
    older = [replace(item, price=item.price + 1) for item in day0()]  # observed at t1, committed after t2
    merged, history = sync(engine, older, t1)
    assert (merged.updated, merged.stale, history.versions) == (0, 20, 0)
    assert rows(engine, "SELECT delisted_at, written_at FROM products WHERE vendor_id = '1019'") == [(t2, t2)]
    assert rows(engine, "SELECT observed_at, confirmed_at FROM partition_watermarks") == [(t2, t2)]
    assert rows(engine, "SELECT count(*) FROM products WHERE price <> 10.95 + (vendor_id::int - 1000)") == [(0,)]
    assert rows(engine, "SELECT kind FROM change_events WHERE kind <> 'new'") == [("delisted",)]


def test_pending_observations_apply_in_observation_order_not_recording_order(engine: Engine) -> None:
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    with engine.begin() as conn:  # recorded out of order: the newer first
        for at, price in ((t2, "30.00"), (t1, "20.00")):
            record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=at, complete=True,
                          status="complete", listings=[replace(i, price=Decimal(price)) for i in day0()])
    with engine.begin() as conn:
        applied = apply_pending(conn, VENDOR, 2020, TRACKED)
    assert [a.observed_at for a in applied] == [t1, t2]
    assert rows(engine, "SELECT DISTINCT price FROM products") == [(Decimal("30.00"),)]
    assert rows(engine, "SELECT count(*) FROM price_history") == [(60,)]


BAD_VALUES = [
    ({"name": "Frosty\x00Friends"}, "name contains a NUL character"),
    ({"name": "   "}, "empty name"),
    ({"name": "x" * 501}, "name is 501 characters, over the column's 500"),
    ({"sku": "QX" + "1" * 63}, "sku is 65 characters, over the column's 64"),
    ({"condition": "MINT-IN-BOX-WITH-TAG"}, "condition is 20 characters, over the column's 16"),
    ({"brand": "b" * 201}, "brand is 201 characters, over the column's 200"),
    ({"price": MAX_PRICE + 1}, "price 100000000.99 is outside 0.01 .. 99999999.99"),
    ({"price": Decimal("24.999")}, "price 24.999 has more than two decimals"),
    ({"price": Decimal("NaN")}, "price Decimal('NaN') is not a finite decimal amount"),
    ({"price": Decimal("0")}, "price 0 is outside 0.01 .. 99999999.99"),
    ({"name": 2020}, "name is not text (int 2020)"),
    ({"availability": "in stock"}, "availability 'in stock' is not one of available, unavailable, preorder, unknown"),
    ({"link": "javascript:alert(1)"}, "link 'javascript:alert(1)' is not an http(s) address"),
    ({"release_year": 20200}, "release year 20200 is outside 1973 .. 2200"),
    ({"name": "\ud800 lone surrogate"}, "name is not valid Unicode text"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_VALUES)
def test_one_bad_listing_is_set_aside_and_the_rest_merges(engine: Engine, change: dict, reason: str) -> None:
    sync(engine, day0(), T0)
    listings = [replace(item, price=item.price + 1) for item in day0()]
    listings[4] = replace(listings[4], **change)
    with engine.begin() as conn:
        recorded = record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=T0 + timedelta(1),
                                 complete=True, status="complete", listings=listings)
        applied = apply_pending(conn, VENDOR, 2020, TRACKED)
    assert [(r.vendor_id, r.reason) for r in recorded.rejects] == [("1004", reason)]
    assert (applied[0].products.updated, applied[0].products.delisted) == (19, 0)  # seen, so not delisted
    assert rows(engine, "SELECT price, delisted_at FROM products WHERE vendor_id = '1004'"
                ) == [(Decimal("14.95"), None)]
    assert rows(engine, "SELECT vendor_id, reason FROM scrape_rejects") == [("1004", reason)]


def test_a_rejected_listing_without_an_id_blocks_delisting(engine: Engine) -> None:
    sync(engine, day0(), T0)
    listings = day0()[:-1] + [replace(day0()[-1], vendor_id="")]
    merged, _ = sync(engine, listings, T0 + timedelta(1))
    assert merged.delisted == 0 and "no usable id" in (merged.delisting_skipped or "")
    assert rows(engine, "SELECT count(*) FROM products WHERE delisted_at IS NOT NULL") == [(0,)]


def test_column_limits_are_the_schemas(engine: Engine) -> None:
    limits = dict(rows(engine, "SELECT column_name, character_maximum_length FROM information_schema.columns"
                               " WHERE table_name = 'products' AND character_maximum_length IS NOT NULL"))
    assert limits == TEXT_LIMITS
    staged = dict(rows(engine, "SELECT column_name, character_maximum_length FROM information_schema.columns"
                               " WHERE table_name = 'scrape_listings' AND character_maximum_length IS NOT NULL"))
    assert staged == TEXT_LIMITS


def test_a_held_back_listing_is_kept_aside_not_stored(engine: Engine) -> None:
    """A first-seen listing whose product page could not be read waits, named, for a scrape that can read it."""
    sync(engine, day0()[:-1], T0)
    newcomer = day0()[-1]
    with engine.begin() as conn:
        recorded = record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=T0 + timedelta(1),
                                 complete=True, status="complete", listings=day0()[:-1],
                                 held_back=[(newcomer, "product page of 1019: HTTP 503")])
        apply_pending(conn, VENDOR, 2020, TRACKED)
    assert [(r.vendor_id, r.kind) for r in recorded.held_back] == [("1019", "unidentified")]
    assert rows(engine, "SELECT count(*) FROM products WHERE vendor_id = '1019'") == [(0,)]
    assert rows(engine, "SELECT kind, vendor_id, reason FROM scrape_rejects") == [
        ("unidentified", "1019", "product page of 1019: HTTP 503")]


# ---- a resync writes only what changed; the observation time is kept per partition

RECORD_TABLES = ("products", "price_history", "change_events")


def rows_written_in(conn) -> dict[str, int]:
    """Rows this transaction inserted, updated or deleted per table, as Postgres counts them (the connection must be
    new: a backend's counts of earlier transactions may not have been flushed from these views yet)."""
    return dict(conn.execute(text(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
        " WHERE schemaname = 'public' AND relname = ANY(:tables)"), {"tables": list(RECORD_TABLES)}).all())


def resync_counting_writes(engine: Engine, listings: list[Listing], at: datetime, complete: bool = True):
    with create_engine(engine.url, poolclass=NullPool).begin() as conn:
        applied = merge_observation(conn, VENDOR, 2020, listings, at, complete=complete, tracked=TRACKED)
        return applied, rows_written_in(conn)


def last_synced_at(engine: Engine) -> dict[str, datetime]:
    """`last_synced_at` of every product as the API serves it."""
    with engine.connect() as conn:
        ids = dict(rows(engine, "SELECT vendor_id, id FROM products"))
        return {vendor_id: get_product(conn, product_id)["last_synced_at"] for vendor_id, product_id in ids.items()}


def test_a_no_change_resync_writes_no_products_or_history_rows(engine: Engine) -> None:
    sync(engine, day0(), T0)
    t1 = T0 + timedelta(days=1)
    applied, written = resync_counting_writes(engine, day0(), t1)
    assert written == {"products": 0, "price_history": 0, "change_events": 0}
    assert {k: applied.rows_written[k] for k in RECORD_TABLES} == written
    assert (applied.products.unchanged, applied.products.updated, applied.products.stale) == (20, 0, 0)
    # What users were told stays true: every listing was seen as it is by the day-1 scrape.
    assert set(last_synced_at(engine).values()) == {t1}


def test_a_resync_writes_exactly_the_changed_rows(engine: Engine) -> None:
    sync(engine, day0(), T0)
    t1 = T0 + timedelta(days=1)
    changed = day0()[:-1]  # 1019 delisted
    changed[3] = replace(changed[3], price=Decimal("99.00"))
    applied, written = resync_counting_writes(engine, changed, t1)
    # 1003 repriced and 1019 delisted: one products row each, a closed and an opened version each, an event each.
    assert written == {"products": 2, "price_history": 4, "change_events": 2}
    assert {k: applied.rows_written[k] for k in RECORD_TABLES} == written
    assert rows(engine, "SELECT vendor_id FROM products WHERE written_at = "
                        f"'{t1.isoformat()}' ORDER BY vendor_id") == [("1003",), ("1019",)]


def test_an_incomplete_scrape_does_not_claim_unchanged_listings_were_seen(engine: Engine) -> None:
    """`last_synced_at` of a listed product moves with a complete scrape of its partition or a change, not with a
    scrape whose other pages failed (it may not have seen the listing)."""
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    partial = day0()[:-5]
    partial[0] = replace(partial[0], price=Decimal("1.00"))
    _, written = resync_counting_writes(engine, partial, t1, complete=False)
    assert written["products"] == 1
    seen = last_synced_at(engine)
    assert seen["1000"] == t1 and {seen[v] for v in seen if v != "1000"} == {T0}
    sync(engine, day0()[:-1], t2)  # complete: 1019 delisted at t2, the rest seen at t2
    assert set(last_synced_at(engine).values()) == {t2}
    sync(engine, day0()[:-1], t2 + timedelta(days=1))
    assert last_synced_at(engine)["1019"] == t2  # a delisted listing was last seen before its delisting


def test_a_stale_observation_is_not_applied_even_where_it_changes_nothing_newer_wrote(engine: Engine) -> None:
    """The guard is the partition's watermark: an observation older than the last applied one is stale as a whole,
    also for listings the newer one left unwritten because they had not changed."""
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    sync(engine, day0(), t2)  # nothing changed at t2: no row written
    older = [replace(item, availability="unavailable") for item in day0()]  # observed at t1, committed after t2
    applied, written = resync_counting_writes(engine, older, t1)
    assert (applied.products.stale, applied.history.versions) == (20, 0)
    assert written == {"products": 0, "price_history": 0, "change_events": 0}
    assert rows(engine, "SELECT DISTINCT availability FROM products") == [("available",)]
    assert rows(engine, "SELECT observed_at, confirmed_at FROM partition_watermarks") == [(t2, t2)]
    assert rows(engine, "SELECT merge_summary->>'stale' FROM scrapes ORDER BY id DESC LIMIT 1") == [("20",)]


def test_a_listing_that_moved_year_is_not_overwritten_by_an_older_scrape_of_its_new_year(engine: Engine) -> None:
    """A listing stored under 2020 shows up in an older scrape of 2021 that commits after 2020's newer one."""
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    sync(engine, day0(), t2)
    with engine.begin() as conn:
        applied = merge_observation(conn, VENDOR, 2021, [replace(day0()[0], price=Decimal("5.00"))], t1,
                                    complete=True, tracked=TRACKED)
    assert (applied.products.stale, applied.products.updated, applied.history.versions) == (1, 0, 0)
    assert rows(engine, "SELECT price, partition_year FROM products WHERE vendor_id = '1000'") == [
        (Decimal("10.95"), 2020)]


def test_data_stored_before_the_watermarks_migrates_without_loss(new_db_url: str, tmp_path: Path) -> None:
    """A database at 0006 (every observation rewrote `last_synced_at`) keeps each row's time as `written_at`, gets
    its partitions' watermarks from its rows and applied scrapes, and the API shows the same `last_synced_at`."""
    for migration in available_migrations():
        if migration.version <= "0006":
            (tmp_path / migration.path.name).write_bytes(migration.path.read_bytes())
    migrate(new_db_url, tmp_path)
    engine = create_engine(sqlalchemy_url(new_db_url))
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    with engine.begin() as conn:
        # 2020: complete scrape at t1 (delisting ran: 1002 gone), then one at t2 whose pages partly failed.
        conn.execute(text(
            "INSERT INTO scrapes (vendor, partition_year, scope, observed_at, complete, status, applied_at,"
            " merge_summary) VALUES (:v, 2020, 'partition', :t1, true, 'complete', now(), CAST(:ran AS jsonb)),"
            " (:v, 2020, 'partition', :t2, false, 'incomplete', now(), CAST(:skipped AS jsonb))"),
            {"v": VENDOR, "t1": t1, "t2": t2, "ran": '{"delisting_skipped": null}',
             "skipped": '{"delisting_skipped": "some pages failed"}'})
        conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, name, availability, link, partition_year, last_synced_at,"
            " delisted_at) VALUES (:v, '1000', 'seen at t2', 'available', 'https://x/0', 2020, :t2, NULL),"
            " (:v, '1001', 'seen at t1', 'available', 'https://x/1', 2020, :t1, NULL),"
            " (:v, '1002', 'delisted at t1', 'available', 'https://x/2', 2020, :t1, :t1),"
            " (:v, '1003', 'no scrape recorded', 'available', 'https://x/3', 2019, :t0, NULL)"),
            {"v": VENDOR, "t0": T0, "t1": t1, "t2": t2})
    before = dict(rows(engine, "SELECT vendor_id, last_synced_at FROM products"))
    assert migrate(new_db_url)[0] == "0007_partition_watermarks"  # then the later ones
    assert dict(rows(engine, "SELECT vendor_id, written_at FROM products")) == before
    assert last_synced_at(engine) == before
    assert rows(engine, "SELECT partition_year, observed_at, confirmed_at FROM partition_watermarks"
                        " ORDER BY partition_year") == [(2019, T0, None), (2020, t2, t1)]
    # The migrated watermark guards as the rows did: an observation older than t2 is stale.
    with engine.begin() as conn:
        applied = merge_observation(conn, VENDOR, 2020, [listing(0, price="1.00")], t1 + timedelta(hours=1),
                                    complete=True, tracked=TRACKED)
    assert applied.products.stale == 1 and applied.history.versions == 0
    engine.dispose()


def test_a_field_switched_on_later_is_versioned_at_the_next_resync_of_unchanged_rows(engine: Engine) -> None:
    """The merge compares only rows it wrote while the tracked fields stay the same; when they change, the next
    merge compares the whole partition, so a rename stored earlier (name untracked then) gets its version."""
    sync(engine, day0(), T0)
    renamed = [replace(item, name=item.name + " (Club)") if item.vendor_id == "1002" else item for item in day0()]
    t1, t2, t3 = (T0 + timedelta(days=d) for d in (1, 2, 3))
    _, history = sync(engine, renamed, t1)
    assert history.versions == 0  # name not tracked: stored, no version
    with_name = ("price", "availability", "name")
    _, history = sync(engine, renamed, t2, tracked=with_name)  # nothing changed on the site
    assert (history.changed, history.versions) == (1, 1)
    assert rows(engine, "SELECT h.name, h.valid_from FROM price_history h JOIN products p ON p.id = h.product_id"
                        " WHERE p.vendor_id = '1002' AND h.valid_to IS NULL") == [("2020 Frosty Friends 2 (Club)", t2)]
    _, history = sync(engine, renamed, t3, tracked=with_name)
    assert history.versions == 0


def test_a_listing_that_moved_year_is_moved_by_a_newer_scrape_of_its_new_year(engine: Engine) -> None:
    """Found outside the partition being merged, a listing is still the same row: updated and moved, one version."""
    sync(engine, day0(), T0)
    t1 = T0 + timedelta(days=1)
    with engine.begin() as conn:
        applied = merge_observation(conn, VENDOR, 2021, [replace(day0()[0], price=Decimal("5.00"), release_year=2021)],
                                    t1, complete=True, tracked=TRACKED)
    assert (applied.products.new, applied.products.updated, applied.history.changed) == (0, 1, 1)
    assert rows(engine, "SELECT price, partition_year, written_at FROM products WHERE vendor_id = '1000'") == [
        (Decimal("5.00"), 2021, t1)]
    assert rows(engine, "SELECT count(*) FROM products") == [(20,)]
    merged, _ = sync(engine, day0()[1:], t1 + timedelta(hours=1))  # 2020 without it: not delisted from 2021
    assert (merged.delisted, merged.listed_before) == (0, 19)
    assert rows(engine, "SELECT delisted_at FROM products WHERE vendor_id = '1000'") == [(None,)]


def test_a_product_page_sync_updates_listings_of_any_year_and_stores_those_of_no_year(engine: Engine) -> None:
    """Scope 'products' (sync by id or query): year NULL, never delists; a stored listing is matched in whichever
    partition owns it (and stays there), and a listing of no known year is stored under the NULL partition and
    matched there the next time."""
    sync(engine, day0(), T0)
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    unknown_year = replace(listing(50, price="7.00"), release_year=None)
    with engine.begin() as conn:
        applied = merge_observation(conn, VENDOR, None, [replace(day0()[3], price=Decimal("99.00")), unknown_year],
                                    t1, complete=True, tracked=TRACKED, scope="products")
    assert (applied.products.new, applied.products.updated, applied.products.delisted) == (1, 1, 0)
    assert applied.products.delisting_skipped == "a product-page sync never delists"
    assert (applied.history.new, applied.history.changed) == (1, 1)
    assert rows(engine, "SELECT vendor_id, price, partition_year FROM products WHERE vendor_id IN ('1003', '1050')"
                        " ORDER BY vendor_id") == [("1003", Decimal("99.00"), 2020), ("1050", Decimal("7.00"), None)]
    with engine.begin() as conn:
        again = merge_observation(conn, VENDOR, None, [replace(unknown_year, price=Decimal("8.00"))], t2,
                                  complete=True, tracked=TRACKED, scope="products")
    assert (again.products.new, again.products.updated, again.history.changed) == (0, 1, 1)
    assert rows(engine, "SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL) FROM price_history") == [(23, 21)]


def test_listings_are_staged_only_into_a_pending_scrape(engine: Engine) -> None:
    """The staging check (once per statement) holds what the foreign key held, and refuses an applied scrape."""
    sync(engine, day0(), T0)
    stage = ("INSERT INTO scrape_listings (scrape_id, ordinal, vendor_id, name, availability, link, detail_read)"
             " VALUES (:id, 0, '1', 'x', 'available', 'https://www.ornament-shop.com/x/', false)")
    applied_id = rows(engine, "SELECT max(id) FROM scrapes")[0][0]
    for scrape_id in (applied_id, applied_id + 1000):
        with pytest.raises(DBAPIError, match=f"scrape_listings: scrape {scrape_id} does not exist or is already"
                                             " applied"), engine.begin() as conn:
            conn.execute(text(stage), {"id": scrape_id})
    with engine.begin() as conn:  # a scrape removed takes its staged listings with it
        recorded = record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=T0 + timedelta(1),
                                 complete=True, status="complete", listings=day0())
    assert rows(engine, "SELECT count(*) FROM scrape_listings") == [(20,)]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM scrapes WHERE id = :id"), {"id": recorded.scrape_id})
    assert rows(engine, "SELECT count(*) FROM scrape_listings") == [(0,)]


def test_listeners_are_woken_once_per_merge_with_its_newest_event(migrated_db_url: str, engine: Engine) -> None:
    import psycopg2

    listener = psycopg2.connect(migrated_db_url)
    listener.autocommit = True
    try:
        listener.cursor().execute("LISTEN change_events")
        sync(engine, day0(), T0)
        sync(engine, [replace(i, price=i.price + 1) if i.vendor_id in ("1001", "1002") else i for i in day0()],
             T0 + timedelta(days=1))
        deadline = time.monotonic() + 10  # delivered asynchronously: wait for two, then a moment for any more
        while len(listener.notifies) < 2 and time.monotonic() < deadline:
            select.select([listener], [], [], 0.2)
            listener.poll()
        time.sleep(0.3)
        listener.poll()
        newest = rows(engine, "SELECT max(id) FILTER (WHERE kind = 'new'), max(id) FROM change_events")[0]
        assert [n.payload for n in listener.notifies] == [str(newest[0]), str(newest[1])]  # 20 events, then 2
    finally:
        listener.close()
