"""Warehouse-wide invariants, checked after each materialization of the asset they guard."""


import dagster as dg
from sqlalchemy import text

from ornament_pipeline.pipeline.assets import price_history, products
from ornament_pipeline.pipeline.resources import WarehouseResource


@dg.asset_check(asset=price_history, description="No listing has two current versions.")
def one_current_version_per_listing(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        offenders = conn.execute(text(
            "SELECT product_id FROM price_history WHERE valid_to IS NULL GROUP BY product_id HAVING count(*) > 1"
            " LIMIT 20")).scalars().all()
    return dg.AssetCheckResult(passed=not offenders, metadata={"product_ids": str(offenders)})


@dg.asset_check(asset=products, description="No stored price is zero or negative.")
def prices_are_positive(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        bad = conn.execute(text("SELECT count(*) FROM products WHERE price <= 0")).scalar_one()
        bad += conn.execute(text("SELECT count(*) FROM price_history WHERE price <= 0")).scalar_one()
    return dg.AssetCheckResult(passed=bad == 0, metadata={"non_positive_prices": bad})
