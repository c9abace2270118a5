"""Materialize vendor-year partitions of the small replica in process and compare the warehouse with its truth."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.definitions import defs
from ornament_pipeline.integrations import robots
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import partition_key
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import pipeline_instance

pytestmark = pytest.mark.browser

ASSETS = SYNC_ASSETS
FIELDS = ("vendor", "vendor_id", "sku", "item_number", "condition", "name", "price", "availability", "brand",
          "release_year", "link")
PARTITIONS = [("hookedonhallmark_com", 2020), ("ornament_shop_com", 2020), ("hallmark_ornaments_com", 2020),
              ("hookedonhallmark_com", 1990)]


def materialize(resources: dict, vendor: str, year: int, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    return dg.materialize(ASSETS, partition_key=partition_key(vendor, year), resources=resources,
                          instance=instance, raise_on_error=False)


def materialized(result: dg.ExecuteInJobResult, asset: str) -> dg.AssetMaterialization:
    """The run's (only) materialization of `asset` (one step writes all three sync assets)."""
    found = [m for m in result.get_asset_materialization_events()
             if m.asset_key == dg.AssetKey(asset)]
    assert len(found) == 1, (asset, found)
    return found[0].event_specific_data.materialization  # type: ignore[union-attr]


def stored(url: str, vendor: str, year: int) -> dict[str, tuple]:
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(FIELDS)} FROM products WHERE vendor = :v AND partition_year = :y"
                                 " AND delisted_at IS NULL"), {"v": vendor, "y": year}).all()
    return {row.vendor_id: tuple(row) for row in rows}


def truth(replica: ReplicaHandle, vendor: str, year: int) -> dict[str, tuple]:
    return {item.vendor_id: tuple(getattr(item, f) for f in FIELDS) for item in replica.truth(vendor, year)}


def history_counts(url: str) -> dict[str, int]:
    with create_engine(sqlalchemy_url(url)).connect() as conn:
        rows = conn.execute(text("SELECT p.vendor, p.vendor_id, count(*) FROM price_history h JOIN products p"
                                 " ON p.id = h.product_id GROUP BY p.vendor, p.vendor_id")).all()
    return {(vendor, vendor_id): count for vendor, vendor_id, count in rows}


def test_definitions_graph_loads() -> None:
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {
        "vendor_listings", "products", "price_history", "cross_vendor_offers", "market_prices"}
    assert defs.resolve_job_def("sync_vendor_year").partitions_def is not None
    repository = defs.get_repository_def()
    assert {s.name for s in repository.schedule_defs} == {"daily_recent_years", "weekly_all_partitions"}
    assert {s.name for s in repository.sensor_defs} >= {"new_year_links", "retry_failed_partitions", "offers_refresh"}
    assert repository.get_sensor_def("offers_refresh").default_status == dg.DefaultSensorStatus.RUNNING


def test_partitions_match_truth_and_history_tracks_the_clock(
    replica: ReplicaHandle, resources: dict, migrated_db_url: str
) -> None:
    instance = pipeline_instance()
    for vendor, year in PARTITIONS:
        result = materialize(resources, vendor, year, instance)
        assert result.success, (vendor, year)
        expected = truth(replica, vendor, year)
        assert expected, f"the small replica should list something for {vendor} {year}"
        assert stored(migrated_db_url, vendor, year) == expected, (vendor, year)

    before = history_counts(migrated_db_url)
    assert set(before.values()) == {1}

    # Same site state: a second materialization changes nothing.
    assert materialize(resources, *PARTITIONS[0], instance).success
    assert history_counts(migrated_db_url) == before

    # Later: exactly one new version for each listing whose price or stock moved, none for the rest.
    day0 = {(v, y): truth(replica, v, y) for v, y in PARTITIONS}
    replica.set_day(6)  # several days at once: each listing still gets at most one new version
    for vendor, year in PARTITIONS:
        assert materialize(resources, vendor, year, instance).success
        assert stored(migrated_db_url, vendor, year) == truth(replica, vendor, year), (vendor, year)
    after = history_counts(migrated_db_url)
    day1 = {(v, y): truth(replica, v, y) for v, y in PARTITIONS}
    moved = set()
    for vendor, year in PARTITIONS:
        for vid, row in day0[vendor, year].items():
            new = day1[vendor, year].get(vid)
            if new is None or (new[6], new[7]) != (row[6], row[7]):
                moved.add((vendor, vid))  # price or stock changed, or delisted
    new_listings = {(v, vid) for v, y in PARTITIONS for vid in day1[v, y].keys() - day0[v, y].keys()}
    assert moved, "the replica clock should move some prices or stock in a day"
    for key, count in after.items():
        expected = 1 if key in new_listings else before[key] + (1 if key in moved else 0)
        assert count == expected, key


def test_vendor_without_a_year_page_is_an_empty_success(resources: dict, migrated_db_url: str) -> None:
    # The small replica has no 1973 ornaments at ornament_shop_com.
    result = materialize(resources, "ornament_shop_com", 1973, pipeline_instance())
    assert result.success
    materialization = materialized(result, "vendor_listings")
    assert materialization.metadata["status"].value == "vendor has no page for this year"
    assert materialization.metadata["listings"].value == 0


