"""Adversarial tests of the set-based merge: concurrency, planner-hostile statistics, edge sequences.

Every check compares the database with a truth computed here in Python from the listings fed in."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, event, text

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.listing import Listing
from ornament_pipeline.warehouse.scrapes import apply_pending, merge_observation, record_scrape

VENDOR = "ornament_shop_com"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
TRACKED = ("price", "availability")
IDENTITY = ("sku", "item_number", "condition")
FIELDS = ("price", "availability", "name", "sku", "condition", "item_number", "link")


def listing(n: int, price: str = "24.95", availability: str = "available", **extra: object) -> Listing:
    return Listing(vendor=VENDOR, vendor_id=str(1000 + n), name=f"Frosty Friends {n}", availability=availability,
                   link=f"https://www.ornament-shop.com/p{n}/", price=Decimal(price), sku=f"QX{6000 + n}MIB",
                   item_number=f"QX{6000 + n}", condition="MIB", release_year=2020, **extra)


@pytest.fixture
def engine(migrated_db_url: str) -> Engine:
    return create_engine(sqlalchemy_url(migrated_db_url), pool_size=10)


def sync(engine: Engine, year: int | None, items: list[Listing], at: datetime, tracked=TRACKED,
         scope: str = "partition", complete: bool = True):
    with engine.begin() as conn:
        return merge_observation(conn, VENDOR, year, items, at, complete=complete, tracked=tracked, scope=scope)


def rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def check_invariants(engine: Engine, tracked=TRACKED) -> None:
    """One current version per product, agreeing with `products`; versions contiguous; one event per version."""
    assert rows(engine, "SELECT p.vendor_id FROM products p WHERE (SELECT count(*) FROM price_history h"
                        " WHERE h.product_id = p.id AND h.valid_to IS NULL) <> 1") == []
    compared = [*tracked, *(f for f in IDENTITY if f not in tracked)]
    mismatch = " OR ".join(f"h.{f} IS DISTINCT FROM p.{f}" for f in compared)
    assert rows(engine, "SELECT p.vendor_id FROM products p JOIN price_history h ON h.product_id = p.id"
                        f" AND h.valid_to IS NULL WHERE {mismatch} OR h.is_delisted <> (p.delisted_at IS NOT NULL)"
                ) == []
    assert rows(engine, "SELECT h.id FROM price_history h LEFT JOIN change_events e ON e.history_id = h.id"
                        " GROUP BY h.id HAVING count(e.id) <> 1") == []
    assert rows(engine, "SELECT a.id FROM price_history a JOIN LATERAL (SELECT b.valid_from FROM price_history b"
                        " WHERE b.product_id = a.product_id AND b.valid_from > a.valid_from ORDER BY b.valid_from"
                        " LIMIT 1) n ON true WHERE a.valid_to IS DISTINCT FROM n.valid_from") == []


def run_together(*targets: Callable[[], None]) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def stored(engine: Engine) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(engine, "SELECT vendor_id, price, availability, partition_year,"
                                              " delisted_at IS NOT NULL, written_at FROM products")}


# ---------------------------------------------------------------- 1. concurrency across partitions

def test_an_older_scrape_of_another_year_never_overwrites_what_a_concurrent_newer_scrape_saw(
        engine: Engine) -> None:
    """V (1000) is stored under 2021. Concurrently: 2020's scrape observed at t1 lists V (it moved there, at 5.00),
    2021's scrape observed at t2 > t1 lists V unchanged (10.00). Both merge before either commits. Applied in
    either order one after the other, V ends 10.00 under 2021 (2020's older scrape is stale for V). Truth: the
    newest observation of V (t2) says 10.00 under 2021."""
    sync(engine, 2021, [listing(0, price="10.00")], T0)
    sync(engine, 2020, [listing(n) for n in range(1, 6)], T0)
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    newer_merged, errors = threading.Event(), []

    def newer() -> None:  # 2021 at t2: merged, then committed once the older merge below has had its chance
        try:
            with engine.begin() as conn:
                merge_observation(conn, VENDOR, 2021, [listing(0, price="10.00")], t2, complete=True, tracked=TRACKED)
                newer_merged.set()
                time.sleep(1.0)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            newer_merged.set()

    def older() -> None:  # 2020 at t1, merged while 2021's merge is not committed
        newer_merged.wait(15)
        try:
            sync(engine, 2020, [listing(0, price="5.00")] + [listing(n) for n in range(1, 6)], t1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    run_together(newer, older)
    assert errors == []
    check_invariants(engine)
    price, _, year, delisted, written_at = stored(engine)["1000"]
    assert (price, year, delisted) == (Decimal("10.00"), 2021, False), f"written by the older t1 scrape: {written_at}"


def test_many_concurrent_rounds_of_two_years_sharing_a_listing(engine: Engine) -> None:
    """2020 and 2021 both list V every round with a new price (so both scrapes write V); random which is newer.
    After each round V holds the newer observation's values and partition; invariants hold throughout."""
    rng = random.Random(7)
    own = {2020: [listing(n) for n in range(1, 8)], 2021: [listing(n) for n in range(11, 18)]}
    errors: list[BaseException] = []
    for r in range(25):
        base = T0 + timedelta(hours=10 * r)
        times = {2020: base + timedelta(minutes=rng.randint(0, 59)), 2021: base + timedelta(minutes=rng.randint(0, 59))}
        if times[2020] == times[2021]:
            times[2021] += timedelta(seconds=1)
        prices = {y: f"{r + 1}.{y % 100:02d}" for y in (2020, 2021)}
        own = {y: [replace(i, price=i.price + Decimal("0.01")) if rng.random() < 0.3 else i for i in items]
               for y, items in own.items()}
        barrier = threading.Barrier(2, timeout=15)

        def run(year: int, barrier: threading.Barrier = barrier, prices: dict = prices, own: dict = own,
                times: dict = times) -> None:
            try:
                barrier.wait()
                sync(engine, year, [listing(0, price=prices[year])] + own[year], times[year])
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(y,)) for y in (2020, 2021)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == [], f"round {r}"
        newer = max(times, key=times.get)
        got = stored(engine)
        assert got["1000"][:3] == (Decimal(prices[newer]), "available", newer), f"round {r}: {times}"
        assert got["1000"][4] == times[newer]
        for y, items in own.items():
            for item in items:
                assert got[item.vendor_id][:4] == (item.price, "available", y, False), f"round {r}"
        check_invariants(engine)
    v_history = rows(engine, "SELECT h.price, h.valid_from FROM price_history h JOIN products p ON p.id ="
                             " h.product_id WHERE p.vendor_id = '1000' ORDER BY h.valid_from")
    assert all(a[1] < b[1] for a, b in zip(v_history, v_history[1:], strict=False))


