"""The assets of one vendor-year: scraped listings -> products and price history (one merge); then offers.

One step, `vendor_year_sync`, materializes the three assets of each vendor-year it is given: `vendor_listings`
records what the vendor's pages showed as an observation in Postgres (`scrapes`); the merge then applies every
pending observation of the partition, oldest first, to `products`, `price_history` and `change_events` in one
transaction. Nothing passes from the scrape to the merge but the database.
"""

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine
from tabulate import tabulate

from ornament_pipeline.integrations.progress import ScrapeProgress
from ornament_pipeline.listing import Listing
from ornament_pipeline.pipeline import freshness
from ornament_pipeline.pipeline.market import REFRESH_AFTER_SYNCS
from ornament_pipeline.pipeline.partitions import partition_evaluation, partition_key, split_key, vendor_year_partitions
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.pipeline.scrape import FailedPage, enrich
from ornament_pipeline.pipeline.site_lock import site_lock
from ornament_pipeline.warehouse import audits
from ornament_pipeline.warehouse.history import HistorySnapshot
from ornament_pipeline.warehouse.offers import refresh_offers
from ornament_pipeline.warehouse.products import listed_in_partition, stored_listings
from ornament_pipeline.warehouse.scrapes import apply_pending, record_scrape

PREVIEW_ROWS = 10
PREVIEW_COLUMNS = ("vendor_id", "sku", "condition", "name", "price", "availability")


def _shown(item: Listing, column: str) -> object:
    value = getattr(item, column)
    if column == "price":
        return f"${value:,.2f}" if value is not None else (item.price_note or "no price")
    if column == "availability" and value == "unknown":
        return f"unknown ({item.availability_text})"
    return "" if value is None else value


def _preview(listings: Sequence[Listing]) -> str:
    if not listings:
        return "_no listings_"
    # tabulate, not pandas: a run's code load stays light (pandas alone took 0.6 s of it)
    rows = [[_shown(item, c) for c in PREVIEW_COLUMNS] for item in listings[:PREVIEW_ROWS]]
    table = tabulate(rows, headers=PREVIEW_COLUMNS, tablefmt="pipe", disable_numparse=True)
    more = len(listings) - PREVIEW_ROWS
    return table + (f"\n\n_and {more} more_" if more > 0 else "")


def _table(conn: Connection, table: str) -> dict[str, Any]:
    """The Postgres table an asset owns, with its columns as the database has them (Dagster's table metadata)."""
    columns = [dg.TableColumn(c.name, c.type, constraints=dg.TableColumnConstraints(nullable=c.nullable))
               for c in audits.columns_of(conn, table)]
    return {"dagster/table_name": f"public.{table}", "dagster/column_schema": dg.TableSchema(columns=columns)}


def _bullets(items: Sequence[object], total: int | None = None) -> dg.MetadataValue:
    lines = [f"- {item}" for item in items[:50]]
    if (total or len(items)) > len(lines):
        lines.append(f"- … and {(total or len(items)) - len(lines)} more")
    return dg.MetadataValue.md("\n".join(lines) or "none")


