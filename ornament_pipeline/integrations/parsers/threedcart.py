"""Markup shared by the two 3dcart / Shift4Shop stores: product pages, tiles, paging, view-all links."""

from __future__ import annotations

import re
from decimal import Decimal

from ornament_pipeline.integrations.normalise import (
    absolute_url,
    is_price_rejection,
    parse_price,
    release_year,
    split_sku,
    threedcart_link,
    threedcart_product_id,
)
from ornament_pipeline.integrations.parsers.common import (
    Node,
    PageShapeError,
    PartialListing,
    availability_from,
    check_currency,
    first,
    json_id,
    json_ld_brand,
    json_ld_offer,
    json_ld_products,
    json_stock,
    json_text,
    microdata,
    parse_document,
    price_from,
    select,
    text_of,
    threedcart_item,
)
from ornament_pipeline.listing import Listing

_NEXT_TEXT = re.compile(r"next|^\s*(?:>|»|›)\s*$", re.IGNORECASE)


def next_page(root: Node, page_url: str) -> str | None:
    """The "next" link of 3dcart paging (`div.paging a` whose text contains "next"), or None."""
    for anchor in select(root, "div.paging a, .paging a, .pagination a, a[rel=next]"):
        label = " ".join([text_of(anchor), anchor.get("title") or "", anchor.get("aria-label") or ""])
        if anchor.get("rel") == "next" or _NEXT_TEXT.search(label.strip()):
            url = absolute_url(anchor.get("href"), page_url)
            if url and url != page_url:
                return url
    return None


def product_link_and_id(tile: Node, page_url: str) -> tuple[str | None, str | None]:
    """Canonical link and catalog id of a tile: the `_p_<id>.html` page, else the quick-view URL's itemid."""
    product_url = quick_url = None
    hrefs = [a.get("href") for a in tile.iter("a")] + [n.get("data-ornaments-qv") for n in tile.iter()]
    for href in hrefs:
        url = absolute_url(href, page_url)
        if not url or not threedcart_product_id(url):
            continue
        if "_p_" in url.lower() and product_url is None:
            product_url = url
        elif "product.asp" in url.lower() and quick_url is None:
            quick_url = url
    url = product_url or quick_url
    vendor_id = tile.get("data-catalogid") or (threedcart_product_id(url) if url else None)
    if vendor_id is None:
        field = select(tile, "input[name=item_id], input[name=itemid], input[name=catalogid]")
        vendor_id = field[0].get("value") if field else None
    if url is None:
        return None, vendor_id
    return threedcart_link(url), vendor_id


def tile_listing(
    vendor: str, tile: Node, page_url: str, page_year: int | None, name_selectors: tuple[str, ...]
) -> Listing | PartialListing | None:
    """One product tile; a `PartialListing` when it lacks price or stock; None without any product link."""
    link, vendor_id = product_link_and_id(tile, page_url)
    if link is None:
        return None
    name_node = first(tile, *name_selectors)
    name = text_of(name_node) or (name_node.get("title") if name_node is not None else None)
    if not name:
        for anchor in tile.iter("a"):
            if text_of(anchor) and threedcart_product_id(absolute_url(anchor.get("href"), page_url)):
                name = text_of(anchor)
                break
    price_node = first(tile, ".price", "[class*=price]", "[itemprop=price]")
    price, note = price_from(price_node) if price_node is not None else (None, None)
    stock = first(tile, ".status .availability", ".availability", "[itemprop=availability]", ".stock", "[class*=stock]")
    stock_text = (stock.get("content") or stock.get("href") or text_of(stock)) if stock is not None else None
    availability, availability_text = availability_from(stock_text)
    if availability is None and note and "sold out" in note.lower():
        availability = "unavailable"
    year = release_year(name) or page_year
    # What the tile shows but cannot be read (a price that is not one amount, stock words not understood)
    # is looked up on the product page, whose structured data says it plainly.
    if (not vendor_id or not name or availability in (None, "unknown") or price_node is None
            or is_price_rejection(note)):
        return PartialListing(link, name or None, vendor_id, price, note,
                              None if availability == "unknown" else availability, year)
    return Listing(vendor, vendor_id, name, link, availability, price, release_year=year, price_note=note,
                   availability_text=availability_text)