# ---------------------------------------------------------------- 2. concurrency within one partition

def test_concurrent_merges_of_one_partition_with_overlapping_pending_scrapes(engine: Engine) -> None:
    """Scrapes of 2020 are recorded by several threads and applied by whoever gets the lock (each apply takes every
    pending scrape). Every version in history must be the state of one observation at its valid_from."""
    sync(engine, 2020, [listing(n, price=f"{10 + n}.00") for n in range(10)], T0)
    observations = {}
    for k in range(1, 13):
        items = [listing(n, price=f"{10 + n + k}.00", availability="unavailable" if (n + k) % 4 == 0 else "available")
                 for n in range(10)]
        observations[T0 + timedelta(minutes=k)] = items
    observations[T0] = [listing(n, price=f"{10 + n}.00") for n in range(10)]
    errors: list[BaseException] = []
    order = list(observations)[:-1]
    random.Random(3).shuffle(order)

    def run(ats: list[datetime]) -> None:
        try:
            for at in ats:
                with engine.begin() as conn:
                    record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=at, complete=True,
                                  status="complete", listings=observations[at])
                with engine.begin() as conn:
                    apply_pending(conn, VENDOR, 2020, TRACKED)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(order[i::4],)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert rows(engine, "SELECT count(*) FROM scrapes WHERE applied_at IS NULL") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM scrape_listings") == [(0,)]
    check_invariants(engine)
    watermark = rows(engine, "SELECT observed_at FROM partition_watermarks WHERE partition_year = 2020")[0][0]
    truth = {i.vendor_id: (i.price, i.availability) for i in observations[watermark]}
    assert {k: v[:2] for k, v in stored(engine).items()} == truth
    assert max(observations) >= watermark
    for vendor_id, price, availability, valid_from in rows(engine, (
            "SELECT p.vendor_id, h.price, h.availability, h.valid_from FROM price_history h"
            " JOIN products p ON p.id = h.product_id")):
        seen = {i.vendor_id: (i.price, i.availability) for i in observations[valid_from]}
        assert seen[vendor_id] == (price, availability), (vendor_id, valid_from)


# ---------------------------------------------------------------- 3. planner-hostile statistics