def _check(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    # Partitioned checks (preview in Dagster 1.13): a vendor-year's result stays on that vendor-year.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(name, asset=asset, description=description, partitions_def=vendor_year_partitions)


@dataclass
class PartitionOutcome:
    """What one vendor-year's sync wrote: each asset's materialization metadata, and the checks' results."""

    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[dg.AssetCheckResult] = field(default_factory=list)

    def emit(self, context: dg.AssetExecutionContext, partition: str, single: bool
             ) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
        """The step's results for what was selected in a single-partition run; everything else (a ranged run's
        vendor-years, an asset written but not selected) logged as events carrying their partition, so the
        catalog, the backfill and the checks see each vendor-year on its own."""
        results: list[dg.MaterializeResult | dg.AssetCheckResult] = []
        for asset, metadata in self.materializations.items():
            if single and dg.AssetKey(asset) in context.selected_asset_keys:
                results.append(dg.MaterializeResult(asset_key=asset, metadata=metadata))
            else:
                context.log_event(dg.AssetMaterialization(asset, partition=partition, metadata=metadata))
        for check in self.checks:
            key = dg.AssetCheckKey(dg.AssetKey(check.asset_key.path if check.asset_key else []),
                                   str(check.check_name))
            if key not in context.selected_asset_check_keys:
                continue
            if single:
                results.append(check)
            else:
                context.log_event(partition_evaluation(check, partition))
        return results


def _scrape_checks(passed: bool, failed: Sequence[FailedPage], rejects: Sequence[object]
                   ) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(check_name="scrape_complete", asset_key="vendor_listings", passed=passed,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"failed_pages": len(failed), "pages": _bullets(failed)}),
        dg.AssetCheckResult(check_name="listings_fit_schema", asset_key="vendor_listings", passed=not rejects,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"set_aside": len(rejects), "listings": _bullets(rejects)}),
    ]


def _nothing_to_scrape(status: str) -> PartitionOutcome:
    return PartitionOutcome({"vendor_listings": {"listings": 0, "status": status}},
                            _scrape_checks(passed=True, failed=[], rejects=[]))


def _scrape_year(context: dg.AssetExecutionContext, integration: Any, links: Mapping[int, str], engine: Engine,
                 progress: ScrapeProgress, vendor: str, year: int) -> PartitionOutcome:
    """Read the vendor-year's listing pages and first-seen product pages; record them as one observation."""
    observed_at = datetime.now(UTC)
    if year not in links:
        with engine.connect() as conn:
            listed = listed_in_partition(conn, vendor, year)
        if listed:
            raise dg.Failure(
                f"{vendor} {year}: the year is missing from the vendor's year index, which had it "
                f"({listed} listings stored); nothing is delisted until the index shows it again",
                metadata={"listed": listed})
        context.log.info("%s %s: vendor has no page for this year", vendor, year)
        return _nothing_to_scrape("vendor has no page for this year")
    scraped = integration.get_ornaments_by_year(year)
    failed = [FailedPage(e.url, e.reason, e.status) for e in scraped.failed_pages]
    if failed and not scraped.listings:
        raise dg.Failure(f"{vendor} {year}: every page failed", metadata={"failed_pages": _bullets(failed)})
    with engine.connect() as conn:
        stored = stored_listings(conn, vendor, [item.vendor_id for item in scraped.listings])
    need_detail = {item.vendor_id for item in scraped.listings if not stored.get(item.vendor_id)}
    with progress.phase(f"{vendor} {year}", "product pages not read yet", expected=len(need_detail)):
        enriched = enrich(scraped.listings, need_detail, progress.counting(integration.get_ornament_by_url, vendor))
    # A first-seen listing is stored only with its identity (SKU, item number, condition from its product page):
    # held back until its page reads, so the record never starts a listing as "item unknown". A stored listing
    # whose page is still unread is updated from its listing page and read again next time.
    unread = {page.vendor_id: page for page in enriched.failures}
    held_back = [(item, unread[item.vendor_id].reason) for item in enriched.listings
                 if item.vendor_id in unread and item.vendor_id not in stored]
    listings = [item for item in enriched.listings if item.vendor_id in stored or item.vendor_id not in unread]
    complete = not failed
    status = "complete" if complete else f"{len(failed)} listing page(s) failed"
    with engine.begin() as conn:
        recorded = record_scrape(
            conn, vendor=vendor, year=year, scope="partition", observed_at=observed_at, complete=complete,
            status=status, listings=listings, detail_read=enriched.detail_read, held_back=held_back,
            failed_pages=[p.to_json_dict() for p in failed], pages_visited=scraped.pages_visited,
            year_url=scraped.year_url, run_id=context.run.run_id)
    context.log.info("%s %s: %d listings (%d set aside, %d held back without their product page), %s; "
                     "%d product pages read, %d failed", vendor, year, len(listings), len(recorded.rejects),
                     len(held_back), status, len(enriched.detail_read), len(enriched.failures))
    return PartitionOutcome({"vendor_listings": {
        "scrape_id": recorded.scrape_id,
        "listings": len(listings),
        "listings_set_aside": len(recorded.rejects),
        "held_back_without_product_page": len(held_back),
        "pages_visited": scraped.pages_visited,
        "pages_failed": len(failed),
        "product_pages_read": len(enriched.detail_read),
        "product_pages_failed": len(enriched.failures),
        "year_url": dg.MetadataValue.url(scraped.year_url) if scraped.year_url else "none",
        "status": status,
        "preview": dg.MetadataValue.md(_preview(listings)),
    }}, _scrape_checks(passed=complete and not enriched.failures, failed=[*failed, *enriched.failures],
                       rejects=recorded.rejects))


