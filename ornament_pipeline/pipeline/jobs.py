"""Jobs: the vendor-year sync, and the old integrator's syncs by product id and by query."""


from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from sqlalchemy import text

from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import YEAR_PARTITIONS, partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.warehouse.history import HistorySnapshot
from ornament_pipeline.warehouse.scrapes import AppliedScrape, apply_pending, record_scrape

sync_vendor_year = dg.define_asset_job(
    "sync_vendor_year",
    selection=dg.AssetSelection.assets(*SYNC_ASSETS),
    description="Scrape one vendor-year and merge it into products and the price history.",
)


class ByIdConfig(dg.Config):
    product_ids: list[int]


class ByQueryConfig(dg.Config):
    text: str = ""
    vendor: str | None = None
    year: int | None = None
    limit: int = 500


_SELECT = "SELECT id, vendor, partition_year, link FROM products"


def _record_materializations(context: dg.OpExecutionContext, vendor: str, year: int | None,
                             applied: Sequence[AppliedScrape]) -> None:
    """Tell the catalog that this job wrote the vendor-year's products and history (as a partition run would)."""
    if year is None or not context.instance.has_dynamic_partition(YEAR_PARTITIONS, str(year)):
        return  # a listing of unknown year has no partition to record against
    versions = sum((a.history for a in applied), HistorySnapshot())
    partition = partition_key(vendor, year)
    context.log_event(dg.AssetMaterialization("products", partition=partition, metadata={
        "observations_applied": len(applied), "updated": sum(a.products.updated for a in applied),
        "written_by": context.job_name}))
    context.log_event(dg.AssetMaterialization("price_history", partition=partition, metadata={
        "new_versions": versions.versions, "changed": versions.changed, "identified": versions.identified,
        "written_by": context.job_name}))


def _resync(context: dg.OpExecutionContext, rows: Sequence[Any], scraper: ScraperResource, warehouse: WarehouseResource,
            settings: SettingsResource) -> dict[str, int]:
    """Re-read each product page and merge it; failures are reported after the rest is stored.

    Each vendor-year's pages are one observation (scope `products`: it never delists), recorded and then applied
    with whatever else is pending for that partition, in observation order."""
    tracked = settings.get().history.tracked_fields
    engine, failures, stored = warehouse.engine(), [], 0
    groups: dict[tuple[str, int | None], list] = {}
    for row in rows:
        groups.setdefault((row.vendor, row.partition_year), []).append(row)
    for (vendor, year), group in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0)):
        observed_at, listings = datetime.now(UTC), []
        with scraper.integration(vendor) as integration:
            for row in group:
                try:
                    listings.append(integration.get_ornament_by_url(row.link))
                except Exception as exc:  # noqa: BLE001 - reported below, the rest still stored
                    failures.append(f"{vendor} {row.link}: {exc}")
        with engine.begin() as conn:
            recorded = record_scrape(conn, vendor=vendor, year=year, scope="products", observed_at=observed_at,
                                     complete=False, status=f"{len(listings)} of {len(group)} product pages read",
                                     listings=listings, detail_read={item.vendor_id for item in listings},
                                     run_id=context.run.run_id)
        failures.extend(f"{vendor} {reject}" for reject in recorded.rejects)
        with engine.begin() as conn:
            applied = apply_pending(conn, vendor, year, tracked)
        stored += recorded.staged
        _record_materializations(context, vendor, year, applied)
        context.log.info("%s %s: re-read %d of %d product pages", vendor, year, len(listings), len(group))
    if failures:
        raise dg.Failure(f"{len(failures)} product page(s) failed", metadata={
            "failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in failures[:50])), "stored": stored})
    return {"requested": len(rows), "stored": stored}


@dg.op(description="Re-read the given products from their product pages.")
def resync_by_id(context: dg.OpExecutionContext, config: ByIdConfig, scraper: ScraperResource,
                 warehouse: WarehouseResource, settings: SettingsResource) -> dict[str, int]:
    with warehouse.engine().connect() as conn:
        rows = conn.execute(text(f"{_SELECT} WHERE id = ANY(:ids) ORDER BY id"),
                            {"ids": config.product_ids}).all()
    missing = sorted(set(config.product_ids) - {row.id for row in rows})
    if missing:
        raise dg.Failure(f"unknown product id(s): {missing}")
    return _resync(context, rows, scraper, warehouse, settings)


@dg.op(description="Re-read the products whose name or SKU contains the text, optionally of one vendor/year.")
def resync_by_query(context: dg.OpExecutionContext, config: ByQueryConfig, scraper: ScraperResource,
                    warehouse: WarehouseResource, settings: SettingsResource) -> dict[str, int]:
    pattern = "%" + config.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with warehouse.engine().connect() as conn:
        rows = conn.execute(text(
            f"{_SELECT} WHERE (name ILIKE :pattern OR sku ILIKE :pattern)"
            " AND (CAST(:vendor AS text) IS NULL OR vendor = :vendor)"
            " AND (CAST(:year AS int) IS NULL OR partition_year = :year)"
            " AND delisted_at IS NULL ORDER BY id LIMIT :limit"),
            {"pattern": pattern, "vendor": config.vendor, "year": config.year, "limit": config.limit}).all()
    context.log.info("query matched %d product(s)", len(rows))
    return _resync(context, rows, scraper, warehouse, settings)


@dg.job(description="Sync by id: re-read given products from their product pages (config: product_ids).")
def sync_by_id() -> None:
    resync_by_id()


@dg.job(description="Sync by query: re-read products matching a text, vendor and year filter.")
def sync_by_query() -> None:
    resync_by_query()
