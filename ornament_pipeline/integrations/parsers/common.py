"""HTML helpers shared by the vendor parsers: lxml + CSS, structured data, prices, counts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lxml import html as lxml_html
from lxml.cssselect import CSSSelector
from lxml.etree import ParserError

from ornament_pipeline.integrations.normalise import parse_availability, parse_price
from ornament_pipeline.listing import Availability, Listing

Node = lxml_html.HtmlElement


class PageShapeError(Exception):
    """The page lacks what must be there; the caller wraps it into a `ParseError` with vendor and URL."""


@dataclass
class ListingPage:
    """What one listing page shows."""

    items: list[Listing | PartialListing]
    next_url: str | None = None
    view_all_url: str | None = None
    subcategory_urls: list[str] = field(default_factory=list)
    expected_count: int | None = None
    says_empty: bool = False


@dataclass
class PartialListing:
    """A tile that lacks a field the product page has (availability, price or id): fetch the product."""

    link: str
    name: str | None = None
    vendor_id: str | None = None
    price: Decimal | None = None
    price_note: str | None = None
    availability: Availability | None = None
    release_year: int | None = None


@lru_cache(maxsize=512)
def _compiled(selector: str) -> CSSSelector:
    return CSSSelector(selector)


def select(node: Node, selector: str) -> list[Node]:
    """`node.cssselect(selector)` with the CSS-to-XPath translation compiled once per selector."""
    return _compiled(selector)(node)


def parse_document(source: str) -> Node:
    """Parse a page with lxml's HTML parser; an empty or non-HTML page is a `PageShapeError`."""
    if not source or not source.strip():
        raise PageShapeError("empty page")
    try:
        return lxml_html.document_fromstring(source)
    except (ParserError, ValueError) as exc:
        raise PageShapeError(f"unparseable HTML: {exc}") from None


def text_of(node: Node | None) -> str:
    """Visible text of a node, whitespace collapsed."""
    if node is None:
        return ""
    return " ".join(node.text_content().split())


def first(root: Node, *selectors: str) -> Node | None:
    """The first node matched by the first selector that matches anything."""
    for selector in selectors:
        found = select(root, selector)
        if found:
            return found[0]
    return None


def has_class(node: Node, name: str) -> bool:
    return name in (node.get("class") or "").split()


_STRUCK = "del, s, strike, .price--rrp, .price--non-sale, [class*='old-price'], [class*='was-price']"


def price_from(node: Node | None) -> tuple[Decimal | None, str | None]:
    """The current price inside a price container: a sale price wins, struck-out old prices are ignored."""
    if node is None:
        return None, "no price shown"
    for selector in (".sale-price", ".price--sale", "[class*='sale-price']", "[itemprop=price]"):
        found = select(node, selector)
        if found:
            content = found[0].get("content")
            value, note = parse_price(content if content else text_of(found[0]))
            if value is not None:
                return value, None
    clone = lxml_html.fromstring(lxml_html.tostring(node))
    for struck in select(clone, _STRUCK):
        if struck is clone:
            continue
        struck.drop_tree()
    value, note = parse_price(text_of(clone))
    if value is None and note and note.startswith("no price") and text_of(node):
        # only a struck-out price was shown
        return parse_price(text_of(node))
    return value, note


def json_ld_products(root: Node) -> list[dict[str, Any]]:
    """Every schema.org `Product` in the page's JSON-LD blocks (graphs and lists flattened)."""
    products: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            kind = value.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(str(k).lower().endswith("product") for k in kinds if k):
                products.append(value)
            for key in ("@graph", "mainEntity", "itemListElement", "item"):
                if key in value:
                    walk(value[key])

    for script in root.xpath("//script[@type='application/ld+json']"):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            walk(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return products


def json_ld_offer(product: dict[str, Any]) -> dict[str, Any]:
    """The first offer of a JSON-LD product (offers may be an object, a list or an AggregateOffer)."""
    offers = product.get("offers")
    if isinstance(offers, list):
        offers = offers[0] if offers else None
    if isinstance(offers, dict) and isinstance(offers.get("offers"), list) and offers["offers"]:
        offers = offers["offers"][0]
    return offers if isinstance(offers, dict) else {}


def json_ld_brand(product: dict[str, Any]) -> str | None:
    brand = product.get("brand")
    if isinstance(brand, dict):
        brand = brand.get("name")
    return str(brand).strip() or None if brand else None


_3D_ITEM = re.compile(r"_3d_item\s*=\s*(\{.*?\})\s*;", re.DOTALL)


def threedcart_item(root: Node) -> dict[str, Any] | None:
    """The `var _3d_item = {...};` object 3dcart writes into a product page's scripts, found by content."""
    for script in root.xpath("//script[not(@src)]"):
        raw = script.text or ""
        if "_3d_item" not in raw:
            continue
        match = _3D_ITEM.search(raw)
        if not match:
            continue
        body = match.group(1)
        for candidate in (body, re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', body).replace("'", '"')):
            try:
                value = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def microdata(root: Node, prop: str) -> str | None:
    """The value of the first `itemprop=prop`: `content`, `href` (for links) or text."""
    for node in select(root, f"[itemprop={prop}]"):
        value = node.get("content") or (node.get("href") if node.tag in ("link", "a") else None) or text_of(node)
        if value and value.strip():
            return value.strip()
    return None


def count_in(text: str) -> int | None:
    """The product count in texts like "Total number of products: 1,272" or "272 products" (last number)."""
    numbers = re.findall(r"\d[\d,]*", text)
    return int(numbers[-1].replace(",", "")) if numbers else None


def availability_from(*values: str | int | None, new_means_available: bool = False) -> Availability | None:
    """The first value that says anything about stock."""
    for value in values:
        result = parse_availability(value, new_means_available=new_means_available)
        if result is not None:
            return result
    return None


_EMPTY_WORDS = re.compile(r"no products|0 products|no items|there are no|no results", re.IGNORECASE)


def says_empty(root: Node) -> bool:
    """Whether a listing page says, in words, that it has no products."""
    count = first(root, ".product-count")
    if count is not None and count_in(text_of(count)) == 0:
        return True
    main = first(root, "#productCategoryBlock", ".productGrid", "main", "#content", "body")
    return bool(_EMPTY_WORDS.search(text_of(main)))
