"""ornament-shop.com (BigCommerce, Cornerstone theme): year index, category pages, product pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ornament_pipeline.integrations.normalise import (
    absolute_url,
    is_price_rejection,
    leading_year,
    parse_price,
    release_year,
    split_sku,
    strip_tracking,
    without_query,
)
from ornament_pipeline.integrations.parsers.common import (
    FOOTER,
    ListingPage,
    Node,
    PageShapeError,
    PartialListing,
    availability_from,
    check_currency,
    count_in,
    end_reached,
    first,
    followed_by,
    json_id,
    json_ld_brand,
    json_ld_offer,
    json_ld_products,
    json_text,
    microdata,
    parse_document,
    price_from,
    says_empty,
    select,
    text_of,
)
from ornament_pipeline.listing import Availability, Listing
from ornament_pipeline.vendors import ORNAMENT_SHOP

VENDOR = ORNAMENT_SHOP
WAIT_SELECTOR = TILE_SELECTOR = ".productGrid article.card"
YEAR_INDEX_PATH = "/hallmark-ornaments-by-year.html"


# What follows the sidebar's category list in a whole page: the page's own content, or the footer.
_AFTER_SIDEBAR = f".page-content, {FOOTER}"


def parse_year_index(source: str, page_url: str, *, raw: bool = False) -> dict[int, str]:
    """`li.navList-item > a.navList-action` whose first path segment starts with a 4-digit year. Only a
    whole index is believed: its end reached (`raw` server bytes) or the page content after the list."""
    root = parse_document(source)
    years: dict[int, str] = {}
    anchors = select(root, "li.navList-item > a.navList-action") or select(root, "a.navList-action")
    for anchor in anchors:
        url = absolute_url(anchor.get("href"), page_url)
        if not url:
            continue
        segment = urlsplit(url).path.lstrip("/").split("/", 1)[0]
        year = leading_year(segment)
        if year and year not in years:
            years[year] = strip_tracking(url)
    if not years:
        raise PageShapeError("no year links (li.navList-item > a.navList-action) on the year index")
    if not (end_reached(source, raw) or followed_by(root, anchors[-1], _AFTER_SIDEBAR)):
        raise PageShapeError(f"year index incomplete: nothing after the category list ({len(years)} years seen)")
    return years


def _card_availability(card: Node) -> Availability | None:
    """Stock as a card shows it: its cart button (Add to Cart / Pre-Order / Out of stock) or stock text;
    None (the product page decides) when it shows nothing it can be read from."""
    labels = []
    for node in select(card,
        "[data-button-type], .card-figcaption-button, .card-text--outOfStock, [data-product-stock], "
        ".card-stock, .availability, [itemprop=availability]"
    ):
        labels.append(node.get("content") or (node.get("href") if node.tag == "link" else None) or text_of(node))
        if node.get("data-button-type") == "add-cart":
            return "available"
    for label in labels:
        lowered = (label or "").lower()
        if re.search(r"add to cart|in stock|pre-?\s?order|out of stock|sold out|instock|outofstock", lowered):
            availability, _ = availability_from(label)
            return None if availability == "unknown" else availability
    return None


def _card(card: Node, page_url: str, page_year: int | None) -> Listing | PartialListing | None:
    figure_links = select(card, ".card-figure a")
    link_node = figure_links[0] if figure_links else first(card, ".card-title a")
    link = absolute_url(link_node.get("href"), page_url) if link_node is not None else None
    if link is None:
        return None
    link = without_query(link)
    vendor_id = card.get("data-entity-id") or card.get("data-product-id")
    name = text_of(first(card, ".card-title a", ".card-title")) or card.get("data-name") or None
    price_node = first(card, "span.price.price--withoutTax", ".price--withoutTax", ".price--main", ".price")
    price, note = price_from(price_node) if price_node is not None else (None, None)
    if price is None and not is_price_rejection(note) and card.get("data-product-price"):
        price, note = parse_price(card.get("data-product-price"))
    availability = _card_availability(card)
    if availability is None and note and "sold out" in note.lower():
        availability = "unavailable"
    year = release_year(name) or page_year
    # A price shown but unreadable is looked up on the product page (structured data), never guessed here.
    if (not vendor_id or not (vendor_id.isascii() and vendor_id.isdigit()) or not name or availability is None
            or (price is None and note is None) or is_price_rejection(note)):
        return PartialListing(link, name, vendor_id, price, note, availability, year)
    return Listing(VENDOR, vendor_id, name, link, availability, price, release_year=year, price_note=note)


def _check_complete(root: Node, source: str, raw: bool, last: Node | None, has_next: bool) -> None:
    """A category page is whole when its end is reached (`raw` server bytes) or the footer follows its
    product grid. The paginator is optional (a one-page category may have none) and no evidence: one cut
    half-way looks like a last page. A page that lists higher page numbers than its own but no next link
    contradicts itself."""
    if not end_reached(source, raw) and not (
        followed_by(root, last, FOOTER) if last is not None else first(root, FOOTER) is not None
    ):
        raise PageShapeError("listing page incomplete: no footer after the product grid (page cut short?)")
    pagination = first(root, "nav.pagination", "ul.pagination-list", ".pagination")
    if pagination is None or has_next:
        return
    numbers = [int(t) for a in select(pagination, "li.pagination-item a") if re.fullmatch("[0-9]+", t := text_of(a))]
    current = first(pagination, "li.pagination-item--current")
    here = text_of(current) if current is not None else ""
    if numbers and here.isascii() and here.isdigit() and int(here) < max(numbers):
        raise PageShapeError(f"page {here} of {max(numbers)} has no next link")


def parse_listing(source: str, page_url: str, page_year: int | None = None, *, raw: bool = False) -> ListingPage:
    """`ul.productGrid > li.product > article.card`, and `li.pagination-item--next > a`. `raw`: the source
    is the server's bytes (an in-page fetch), not a browser's serialised DOM."""
    root = parse_document(source)
    cards = select(root, "ul.productGrid > li.product > article.card") or select(root,
        ".productGrid article.card, .productList article.card, article.card[data-entity-id]"
    )
    items = [item for card in cards if (item := _card(card, page_url, page_year)) is not None]
    next_link = first(root, "li.pagination-item--next > a", ".pagination-item--next a", "link[rel=next]")
    _check_complete(root, source, raw, cards[-1] if cards else None, next_link is not None)
    count_node = first(root, ".product-count")
    return ListingPage(
        items=items,
        next_url=absolute_url(next_link.get("href"), page_url) if next_link is not None else None,
        expected_count=count_in(text_of(count_node)) if count_node is not None else None,
        # the paginator comes after the grid: with it there and no cards, the category is empty
        says_empty=says_empty(root) or (not items and first(root, "nav.pagination", ".pagination") is not None),
    )


def _labelled(root: Node) -> dict[str, Node]:
    """`<dt>Label:</dt><dd>value</dd>` rows by lower-case label."""
    rows: dict[str, Node] = {}
    for dt in select(root, "dl dt"):
        dd = dt.getnext()
        while dd is not None and dd.tag != "dd":
            dd = dd.getnext() if dd.tag not in ("dt",) else None
        if dd is not None:
            rows.setdefault(text_of(dt).rstrip(":").strip().lower(), dd)
    return rows


def parse_product(source: str, page_url: str, fallback_name: str | None = None) -> Listing:
    """JSON-LD / microdata first, then `[data-product-sku]`, the price span and labelled `<dl>` rows,
    and the 2020 `<dd>` positions (3rd price, 4th brand, 5th SKU, 6th availability) only as a last resort."""
    root = parse_document(source)
    products = json_ld_products(root)
    ld = products[0] if products else {}
    offer = json_ld_offer(ld)
    rows = _labelled(root)
    dds = select(root, "dl dd")
    positional = len(dds) >= 6 and not rows

    def row(*labels: str, position: int) -> Node | None:
        for label in labels:
            if label in rows:
                return rows[label]
        return dds[position] if positional else None

    name: str | None = json_text(ld.get("name"), "JSON-LD name") or text_of(first(root, "h1.productView-title", "h1"))
    name = name or fallback_name
    sku = json_text(ld.get("sku"), "JSON-LD sku") or microdata(root, "sku")
    sku = sku or text_of(first(root, "[data-product-sku]")) or text_of(row("sku", position=4)) or None

    # Structured prices first; one that is there but not one US-dollar amount is a page error naming it.
    check_currency(offer.get("priceCurrency"), "JSON-LD offers.priceCurrency")
    check_currency(microdata(root, "priceCurrency"), "microdata priceCurrency")
    meta_price = first(root, "[itemprop=offers] meta[itemprop=price], meta[itemprop=price]")
    price, note = None, None
    for field, candidate in (("JSON-LD offers.price", offer.get("price")),
                             ("JSON-LD offers.lowPrice", offer.get("lowPrice")),
                             ("meta[itemprop=price]", meta_price.get("content") if meta_price is not None else None)):
        if candidate is None or candidate == "":
            continue
        price, note = parse_price(candidate)
        if is_price_rejection(note):
            raise PageShapeError(f"{field}: {note}")
        break
    if price is None and note is None:
        shown = first(root, ".productView-price span.price--withoutTax", "span.price.price--withoutTax")
        element = shown if shown is not None else row("price", position=2)
        if element is None:
            raise PageShapeError("no price on the product page")
        price, note = price_from(element)
        if is_price_rejection(note) or note == "no price shown":
            raise PageShapeError(f"price element: {note}")

    stock_row = row("availability", "stock", position=5)
    availability, availability_text = availability_from(
        json_text(offer.get("availability"), "JSON-LD offers.availability"), microdata(root, "availability"),
        text_of(first(root, "[data-product-stock]")) or None,
        text_of(stock_row) if stock_row is not None else None,
        new_means_available=True,
    )
    if availability is None and note and "sold out" in note.lower():
        availability = "unavailable"
    brand_row = row("brand", position=3)
    brand: str | None = json_ld_brand(ld) or microdata(root, "brand") or text_of(first(root, ".productView-brand a"))
    brand = brand or (text_of(brand_row) if brand_row is not None else None) or None

    id_input = first(root, "input[name=product_id]")
    vendor_id = (id_input.get("value") if id_input is not None else None) or json_id(
        ld.get("productID"), "JSON-LD productID")
    canonical = first(root, "link[rel=canonical]")
    link = absolute_url(canonical.get("href"), page_url) if canonical is not None else None
    link = without_query(link or page_url)
    if not vendor_id or not (str(vendor_id).strip().isascii() and str(vendor_id).strip().isdigit()):
        raise PageShapeError("no product id (input[name=product_id]) on the product page")
    if not name:
        raise PageShapeError("no product name")
    if availability is None:
        raise PageShapeError("no availability on the product page")
    item_number, condition = split_sku(sku)
    return Listing(
        vendor=VENDOR, vendor_id=str(vendor_id).strip(), name=name, link=link, availability=availability,
        price=price, sku=sku, item_number=item_number, condition=condition, brand=brand,
        release_year=release_year(name), price_note=note, availability_text=availability_text,
    )

