"""hallmarkornaments.com: `?viewall=1` year pages whose quick-view links appear on hover."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from types import ModuleType
from typing import ClassVar

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ornament_pipeline.integrations.fetch import Page
from ornament_pipeline.integrations.parsers import hallmark_ornaments as parser
from ornament_pipeline.integrations.parsers.common import ListingPage, PageShapeError
from ornament_pipeline.integrations.vendors.base import Integration
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS

log = logging.getLogger(__name__)

# Hover every element of the product block in one script: fire the mouse events hover handlers
# listen to (jQuery's mouseenter is emulated with mouseover), and pin any quick-view link a tile
# shows while hovered onto that tile as `data-ornaments-qv`, so it survives into page_source.
HOVER_SCRIPT = """
const done = arguments[arguments.length - 1];
const block = document.querySelector('#productCategoryBlock');
if (!block) { done(0); return; }
const links = () => block.querySelectorAll('a[href*="itemid="], a[href*="_p_"], [data-ornaments-qv]').length;
const before = links();
for (const el of block.querySelectorAll('*')) {
  for (const type of ['mouseover', 'mouseenter', 'mousemove']) {
    el.dispatchEvent(new MouseEvent(type, {bubbles: type !== 'mouseenter', cancelable: true, view: window}));
  }
  const quick = el.querySelector('a[href*="itemid="]');
  if (quick && !el.hasAttribute('data-ornaments-qv')) el.setAttribute('data-ornaments-qv', quick.href);
}
let waited = 0;
const tick = () => {
  if (links() > before || waited >= 1500) { done(links()); } else { waited += 50; setTimeout(tick, 50); }
};
tick();
"""

PIN_SCRIPT = (
    "const q = arguments[0].querySelector('a[href*=\"itemid=\"]');"
    "if (q) arguments[0].setAttribute('data-ornaments-qv', q.href);"
)


def hover_tiles(driver: WebDriver, page: Page, parsed: ListingPage, year: int | None) -> ListingPage:
    """When tiles show no product id, hover them with the browser and parse the page again."""
    if not parser.tiles_without_id(page.html, page.final_url):
        return parsed
    driver.execute_async_script(HOVER_SCRIPT)
    source = driver.page_source
    missing = parser.tiles_without_id(source, page.final_url)
    if missing:
        log.info("synthetic hover was not enough; hovering tiles one by one")
        actions = ActionChains(driver, duration=0)  # Selenium's default glides the pointer for 250 ms a tile
        failures = 0
        for tile in driver.find_elements(By.CSS_SELECTOR, parser.BLOCK_TILE_SELECTOR):
            try:
                actions.move_to_element(tile).perform()
                driver.execute_script(PIN_SCRIPT, tile)
            except WebDriverException as exc:  # one tile out of reach must not cost the others
                failures += 1
                log.debug("hover failed on a tile: %s", exc)
        if failures:
            log.warning("hover failed on %d tiles", failures)
        source = driver.page_source
        missing = parser.tiles_without_id(source, page.final_url)
    hovered = parser.parse_listing(source, page.final_url, year)
    # Short of products with tiles still blank: say that hovering failed, rather than let validation
    # report "no product tiles" about a page full of them.
    if missing and len(hovered.items) < (hovered.expected_count if hovered.expected_count is not None else 1):
        raise PageShapeError(f"{missing} product tiles show no product id even after hovering them")
    return hovered


class HallmarkOrnaments(Integration):
    """3dcart (older theme): `a.subcat` year links, `?viewall=1`, `.product-count`, hover quick views."""

    vendor = HALLMARK_ORNAMENTS
    parser: ClassVar[ModuleType] = parser
    scripted_listings = True  # tiles come from an XHR after load; quick-view links show on hover

    def year_start_url(self, year_url: str) -> str:
        return parser.view_all_url(year_url)

    def listing_browser_step(self, year: int) -> Callable[[WebDriver, Page, ListingPage], ListingPage] | None:
        return functools.partial(hover_tiles, year=year)
