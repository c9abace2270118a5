"""What every vendor integration does: year links (cached), year scrapes, single products."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import ModuleType
from typing import Any, ClassVar, TypeVar

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from ornament_pipeline.cache import redis_client
from ornament_pipeline.config import Politeness, Settings, get_settings
from ornament_pipeline.integrations.browser import DriverPool
from ornament_pipeline.integrations.errors import ParseError, ScrapeError, YearScrape
from ornament_pipeline.integrations.fetch import Fetcher, Page
from ornament_pipeline.integrations.normalise import absolute_url
from ornament_pipeline.integrations.parsers.common import ListingPage, PageShapeError, PartialListing
from ornament_pipeline.integrations.progress import ScrapeProgress, as_progress
from ornament_pipeline.integrations.year_links_cache import YearLinksCache
from ornament_pipeline.listing import Listing
from ornament_pipeline.vendors import LIVE_BASE_URLS

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PAGES_PER_CATEGORY = 1000
# Wait until the tiles a page builds with script are there: at least the expected count (or any),
# unchanged for 200 ms after the load event; give up after the timeout and let validation judge.
SETTLE_SCRIPT = """
const [selector, expected, timeoutMs] = arguments;
const done = arguments[arguments.length - 1];
const start = Date.now();
let last = -1, stableSince = Date.now();
const tick = () => {
  const n = document.querySelectorAll(selector).length;
  if (n !== last) { last = n; stableSince = Date.now(); }
  const enough = expected === null ? n > 0 : n >= expected;
  const ready = document.readyState === 'complete' && Date.now() - stableSince >= 200;
  if ((enough && ready) || Date.now() - start >= timeoutMs) { done(n); } else { setTimeout(tick, 50); }
};
tick();
"""
# A reporter, or what one is made of: a logger or a `str -> None` callable (None: Python logging).
Progress = ScrapeProgress | logging.Logger | Callable[[str], None]


class Integration:
    """One vendor site. Subclasses name the parser module and the year index path.

    Use as a context manager (or call `close()`) when it owns its driver pool; pass `pool=` to share
    one `DriverPool` between integrations (the pool then stays open).
    """

    vendor: ClassVar[str]
    parser: ClassVar[ModuleType]
    # Listing pages whose tiles a script builds after load (or that need a hover): navigated to and waited
    # for. Every other page (year index, server-rendered listings, product pages) is static.
    scripted_listings: ClassVar[bool] = False

    def __init__(
        self,
        settings: Settings | None = None,
        pool: DriverPool | None = None,
        *,
        base_url: str | None = None,
        cache: YearLinksCache | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        configured = self.settings.vendors.get(self.vendor)
        self.base_url = (base_url or (configured.base_url if configured else LIVE_BASE_URLS[self.vendor])).rstrip("/")
        self.policy: Politeness = configured.politeness if configured else Politeness()
        self.static_pages = configured.static_pages if configured else "fetch"
        self._own_pool = pool is None
        self._pool = pool
        self._fetcher: Fetcher | None = None
        if cache is None:
            cache = YearLinksCache(redis_client(self.settings), self.settings.redis.year_links_ttl_seconds)
        self.cache = cache
        self._progress = as_progress(progress)
        # The index as this integration last read it, and when (monotonic): without Redis, a run's vendor-years
        # reuse one reading for as long as the cache would have kept it, instead of one per year.
        self._year_links: tuple[float, dict[int, str]] | None = None

    @property
    def progress(self) -> ScrapeProgress:
        """Where this integration and its fetcher report pages, retries and failures."""
        return self._progress

    @progress.setter
    def progress(self, progress: Progress | None) -> None:
        self._progress = as_progress(progress)
        if self._fetcher is not None:
            self._fetcher.progress = self._progress

    # -- resources -------------------------------------------------------------------------------
    @property
    def pool(self) -> DriverPool:
        if self._pool is None:
            size = min(self.settings.selenium.pool_size, self.policy.max_concurrency)
            self._pool = DriverPool(self.settings, size, page_timeout=self.policy.page_timeout_seconds)
        return self._pool

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            self._fetcher = Fetcher(self.vendor, self.base_url, self.settings, self.policy, self.pool,
                                    static_pages=self.static_pages, progress=self.progress)
        return self._fetcher

    def close(self) -> None:
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Integration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- year links ------------------------------------------------------------------------------
    @property
    def year_index_url(self) -> str:
        return self.base_url + self.parser.YEAR_INDEX_PATH

    def get_year_links(self, refresh: bool = False) -> dict[int, str]:
        """{year: url} from the Redis cache (or this integration's own last reading, as long as the cache would
        keep it), or from the year index page (then cached). Raises `ScrapeError`."""
        if not refresh:
            cached = self.cache.get(self.vendor, self.base_url)
            if cached:
                return cached
            if self._year_links and time.monotonic() - self._year_links[0] < self.cache.ttl:
                return dict(self._year_links[1])
        links = self._year_index()
        self.cache.put(self.vendor, self.base_url, links)
        self._year_links = (time.monotonic(), dict(sorted(links.items())))
        return dict(sorted(links.items()))

    def _year_index(self) -> dict[int, str]:
        """The year index, believed only when the page shows its own end (the parser checks; a page cut
        short raises "year index incomplete" and is retried by the fetch policy, and nothing is cached:
        a year missing from a short index would look like "the vendor has no page for this year")."""
        with self.progress, self.progress.phase(self.vendor, "year index", expected=1):
            try:
                links = self.fetcher.fetch(self.year_index_url, self._guarded(
                    lambda page: self.parser.parse_year_index(page.html, page.final_url, raw=not page.navigated)
                ), static=True)
            except ScrapeError as exc:
                self.progress.failed(exc.vendor, exc.url, exc.reason, exc.status)
                raise
            self.progress.page_done()
        return links

    def _guarded(self, step: Callable[..., T]) -> Callable[..., T]:
        """`step` (a parse or browser step) with any unexpected exception turned into a page error naming
        the vendor, URL and reason: one page the parser cannot handle must not end the whole scrape."""

        def run(*args: Any) -> T:
            try:
                return step(*args)
            except (PageShapeError, ScrapeError, WebDriverException):
                raise  # the fetch policy knows these
            except Exception as exc:
                page = next(arg for arg in args if isinstance(arg, Page))
                log.warning("%s: parser error on %s", self.vendor, page.url, exc_info=True)
                raise ScrapeError(self.vendor, page.url, f"parser error: {type(exc).__name__}: {exc}"[:300],
                                  status=page.status) from None

        return run

    # -- listings --------------------------------------------------------------------------------
    def year_start_url(self, year_url: str) -> str:
        """The first listing page of a year (hallmark_ornaments asks for `?viewall=1`)."""
        return year_url

    def listing_browser_step(self, year: int) -> Callable[[WebDriver, Page, ListingPage], ListingPage] | None:
        """A step that needs the live browser on listing pages (hover), or None."""
        return None

    def _validate(self, parsed: ListingPage, first_page: bool) -> ListingPage:
        """A listing page that lacks tiles, or shows a different number than its count, is an error."""
        if not parsed.items and not parsed.says_empty:
            if first_page and (parsed.view_all_url or parsed.subcategory_urls):
                return parsed
            raise PageShapeError("no product tiles on a listing page")
        shown = len({_key(item) for item in parsed.items})
        if first_page and parsed.next_url is None and parsed.expected_count is not None and not parsed.view_all_url:
            if shown != parsed.expected_count:
                raise PageShapeError(f"page says {parsed.expected_count} products but shows {shown}")
        return parsed

    def _settle(self, driver: WebDriver, page: Page, parsed: ListingPage, year: int) -> ListingPage:
        """Script-built listings: wait in the browser until the tiles are there, then read the page again."""
        shown = len({_key(item) for item in parsed.items})
        short = parsed.expected_count is not None and shown < parsed.expected_count
        bare = not parsed.items and not parsed.says_empty and not parsed.view_all_url and not parsed.subcategory_urls
        if not (short or bare):
            return parsed
        timeout_ms = int(max(0.5, min(self.policy.page_timeout_seconds - 1.0, 15.0)) * 1000)
        driver.execute_async_script(SETTLE_SCRIPT, self.parser.WAIT_SELECTOR, parsed.expected_count, timeout_ms)
        page.html = driver.page_source
        page.navigated = True
        parsed = self.parser.parse_listing(page.html, page.final_url, year)
        shown = len({_key(item) for item in parsed.items})
        if (parsed.expected_count is not None and shown < parsed.expected_count) or not parsed.items:
            self.fetcher.check_script_requests(driver, page)
        return parsed

    def scrape_listing_page(self, url: str, year: int, first_page: bool = False) -> ListingPage:
        """One listing page, fetched (settled when scripted), parsed and validated (raises `ScrapeError`)."""

        def parse(page: Page) -> ListingPage:
            return self.parser.parse_listing(page.html, page.final_url, year, raw=not page.navigated)

        if not self.scripted_listings:
            return self.fetcher.fetch(url, self._guarded(lambda page: self._validate(parse(page), first_page)),
                                      static=True)
        step = self.listing_browser_step(year)

        def after(driver: WebDriver, page: Page, parsed: ListingPage) -> ListingPage:
            parsed = self._settle(driver, page, parsed, year)
            return self._validate(step(driver, page, parsed) if step else parsed, first_page)

        return self.fetcher.fetch(url, self._guarded(parse), self._guarded(after))

    def _crawl(self, start: str, year: int, result: YearScrape, found: dict[str, Listing | PartialListing],
               follow_links: bool = True) -> None:
        """Every page of one category (View All / sub-categories / next pages) into `found`."""
        url: str | None = start
        visited: set[str] = set()
        first_page, expected, chain_keys = True, None, set()
        while url and url not in visited and len(visited) < MAX_PAGES_PER_CATEGORY:
            visited.add(url)
            try:
                parsed = self.scrape_listing_page(url, year, first_page)
            except ScrapeError as exc:
                result.failed_pages.append(exc)
                self.progress.failed(exc.vendor, exc.url, exc.reason, exc.status)
                return
            result.pages_visited += 1
            if first_page and follow_links and parsed.view_all_url and parsed.view_all_url not in visited:
                self._page_done(url, parsed, found, more=1)
                url, first_page = parsed.view_all_url, False
                visited.discard(parsed.view_all_url)
                continue
            if first_page and follow_links and not parsed.items and parsed.subcategory_urls:
                self._page_done(url, parsed, found, more=len(parsed.subcategory_urls))
                for sub in parsed.subcategory_urls:
                    self._crawl(sub, year, result, found, follow_links=False)
                return
            first_page = False
            expected = expected if expected is not None else parsed.expected_count
            for item in parsed.items:
                chain_keys.add(_key(item))
                found.setdefault(_key(item), item)
            self._page_done(url, parsed, found, more=1 if parsed.next_url and parsed.next_url not in visited else 0)
            url = parsed.next_url
        if expected is not None and len(visited) > 1 and len(chain_keys) != expected:
            shown = len(chain_keys)
            short = ParseError(self.vendor, start, f"category says {expected} products but its pages show {shown}")
            result.failed_pages.append(short)
            self.progress.failed(short.vendor, short.url, short.reason)

    def _page_done(self, url: str, parsed: ListingPage, found: dict[str, Listing | PartialListing],
                   more: int) -> None:
        if more:
            self.progress.expect(more)
        self.progress.listing_page_done(url, len(parsed.items), len(found), parsed.expected_count)

    def get_ornaments_by_year(self, year: int) -> YearScrape:
        """Every listing of `year` (all pages, View All, no duplicates) and the pages that failed."""
        with self.progress:
            return self._year(year)

    def _year(self, year: int) -> YearScrape:
        result = YearScrape(self.vendor, year)
        scope = f"{self.vendor} {year}"
        try:
            links = self.get_year_links()
        except ScrapeError as exc:
            result.failed_pages.append(exc)  # reported by _year_index
            return result
        if year not in links:
            return result  # the vendor has no page for this year: an empty, complete result
        result.year_url = links[year]
        found: dict[str, Listing | PartialListing] = {}
        with self.progress.phase(scope, "listing pages", expected=1):
            self._crawl(self.year_start_url(links[year]), year, result, found)
        partial = [item for item in found.values() if isinstance(item, PartialListing)]
        complete = {key: item for key, item in found.items() if isinstance(item, Listing)}
        if partial:
            with self.progress.phase(scope, "product pages of tiles that lack a field", expected=len(partial)):
                products = self._products(partial, year, result)
            for listing in products:
                if listing is not None:
                    complete.setdefault(listing.vendor_id, listing)
        result.listings = _dedupe(complete.values())
        return result

    def _products(self, partial: list[PartialListing], year: int, result: YearScrape) -> list[Listing | None]:
        lock = threading.Lock()

        def one(item: PartialListing) -> Listing | None:
            try:
                listing = self.fetcher.fetch(item.link, self._guarded(
                    lambda page: self.parser.parse_product(page.html, page.final_url, item.name)), static=True)
            except ScrapeError as exc:
                with lock:
                    result.failed_pages.append(exc)
                self.progress.failed(exc.vendor, exc.url, exc.reason, exc.status)
                return None
            with lock:
                result.pages_visited += 1
            self.progress.page_done()  # summarised by the heartbeat and the phase's end, not a line a page
            if listing.release_year is None:
                listing = replace(listing, release_year=item.release_year or year)
            return listing

        workers = max(1, min(self.policy.max_concurrency, self.pool.size))
        with ThreadPoolExecutor(max_workers=workers) as executor:
            return list(executor.map(one, partial))

    def get_ornament_by_url(self, url: str) -> Listing:
        """One product page, every field. Raises `ScrapeError`."""
        target = absolute_url(url, self.base_url + "/") or url
        return self.fetcher.fetch(target, self._guarded(
            lambda page: self.parser.parse_product(page.html, page.final_url)), static=True)


def _key(item: Listing | PartialListing) -> str:
    return item.vendor_id or item.link


def _dedupe(listings: Iterable[Listing]) -> list[Listing]:
    seen: dict[str, Listing] = {}
    for listing in listings:
        seen.setdefault(listing.vendor_id, listing)
    return list(seen.values())
