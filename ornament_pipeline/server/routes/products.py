"""`/products`: search with filters, sorting and keyset pagination; one product; its price history; both as CSV."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from ornament_pipeline.server.auth import Access, KeyedRoute, read_access
from ornament_pipeline.server.bodies import RowsJSON
from ornament_pipeline.server.csv_export import MAX_CSV_ROWS, csv_response
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES, NOT_FOUND, ApiError
from ornament_pipeline.server.models import HistoryVersion, Product, ProductHistory, ProductPage
from ornament_pipeline.server.params import (
    DEFAULT_PAGE_SIZE,
    ITEM_NUMBER,
    AvailabilityParam,
    Cursor,
    Limit,
    ProductId,
    Text,
    VendorParam,
    Year,
)
from ornament_pipeline.server.queries.products import (
    ProductFilters,
    get_product,
    product_history,
    search_products,
)

router = APIRouter(tags=["products"], responses=ERROR_RESPONSES, route_class=KeyedRoute)

Price = Annotated[Decimal | None, Query(ge=0, le=Decimal("99999999.99"), allow_inf_nan=False)]
SortParam = Literal["name", "price", "release_year", "updated", "id"]


def product_filters(
    vendor: VendorParam | None = None,
    year: Year = None,
    availability: AvailabilityParam | None = None,
    q: Annotated[Text, Query(description="Text found in the name or the SKU (case-insensitive, literal)")] = None,
    item_number: Annotated[str | None, Query(pattern=ITEM_NUMBER, description="Hallmark item number")] = None,
    condition: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Za-z0-9]*$")] = None,
    min_price: Price = None,
    max_price: Price = None,
    include_delisted: bool = False,
) -> ProductFilters:
    """The search filters, shared by `/products` and `/products.csv`."""
    return ProductFilters(
        vendor=vendor, year=year, availability=availability, q=q or None,
        item_number=item_number.upper() if item_number else None, condition=condition.upper() if condition else None,
        min_price=min_price, max_price=max_price, include_delisted=include_delisted,
    )


Filters = Annotated[ProductFilters, Depends(product_filters)]


@router.get("/products", response_model=ProductPage, summary="Search listings")
async def list_products(
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    filters: Filters,
    sort: SortParam = "name",
    order: Literal["asc", "desc"] = "asc",
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> RowsJSON:
    """Listings matching every given filter; delisted ones only with `include_delisted`. Keyset pagination:
    pass `next_cursor` back as `cursor` with the same sort. While syncs write between pages, `sort=id` repeats
    and skips nothing; under another sort a listing whose sort value changed can come twice or not at all."""
    rows, next_cursor = await run_db(request, access,
                                     lambda conn, _: search_products(conn, filters, sort, order, limit, cursor))
    return RowsJSON({"items": rows, "next_cursor": next_cursor, "limit": limit, "sort": sort, "order": order})


def _too_many_rows(what: str) -> ApiError:
    return ApiError(422, "too_many_rows", f"{what} has more than {MAX_CSV_ROWS} rows: narrow it down")


@router.get("/products.csv", response_class=Response, summary="A search result as CSV",
            responses={200: {"content": {"text/csv": {}}, "description": "Every matching listing"}})
async def export_products(
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    filters: Filters,
    sort: SortParam = "name",
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    """Every listing `/products` would return for the same filters and sort, in one read, as `products.csv`
    (columns as the JSON fields; at most 100,000 rows, else a 422)."""
    rows, more = await run_db(request, access,
                              lambda conn, _: search_products(conn, filters, sort, order, MAX_CSV_ROWS, None))
    if more:
        raise _too_many_rows("the search")
    return csv_response(rows, list(Product.model_fields), "products.csv")


@router.get("/products/{product_id}", response_model=Product, responses=NOT_FOUND, summary="One listing")
async def read_product(
    product_id: ProductId,
    request: Request,
    access: Annotated[Access, Depends(read_access)],
) -> RowsJSON:
    row = await run_db(request, access, lambda conn, _: get_product(conn, product_id))
    if row is None:
        raise ApiError(404, "not_found", f"no product {product_id}")
    return RowsJSON(row)


@router.get("/products/{product_id}/history", response_model=ProductHistory, responses=NOT_FOUND,
            summary="A listing's versions (SCD2), oldest first")
async def read_history(
    product_id: ProductId,
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    cursor: Cursor = None,
) -> RowsJSON:
    def work(conn, _):
        rows, next_cursor = product_history(conn, product_id, limit, cursor)
        if not rows and not cursor and get_product(conn, product_id) is None:
            raise ApiError(404, "not_found", f"no product {product_id}")
        return {"product_id": product_id, "versions": rows, "next_cursor": next_cursor}

    return RowsJSON(await run_db(request, access, work))


@router.get("/products/{product_id}/history.csv", response_class=Response, responses={
    **NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "Every version, oldest first"}},
    summary="A listing's versions as CSV")
async def export_history(
    product_id: ProductId,
    request: Request,
    access: Annotated[Access, Depends(read_access)],
) -> Response:
    """Every version `/products/{id}/history` pages through, in one read, as `product-{id}-history.csv`."""
    def work(conn, _):
        rows, more = product_history(conn, product_id, MAX_CSV_ROWS, None)
        if not rows and get_product(conn, product_id) is None:
            raise ApiError(404, "not_found", f"no product {product_id}")
        return rows, more

    rows, more = await run_db(request, access, work)
    if more:
        raise _too_many_rows(f"the history of product {product_id}")
    return csv_response(rows, list(HistoryVersion.model_fields), f"product-{product_id}-history.csv")
