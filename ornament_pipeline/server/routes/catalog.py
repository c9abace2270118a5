"""`/ornaments/{item_number}` (cross-vendor comparison and fair price), `/vendors` and `/years` with counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from ornament_pipeline.server.auth import Access, KeyedRoute, read_access
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES, NOT_FOUND, ApiError
from ornament_pipeline.server.models import OrnamentOffers, VendorCount, YearCount
from ornament_pipeline.server.params import ITEM_NUMBER, VendorParam
from ornament_pipeline.server.queries.offers import ornament_report
from ornament_pipeline.server.queries.products import vendor_counts, year_counts
from ornament_pipeline.vendors import VENDOR_KEYS

router = APIRouter(tags=["catalogue"], responses=ERROR_RESPONSES, route_class=KeyedRoute)


@router.get("/ornaments/{item_number}", response_model=OrnamentOffers, responses=NOT_FOUND,
            summary="Every vendor's current offer of one Hallmark item number, and its fair price")
async def read_ornament(
    item_number: Annotated[str, Path(pattern=ITEM_NUMBER, description="e.g. QX6001")],
    request: Request,
    access: Annotated[Access, Depends(read_access)],
) -> dict:
    """As the `cross_vendor_offers` and `market_prices` assets last built them (after each sync). One
    `cheapest_in_stock` per item and one per condition; `deal` marks an offer in stock `deal_share` or more
    under its condition's fair price."""
    item = item_number.upper()
    deal_share = request.app.state.server_config.deal_share
    report = await run_db(request, access, lambda conn, _: ornament_report(conn, item, deal_share))
    if report is None:
        raise ApiError(404, "not_found", f"no listing carries item number {item}")
    return report


@router.get("/vendors", response_model=list[VendorCount], summary="Vendors with listing counts")
async def list_vendors(request: Request, access: Annotated[Access, Depends(read_access)]) -> list[dict]:
    counts = await run_db(request, access, lambda conn, _: vendor_counts(conn))
    empty = {"products": 0, "listed": 0, "available": 0}
    return [counts.get(vendor, {"vendor": vendor, **empty}) for vendor in VENDOR_KEYS]


@router.get("/years", response_model=list[YearCount], summary="Release years with listing counts")
async def list_years(
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    vendor: VendorParam | None = None,
) -> list[dict]:
    return await run_db(request, access, lambda conn, _: year_counts(conn, vendor))