def _merge_year(context: dg.AssetExecutionContext, engine: Engine, vendor: str, year: int,
                tracked: Sequence[str]) -> PartitionOutcome:
    """Apply every pending observation of the vendor-year (oldest first) and audit the result."""
    with engine.begin() as conn:
        applied = apply_pending(conn, vendor, year, tracked)
    versions = sum((a.history for a in applied), HistorySnapshot())
    latest = applied[-1].products if applied else None
    written: dict[str, int] = {}
    for scrape in applied:
        for table, rows in scrape.rows_written.items():
            written[table] = written.get(table, 0) + rows
    with engine.connect() as conn:
        tables = {name: {**_table(conn, name), "dagster/partition_row_count": audits.partition_rows(
            conn, name, vendor, year)} for name in ("products", "price_history")}
        missing, without_page = audits.listings_without_product_page(conn, vendor, year)
        disagreeing = audits.versions_disagreeing(conn, vendor, year, tracked)
        unmatched = audits.versions_without_one_event(conn, vendor, year)
    context.log.info("%s %s: applied %d observation(s); %d new versions", vendor, year, len(applied),
                     versions.versions)
    drops = [a.products for a in applied if a.products.suspicious_drop]
    return PartitionOutcome({
        "products": {
            **tables["products"],
            "observations_applied": len(applied),
            "listings_seen": latest.seen if latest else 0,
            "new": sum(a.products.new for a in applied),
            "updated": sum(a.products.updated for a in applied),
            "unchanged_not_written": sum(a.products.unchanged for a in applied),
            "stale_not_applied": sum(a.products.stale for a in applied),
            "delisted": sum(a.products.delisted for a in applied),
            "delisting": "; ".join(sorted({a.products.delisting_skipped or "applied" for a in applied}))
                         or "nothing pending",
        },
        "price_history": {
            **tables["price_history"],
            "new_versions": versions.versions, "new": versions.new, "changed": versions.changed,
            "delisted": versions.delisted, "relisted": versions.relisted, "identified": versions.identified,
            "tracked_fields": ", ".join(tracked),
            # What the merge wrote (a resync of an unchanged site: 0 everywhere).
            "rows_written": dg.MetadataValue.json(written),
        },
    }, [
        dg.AssetCheckResult(check_name="no_sudden_drop", asset_key="products", passed=not drops, metadata={
            "listed_before": latest.listed_before if latest else 0, "seen": latest.seen if latest else 0,
            "detail": "; ".join(d.delisting_skipped or "" for d in drops) or "ok"}),
        dg.AssetCheckResult(check_name="product_pages_read", asset_key="products", passed=not missing,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"without_product_page": missing,
                                      "listings": _bullets(without_page, missing)}),
        dg.AssetCheckResult(check_name="current_version_matches_products", asset_key="price_history",
                            passed=not disagreeing, metadata={"listings": _bullets(disagreeing)}),
        dg.AssetCheckResult(check_name="one_event_per_version", asset_key="price_history",
                            passed=not unmatched, metadata={"versions": _bullets(unmatched)}),
    ])


