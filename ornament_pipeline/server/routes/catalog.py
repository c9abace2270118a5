"""`/ornaments/{item_number}` (cross-vendor comparison), `/vendors` and `/years` with counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from ornament_pipeline.server.auth import Access, KeyedRoute, read_access
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES, NOT_FOUND, ApiError
from ornament_pipeline.server.models import OrnamentOffers, VendorCount, YearCount
from ornament_pipeline.server.params import ITEM_NUMBER, VendorParam
from ornament_pipeline.server.queries.offers import cheapest_in_stock, ornament_offers
from ornament_pipeline.server.queries.products import vendor_counts, year_counts
from ornament_pipeline.vendors import VENDOR_KEYS

router = APIRouter(tags=["catalogue"], responses=ERROR_RESPONSES, route_class=KeyedRoute)


@router.get("/ornaments/{item_number}", response_model=OrnamentOffers, responses=NOT_FOUND,
            summary="Every vendor's current offer of one Hallmark item number")
async def read_ornament(
    item_number: Annotated[str, Path(pattern=ITEM_NUMBER, description="e.g. QX6001")],
    request: Request,
    access: Annotated[Access, Depends(read_access)],
) -> dict:
    """Computed live from `products` (listed listings only), so it never lags the listings themselves.
    `cheapest_in_stock` on an offer is per condition; the top-level one is the cheapest in any condition."""
    item = item_number.upper()
    offers = await run_db(request, access, lambda conn, _: ornament_offers(conn, item))
    if offers is None:
        raise ApiError(404, "not_found", f"no listing carries item number {item}")
    return {"item_number": item, "offers": offers, "cheapest_in_stock": cheapest_in_stock(offers)}


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
