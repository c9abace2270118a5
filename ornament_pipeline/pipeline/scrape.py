"""What a vendor-year scrape hands to the merge: picklable, with its observation time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from ornament_pipeline.listing import Listing


@dataclass(frozen=True)
class FailedPage:
    url: str
    reason: str
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


@dataclass(frozen=True)
class ListingsScrape:
    """The listings of one vendor-year as its listing pages showed them at `scraped_at`."""

    vendor: str
    year: int
    scraped_at: datetime
    listings: list[Listing] = field(default_factory=list)
    failed_pages: list[FailedPage] = field(default_factory=list)
    pages_visited: int = 0
    year_url: str | None = None  # None: the vendor has no page for this year

    @property
    def complete(self) -> bool:
        return not self.failed_pages


def fill_from_detail(listing: Listing, detail: Listing) -> Listing:
    """The listing page's price and stock (what was observed at scrape time), gaps filled from the product page."""
    return replace(
        listing,
        sku=listing.sku or detail.sku,
        item_number=listing.item_number or detail.item_number,
        condition=listing.condition or detail.condition,
        brand=listing.brand or detail.brand,
        release_year=listing.release_year or detail.release_year,
        price=listing.price if listing.price is not None else detail.price,
    )
