"""hookedonhallmark.com (3dcart): year index, listing pages (with View All), product pages."""

from __future__ import annotations

import re

from ornament_pipeline.integrations.normalise import absolute_url, leading_year, strip_tracking
from ornament_pipeline.integrations.parsers import threedcart
from ornament_pipeline.integrations.parsers.common import (
    FOOTER,
    ListingPage,
    Node,
    PageShapeError,
    count_in,
    end_reached,
    first,
    followed_by,
    parse_document,
    says_empty,
    select,
    text_of,
)
from ornament_pipeline.listing import Listing
from ornament_pipeline.vendors import HOOKEDONHALLMARK

VENDOR = HOOKEDONHALLMARK
WAIT_SELECTOR = TILE_SELECTOR = "div.product-item"
YEAR_INDEX_PATH = "/keepsake-hallmark-ornaments-by-year.html"
_SUBCATS = ".sub-categories, .subcategories, [class*='sub-categor'], [id*='sub-categor'], [id*='subcategor']"
_VIEW_ALL = re.compile(r"view[\s_-]*all", re.IGNORECASE)


def parse_year_index(source: str, page_url: str, *, raw: bool = False) -> dict[int, str]:
    """Year links: `.columns-5 li > a` (or the older `.sub-categories` blocks); year = first word of
    the link's span text or image alt. Only a whole index is believed: its end reached (`raw` bytes
    from the server) or the footer after the year list."""
    root = parse_document(source)
    years: dict[int, str] = {}
    anchors = select(root, ".columns-5 li > a") or select(root, ".sub-categories a")
    for anchor in anchors:
        labels = [text_of(span) for span in select(anchor, "span")]
        labels += [img.get("alt") or "" for img in select(anchor, "img")]
        labels += [text_of(anchor), anchor.get("title") or ""]
        year = next((leading_year(label) for label in labels if leading_year(label)), None)
        url = absolute_url(anchor.get("href"), page_url)
        if year and url and year not in years:
            years[year] = strip_tracking(url)
    if not years:
        raise PageShapeError("no year links (.columns-5 li > a / .sub-categories) on the year index")
    if not (end_reached(source, raw) or followed_by(root, anchors[-1], FOOTER)):
        raise PageShapeError(f"year index incomplete: no footer after the year list ({len(years)} years seen)")
    return years


def _view_all(root: Node, page_url: str, paged: bool) -> tuple[str | None, list[str]]:
    """The View All link of a year page split into sub-categories (or of a paged listing: then it
    saves pages), and the sub-category links."""
    sections = select(root, _SUBCATS)
    links: list[Node] = [a for section in sections for a in section.iter("a")]
    for anchor in links + (select(root, "a.category-viewall") if paged else []):
        href = anchor.get("href") or ""
        if _VIEW_ALL.search(href) or _VIEW_ALL.search(text_of(anchor)) or "category-viewall" in (
            anchor.get("class") or ""
        ):
            url = absolute_url(href, page_url)
            if url and url != page_url:
                return url, []
    if sections:
        lists = select(sections[0], "ul, ol")
        first_link = select(lists[0], "a") if lists else []
        if first_link and re.search(r"\ball\b", text_of(first_link[0]), re.IGNORECASE):
            return absolute_url(first_link[0].get("href"), page_url), []
    subcats = [absolute_url(a.get("href"), page_url) for a in links]
    return None, [url for url in dict.fromkeys(subcats) if url and url != page_url]


def _check_complete(root: Node, source: str, raw: bool, last: Node | None, has_next: bool) -> None:
    """A listing is whole when its end is reached (`raw` server bytes) or the footer follows its last
    product or sub-category link (the paging is optional: View All and one-page categories may have
    none, and a paging block cut half-way looks like a last page); "Page 2 of 5" without a next link
    contradicts itself."""
    if not end_reached(source, raw) and not (
        followed_by(root, last, FOOTER) if last is not None else first(root, FOOTER) is not None
    ):
        raise PageShapeError("listing page incomplete: no footer after the products (page cut short?)")
    paging = first(root, "div.paging")
    match = re.search(r"Page\s+([0-9]+)\s+of\s+([0-9]+)", text_of(paging), re.IGNORECASE) if paging is not None \
        else None
    if match and not has_next and int(match.group(1)) < int(match.group(2)):
        raise PageShapeError(f"page {match.group(1)} of {match.group(2)} has no next link")


def parse_listing(source: str, page_url: str, page_year: int | None = None, *, raw: bool = False) -> ListingPage:
    """Tiles (`div.product-item`), the next page, and a View All link when the year is split. `raw`: the
    source is the server's bytes (an in-page fetch), not a browser's serialised DOM."""
    root = parse_document(source)
    tiles = select(root, "div.product-item") or select(root, ".product-item, [data-catalogid]")
    items = []
    for tile in tiles:
        item = threedcart.tile_listing(VENDOR, tile, page_url, page_year, (".name a", ".name"))
        if item is not None:
            items.append(item)
    next_url = threedcart.next_page(root, page_url)
    view_all, subcats = _view_all(root, page_url, paged=next_url is not None)
    sub_links = [a for section in select(root, _SUBCATS) for a in section.iter("a")]
    last = tiles[-1] if tiles else (sub_links[-1] if sub_links else None)
    _check_complete(root, source, raw, last, next_url is not None)
    count_node = first(root, ".product-count")
    return ListingPage(
        items=items,
        next_url=next_url,
        view_all_url=view_all,
        subcategory_urls=subcats,
        expected_count=count_in(text_of(count_node)) if count_node is not None else None,
        # the paging comes after the product block: with it there and no tiles, the category is empty
        says_empty=says_empty(root) or (not items and first(root, "div.paging") is not None and not next_url),
    )


def parse_product(source: str, page_url: str, fallback_name: str | None = None) -> Listing:
    """A product page: `_3d_item`, JSON-LD, `#product_id`, `#price`, `#availability`, `form#add`."""
    return threedcart.parse_product(VENDOR, source, page_url, fallback_name)