@dg.multi_asset(
    name="vendor_year_sync",
    partitions_def=vendor_year_partitions,
    # A backfill of many vendor-years is one run per range (per vendor when one vendor is chosen): one process,
    # one code load and one warm browser for all of them, instead of ~7 s of launching per vendor-year.
    backfill_policy=dg.BackfillPolicy.single_run(),
    # A subset scrapes (vendor_listings) or merges (products, price_history: one transaction writes both, and both
    # are recorded) what is pending; check outputs are optional only in a subsettable asset.
    can_subset=True,
    specs=[
        # skippable: a ranged run logs each vendor-year's materialization itself (a vendor-year that fails has
        # none), instead of Dagster marking the whole range materialized at once.
        dg.AssetSpec("vendor_listings", group_name="scrape", kinds={"selenium", "postgres"}, skippable=True,
                     metadata={"dagster/table_name": "public.scrapes"},  # its listings in public.scrape_listings
                     description="The listings of one vendor-year as the vendor's listing pages show them (every "
                                 "page, the View All page where a year is split), with the product page of each "
                                 "first-seen listing read once, recorded as one observation in Postgres "
                                 "(`scrapes`, `scrape_listings`)."),
        dg.AssetSpec("products", deps=["vendor_listings"], group_name="warehouse", kinds={"postgres"},
                     skippable=True, metadata={"dagster/table_name": "public.products"},
                     description="Every listing's latest state in the `products` table, one row per (vendor, "
                                 "vendor's product id), written only by observations newer than the last one."),
        dg.AssetSpec("price_history", deps=["products"], group_name="warehouse", kinds={"postgres"},
                     skippable=True, metadata={"dagster/table_name": "public.price_history"},
                     description="SCD type 2 history of every listing (`price_history`, check strategy on "
                                 "`history.tracked_fields` plus identity) and one change event per version."),
    ],
    check_specs=[
        _check("scrape_complete", "vendor_listings",
               "Every listing page and every first-seen listing's product page of the vendor-year was read."),
        _check("listings_fit_schema", "vendor_listings",
               "Every listing the pages showed could be stored as shown (none set aside for a value that does "
               "not fit the schema)."),
        _check("no_sudden_drop", "products",
               "The partition's listing count did not fall by more than 30% in one scrape (such a fall is not "
               "stored as delistings)."),
        _check("product_pages_read", "products",
               "Every listed product of the vendor-year has had its product page read (SKU, item number, "
               "condition); the rest are read again on the next run."),
        _check("current_version_matches_products", "price_history",
               "The current version of every product of the vendor-year agrees with `products` on SKU, item "
               "number, condition, the tracked fields, and whether it is listed."),
        _check("one_event_per_version", "price_history",
               "Every version of the vendor-year's listings has exactly one change event."),
        _check(freshness.CHECK_NAME, "vendor_listings",
               "The vendor-year was synced at or after the latest time its schedule covers it (daily for the current "
               "and previous year, weekly for the rest), allowing `schedules.freshness_grace_minutes` for the run; "
               "kept current between runs by the sensor partitions_on_schedule."),
    ],
)
def vendor_year_sync(context: dg.AssetExecutionContext, scraper: ScraperResource, settings: SettingsResource,
                     warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Sync vendor-years: scrape each one's pages into an observation (`vendor_listings`), then apply every
    pending observation of it, oldest first, to `products`, `price_history` and `change_events` in one
    transaction. Nothing passes between the two but Postgres, so a run killed after recording leaves the
    observation pending for the next merge. A vendor without a page for the year gives an empty, successful
    partition; a year whose pages all failed, or that vanished from a year index that listed it, fails.

    A ranged run (a backfill) syncs its vendor-years one after another with one browser, each recorded as its
    own materialization and check results; a vendor-year that fails leaves the others stored, and the run fails
    at the end naming every failed vendor-year and why."""
    keys = sorted(split_key(key) for key in context.partition_keys)
    single = context.has_partition_key and len(keys) == 1
    scrape = dg.AssetKey("vendor_listings") in context.selected_asset_keys
    merge = bool({dg.AssetKey("products"), dg.AssetKey("price_history")} & context.selected_asset_keys)
    tracked = settings.get().history.tracked_fields
    enabled = settings.get().enabled_vendors
    engine = warehouse.engine()
    failures: dict[str, str] = {}
    progress = ScrapeProgress(context.log)  # pages, retries and failures into the run's event log
    with progress:
        for vendor, group in groupby(keys, key=lambda vy: vy[0]):
            years = [year for _, year in group]
            with ExitStack() as stack:
                if vendor in enabled and scrape:
                    # One run at a time per site, whatever launched it (a ranged run has no vendor tag for
                    # dagster.yaml's run queue limit to see).
                    stack.enter_context(site_lock(engine, vendor, context.log))
                    integration = stack.enter_context(scraper.integration(vendor))
                    integration.progress = progress
                for year in years:
                    key = str(partition_key(vendor, year))
                    try:
                        outcome = PartitionOutcome()
                        if scrape and vendor not in enabled:
                            context.log.info("%s %s: vendor is disabled in config; nothing scraped", vendor, year)
                            outcome = _nothing_to_scrape("vendor is disabled in config")
                        elif scrape:
                            # One reading serves the run: the integration keeps it while the cache would.
                            outcome = _scrape_year(context, integration, integration.get_year_links(), engine,
                                                   progress, vendor, year)
                        if merge:
                            merged = _merge_year(context, engine, vendor, year, tracked)
                            outcome.materializations.update(merged.materializations)
                            outcome.checks.extend(merged.checks)
                        # A vendor-year scraped now is fresh as of now; otherwise (a merge, or the check run alone)
                        # it is judged from Dagster's records of its last scrape.
                        now = datetime.now(UTC)
                        synced = now if scrape else freshness.last_syncs(context.instance, [key]).get(key)
                        outcome.checks.append(freshness.evaluation(key, synced, now, settings.get().schedules))
                    except Exception as exc:
                        if single:
                            raise
                        failures[key] = _reason(exc)
                        context.log.error("%s: failed, the rest of the range goes on: %s", key, failures[key])
                        continue
                    yield from outcome.emit(context, key, single)
    if not single:
        context.log.info("%d of %d vendor-years synced; each one's materializations and check results are logged "
                         "above with its partition", len(keys) - len(failures), len(keys))
    if failures:
        raise dg.Failure(f"{len(failures)} of {len(keys)} vendor-years failed: "
                         + "; ".join(f"{key}: {why}" for key, why in failures.items()),
                         metadata={"failed_partitions": _bullets([f"{k}: {w}" for k, w in failures.items()]),
                                   "succeeded": len(keys) - len(failures)})


def _reason(exc: Exception) -> str:
    if isinstance(exc, dg.Failure):
        return exc.description or str(exc)
    return f"{type(exc).__name__}: {exc}"


# The assets of a vendor-year sync (jobs, tests and benchmarks materialize these).
SYNC_ASSETS = [vendor_year_sync]


@dg.asset(
    group_name="analysis",
    kinds={"postgres"},
    metadata={"dagster/table_name": "public.cross_vendor_offers"},
    deps=["products"],  # what its SQL reads
    # Once after a burst: remember that some vendor-year was updated since the last refresh, and wait until no
    # run or backfill of products is in progress (eager() would wait for every partition to exist).
    automation_condition=REFRESH_AFTER_SYNCS,
)
def cross_vendor_offers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per Hallmark item number and condition: each vendor's current price and stock, and the cheapest offer
    in stock. Answers the old analysis question: are there price gaps between vendors for the same ornament?"""
    with warehouse.engine().begin() as conn:
        summary = refresh_offers(conn)
        table = _table(conn, "cross_vendor_offers")
    return dg.MaterializeResult(metadata={
        **table,
        "dagster/row_count": summary.offers,
        "ornaments": summary.ornaments,
        "offered_by_several_vendors": summary.multi_vendor,
        "largest_gaps": dg.MetadataValue.md(summary.largest_gaps_markdown),
    })
