"""Normalisation shared by the parsers: price, availability, SKU, release year, URLs."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ornament_pipeline.listing import Availability

_MONEY = re.compile(r"(?<![\d.])\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?![\d,])")
_NO_PRICE_WORDS = ("sold out", "out of stock", "call for price", "unavailable", "not available")


def parse_price(text: str | float | int | Decimal | None) -> tuple[Decimal | None, str | None]:
    """`"$1,249.00"` -> `(Decimal("1249.00"), None)`; `"Sold Out"` -> `(None, "Sold Out")`.

    Returns the first amount in the text (callers remove struck-out old prices first) and, when
    there is none, the reason: the text shown, or "no price shown".
    """
    if text is None:
        return None, "no price shown"
    if isinstance(text, int | float | Decimal) and not isinstance(text, bool):
        try:
            value = Decimal(str(text)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return None, f"unreadable price {text!r}"
        return (value, None) if value > 0 else (None, "price 0")
    cleaned = " ".join(str(text).split())
    if not cleaned:
        return None, "no price shown"
    lowered = cleaned.lower()
    if any(word in lowered for word in _NO_PRICE_WORDS) and "$" not in cleaned:
        return None, cleaned
    match = _MONEY.search(cleaned)
    if not match:
        return None, cleaned[:80]
    whole, cents = match.group(1).replace(",", ""), (match.group(2) or "0").ljust(2, "0")
    value = Decimal(f"{whole}.{cents}")
    if value <= 0:
        return None, cleaned[:80]
    return value, None


_SCHEMA = {
    "instock": "available", "limitedavailability": "available", "onlineonly": "available",
    "instoreonly": "available", "outofstock": "unavailable", "soldout": "unavailable",
    "discontinued": "unavailable", "preorder": "preorder", "presale": "preorder", "backorder": "unavailable",
}


def parse_availability(text: str | int | bool | None, *, new_means_available: bool = False) -> Availability | None:
    """Map the many ways a store says stock to `available`, `unavailable`, `preorder`; None if absent.

    Accepts schema.org values (`https://schema.org/InStock`), 3dcart's 1/0, and visible text
    ("In Stock - Ships Next Business Day", "Out of Stock", "Sold Out", "Pre-Order").
    """
    if text is None:
        return None
    if isinstance(text, bool | int):
        return "available" if int(text) > 0 else "unavailable"
    cleaned = " ".join(str(text).split()).lower()
    if not cleaned:
        return None
    if cleaned.isdigit():
        return "available" if int(cleaned) > 0 else "unavailable"
    key = cleaned.rsplit("/", 1)[-1].replace(" ", "").replace("_", "").replace("-", "")
    if key in _SCHEMA:
        return _SCHEMA[key]  # type: ignore[return-value]
    if re.search(r"pre-?\s?order", cleaned):
        return "preorder"
    if re.search(r"out of stock|sold out|not (?:in stock|available)|unavailable|discontinued|no longer", cleaned):
        return "unavailable"
    if "in stock" in cleaned or "add to cart" in cleaned or cleaned in ("available", "yes"):
        return "available"
    if new_means_available and re.search(r"\bnew\b", cleaned):
        return "available"
    return "unavailable"


_SKU = re.compile(r"^(?P<item>[A-Z]{1,4}\d{3,5})(?:[-_ ]*(?P<cond>[A-Z][A-Z0-9]{0,11}))?$")


def split_sku(sku: str | None) -> tuple[str | None, str | None]:
    """`QX1571NB` -> `("QX1571", "NB")`; `QXM4152` -> `("QXM4152", None)`; unknown shapes -> (None, None)."""
    if not sku:
        return None, None
    match = _SKU.match(sku.strip().upper())
    if not match:
        return None, None
    return match.group("item"), match.group("cond")


def release_year(*texts: str | None) -> int | None:
    """The first plausible year (1973 .. next year) a text starts with, e.g. "2020 Frosty Friends"."""
    last = dt.date.today().year + 1
    for text in texts:
        if not text:
            continue
        match = re.match(r"\s*((?:19|20)\d{2})(?!\d)", text)
        if match and 1973 <= int(match.group(1)) <= last:
            return int(match.group(1))
    return None


def leading_year(text: str | None) -> int | None:
    """A 4-digit year the text (a link text, alt text or URL path segment) starts with."""
    if not text:
        return None
    match = re.match(r"\s*(\d{4})(?!\d)", text)
    if match and 1900 <= int(match.group(1)) <= 2100:
        return int(match.group(1))
    return None


_TRACKING_PREFIXES = ("utm_", "mc_", "_ga", "pk_")
_TRACKING = {"gclid", "fbclid", "msclkid", "yclid", "ref", "lt_c", "qv", "sessionid", "sid", "cat", "catalogid_ref"}
_ID_PARAMS = {"itemid", "catalogid", "id", "product_id", "page", "viewall", "sort", "limit"}


def absolute_url(href: str | None, page_url: str) -> str | None:
    """Resolve `href` against the page URL; drop the fragment. None for empty and in-page links and for anything
    that does not resolve to an http(s) address (script, data, mail and phone links, however they are cased)."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    # urlsplit drops tabs and newlines inside a URL as browsers do, so "java\tscript:" is seen as "javascript:".
    parts = urlsplit(urljoin(page_url, href))
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def strip_tracking(url: str, *, keep: set[str] | None = None) -> str:
    """Drop tracking parameters (utm_*, gclid, lt_c, qv, ...) and empty ones; keep ids and paging."""
    parts = urlsplit(url)
    params = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=False)
        if (keep is not None and key.lower() in keep)
        or (
            keep is None
            and key.lower() not in _TRACKING
            and not key.lower().startswith(_TRACKING_PREFIXES)
        )
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))


def without_query(url: str) -> str:
    """The URL with query string and fragment removed (BigCommerce product links)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def query_param(url: str | None, name: str) -> str | None:
    """The value of one query parameter, matched case-insensitively."""
    if not url:
        return None
    for key, value in parse_qsl(urlsplit(url).query):
        if key.lower() == name.lower() and value:
            return value
    return None


def with_query(url: str, **params: str) -> str:
    """`url` with the given query parameters set (added or replaced)."""
    parts = urlsplit(url)
    current = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    current.extend(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(current), parts.fragment))


_3DCART_PRODUCT = re.compile(r"_p_(\d+)\.html?$", re.IGNORECASE)


def threedcart_product_id(url: str | None) -> str | None:
    """The catalog id of a 3dcart product URL: `_p_<id>.html` or `product.asp?itemid=<id>`."""
    if not url:
        return None
    match = _3DCART_PRODUCT.search(urlsplit(url).path)
    if match:
        return match.group(1)
    if "product.asp" in urlsplit(url).path.lower():
        value = query_param(url, "itemid")
        return value if value and value.isdigit() else None
    return None


def threedcart_link(url: str) -> str:
    """Canonical 3dcart product link: `_p_<id>.html` without query; `product.asp?itemid=<id>` otherwise."""
    if _3DCART_PRODUCT.search(urlsplit(url).path):
        return without_query(url)
    return strip_tracking(url, keep={"itemid"})
