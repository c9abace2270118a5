"""The replica's clock: what each listing looks like on day N, from (seed, day) alone.

Each listing has, per tracked attribute, its own period (days) and phase; the attribute keeps one
value for a whole period and is redrawn from a hash of (seed, listing, attribute, epoch) at the
next. So any day is computed directly (no replay of earlier days), and a few percent of listings
change price, stock or presence from one day to the next. Names, SKUs, ids and links never change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from ornament_pipeline.listing import Listing
from ornament_pipeline.replica.catalogue import (
    LAST_YEAR,
    Catalogue,
    CatalogueListing,
    catalogue,
    money,
)
from ornament_pipeline.vendors import HOOKEDONHALLMARK, ORNAMENT_SHOP

IN_STOCK_TEXT = "In Stock - Ships Next Business Day"


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across processes, unlike hash())."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class DayListing:
    """A listing as it is on one day."""

    item: CatalogueListing
    price: Decimal
    regular_price: Decimal | None  # set when on sale: the struck-through price
    availability: str  # available | unavailable | preorder
    stock_text: str  # the text the site prints


def _epoch(seed: int, key: str, attr: str, day: int, low: int, high: int) -> int:
    period = low + int(unit(seed, key, attr, "period") * (high - low))
    phase = int(unit(seed, key, attr, "phase") * period)
    return (day + phase) // period


def listed(seed: int, item: CatalogueListing, day: int) -> bool:
    """Is the listing up on `day`? New listings appear on first_day; ~6% of epochs are delisted."""
    if day < item.first_day:
        return False
    key = f"{item.vendor}:{item.vendor_id}"
    epoch = _epoch(seed, key, "listed", day, 40, 120)
    return unit(seed, key, "listed", epoch) >= 0.06


def day_listing(seed: int, item: CatalogueListing, day: int) -> DayListing:
    """Price and stock of a listing on `day` (whether it is listed at all is `listed`)."""
    key = f"{item.vendor}:{item.vendor_id}"
    p_epoch = _epoch(seed, key, "price", day, 20, 70)
    factor = 0.88 + 0.27 * unit(seed, key, "price", p_epoch)
    regular = money(item.base_price * factor)
    price, was = regular, None
    # Sales: hookedonhallmark and ornament-shop show struck-through regular prices.
    if item.vendor != "hallmark_ornaments_com" and unit(seed, key, "sale", p_epoch) < 0.12:
        price, was = money(float(regular) * 0.8), regular
        if price >= regular:
            price, was = regular, None
    a_epoch = _epoch(seed, key, "stock", day, 15, 60)
    in_stock = unit(seed, key, "stock", a_epoch) < (0.78 if item.year >= 1990 else 0.6)
    availability = "available" if in_stock else "unavailable"
    if in_stock:
        text = IN_STOCK_TEXT if item.vendor == HOOKEDONHALLMARK else "In Stock"
    else:
        text = "Sold Out" if item.variant % 3 == 0 else "Out of Stock"
    if item.vendor == ORNAMENT_SHOP and item.year == LAST_YEAR and item.variant % 4 == 0:
        availability, text = "preorder", "Pre-Order"
    return DayListing(item, price, was, availability, text)


def day_state(cat: Catalogue, day: int, vendor: str) -> list[DayListing]:
    """Every listing the vendor shows on `day`, in catalogue order (year, name, id)."""
    return [day_listing(cat.seed, item, day) for item in cat.listings[vendor] if listed(cat.seed, item, day)]


def to_listing(dl: DayListing, base_url: str) -> Listing:
    """The truth record for one day listing, with its canonical absolute link."""
    item = dl.item
    return Listing(
        vendor=item.vendor,
        vendor_id=str(item.vendor_id),
        name=item.name,
        link=product_url(base_url, item),
        availability=dl.availability,  # type: ignore[arg-type]
        price=dl.price,
        sku=item.sku,
        item_number=item.design.item_number,
        condition=item.condition,
        brand=item.brand,
        release_year=item.year,
    )


def product_path(item: CatalogueListing) -> str:
    """The product page path (canonical link without the base URL)."""
    if item.vendor == ORNAMENT_SHOP:
        return f"/{item.slug}/"
    return f"/{item.slug}_p_{item.vendor_id}.html"


def product_url(base_url: str, item: CatalogueListing) -> str:
    return base_url.rstrip("/") + product_path(item)


def truth(size: str, day: int, seed: int, base_urls: dict[str, str], vendor: str | None = None,
          year: int | None = None) -> list[Listing]:
    """What the replica's sites serve on `day`: one Listing per listing, vendor by vendor."""
    cat = catalogue(size, seed)
    out: list[Listing] = []
    for v in cat.listings if vendor is None else (vendor,):
        for dl in day_state(cat, day, v):
            if year is None or dl.item.year == year:
                out.append(to_listing(dl, base_urls[v]))
    return out
