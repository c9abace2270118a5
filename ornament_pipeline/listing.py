"""One vendor listing: the unit every part of the flow passes along."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal

# "unknown": the page said something about stock that could not be read; the words are kept in availability_text.
Availability = Literal["available", "unavailable", "preorder", "unknown"]
AVAILABILITIES: tuple[str, ...] = ("available", "unavailable", "preorder", "unknown")

# The largest price the warehouse holds (NUMERIC(10,2)); the parsers reject anything above it.
MAX_PRICE = Decimal("99999999.99")

# The order of fields in JSON output (`ornaments scrape`, `ornaments replica truth`).
JSON_FIELDS = (
    "vendor", "vendor_id", "sku", "item_number", "condition", "name", "price",
    "availability", "availability_text", "brand", "release_year", "link",
)


@dataclass(frozen=True)
class Listing:
    """A listing as a vendor shows it, normalised. Identity is (vendor, vendor_id)."""

    vendor: str
    vendor_id: str
    name: str
    link: str
    availability: Availability
    price: Decimal | None = None
    sku: str | None = None
    item_number: str | None = None
    condition: str | None = None
    brand: str | None = None
    release_year: int | None = None
    price_note: str | None = None  # why price is None, e.g. "Sold Out"
    availability_text: str | None = None  # the stock wording that could not be read (set only when "unknown")

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["price"] = None if self.price is None else str(self.price)
        return {key: data[key] for key in JSON_FIELDS}
