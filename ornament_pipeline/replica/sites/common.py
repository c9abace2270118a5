"""Shared pieces of the three sites' markup: the Page type, escaping, prices, pagination."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ornament_pipeline.replica.catalogue import Catalogue
from ornament_pipeline.replica.clock import DayListing


@dataclass(frozen=True)
class Page:
    """A rendered response."""

    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    product: bool = False  # product pages are where the `noprice` fault applies


NOT_FOUND = Page(b"<!DOCTYPE html><html><head><title>Not Found</title></head>"
                 b"<body><h1>404 Not Found</h1></body></html>", status=404)


def esc(value: object) -> str:
    """Escape text or an attribute value."""
    return html.escape(str(value), quote=True)


def dollars(value: Decimal) -> str:
    """Decimal('1249.00') -> '$1,249.00'."""
    return f"${value:,.2f}"


def html_page(title: str, body: str, head: str = "") -> Page:
    text = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{esc(title)}</title>\n"
            f"{head}</head>\n<body>\n{body}\n</body>\n</html>\n")
    return Page(text.encode())


def text_page(text: str) -> Page:
    return Page(text.encode(), content_type="text/plain; charset=utf-8")


def json_page(data: Any) -> Page:
    return Page(json.dumps(data, separators=(",", ":")).encode(), content_type="application/json")


def paginate(items: list[DayListing], page: int, size: int) -> tuple[list[DayListing], int]:
    """(items on page `page` (1-based), number of pages >= 1)."""
    pages = max(1, -(-len(items) // size))
    return items[(page - 1) * size: page * size], pages


def int_param(query: dict[str, str], key: str, default: int) -> int | None:
    """An integer query parameter; None when present but not a positive integer."""
    raw = query.get(key)
    if raw is None:
        return default
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def robots_txt(disallow: tuple[str, ...], extra: tuple[str, ...], base_url: str) -> Page:
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in (*disallow, *extra)), "",
             f"Sitemap: {base_url}/sitemap.xml", ""]
    return text_page("\n".join(lines))


def category_ids(cat: Catalogue, salt: str, keys: list[str], fixed: dict[str, int] | None = None,
                 low: int = 100, high: int = 3000) -> dict[str, int]:
    """Non-sequential, stable category ids for `keys` (3dcart ids are not in year order)."""
    import random

    fixed = dict(fixed or {})
    rng = random.Random(f"{salt}:{cat.size}:{cat.seed}")
    free = [i for i in range(low, high) if i not in set(fixed.values())]
    rng.shuffle(free)
    out = {}
    for key in keys:
        out[key] = fixed[key] if key in fixed else free.pop()
    return out
