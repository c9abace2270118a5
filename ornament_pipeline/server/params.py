"""Query and path parameter types shared by the routes (their limits show in the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

from ornament_pipeline.server.config import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MAX_BIGINT = 2**63 - 1
NO_NUL = r"^[^\x00]*$"  # Postgres text cannot hold NUL; reject it as a parameter error instead
ITEM_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"

VendorParam = Literal["hookedonhallmark_com", "ornament_shop_com", "hallmark_ornaments_com"]
AvailabilityParam = Literal["available", "unavailable", "preorder", "unknown"]

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}")]
Cursor = Annotated[str | None, Query(max_length=500, pattern=r"^[A-Za-z0-9_-]*$",
                                     description="`next_cursor` of the previous page")]
ProductId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="A product id")]
Year = Annotated[int | None, Query(ge=1973, le=2200, description="Release year")]
Text = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]
