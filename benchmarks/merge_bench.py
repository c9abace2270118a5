"""Merge 50,000 listings with 2% changed into a warm history: set-based (ours) vs row by row, same run.

    python benchmarks/merge_bench.py [--listings 50000] [--changed 0.02] [--admin-url postgresql://...]

Both start from the same warm database (cloned with CREATE DATABASE ... TEMPLATE) and must end with the same
history; the figures are wall-clock seconds on this machine and their ratio. Then each side resyncs the same
listings again (nothing changed) and prints the rows it wrote per table, counted by Postgres itself
(`pg_stat_xact_user_tables`: tuples inserted + updated + deleted in each merge transaction).
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import drop_database, migrate
from ornament_pipeline.listing import Listing
from ornament_pipeline.warehouse.scrapes import merge_observation

VENDOR = "hookedonhallmark_com"
YEARS = list(range(1973, 2027))
T0 = datetime(2026, 11, 1, tzinfo=UTC)
TRACKED = ("price", "availability")


def make_listings(count: int, seed: int = 7) -> list[Listing]:
    rng = random.Random(seed)
    return [
        Listing(vendor=VENDOR, vendor_id=str(100000 + n), name=f"{YEARS[n % len(YEARS)]} Ornament {n}",
                link=f"https://www.hookedonhallmark.com/Ornament-{n}_p_{100000 + n}.html",
                availability=rng.choice(("available", "available", "unavailable")),
                price=Decimal(rng.randint(500, 40000)) / 100, sku=f"QX{1000 + n % 9000}MIB",
                item_number=f"QX{1000 + n % 9000}", condition="MIB", release_year=YEARS[n % len(YEARS)])
        for n in range(count)
    ]


def change(listings: list[Listing], share: float, seed: int = 11) -> list[Listing]:
    rng = random.Random(seed)
    picked = set(rng.sample(range(len(listings)), int(len(listings) * share)))
    return [replace(item, price=item.price + Decimal("1.00")) if n in picked else item
            for n, item in enumerate(listings)]


def by_year(listings: list[Listing]) -> dict[int, list[Listing]]:
    groups: dict[int, list[Listing]] = {}
    for item in listings:
        groups.setdefault(item.release_year, []).append(item)
    return groups


RECORD_TABLES = ("products", "price_history", "change_events", "partition_watermarks")
WritesByTable = dict[str, int]

_WRITES_IN_TRANSACTION = """
SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables
WHERE schemaname = 'public' AND relname = ANY(:tables)"""


def _count_writes(conn: Connection, into: WritesByTable) -> None:
    """Add the rows this transaction wrote so far to each table of the record (on a new connection: a backend's
    counts of earlier transactions may not have been flushed from this view yet)."""
    for table, written in conn.execute(text(_WRITES_IN_TRANSACTION), {"tables": list(RECORD_TABLES)}):
        into[table] = into.get(table, 0) + written


def _engine(url: str, count_writes: bool) -> Engine:
    """Pooled for timing; a new connection per transaction when counting its writes."""
    return create_engine(sqlalchemy_url(url), **({"poolclass": NullPool} if count_writes else {}))


def set_based(url: str, listings: list[Listing], at: datetime, count_writes: bool = False) -> WritesByTable:
    engine = _engine(url, count_writes)
    writes: WritesByTable = {}
    for year, group in by_year(listings).items():
        with engine.begin() as conn:
            merge_observation(conn, VENDOR, year, group, at, complete=True, tracked=TRACKED)
            if count_writes:
                _count_writes(conn, writes)
    engine.dispose()
    return writes


def _row_by_row_one(conn: Connection, item: Listing, year: int, at: datetime) -> None:
    params = {"vendor": VENDOR, "vid": item.vendor_id, "at": at, "price": item.price, "av": item.availability,
              "name": item.name, "link": item.link, "year": year}
    product_id = conn.execute(text("SELECT id FROM products WHERE vendor = :vendor AND vendor_id = :vid"),
                              params).scalar()
    if product_id is None:
        product_id = conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, name, price, availability, link, partition_year,"
            " written_at) VALUES (:vendor, :vid, :name, :price, :av, :link, :year, :at) RETURNING id"),
            params).scalar_one()
    else:
        conn.execute(text("UPDATE products SET price = :price, availability = :av, name = :name,"
                          " written_at = :at WHERE id = :pid"), {**params, "pid": product_id})
    current = conn.execute(text("SELECT id, price, availability FROM price_history"
                                " WHERE product_id = :pid AND valid_to IS NULL"), {"pid": product_id}).first()
    if current is not None and (current.price, current.availability) == (item.price, item.availability):
        return
    if current is not None:
        conn.execute(text("UPDATE price_history SET valid_to = :at WHERE id = :hid"), {"at": at, "hid": current.id})
    history_id = conn.execute(text(
        "INSERT INTO price_history (product_id, price, availability, name, link, valid_from)"
        " VALUES (:pid, :price, :av, :name, :link, :at) RETURNING id"), {**params, "pid": product_id}).scalar_one()
    conn.execute(text(
        "INSERT INTO change_events (product_id, history_id, kind, new_values, occurred_at)"
        " VALUES (:pid, :hid, :kind, '{}'::jsonb, :at)"),
        {"pid": product_id, "hid": history_id, "kind": "new" if current is None else "changed", "at": at})


def row_by_row(url: str, listings: list[Listing], at: datetime, count_writes: bool = False) -> WritesByTable:
    """The baseline: one round trip per statement per listing (the 2020 code's shape), one transaction per year."""
    engine = _engine(url, count_writes)
    writes: WritesByTable = {}
    for year, group in by_year(listings).items():
        with engine.begin() as conn:
            for item in group:
                _row_by_row_one(conn, item, year, at)
            if count_writes:
                _count_writes(conn, writes)
    engine.dispose()
    return writes


def shown(writes: WritesByTable) -> str:
    return ", ".join(f"{table} {writes.get(table, 0):,}" for table in RECORD_TABLES)


def versions(url: str) -> tuple[int, int]:
    with create_engine(sqlalchemy_url(url)).connect() as conn:
        return tuple(conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL) FROM price_history")).one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.02)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    base = make_url(args.admin_url)
    names = {k: f"ornaments_bench_{k}_{uuid.uuid4().hex[:6]}" for k in ("warm", "ours", "baseline")}
    urls = {k: base.set(database=v).render_as_string(hide_password=False) for k, v in names.items()}
    admin = psycopg2.connect(args.admin_url)
    admin.autocommit = True
    try:
        day0 = make_listings(args.listings)
        day1 = change(day0, args.changed)
        migrate(urls["warm"])
        set_based(urls["warm"], day0, T0)
        create_engine(sqlalchemy_url(urls["warm"])).dispose()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (names["warm"],))
            for key in ("ours", "baseline"):
                cur.execute(f'CREATE DATABASE "{names[key]}" TEMPLATE "{names["warm"]}"')
        timings = {}
        for key, merge in (("ours", set_based), ("baseline", row_by_row)):
            start = time.perf_counter()
            merge(urls[key], day1, T0 + timedelta(days=1))
            timings[key] = time.perf_counter() - start
        results = {key: versions(urls[key]) for key in ("ours", "baseline")}
        assert results["ours"] == results["baseline"], results
        changed = results["ours"][0] - args.listings
        print(f"listings={args.listings} changed={changed} ({args.changed:.0%}) partitions={len(YEARS)}")
        print(f"set-based (ours):  {timings['ours']:.2f} s  ({args.listings / timings['ours']:,.0f} listings/s)")
        rate = args.listings / timings['baseline']
        print(f"row by row:        {timings['baseline']:.2f} s  ({rate:,.0f} listings/s)")
        print(f"ratio: row by row takes {timings['baseline'] / timings['ours']:.1f}x as long")
        resync = {key: merge(urls[key], day1, T0 + timedelta(days=2), count_writes=True)
                  for key, merge in (("ours", set_based), ("baseline", row_by_row))}
        assert versions(urls["ours"]) == versions(urls["baseline"]) == results["ours"]
        print("rows written by a no-change resync of the same listings:")
        print(f"  set-based (ours): {shown(resync['ours'])}")
        print(f"  row by row:       {shown(resync['baseline'])}")
    finally:
        admin.close()
        for database_url in urls.values():
            drop_database(database_url)


if __name__ == "__main__":
    main()