def _first_input_of_add_form(root: Node) -> str | None:
    for selector in ("form#add input[name=item_id]", "input[name=item_id]", "form#add input"):
        found = select(root, selector)
        value = (found[0].get("value") or "").strip() if found else ""
        if value.isascii() and value.isdigit():
            return found[0].get("value").strip()
    return None


def _canonical(root: Node, page_url: str, vendor_id: str | None) -> str:
    for link in select(root, "link[rel=canonical]"):
        url = absolute_url(link.get("href"), page_url)
        if url and threedcart_product_id(url) == vendor_id:
            return threedcart_link(url)
    if threedcart_product_id(page_url) == vendor_id and "_p_" in page_url.lower():
        return threedcart_link(page_url)
    return threedcart_link(page_url) if vendor_id and threedcart_product_id(page_url) else page_url


def _product_price(root: Node, item: dict, offer: dict) -> tuple[Decimal | None, str | None]:
    """`_3d_item.price`, then the JSON-LD offer, then `#price`: the first that is there decides; one that is
    there but not one US-dollar amount is a page error naming the field (a product page must say its price)."""
    check_currency(item.get("currency"), "_3d_item.currency")
    check_currency(offer.get("priceCurrency"), "JSON-LD offers.priceCurrency")
    fields = (("_3d_item.price", item.get("price")), ("JSON-LD offers.price", offer.get("price")))
    for field, value in fields:
        if value is None or value == "" or (not isinstance(value, bool) and value in (0, "0", "0.00")):
            continue  # absent (3dcart writes 0 for an item without a price)
        price, note = parse_price(value)
        if is_price_rejection(note):
            raise PageShapeError(f"{field}: {note}")
        if price is not None:
            return price, None
    price_node = first(root, "#price")
    if price_node is None:
        raise PageShapeError("no price on the product page")
    price, note = price_from(price_node)
    if is_price_rejection(note):
        raise PageShapeError(f"#price: {note}")
    if price is None and note == "no price shown":
        raise PageShapeError("no price on the product page (#price is empty)")
    return price, note


def parse_product(vendor: str, source: str, page_url: str, fallback_name: str | None = None) -> Listing:
    """A 3dcart product (or quick-view) page: `_3d_item`, then JSON-LD, then `#product_id`/`#price`/..."""
    root = parse_document(source)
    item = threedcart_item(root) or {}
    products = json_ld_products(root)
    ld = products[0] if products else {}
    offer = json_ld_offer(ld)

    vendor_id = json_id(item.get("catalogid"), "_3d_item.catalogid") or _first_input_of_add_form(root)
    vendor_id = vendor_id or threedcart_product_id(page_url)
    sku = json_text(item.get("id"), "_3d_item.id") or json_text(ld.get("sku"), "JSON-LD sku") or microdata(root, "sku")
    sku = sku or text_of(first(root, "#product_id")) or None
    name = json_text(item.get("name"), "_3d_item.name") or json_text(ld.get("name"), "JSON-LD name") or fallback_name
    name = name or text_of(first(root, "#add h1", "h1")) or None

    price, note = _product_price(root, item, offer)
    stock = first(root, "#availability")
    availability, availability_text = availability_from(
        json_stock(item.get("availability"), "_3d_item.availability"),
        json_text(offer.get("availability"), "JSON-LD offers.availability"), microdata(root, "availability"),
        text_of(stock) if stock is not None else None,
    )
    if availability is None and note and "sold out" in note.lower():
        availability = "unavailable"
    if not vendor_id:
        raise PageShapeError("no product id (no _3d_item, no item_id input, no _p_<id> URL)")
    if not name:
        raise PageShapeError("no product name")
    if availability is None:
        raise PageShapeError("no availability on the product page")
    item_number, condition = split_sku(sku)
    page_text = text_of(first(root, "body"))
    year_match = re.search(r"((?:19|20)[0-9]{2}) Hallmark Keepsake Ornament", page_text)
    return Listing(
        vendor=vendor,
        vendor_id=vendor_id,
        name=name,
        link=_canonical(root, page_url, vendor_id),
        availability=availability,
        price=price,
        sku=sku,
        item_number=item_number,
        condition=condition,
        brand=json_ld_brand(ld) or microdata(root, "brand"),
        release_year=release_year(name, year_match.group(1) if year_match else None),
        price_note=note,
        availability_text=availability_text,
    )
