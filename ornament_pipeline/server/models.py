"""Response models of the HTTP API (they make the OpenAPI schema). Money is a decimal string, e.g. "24.95"."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Vendor = Literal["hookedonhallmark_com", "ornament_shop_com", "hallmark_ornaments_com"]
# "unknown": the listing showed stock wording the scraper could not read (kept in availability_text).
Availability = Literal["available", "unavailable", "preorder", "unknown"]
ChangeKind = Literal["new", "changed", "delisted", "relisted"]


class Product(BaseModel):
    id: int
    vendor: str
    vendor_id: str
    sku: str | None
    item_number: str | None
    condition: str | None
    name: str
    price: Decimal | None = Field(description="Current price; null when the vendor shows none (e.g. sold out)")
    brand: str | None
    availability: str
    release_year: int | None
    link: str
    listed: bool = Field(description="False once a complete scrape of its partition no longer showed it")
    delisted_at: datetime | None
    last_synced_at: datetime = Field(description=(
        "When the listing was last seen as it is: the later of the last observation that changed it and the last"
        " complete scrape of its partition (which saw every listed product); for a delisted one, its delisting"))
    created_at: datetime


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
    limit: int
    sort: str
    order: str


class HistoryVersion(BaseModel):
    id: int
    price: Decimal | None
    availability: str
    name: str
    sku: str | None
    condition: str | None
    item_number: str | None
    link: str
    is_delisted: bool
    valid_from: datetime
    valid_to: datetime | None = Field(description="null for the current version")


class ProductHistory(BaseModel):
    product_id: int
    versions: list[HistoryVersion]
    next_cursor: str | None


class Offer(BaseModel):
    product_id: int
    vendor: str
    condition: str = Field(description="'' when the SKU carried no condition code")
    name: str
    price: Decimal | None
    availability: str
    link: str
    cheapest_in_stock: bool = Field(description="The one cheapest offer in stock of this item, in any condition")
    cheapest_in_condition: bool = Field(description="The one cheapest offer in stock of this item in this condition")
    gap_to_cheapest: Decimal | None = Field(description="This price minus the cheapest in-stock price of the item"
                                                        " (any condition); null without a price or an offer in stock")
    gap_in_condition: Decimal | None = Field(description="This price minus the cheapest in-stock price in the same"
                                                         " condition")
    gap_to_fair_price: Decimal | None = Field(description="This price minus its condition's fair price")
    deal: bool = Field(description="In stock and at least `deal_share` under its condition's fair price")


class MarketPrice(BaseModel):
    fair_price: Decimal = Field(description="Time-weighted median of in-stock prices over the window, every vendor")
    observations: int = Field(description="Price-history versions (a price held in stock) behind it")
    vendors: int
    listings: int
    window_from: datetime
    window_to: datetime
    refreshed_at: datetime


class ConditionOffers(BaseModel):
    condition: str = Field(description="'' when the SKU carried no condition code")
    market: MarketPrice | None = Field(description="null: no in-stock price of this condition in the window")
    cheapest_in_stock: Offer | None = Field(description="The cheapest offer in stock in this condition")
    offers: list[Offer] = Field(description="This condition's current offers, cheapest first")


class OrnamentOffers(BaseModel):
    item_number: str
    offers_refreshed_at: datetime | None = Field(description="When `cross_vendor_offers` was built (null: no offer)")
    deal_share: Decimal = Field(description="`market.deal_share`: how far under the fair price a deal is")
    cheapest_in_stock: Offer | None = Field(description="The one cheapest offer in stock, in any condition")
    offers: list[Offer] = Field(description="Every vendor's current (listed) offer, cheapest first")
    conditions: list[ConditionOffers] = Field(description="Per condition: its fair price and offers")


class VendorCount(BaseModel):
    vendor: str
    products: int = Field(description="Listings ever seen")
    listed: int
    available: int


class YearCount(BaseModel):
    year: int | None = Field(description="null (last) for listings whose release year is not known")
    products: int
    listed: int
    available: int


class ChangeEvent(BaseModel):
    id: int
    product_id: int
    vendor: str
    name: str
    history_id: int
    kind: str
    changed_fields: list[str]
    old_values: dict[str, Any] | None = Field(description="The tracked fields before (null for a new listing);"
                                                          " `price` as a decimal string")
    new_values: dict[str, Any] = Field(description="The tracked fields after; `price` as a decimal string")
    occurred_at: datetime
    recorded_at: datetime


class ChangeFeed(BaseModel):
    events: list[ChangeEvent]
    next_cursor: str = Field(description="Pass as `cursor` next time (unchanged when nothing is new)")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    version: str


class SyncRequest(BaseModel):
    """Exactly one kind of sync: by `vendor` and/or `year` (a backfill), by `product_ids`, or by `query`."""

    vendor: Vendor | None = None
    year: int | None = Field(None, ge=1973, le=2200)
    product_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(None, min_length=1, max_length=1000)
    query: str | None = Field(None, min_length=1, max_length=200, description="Text over name and SKU")
    limit: int = Field(500, ge=1, le=5000, description="For `query`: at most this many listings")


class SyncStarted(BaseModel):
    kind: Literal["backfill", "run"]
    id: str = Field(description="Dagster backfill id or run id")
    job: str | None = None
    partitions: int | None = None
