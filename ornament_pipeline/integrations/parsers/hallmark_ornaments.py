"""hallmarkornaments.com (3dcart, older theme): year index, `?viewall=1` year pages, product pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from ornament_pipeline.integrations.normalise import (
    absolute_url,
    leading_year,
    strip_tracking,
    threedcart_product_id,
    with_query,
)
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
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS

VENDOR = HALLMARK_ORNAMENTS
YEAR_INDEX_PATH = "/Hallmark-Ornaments-By-Year_c_200.html"
TILE_SELECTOR = "[data-catalogid], .product-item, .productBlock, .product-block, .product"
_TILE_CLASSES = TILE_SELECTOR


def _in_block(*selectors: str) -> str:
    """A CSS selector list with every member scoped to `#productCategoryBlock`."""
    return ", ".join(f"#productCategoryBlock {s.strip()}" for s in selectors)


BLOCK_TILE_SELECTOR = _in_block(*TILE_SELECTOR.split(","))
# What the browser waits for on a year page: product links, or tiles, since tiles that show their
# quick-view link only on hover hold no link until they are hovered.
WAIT_SELECTOR = _in_block("a[href]", *TILE_SELECTOR.split(","))


def parse_year_index(source: str, page_url: str, *, raw: bool = False) -> dict[int, str]:
    """Year links are `a.subcat` whose text or URL (last path segment) starts with a 4-digit year. The
    menu lists the years first, then other categories: only a menu that goes on past its years (or whose
    end is reached, `raw` server bytes, or followed by a footer) is believed whole."""
    root = parse_document(source)
    years: dict[int, str] = {}
    last_year: Node | None = None
    others_after = False
    for anchor in select(root, "a.subcat"):
        url = absolute_url(anchor.get("href"), page_url)
        segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] if url else ""
        year = leading_year(text_of(anchor)) or leading_year(segment)
        if not year or not url:
            others_after = others_after or last_year is not None
            continue
        last_year, others_after = anchor, False
        if year not in years:
            years[year] = strip_tracking(url)
    if not years or last_year is None:
        raise PageShapeError("no year links (a.subcat starting with a year) on the year index")
    if not (others_after or end_reached(source, raw) or followed_by(root, last_year, FOOTER)):
        raise PageShapeError(f"year index incomplete: the menu ends with its years ({len(years)} years seen)")
    return years


def view_all_url(year_url: str) -> str:
    """The year page listing everything on one page."""
    return with_query(year_url, viewall="1")


def _product_ids(node: Node, page_url: str) -> set[str]:
    hrefs = [a.get("href") for a in node.iter("a")] + [n.get("data-ornaments-qv") for n in node.iter()]
    ids = {threedcart_product_id(absolute_url(href, page_url)) for href in hrefs if href}
    ids.discard(None)
    if node.get("data-catalogid"):
        ids.add(node.get("data-catalogid"))
    return ids  # type: ignore[return-value]


def find_tiles(block: Node, page_url: str) -> list[Node]:
    """Product tiles under `#productCategoryBlock`: by class when the theme names them, otherwise the
    largest element around each product link that holds no other product."""
    named = [node for node in select(block, _TILE_CLASSES) if _product_ids(node, page_url)]
    outermost = [n for n in named if not any(a in named for a in n.iterancestors())]
    if outermost:
        return outermost
    tiles: list[Node] = []
    seen: set[int] = set()
    for anchor in block.iter():
        href = anchor.get("href") if anchor.tag == "a" else anchor.get("data-ornaments-qv")
        product = threedcart_product_id(absolute_url(href, page_url))
        if not product:
            continue
        node = anchor
        while (parent := node.getparent()) is not None and parent is not block:
            if _product_ids(parent, page_url) != {product}:
                break
            node = parent
        if id(node) not in seen:
            seen.add(id(node))
            tiles.append(node)
    return tiles


def parse_listing(source: str, page_url: str, page_year: int | None = None, *, raw: bool = False) -> ListingPage:
    """Tiles under `#productCategoryBlock`, the product count, and the next page if paged. The tiles come
    from the site's own script (a JSON request), so the page is always a browser's DOM (`raw` is unused)
    and its completeness is judged against `.product-count` by the integration."""
    root = parse_document(source)
    block = first(root, "#productCategoryBlock")
    if block is None:
        raise PageShapeError("no #productCategoryBlock on the year page")
    items = []
    for tile in find_tiles(block, page_url):
        item = threedcart.tile_listing(
            VENDOR, tile, page_url, page_year, (".name a", ".product-name a", "[itemprop=name]", ".name")
        )
        if item is not None:
            items.append(item)
    count_node = first(root, ".product-count")
    return ListingPage(
        items=items,
        next_url=threedcart.next_page(root, page_url),
        expected_count=count_in(text_of(count_node)) if count_node is not None else None,
        says_empty=says_empty(root),
    )


def tiles_without_id(source: str, page_url: str) -> int:
    """How many tiles show neither a `_p_<id>` link nor a quick-view link (they need a hover)."""
    root = parse_document(source)
    block = first(root, "#productCategoryBlock")
    if block is None:
        return 0
    named = select(block, _TILE_CLASSES)
    return sum(1 for node in named if not _product_ids(node, page_url))


def parse_product(source: str, page_url: str, fallback_name: str | None = None) -> Listing:
    """A product or quick-view page: `_3d_item` in `<head>` (found by content), then ids and JSON-LD."""
    return threedcart.parse_product(VENDOR, source, page_url, fallback_name)
