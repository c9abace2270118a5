"""Between the listing pages and the merge: reading first-seen listings' product pages, and what a scrape found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ornament_pipeline.listing import Listing


@dataclass(frozen=True)
class FailedPage:
    url: str
    reason: str
    status: int | None = None
    vendor_id: str | None = None  # the listing whose product page this was

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"

    def to_json_dict(self) -> dict[str, Any]:
        return {"url": self.url, "reason": self.reason, "status": self.status, "vendor_id": self.vendor_id}


def fill_from_detail(listing: Listing, detail: Listing) -> Listing:
    """The listing page's price and stock (what was observed at scrape time), gaps filled from the product page."""
    unknown_stock = listing.availability == "unknown" and detail.availability != "unknown"
    return replace(
        listing,
        sku=listing.sku or detail.sku,
        item_number=listing.item_number or detail.item_number,
        condition=listing.condition or detail.condition,
        brand=listing.brand or detail.brand,
        release_year=listing.release_year or detail.release_year,
        price=listing.price if listing.price is not None else detail.price,
        availability=detail.availability if unknown_stock else listing.availability,
        availability_text=detail.availability_text if unknown_stock else listing.availability_text,
    )


@dataclass
class Enrichment:
    """First-seen listings with their product page read, and the pages that could not be read."""

    listings: list[Listing]
    detail_read: set[str] = field(default_factory=set)
    failures: list[FailedPage] = field(default_factory=list)


def enrich(listings: Sequence[Listing], need_detail: set[str], read: Callable[[str], Listing],
           attempts: int = 3) -> Enrichment:
    """Read the product page of each listing in `need_detail`; a page that fails is tried again after the rest
    (a page cut short or missing its price once is often whole the next time). Listings whose page still fails
    are kept as the listing page showed them and reported; a later run reads their page again."""
    filled: dict[str, Listing] = {}
    errors: dict[str, FailedPage] = {}
    todo = [item for item in listings if item.vendor_id in need_detail]
    for _ in range(attempts):
        errors = {}
        for item in todo:
            try:
                filled[item.vendor_id] = fill_from_detail(item, read(item.link))
            except Exception as exc:  # noqa: BLE001 - one bad product page must not lose the partition
                errors[item.vendor_id] = FailedPage(item.link, f"product page of {item.vendor_id}: {exc}",
                                                    getattr(exc, "status", None), item.vendor_id)
        todo = [item for item in todo if item.vendor_id in errors]
        if not todo:
            break
    return Enrichment([filled.get(item.vendor_id, item) for item in listings], set(filled), list(errors.values()))
