"""Normalisation shared by the parsers: price, availability, SKU, release year, URLs."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ornament_pipeline.listing import MAX_PRICE, Availability

# A price field holds ONE US-dollar amount: "$1,249.00", "24.95", "USD 5", after an optional label
# that names the current price. Anything else is rejected with a reason, never read as "the first number".
_PRICE_LABEL = r"(?:(?:our|sale|your|special|current)\s+)?(?:price|now)\s*:?\s*|sale\s*:\s*"
_AMOUNT = r"(?P<num>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?P<cents>\.[0-9]{1,2})?"
_PRICE = re.compile(
    rf"(?:{_PRICE_LABEL})?(?P<minus>-\s*)?(?:\$|US\$|USD\s*)?\s*(?P<minus2>-\s*)?{_AMOUNT}\s*(?:USD)?",
    re.IGNORECASE | re.ASCII,
)
PRICE_REJECTED = "unreadable price"  # the prefix of every price_note that is a rejection, not the site's words
_ASCII_SPACE = " \t\n\r\f\v"
_NOT_NUMBERS = {"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "snan"}


def _rejected(shown: object, reason: str) -> tuple[None, str]:
    return None, f"{PRICE_REJECTED} {str(shown)[:60]!r}: {reason}"


def is_price_rejection(note: str | None) -> bool:
    """Whether a price_note says the price was there but unreadable (as opposed to "Sold Out", "no price shown")."""
    return note is not None and note.startswith(PRICE_REJECTED)


def _checked(value: Decimal, shown: object) -> tuple[Decimal | None, str | None]:
    if not value.is_finite():
        return _rejected(shown, "not a number")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        return _rejected(shown, "more than 2 decimals")
    if value < 0:
        return _rejected(shown, "negative")
    if value == 0:
        return _rejected(shown, "zero is not a price")
    if value > MAX_PRICE:
        return _rejected(shown, f"more than {MAX_PRICE}")
    return value.quantize(Decimal("0.01")), None


def _why_not_a_price(text: str) -> str:
    """The reason a price text did not match the one-amount grammar (for the note)."""
    for char in text:
        if char in _ASCII_SPACE:
            continue
        category = unicodedata.category(char)
        if category in ("Cf", "Zs", "Zl", "Zp", "Cc") or char == "\u00ad":
            return f"invisible character U+{ord(char):04X}"
        if category == "Sc" and char != "$":
            return f"currency other than USD ({char})"
        if ord(char) > 127:
            return f"non-ASCII character U+{ord(char):04X} ({char})"
    if re.search(r"\b(?:EUR|GBP|CAD|AUD|JPY|CHF|NZD|MXN)\b|\b(?!US\$)[A-Z]{1,2}\$", text, re.IGNORECASE):
        return "currency other than USD"
    if re.search(r"[0-9]\s*[eE]\s*[-+]?[0-9]", text):
        return "exponent notation"
    amounts = re.findall(r"[0-9][0-9.,]*", text)
    if len(amounts) > 1:
        return "several amounts"
    if re.search(r"-\s*\$?\s*[0-9]", text):
        return "negative"
    if amounts and re.search(r"\.[0-9]{3,}$", amounts[0]):
        return "more than 2 decimals"
    if amounts and ("," in amounts[0] or amounts[0].count(".") > 1):
        return "thousands separators in the wrong places"
    return "not one US-dollar amount"


def parse_price(value: object) -> tuple[Decimal | None, str | None]:
    """The current price in one price field or element text: `"$1,249.00"` -> `(Decimal("1249.00"), None)`.

    Returns `(None, note)` otherwise: "no price shown" when empty, the site's words when it shows words and
    no amount ("Sold Out", "Call for price"), and a note starting with `PRICE_REJECTED` when what is there
    is not ONE unambiguous US-dollar amount with at most 2 decimals in 0 < p <= 99999999.99 (see
    `is_price_rejection`). Numbers from JSON must come as int or Decimal (`json.loads(parse_float=Decimal)`).
    """
    if value is None:
        return None, "no price shown"
    if isinstance(value, bool):
        return _rejected(value, "a boolean, not an amount")
    if isinstance(value, int):
        return _checked(Decimal(value), value)
    if isinstance(value, float):  # repr is the shortest text that reads back as the same float
        return _checked(Decimal(repr(value)), value)
    if isinstance(value, Decimal):
        return _checked(value, value)
    if not isinstance(value, str):
        return _rejected(value, f"a {type(value).__name__}, not an amount")
    text = value.strip(_ASCII_SPACE)
    if not text:
        return None, "no price shown"
    if text.lower() in _NOT_NUMBERS:
        return _rejected(text, "not a number")
    match = _PRICE.fullmatch(text)
    if match is None:
        if not any(ch.isdigit() or ch.isnumeric() or unicodedata.category(ch) in ("Sc", "Cf") for ch in text):
            return None, " ".join(text.split())[:80]  # words only: the site says why there is no price
        return _rejected(text, _why_not_a_price(text))
    if match.group("minus") or match.group("minus2"):
        return _rejected(text, "negative")
    whole = match.group("num").replace(",", "")
    return _checked(Decimal(whole + (match.group("cents") or "")), text)


_SCHEMA = {
    "instock": "available", "limitedavailability": "available", "onlineonly": "available",
    "instoreonly": "available", "outofstock": "unavailable", "soldout": "unavailable",
    "discontinued": "unavailable", "preorder": "preorder", "presale": "preorder", "backorder": "unavailable",
}
_QUANTITY = re.compile(r"\b([0-9]+)\s+(?:left|in\s+stock|available|remaining)\b", re.ASCII)


def parse_availability(text: str | int | bool | None, *, new_means_available: bool = False) -> Availability | None:
    """Map the many ways a store says stock to `available`, `unavailable`, `preorder`; None if absent;
    `unknown` for words (or values) that say something this cannot read: the caller keeps the text.

    Accepts schema.org values (`https://schema.org/InStock`), 3dcart's 1/0, quantities ("Only 3 left",
    "0 in stock") and visible text ("In Stock - Ships Next Business Day", "Out of Stock", "Sold Out", "Pre-Order").
    """
    if text is None:
        return None
    if isinstance(text, bool):
        return "available" if text else "unavailable"
    if isinstance(text, int):
        return "available" if text > 0 else "unavailable" if text == 0 else "unknown"
    if not isinstance(text, str):
        return "unknown"
    cleaned = " ".join(text.split()).lower()
    if not cleaned:
        return None
    if re.fullmatch(r"[0-9]+", cleaned):
        return "available" if int(cleaned) > 0 else "unavailable"
    key = cleaned.rsplit("/", 1)[-1].replace(" ", "").replace("_", "").replace("-", "")
    if key in _SCHEMA:
        return _SCHEMA[key]  # type: ignore[return-value]
    if re.search(r"pre-?\s?order", cleaned):
        return "preorder"
    quantities = {int(n) for n in _QUANTITY.findall(cleaned)}
    if len(quantities) == 1:
        return "available" if quantities.pop() > 0 else "unavailable"
    if quantities:
        return "unknown"  # "3 left, 0 in stock": contradicts itself
    if re.search(r"out of stock|sold out|not (?:in stock|available)|unavailable|discontinued|no longer|"
                 r"back-?\s?order", cleaned):
        return "unavailable"
    if "in stock" in cleaned or "add to cart" in cleaned or cleaned in ("available", "yes"):
        return "available"
    if new_means_available and re.search(r"\bnew\b", cleaned):
        return "available"
    return "unknown"


_SKU = re.compile(r"^(?P<item>[A-Z]{1,4}\d{3,5})(?:[-_ ]*(?P<cond>[A-Z][A-Z0-9]{0,11}))?$")


def split_sku(sku: str | None) -> tuple[str | None, str | None]:
    """`QX1571NB` -> `("QX1571", "NB")`; `QXM4152` -> `("QXM4152", None)`; unknown shapes -> (None, None)."""
    if not sku:
        return None, None
    match = _SKU.match(sku.strip().upper())
    if not match:
        return None, None
    return match.group("item"), match.group("cond")


# A year is a whole token: 4 digits followed by a non-alphanumeric or the end ("2020 ...", "2020-...",
# "1995_c_260.html"), so "2000s Decade" or "/2000s-ornaments/" is no year.
_YEAR_TOKEN = re.compile(r"\s*([0-9]{4})(?![^\W_])")


def release_year(*texts: str | None) -> int | None:
    """The first plausible year (1973 .. next year) a text starts with, e.g. "2020 Frosty Friends"."""
    last = dt.date.today().year + 1
    for text in texts:
        if not isinstance(text, str):
            continue
        match = _YEAR_TOKEN.match(text)
        if match and 1973 <= int(match.group(1)) <= last:
            return int(match.group(1))
    return None


def leading_year(text: str | None) -> int | None:
    """A 4-digit year the text (a link text, alt text or URL path segment) starts with, as a whole token."""
    if not isinstance(text, str):
        return None
    match = _YEAR_TOKEN.match(text)
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