def _big(n: int, bump: int = 0) -> list[Listing]:
    return [replace(listing(k, price=f"{1 + (k + bump) % 900}.{bump % 100:02d}"), vendor_id=f"v{k:06d}")
            for k in range(n)]


@contextmanager
def executed_plans(engine: Engine) -> Iterator[list[dict]]:
    """The plan of every statement run on `engine` meanwhile, as Postgres executed it (auto_explain, with actual row
    counts; SQLAlchemy logs each NOTICE, so the plans are read from its log)."""
    plans: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if "Query Text" in message:
                plans.append(json.loads(message[message.index("{"):]))

    @event.listens_for(engine, "connect")
    def explain(dbapi_connection, _record) -> None:  # noqa: ANN001
        with dbapi_connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                           " SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off;"
                           " SET auto_explain.log_format = json; SET auto_explain.log_level = notice;"
                           " SET client_min_messages = notice")

    logger, handler = logging.getLogger("sqlalchemy.dialects.postgresql"), Collect()
    level, logger.level = logger.level, logging.INFO
    logger.addHandler(handler)
    engine.dispose()
    try:
        yield plans
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        event.remove(engine, "connect", explain)
        engine.dispose()


def rows_handled(node: dict) -> int:
    """Rows a plan node and its children produced or discarded, over all their loops."""
    own = (node.get("Actual Rows", 0) * node.get("Actual Loops", 1) + node.get("Rows Removed by Filter", 0)
           + node.get("Rows Removed by Join Filter", 0))
    return own + sum(rows_handled(child) for child in node.get("Plans", []))


def test_merge_after_statistics_of_empty_tables_is_right_and_handles_each_row_a_bounded_number_of_times(
        migrated_db_url: str) -> None:
    """Statistics taken while the tables were (nearly) empty, then a partition of 4,000 listings arrives, then every
    price changes. Each statement of both merges handles each listing a bounded number of times: a nested loop over
    the partition's rows, or over two intermediate results, would handle 4,000 x 4,000."""
    n = 4000
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    with engine.begin() as conn:
        for table in ("products", "price_history", "scrape_listings", "change_events", "scrapes"):
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
    sync(engine, 2020, [listing(0)], T0)
    with engine.begin() as conn:
        for table in ("products", "price_history", "scrape_listings", "change_events", "scrapes"):
            conn.execute(text(f"ANALYZE {table}"))
    with executed_plans(engine) as plans:
        first = sync(engine, 2020, _big(n), T0 + timedelta(hours=1))
        resync = sync(engine, 2020, _big(n, bump=1), T0 + timedelta(hours=2))  # every price changes
    assert (first.products.new, first.products.delisted, first.history.new) == (n, 1, n)
    assert (resync.products.updated, resync.history.changed) == (n, n)
    truth = {i.vendor_id: i.price for i in _big(n, bump=1)}
    assert dict(rows(engine, "SELECT vendor_id, price FROM products WHERE delisted_at IS NULL")) == truth
    check_invariants(engine)
    handled = [(" ".join(plan["Query Text"].split()[:4]), rows_handled(plan["Plan"])) for plan in plans]
    assert len(handled) >= 10 and max(count for _, count in handled) >= n  # the plans were read
    assert [(query, count) for query, count in handled if count > 25 * n] == []


# ---------------------------------------------------------------- 4. edge sequences, one at a time

def test_duplicate_vendor_ids_in_one_scrape_first_by_ordinal_wins(engine: Engine) -> None:
    items = [listing(5, price="9.00"), listing(1, price="1.00"), listing(5, price="7.00"), listing(1, price="2.00"),
             listing(3), listing(5, price="8.00")]
    applied = sync(engine, 2020, items, T0)
    assert (applied.products.seen, applied.products.new, applied.history.new) == (3, 3, 3)
    assert {k: v[0] for k, v in stored(engine).items()} == {"1005": Decimal("9.00"), "1001": Decimal("1.00"),
                                                           "1003": Decimal("24.95")}
    applied = sync(engine, 2020, list(reversed(items)), T0 + timedelta(hours=1))
    assert {k: v[0] for k, v in stored(engine).items()} == {"1005": Decimal("8.00"), "1001": Decimal("2.00"),
                                                           "1003": Decimal("24.95")}
    assert applied.history.changed == 2 and check_invariants(engine) is None