def test_failed_pages_never_delist(replica: ReplicaHandle, resources: dict, migrated_db_url: str) -> None:
    instance = pipeline_instance()
    vendor, year = "ornament_shop_com", 2020
    assert materialize(resources, vendor, year, instance).success
    listed = stored(migrated_db_url, vendor, year)
    # Every listing page after the first is now off limits (robots.txt), so the scrape is partial.
    replica.set_faults("ornament_shop_com:robots=/2020-hallmark-ornaments/?page=")
    robots._cache.clear()  # robots.txt is read once an hour per process; this test cannot wait
    result = materialize(resources, vendor, year, instance)
    check = result.get_asset_check_evaluations()
    complete = next(c for c in check if c.check_name == "scrape_complete")
    assert not complete.passed and "page" in complete.metadata["pages"].value
    assert stored(migrated_db_url, vendor, year) == listed  # nobody delisted
    with create_engine(sqlalchemy_url(migrated_db_url)).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM change_events WHERE kind = 'delisted'")).scalar_one() == 0


def test_offers_compare_vendors(replica: ReplicaHandle, resources: dict, migrated_db_url: str) -> None:
    instance = pipeline_instance()
    for vendor in ("hookedonhallmark_com", "ornament_shop_com", "hallmark_ornaments_com"):
        assert materialize(resources, vendor, 2020, instance).success
    from ornament_pipeline.pipeline.assets import cross_vendor_offers

    assert dg.materialize([cross_vendor_offers], resources=resources, instance=instance).success
    with create_engine(sqlalchemy_url(migrated_db_url)).connect() as conn:
        rows = conn.execute(text("SELECT item_number, condition, vendor, price, availability, cheapest_in_condition"
                                 " FROM cross_vendor_offers")).all()
    truth_rows = [i for v in ("hookedonhallmark_com", "ornament_shop_com", "hallmark_ornaments_com")
                  for i in replica.truth(v, 2020) if i.item_number]
    assert len(rows) == len(truth_rows)
    groups: dict[tuple, list] = {}
    for item in truth_rows:
        groups.setdefault((item.item_number, item.condition or ""), []).append(item)
    cheapest = {r.item_number + "/" + r.condition: r.price for r in rows if r.cheapest_in_condition}
    for (item_number, condition), items in groups.items():
        in_stock = [i.price for i in items if i.availability == "available" and i.price is not None]
        assert cheapest.get(f"{item_number}/{condition}") == (min(in_stock) if in_stock else None)
    assert all(isinstance(r.price, Decimal | None) for r in rows)


def test_sync_by_query_rereads_matching_products(replica: ReplicaHandle, resources: dict, pipeline_config,
                                                 migrated_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    vendor, year = "ornament_shop_com", 2020
    assert materialize(resources, vendor, year, pipeline_instance()).success
    replica.set_day(6)
    day6 = truth(replica, vendor, year)
    target = next(iter(sorted(day6.values(), key=lambda row: row[1])))
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))
    job = defs.resolve_job_def("sync_by_query")
    config = {"text": target[5][5:20], "vendor": vendor, "year": year, "limit": 50}  # a slice of the name
    result = job.execute_in_process(run_config={"ops": {"resync_by_query": {"config": config}}},
                                    instance=pipeline_instance())
    assert result.success
    assert result.output_for_node("resync_by_query")["stored"] >= 1
    assert stored(migrated_db_url, vendor, year)[target[1]] == target
    # The catalog learns of the write: products and price_history of that vendor-year were materialized.
    written = {(m.asset_key.to_user_string(), m.partition) for m in result.get_asset_materialization_events()
               for m in [m.event_specific_data.materialization]}
    assert written == {("products", f"{vendor}|{year}"), ("price_history", f"{vendor}|{year}")}

    # Text with SQL metacharacters is just text: it matches nothing and breaks nothing.
    config["text"] = "%' OR 1=1; --"
    result = job.execute_in_process(run_config={"ops": {"resync_by_query": {"config": config}}},
                                    instance=pipeline_instance())
    assert result.success and result.output_for_node("resync_by_query") == {"requested": 0, "stored": 0}


def test_materializations_say_what_a_person_needs(replica: ReplicaHandle, resources: dict,
                                                 migrated_db_url: str) -> None:
    """Previews with SKU, condition and dollar prices; the Postgres table of each asset with its real columns and
    the partition's row count."""
    vendor, year = "ornament_shop_com", 2020
    result = materialize(resources, vendor, year, pipeline_instance())
    assert result.success
    preview = materialized(result, "vendor_listings").metadata["preview"].value
    header = preview.splitlines()[0]
    assert all(column in header for column in ("sku", "condition", "price", "availability"))
    some = next(iter(truth(replica, vendor, year).values()))
    assert f"${some[6]:,.2f}" in preview or "_and " in preview
    tables = {name: materialized(result, name).metadata for name in ("products", "price_history")}
    for table in ("products", "price_history"):
        metadata = tables[table]
        assert metadata["dagster/table_name"].value == f"public.{table}"
        columns = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
        assert columns["price"] == "numeric(10,2)"
    with create_engine(sqlalchemy_url(migrated_db_url)).connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM products WHERE vendor = :v AND partition_year = :y"),
                             {"v": vendor, "y": year}).scalar_one()
    assert tables["products"]["dagster/partition_row_count"].value == count > 0
    spec_tables = {spec.key.to_user_string(): spec.metadata.get("dagster/table_name")
                   for spec in defs.resolve_all_asset_specs()}
    assert spec_tables["products"] == "public.products" and spec_tables["vendor_listings"] == "public.scrapes"
