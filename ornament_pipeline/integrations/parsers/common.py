"""HTML helpers shared by the vendor parsers: lxml + CSS, structured data, prices, counts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeAlias

from lxml import html as lxml_html
from lxml.cssselect import CSSSelector
from lxml.etree import ParserError

from ornament_pipeline.integrations.normalise import PRICE_REJECTED, parse_availability, parse_price
from ornament_pipeline.listing import Availability, Listing

Node: TypeAlias = lxml_html.HtmlElement


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
# Elements that hold the current price when a container shows a sale (never `[class*=sale-price]`:
# BigCommerce's struck block is `non-sale-price--withoutTax`).
_CURRENT = ".sale-price, .price--sale, .special-price, [itemprop=price]"


def raw_text(node: Node) -> str:
    """A node's text as the page has it (no whitespace collapsing: invisible characters stay visible to checks)."""
    return node.text_content()


def _struck(node: Node) -> bool:
    return bool(node.xpath("ancestor-or-self::del | ancestor-or-self::s | ancestor-or-self::strike")) or any(
        has_class(n, c) for n in (node, *node.iterancestors()) for c in ("price--rrp", "price--non-sale"))


def price_from(node: Node | None) -> tuple[Decimal | None, str | None]:
    """The current price in a price element, decided by structure: its `content` (microdata), else the one
    sale / `itemprop=price` element inside, else the text left once struck-out prices are removed, which
    must then be one amount (`parse_price`). Two current prices, or only a struck one, are rejections."""
    if node is None:
        return None, "no price shown"
    if node.get("content") is not None:
        return parse_price(node.get("content"))
    # an empty sale element is a template's placeholder, not a price
    current = [n for n in select(node, _CURRENT) if not _struck(n) and (n.get("content") or raw_text(n).strip())]
    shown = {n.get("content") or raw_text(n).strip() for n in current}
    if len(shown) > 1:
        return None, f"{PRICE_REJECTED} {' / '.join(sorted(shown))[:60]!r}: several current prices"
    if current:
        return parse_price(current[0].get("content") or raw_text(current[0]))
    clone = lxml_html.fromstring(lxml_html.tostring(node))
    for struck in select(clone, _STRUCK):
        if struck is not clone:
            struck.drop_tree()
    if _struck(node) or (not raw_text(clone).strip() and raw_text(node).strip()):
        return None, f"{PRICE_REJECTED} {text_of(node)[:60]!r}: only a struck-out price is shown"
    return parse_price(raw_text(clone))


def _json_decimal(text: str) -> Decimal | str:
    # Exponent notation stays text, which `parse_price` rejects as it does "2.495e1" in a string.
    return text if "e" in text.lower() else Decimal(text)


def _json(raw: str) -> Any:
    """JSON with exact numbers: decimals as Decimal (24.95 stays 24.95), NaN / Infinity as Decimal too
    (`parse_price` rejects them), never a float."""
    return json.loads(raw, parse_float=_json_decimal, parse_constant=Decimal)


def json_text(value: Any, what: str) -> str | None:
    """A text field of structured data: a string (None when blank) or absent; any other type is a page error."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    raise PageShapeError(f"{what} is a {type(value).__name__} ({str(value)[:40]!r}), not text")


def json_id(value: Any, what: str) -> str | None:
    """A numeric id of structured data: an int or a string of digits; anything else is a page error."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return value.strip()
    raise PageShapeError(f"{what} is {str(value)[:40]!r} ({type(value).__name__}), not a numeric id")


def json_stock(value: Any, what: str) -> str | int | None:
    """A stock value of structured data: text, 1/0 (or true/false) or absent; any other type is a page error."""
    if value is None or isinstance(value, str | int):
        return value
    raise PageShapeError(f"{what} is a {type(value).__name__} ({str(value)[:40]!r}), not a stock value")


def check_currency(value: Any, what: str) -> None:
    """Prices are US dollars: a structured currency other than USD is a page error."""
    code = json_text(value, what)
    if code is not None and code.upper() != "USD":
        raise PageShapeError(f"{what} is {code!r}: prices must be US dollars")


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
            walk(_json(raw))
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
        return json_text(brand.get("name"), "JSON-LD brand.name")
    return json_text(brand, "JSON-LD brand")


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
                value = _json(candidate)
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
    numbers = re.findall(r"[0-9][0-9,]*", text)
    return int(numbers[-1].replace(",", "")) if numbers else None


def availability_from(*values: str | int | None, new_means_available: bool = False
                      ) -> tuple[Availability | None, str | None]:
    """(availability, availability_text): the first value that says something readable about stock; when
    only unreadable ones say anything, ("unknown", the first such text); (None, None) when none says anything."""
    unread: str | None = None
    for value in values:
        result = parse_availability(value, new_means_available=new_means_available)
        if result == "unknown":
            unread = unread or " ".join(str(value).split())[:200]
        elif result is not None:
            return result, None
    return ("unknown", unread) if unread is not None else (None, None)


FOOTER = "footer, #footer, .footer, [id^=footer], [class^=footer]"


def followed_by(root: Node, node: Node, selector: str) -> bool:
    """Whether an element matching `selector` comes after `node` in document order (not inside it)."""
    wanted = select(root, selector)  # kept alive: lxml returns these same proxies from the XPath below
    return any(any(e is w for w in wanted) for e in node.xpath("following::*"))


def end_reached(source: str, raw: bool) -> bool:
    """Raw bytes from the server (not a browser's serialised DOM, which always ends in `</html>`) that
    reach the document's end."""
    return raw and re.search(r"</(?:body|html)\s*>", source[-4096:], re.IGNORECASE) is not None


_EMPTY_WORDS = re.compile(r"no products|0 products|no items|there are no|no results", re.IGNORECASE)


def says_empty(root: Node) -> bool:
    """Whether a listing page says, in words, that it has no products."""
    count = first(root, ".product-count")
    if count is not None and count_in(text_of(count)) == 0:
        return True
    main = first(root, "#productCategoryBlock", ".productGrid", "main", "#content", "body")
    return bool(_EMPTY_WORDS.search(text_of(main)))
