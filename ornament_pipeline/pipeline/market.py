"""The `market_prices` asset: a fair price per Hallmark item number and condition (warehouse/market.py)."""

from __future__ import annotations

import dagster as dg

from ornament_pipeline.pipeline.resources import WarehouseResource
from ornament_pipeline.warehouse.market import WINDOW_DAYS, refresh_market

# As cross_vendor_offers: once after a burst of syncs, when no run of its deps is in progress.
REFRESH_AFTER_SYNCS = (dg.AutomationCondition.any_deps_updated().since_last_handled()
                       & ~dg.AutomationCondition.any_deps_in_progress()
                       & ~dg.AutomationCondition.in_progress())


@dg.asset(
    group_name="analysis",
    kinds={"postgres"},
    metadata={"dagster/table_name": "public.market_prices"},
    deps=["price_history", "products"],  # what its SQL reads
    automation_condition=REFRESH_AFTER_SYNCS,
)
def market_prices(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per Hallmark item number and condition: the time-weighted median of in-stock prices over the last 90 days
    across every vendor's history, with the observations, vendors and listings behind it."""
    with warehouse.engine().begin() as conn:
        summary = refresh_market(conn)
    return dg.MaterializeResult(metadata={
        "dagster/table_name": "public.market_prices",
        "dagster/row_count": summary.ornaments,
        "priced_from_several_vendors": summary.multi_vendor,
        "observations": summary.observations,
        "window_days": WINDOW_DAYS,
    })