def test_a_mixed_sequence_of_years_product_pages_moves_identity_and_tracked_switches(engine: Engine) -> None:
    t = [T0 + timedelta(hours=h) for h in range(10)]
    anonymous = replace(listing(7), sku=None, item_number=None, condition=None)
    sync(engine, 2020, [listing(n) for n in range(10) if n != 7] + [anonymous], t[0])
    page = sync(engine, None, [listing(3, price="30.00"), replace(listing(50, price="7.00"), release_year=None)],
                t[1], scope="products")
    assert (page.products.new, page.products.updated, page.history.new, page.history.changed) == (1, 1, 1, 1)
    assert stored(engine)["1003"][:3] == (Decimal("30.00"), "available", 2020)
    gone = sync(engine, 2020, [listing(n) for n in range(10) if n != 5], t[2])  # 1005 delisted, 1007 identified
    assert (gone.products.delisted, gone.history.delisted, gone.history.identified) == (1, 1, 1)
    assert (gone.products.updated, gone.history.changed) == (2, 1)  # 1003 back to 24.95; 1007's identity
    moved = sync(engine, 2021, [replace(listing(5, price="55.00"), release_year=2021)], t[3])
    assert (moved.history.relisted, moved.products.updated) == (1, 1)
    stale = sync(engine, 2020, [listing(n, price="1.00") for n in range(10)], t[2] - timedelta(minutes=30))
    assert (stale.products.stale, stale.products.updated, stale.history.versions) == (10, 0, 0)
    same_id_no_year = sync(engine, None, [replace(listing(50, price="7.00"), release_year=None)], t[4],
                           scope="products")
    assert same_id_no_year.history.versions == 0
    renamed = [replace(listing(n), name=f"Renamed {n}") for n in range(10) if n != 5]
    quiet = sync(engine, 2020, renamed, t[5])  # name not tracked: written, no version
    assert (quiet.products.updated, quiet.history.versions) == (9, 0)
    switched = sync(engine, 2020, renamed, t[6], tracked=("price", "name"))  # now tracked: 9 name versions
    assert switched.history.changed == 9
    check_invariants(engine, tracked=("price", "name"))
    truth = {**{str(1000 + n): (Decimal("24.95"), "available", 2020, False) for n in range(10) if n != 5},
             "1005": (Decimal("55.00"), "available", 2021, False), "1050": (Decimal("7.00"), "available", None, False)}
    assert {k: v[:4] for k, v in stored(engine).items()} == truth
    kinds = rows(engine, "SELECT p.vendor_id, e.kind FROM change_events e JOIN products p ON p.id = e.product_id"
                         " WHERE e.kind <> 'new' ORDER BY e.id")
    assert sorted(kinds[:5]) == sorted([("1003", "changed"), ("1003", "changed"), ("1005", "delisted"),
                                        ("1007", "identified"), ("1005", "relisted")])
    assert sum(1 for k in kinds if k[1] == "changed") == 2 + 9


# ---------------------------------------------------------------- 5. several pending scrapes in one apply

def expected_versions(observations: list[tuple[datetime, list[Listing]]], tracked=TRACKED) -> dict[str, list]:
    """The versions each listing should have: a new one whenever its tracked/identity values or listed state
    differ from the previous observation's (complete scrapes of one partition, applied in time order)."""
    compared = [*tracked, *(f for f in IDENTITY if f not in tracked)]
    versions: dict[str, list] = {}
    state: dict[str, tuple] = {}
    for at, items in sorted(observations, key=lambda o: o[0]):
        seen: dict[str, Listing] = {}
        for item in items:
            seen.setdefault(item.vendor_id, item)
        for vendor_id in set(state) | set(seen):
            if vendor_id in seen:
                new = (*(getattr(seen[vendor_id], f) for f in compared), False)
            else:
                new = (*state[vendor_id][:-1], True)
            if state.get(vendor_id) != new:
                versions.setdefault(vendor_id, []).append((at, new)); state[vendor_id] = new  # noqa: E702
    return versions


