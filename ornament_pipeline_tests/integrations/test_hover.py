"""hallmarkornaments tiles that show their product id only on hover (replica option `tiles`).

The live site shows a tile's quick-view link (`product.asp?lt_c=1&itemid=<id>&qv=1`) only while
the pointer is over the tile. In the replica's hover modes a tile carries no id until a `mouseenter`
handler inserts that link (and `mouseleave` removes it), so every listing below can only have come
through a hover.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ornament_pipeline.integrations import get_integration
from ornament_pipeline.integrations.errors import ParseError
from ornament_pipeline.integrations.normalise import threedcart_product_id
from ornament_pipeline.integrations.parsers import hallmark_ornaments as parser
from ornament_pipeline.listing import Listing
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK

from .test_cache_and_cli import run_cli
from .test_replica import LISTING_FIELDS, comparable

pytestmark = pytest.mark.browser
VENDOR = HALLMARK_ORNAMENTS
SAMPLE_YEARS = (1998, 2020)
HOVER_LOG = "ornament_pipeline.integrations.vendors.hallmark_ornaments"
# The only link a hovered tile gives is its quick view; the listing keeps it as `product.asp?itemid=`.
FIELDS_BUT_LINK = tuple(field for field in LISTING_FIELDS if field != "link")


@pytest.fixture
def tiles(clean_replica) -> Iterator[object]:
    """The shared replica; its hallmarkornaments tiles are put back to `plain` afterwards."""
    yield clean_replica
    clean_replica.set_options(VENDOR, tiles="plain")


def quick_view_link(base_url: str, vendor_id: str) -> str:
    return f"{base_url}/product.asp?itemid={vendor_id}"


def year_page(driver, url: str) -> str:  # noqa: ANN001 - selenium driver
    """The year page's source once its script has built the tiles, without hovering anything."""
    driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "productCategoryBlock").get_attribute("data-loaded") == "true")
    return driver.page_source


def test_tiles_show_no_id_until_hovered(tiles, settings, pool, no_cache):
    integration = get_integration(VENDOR, settings, pool, cache=no_cache)
    url = parser.view_all_url(integration.get_year_links()[1998])
    truth = tiles.truth(VENDOR, 1998)
    with pool.acquire() as pooled:
        driver = pooled.driver
        plain = year_page(driver, url)
        assert parser.tiles_without_id(plain, url) == 0
        assert len(parser.parse_listing(plain, url, 1998).items) == len(truth)

        tiles.set_options(VENDOR, tiles="hover")
        source = year_page(driver, url)
        assert parser.tiles_without_id(source, url) == len(truth)  # every tile needs a hover
        assert parser.parse_listing(source, url, 1998).items == []
        block = driver.find_element(By.ID, "productCategoryBlock").get_attribute("innerHTML")
        assert "itemid=" not in block and "_p_" not in block and "data-catalogid" not in block

        # A real pointer over a tile reveals its quick-view link; leaving the tile takes it away.
        first, second = driver.find_elements(By.CSS_SELECTOR, parser.BLOCK_TILE_SELECTOR)[:2]
        ActionChains(driver).move_to_element(first).perform()
        (quick,) = first.find_elements(By.CSS_SELECTOR, "a.quickview")
        assert threedcart_product_id(quick.get_attribute("href")) in {item.vendor_id for item in truth}
        ActionChains(driver).move_to_element(second).perform()
        assert first.find_elements(By.CSS_SELECTOR, "a.quickview") == []


@pytest.mark.parametrize("mode", ["hover", "hover-trusted"])
def test_every_listing_comes_through_hover(mode, tiles, settings, pool, redis_cache, caplog):
    """`hover` answers script-dispatched events (HOVER_SCRIPT is enough); `hover-trusted` only real
    pointer input, so the per-tile ActionChains fallback has to do it."""
    base = tiles.base_urls[VENDOR]
    integration = get_integration(VENDOR, settings, pool, cache=redis_cache)
    integration.get_year_links()
    tiles.set_options(VENDOR, tiles=mode)
    caplog.set_level(logging.INFO, logger=HOVER_LOG)
    scraped: list[Listing] = []
    for year in SAMPLE_YEARS:
        started = time.monotonic()
        result = integration.get_ornaments_by_year(year)
        elapsed = time.monotonic() - started
        assert result.complete, [str(e) for e in result.failed_pages]
        assert result.pages_visited == 1  # one View All page: no product page was needed
        assert len(result.listings) == len({item.vendor_id for item in result.listings})
        got, want = comparable(result.listings, tiles.truth(VENDOR, year))
        assert {k: {f: v[f] for f in FIELDS_BUT_LINK} for k, v in got.items()} == {
            k: {f: v[f] for f in FIELDS_BUT_LINK} for k, v in want.items()}, f"{mode} {year}"
        # Each link is a quick-view URL, which only a hover puts into a tile.
        assert all(item.link == quick_view_link(base, item.vendor_id) for item in result.listings)
        if mode == "hover":
            # The settle step waits for tiles, not links (none before the hover): no timeout (9 s here).
            assert elapsed < 6.0, elapsed
        scraped += result.listings
    fallback = "synthetic hover was not enough" in caplog.text
    assert fallback == (mode == "hover-trusted")
    # The quick-view link leads to the same product.
    product = integration.get_ornament_by_url(scraped[0].link)
    (true,) = [item for item in tiles.truth(VENDOR, SAMPLE_YEARS[0]) if item.vendor_id == scraped[0].vendor_id]
    assert product.to_json_dict() == {**true.to_json_dict(), "link": scraped[0].link}


def test_hover_that_reveals_nothing_fails_the_page(tiles, settings, pool, no_cache):
    """`hover-broken`: hovering shows a quick-view link without an id. The year is a failed page with
    a reason that says so, never an empty success; the CLI exits 1 and names vendor, URL and reason."""
    base = tiles.base_urls[VENDOR]
    integration = get_integration(VENDOR, settings, pool, cache=no_cache)
    year = 1980  # a few tiles (each attempt hovers every tile)
    assert tiles.truth(VENDOR, year)
    year_url = integration.get_year_links()[year]
    tiles.set_options(VENDOR, tiles="hover-broken")
    result = integration.get_ornaments_by_year(year)
    assert not result.complete and result.listings == []
    (failure,) = result.failed_pages
    assert isinstance(failure, ParseError)
    assert failure.vendor == VENDOR and failure.url == parser.view_all_url(year_url)
    assert "show no product id even after hovering" in failure.reason

    done = run_cli(VENDOR, "--year", str(year), "--base-url", base)
    assert done.returncode == 1 and done.stdout == ""
    assert f"failed: vendor={VENDOR} url={failure.url} reason=" in done.stderr
    assert "even after hovering" in done.stderr and "INCOMPLETE" in done.stderr
    assert "Traceback" not in done.stderr


def test_tiles_option_is_validated(tiles):
    with pytest.raises(ValueError, match="unknown option"):
        tiles.set_options(VENDOR, tiles="sideways")
    with pytest.raises(ValueError, match="unknown option"):  # an option of another site
        tiles.set_options(HOOKEDONHALLMARK, tiles="hover")
