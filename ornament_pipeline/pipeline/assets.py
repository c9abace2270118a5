"""The assets of one vendor-year: scraped listings -> products -> price history; then cross-vendor offers."""


from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ornament_pipeline.pipeline.partitions import vendor_and_year, vendor_year_partitions
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.pipeline.scrape import FailedPage, ListingsScrape, fill_from_detail
from ornament_pipeline.warehouse.history import snapshot
from ornament_pipeline.warehouse.offers import refresh_offers
from ornament_pipeline.warehouse.products import known_vendor_ids, merge_partition

PREVIEW_ROWS = 10


def _preview(listings: list, columns: tuple[str, ...] = ("vendor_id", "name", "price", "availability")) -> str:
    if not listings:
        return "_no listings_"
    frame = pd.DataFrame([{c: getattr(item, c) for c in columns} for item in listings[:PREVIEW_ROWS]])
    return frame.to_markdown(index=False)


@dg.asset(
    partitions_def=vendor_year_partitions,
    group_name="scrape",
    kinds={"selenium", "python"},
    check_specs=[dg.AssetCheckSpec("scrape_complete", asset="vendor_listings",
                                   description="Every page of the vendor-year was scraped.")],
)
def vendor_listings(context: dg.AssetExecutionContext, scraper: ScraperResource,
                    settings: SettingsResource) -> Iterator[dg.Output[ListingsScrape] | dg.AssetCheckResult]:
    """The listings of one vendor-year as the vendor's listing pages show them (every page, the View All
    page where a year is split), plus the pages that failed. A vendor without a page for the year gives an
    empty, successful partition; a year whose pages all failed fails the run (never an empty success)."""
    vendor, year = vendor_and_year(context)
    scraped_at = datetime.now(UTC)
    if vendor not in settings.get().enabled_vendors:
        result = ListingsScrape(vendor, year, scraped_at)
        note = "vendor is disabled in config; nothing scraped"
    else:
        with scraper.integration(vendor) as integration:
            links = integration.get_year_links()
            if year not in links:
                result, note = ListingsScrape(vendor, year, scraped_at), "vendor has no page for this year"
            else:
                scraped = integration.get_ornaments_by_year(year)
                failed = [FailedPage(e.url, e.reason, e.status) for e in scraped.failed_pages]
                result = ListingsScrape(vendor, year, scraped_at, scraped.listings, failed, scraped.pages_visited,
                                        links[year])
                note = "complete" if result.complete else f"{len(failed)} page(s) failed"
    if result.failed_pages and not result.listings:
        raise dg.Failure(f"{vendor} {year}: every page failed", metadata={
            "failed_pages": dg.MetadataValue.md("\n".join(f"- {p}" for p in result.failed_pages))})
    context.log.info("%s %s: %d listings, %s", vendor, year, len(result.listings), note)
    yield dg.Output(result, metadata={
        "listings": len(result.listings),
        "pages_visited": result.pages_visited,
        "pages_failed": len(result.failed_pages),
        "year_url": dg.MetadataValue.url(result.year_url) if result.year_url else "none",
        "status": note,
        "preview": dg.MetadataValue.md(_preview(result.listings)),
    })
    yield dg.AssetCheckResult(
        check_name="scrape_complete",
        passed=result.complete,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_pages": dg.MetadataValue.md(
            "\n".join(f"- {p}" for p in result.failed_pages) or "none")},
    )


@dg.asset(
    partitions_def=vendor_year_partitions,
    group_name="warehouse",
    kinds={"postgres"},
    check_specs=[dg.AssetCheckSpec("no_sudden_drop", asset="products", description=(
        "The partition's listing count did not fall by more than 30% since its last run "
        "(such a fall is not stored as delistings)."))],
)
def products(context: dg.AssetExecutionContext, vendor_listings: ListingsScrape, scraper: ScraperResource,
             warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Listings merged into the `products` table, one transaction per partition, set-based (a staging table
    and one upsert). A listing seen for the first time gets its product page read once (for the SKU and what
    the listing page lacks); known listings are updated from the listing page. Listings the partition no
    longer shows are marked delisted only when every page was scraped."""
    vendor, year = vendor_and_year(context)
    engine = warehouse.engine()
    listings = vendor_listings.listings
    with engine.connect() as conn:
        have_detail = known_vendor_ids(conn, vendor, [item.vendor_id for item in listings])
    need_detail = [item for item in listings if item.vendor_id not in have_detail]
    detail_read: set[str] = set()
    detail_failures: list[str] = []
    if need_detail:
        filled = {}
        with scraper.integration(vendor) as integration:
            for item in need_detail:
                try:
                    filled[item.vendor_id] = fill_from_detail(item, integration.get_ornament_by_url(item.link))
                    detail_read.add(item.vendor_id)
                except Exception as exc:  # noqa: BLE001 - one bad product page must not lose the partition
                    detail_failures.append(f"{item.link}: {exc}")
        listings = [filled.get(item.vendor_id, item) for item in listings]
    with engine.begin() as conn:
        merged = merge_partition(conn, vendor, year, listings, vendor_listings.scraped_at,
                                 vendor_listings.complete, detail_read)
    yield dg.MaterializeResult(metadata={
        "listings_seen": merged.seen,
        "new": merged.new,
        "updated": merged.updated,
        "delisted": merged.delisted,
        "detail_pages_read": len(detail_read),
        "detail_pages_failed": len(detail_failures),
        "pages_failed": len(vendor_listings.failed_pages),
        "delisting": merged.delisting_skipped or "applied",
        "preview": dg.MetadataValue.md(_preview(listings)),
    })
    yield dg.AssetCheckResult(
        check_name="no_sudden_drop",
        passed=not merged.suspicious_drop,
        metadata={"listed_before": merged.listed_before, "seen": merged.seen,
                  "detail": merged.delisting_skipped or "ok"},
    )


@dg.asset(
    partitions_def=vendor_year_partitions,
    group_name="warehouse",
    kinds={"postgres"},
    deps=[products],
)
def price_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  settings: SettingsResource) -> dg.MaterializeResult:
    """SCD type 2 history of every listing (check strategy on `history.tracked_fields`): a change closes the
    current version (`valid_to` = observation time) and opens a new one; a delisting opens a delisted version.
    Each new version writes one change event (the auditor's stream) in the same transaction."""
    vendor, year = vendor_and_year(context)
    tracked = settings.get().history.tracked_fields
    with warehouse.engine().begin() as conn:
        result = snapshot(conn, tracked, vendor, year)
    return dg.MaterializeResult(metadata={
        "new_versions": result.versions, "new": result.new, "changed": result.changed,
        "delisted": result.delisted, "relisted": result.relisted, "tracked_fields": ", ".join(tracked),
    })


@dg.asset(
    group_name="analysis",
    kinds={"postgres"},
    deps=[price_history],
    # Refresh whenever any vendor-year's history changed; eager() would wait for every partition to exist.
    automation_condition=dg.AutomationCondition.any_deps_updated() & ~dg.AutomationCondition.in_progress(),
)
def cross_vendor_offers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per Hallmark item number and condition: each vendor's current price and stock, and the cheapest offer
    in stock. Answers the old analysis question: are there price gaps between vendors for the same ornament?"""
    with warehouse.engine().begin() as conn:
        summary = refresh_offers(conn)
    return dg.MaterializeResult(metadata={
        "ornaments": summary.ornaments,
        "offered_by_several_vendors": summary.multi_vendor,
        "largest_gaps": dg.MetadataValue.md(summary.largest_gaps_markdown),
    })