def test_several_pending_scrapes_applied_in_one_call_match_the_truth(engine: Engine) -> None:
    base = [listing(n, price=f"{10 + n}.00") for n in range(12)]
    obs = [(T0, base)]
    obs.append((T0 + timedelta(hours=1), [replace(i, price=i.price + 1) if int(i.vendor_id) % 2 else i for i in base]))
    obs.append((T0 + timedelta(hours=2), [i for i in obs[-1][1] if i.vendor_id != "1004"]))  # 1004 delisted
    obs.append((T0 + timedelta(hours=3), obs[-1][1] + [listing(40), listing(4, price="99.00")]))  # relisted, new
    obs.append((T0 + timedelta(hours=4), [replace(i, availability="unavailable") if i.vendor_id < "1003" else i
                                          for i in obs[-1][1]]))
    obs.append((T0 + timedelta(hours=5), obs[1][1]))  # back to hour 1's page (1040 delisted, 1004 back)
    with engine.begin() as conn:
        for at, items in reversed(obs):  # recorded newest first
            record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=at, complete=True,
                          status="complete", listings=items)
        applied = apply_pending(conn, VENDOR, 2020, TRACKED)
    assert [a.observed_at for a in applied] == [o[0] for o in obs]
    check_invariants(engine)
    truth = expected_versions(obs)
    got: dict[str, list] = {}
    for vendor_id, valid_from, *values in rows(engine, (
            "SELECT p.vendor_id, h.valid_from, h.price, h.availability, h.sku, h.item_number, h.condition,"
            " h.is_delisted FROM price_history h JOIN products p ON p.id = h.product_id ORDER BY h.valid_from")):
        got.setdefault(vendor_id, []).append((valid_from, tuple(values)))
    assert got == truth
    assert sum(a.history.versions for a in applied) == sum(len(v) for v in truth.values())


# ---------------------------------------------------------------- 6. the per-statement staging check, the snapshot

def test_listings_cannot_be_staged_into_a_scrape_being_applied_concurrently(engine: Engine) -> None:
    """0010 promises listings are staged only into a pending scrape. A transaction stages into scrape S while
    another has applied S (marked applied, listings deleted) and not yet committed."""
    with engine.begin() as conn:
        recorded = record_scrape(conn, vendor=VENDOR, year=2020, scope="partition", observed_at=T0, complete=True,
                                 status="complete", listings=[listing(0)])
    stage = ("INSERT INTO scrape_listings (scrape_id, ordinal, vendor_id, name, availability, link, detail_read)"
             " VALUES (:id, 1, '1999', 'x', 'available', 'https://www.ornament-shop.com/x/', false)")
    outcome: list[str] = []

    def stage_meanwhile() -> None:
        with engine.connect() as stager:
            try:
                with stager.begin():
                    stager.execute(text(stage), {"id": recorded.scrape_id})
                outcome.append("staged")
            except Exception as exc:  # noqa: BLE001
                outcome.append(str(exc).splitlines()[0])

    with engine.connect() as applier:
        applier.begin()
        apply_pending(applier, VENDOR, 2020, TRACKED)  # marked applied, listings deleted, not committed yet
        stager = threading.Thread(target=stage_meanwhile)
        stager.start()
        time.sleep(0.5)  # the stager now waits on the scrape row (or has already staged)
        applier.commit()
    stager.join(10)
    orphans = rows(engine, "SELECT l.vendor_id FROM scrape_listings l JOIN scrapes s ON s.id = l.scrape_id"
                           " WHERE s.applied_at IS NOT NULL")
    assert orphans == [], f"{outcome}: listings of an applied scrape, never to be read"
    assert "does not exist or is already applied" in outcome[0]


def test_a_product_page_sync_and_a_partition_resync_versioning_one_listing_at_once(engine: Engine) -> None:
    """Name switched on as tracked: a product-page sync (NULL year) and a whole-partition resync of 2020 both find
    1000's renamed name unversioned and close its current version concurrently (different partition locks)."""
    sync(engine, 2020, [listing(n) for n in range(6)], T0)
    renamed = [replace(listing(n), name=f"Renamed {n}") for n in range(6)]
    sync(engine, 2020, renamed, T0 + timedelta(hours=1))  # name untracked: written, no version
    tracked, first_done, errors = ("price", "name"), threading.Event(), []

    def page() -> None:
        try:
            with engine.begin() as conn:
                merge_observation(conn, VENDOR, None, renamed[:1], T0 + timedelta(hours=2), complete=True,
                                  tracked=tracked, scope="products")
                first_done.set()
                time.sleep(1)  # the resync below now waits on this transaction's new version of 1000
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            first_done.set()

    def resync() -> None:
        first_done.wait(10)
        try:
            sync(engine, 2020, renamed, T0 + timedelta(hours=3), tracked=tracked)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    run_together(page, resync)
    assert [str(e).splitlines()[0] for e in errors] == []
    check_invariants(engine, tracked=tracked)
    assert rows(engine, "SELECT count(*) FROM price_history h JOIN products p ON p.id = h.product_id"
                        " WHERE h.valid_to IS NULL AND h.name LIKE 'Renamed %'") == [(6,)]
