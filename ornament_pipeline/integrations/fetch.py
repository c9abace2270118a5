"""The one place for fetch policy: robots.txt, per-vendor delay and concurrency, retries with
exponential backoff + jitter honouring Retry-After, and HTTP status detection through WebDriver.

Pages the integration marks as server-rendered are read with an in-page `fetch()` (see in_page.py), which
reports status and headers itself; the others are navigated to.

WebDriver does not expose HTTP status codes. Every driver runs with Chromium's performance log
(`goog:loggingPrefs: {performance: ALL}`, network events only); after `driver.get(url)` the fetcher
reads that log once and takes the first `Network.responseReceived` of type `Document`: the main
page's status, final URL (after redirects) and headers (`Retry-After`). It works the same through a
remote WebDriver (chromedriver or Selenium Grid; the log is a plain WebDriver endpoint, no CDP
socket). When no such event is available, the page itself is checked: Chromium's own error page
(`neterror`) and titles such as "429 Too Many Requests" / "503 Service Unavailable".
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from ornament_pipeline.config import Politeness, Settings
from ornament_pipeline.integrations.browser import DriverPool, PooledDriver, user_agent
from ornament_pipeline.integrations.errors import ParseError, ScrapeError
from ornament_pipeline.integrations.in_page import (
    InPageFetchTimeout,
    InPageFetchUnavailable,
    fetch_in_page,
    origin,
)
from ornament_pipeline.integrations.parsers.common import PageShapeError
from ornament_pipeline.integrations.progress import ScrapeProgress
from ornament_pipeline.integrations.robots import RobotsPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
PARSE_ATTEMPTS = 3  # a page cut short is retried twice; markup that never parses is not hammered


@dataclass
class Page:
    """One loaded page: its HTML read once through `page_source`, and what the network log said."""

    url: str
    final_url: str
    html: str
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    # html is Chromium's serialised DOM (always closed with </html>), not the server's bytes
    navigated: bool = False


class Throttle:
    """Per-site politeness shared by every thread of the process: at most `concurrency` pages at
    once, page starts at least `delay` seconds apart (times 1-1.25 jitter), and a site-wide pause
    after a 429."""

    def __init__(self, delay: float, concurrency: int) -> None:
        self.delay = delay
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._next_at = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                wait = self._next_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self._next_at = time.monotonic() + self.delay * random.uniform(1.0, 1.25)
            yield

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next_at = max(self._next_at, time.monotonic() + seconds)


_throttles: dict[tuple[str, str, float, int], Throttle] = {}
_throttles_lock = threading.Lock()


def throttle_for(vendor: str, base_url: str, delay: float, concurrency: int) -> Throttle:
    """The process-wide throttle of one site and policy (created on first use)."""
    with _throttles_lock:
        key = (vendor, base_url, delay, concurrency)
        if key not in _throttles:
            _throttles[key] = Throttle(delay, concurrency)
        return _throttles[key]


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(attempt: int, policy: Politeness) -> float:
    """Exponential backoff with full jitter around it: base * 2^(attempt-1) * U(0.5, 1.5), capped."""
    return min(policy.backoff_max_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1)) * random.uniform(
        0.5, 1.5
    )


def performance_log(driver: WebDriver) -> list[dict[str, Any]]:
    """Drain Chromium's performance log. `webdriver.Remote` has no `get_log`, but the endpoint
    (`POST /session/{id}/se/log`) is there on chromedriver and on Selenium Grid alike."""
    return driver.execute("getLog", {"type": "performance"})["value"]


def document_response(entries: list[dict[str, Any]], url: str) -> tuple[int, str, dict[str, str]] | None:
    """(status, final URL, headers) of the page's main document from performance-log entries."""
    found = None
    for entry in entries:
        try:
            message = json.loads(entry["message"])["message"]
        except (KeyError, TypeError, json.JSONDecodeError):
            continue
        if message.get("method") != "Network.responseReceived":
            continue
        params = message.get("params", {})
        response = params.get("response", {})
        if params.get("type") != "Document" or not str(response.get("url", "")).startswith("http"):
            continue
        result = (int(response.get("status", 0)), response["url"], dict(response.get("headers", {})))
        if response["url"].split("#")[0] == url.split("#")[0]:
            return result
        found = found or result
    return found


def subresource_errors(entries: list[dict[str, Any]]) -> list[tuple[int, str, dict[str, str]]]:
    """(status, URL, headers) of script requests (XHR / fetch) that failed with 4xx/5xx."""
    failed = []
    for entry in entries:
        try:
            message = json.loads(entry["message"])["message"]
        except (KeyError, TypeError, json.JSONDecodeError):
            continue
        params = message.get("params", {})
        response = params.get("response", {})
        if message.get("method") == "Network.responseReceived" and params.get("type") in ("XHR", "Fetch"):
            if int(response.get("status", 0)) >= 400:
                headers = {k.lower(): v for k, v in dict(response.get("headers", {})).items()}
                failed.append((int(response["status"]), str(response.get("url")), headers))
    return failed


_ERROR_TITLE = re.compile(
    r"^\s*(?:(?:error\s*)?(404|410|429|5\d\d)\b|too many requests|service unavailable|internal server error|"
    r"bad gateway|gateway time-?out|rate limit|(?:page )?not found)",
    re.IGNORECASE,
)


def status_from_page(html: str) -> int | None:
    """A status guessed from the page when the network log said nothing (error pages, rate limiting)."""
    head = html[:4000]
    if 'class="neterror"' in head or 'id="main-frame-error"' in html[:20000]:
        return 0
    match = re.search(r"<title>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    title = match.group(1) if match else ""
    hit = _ERROR_TITLE.match(title)
    if not hit:
        return None
    if hit.group(1):
        return int(hit.group(1))
    if re.search(r"not found", title, re.IGNORECASE):
        return 404
    return 429 if re.search(r"too many|rate", title, re.IGNORECASE) else 503


class Fetcher:
    """Fetches pages of one vendor site through the pool, politely, and parses them."""

    def __init__(self, vendor: str, base_url: str, settings: Settings, policy: Politeness, pool: DriverPool,
                 static_pages: str = "fetch", progress: ScrapeProgress | None = None) -> None:
        self.vendor = vendor
        self.progress = progress or ScrapeProgress()  # retries and slow loads are reported there
        self.fetch_static_pages = static_pages == "fetch"
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.pool = pool
        self.robots = (
            RobotsPolicy(self.base_url, user_agent(settings), ttl_seconds=policy.robots_ttl_seconds)
            if policy.obey_robots_txt else None
        )
        delay = policy.min_delay_seconds
        if self.robots is not None:
            delay = max(delay, self.robots.crawl_delay() or 0.0)
        self.throttle = throttle_for(vendor, self.base_url, delay, policy.max_concurrency)
        self.pages_loaded = 0  # of which:
        self.pages_fetched_in_page = 0
        self.retries = 0
        self._lock = threading.Lock()

    def error(self, url: str, reason: str, **kwargs: Any) -> ScrapeError:
        return ScrapeError(self.vendor, url, reason, **kwargs)

    def fetch(
        self,
        url: str,
        parse: Callable[[Page], T],
        browser_step: Callable[[WebDriver, Page, T], T] | None = None,
        *,
        static: bool = False,
    ) -> T:
        """Load `url`, parse it (and run `browser_step` with the same driver if given); retry per policy.

        `static=True` says the page's content is in the HTML the server sends (no script builds it): it may then
        be read with an in-page fetch() rather than a navigation. It cannot take a `browser_step`.
        Raises `ScrapeError` (vendor, URL, reason) once the page cannot be fetched or parsed.
        """
        if static and browser_step is not None:
            raise ValueError("a browser step needs the page navigated to, not fetched")
        refusal = self.robots.refusal(url) if self.robots is not None else None
        if refusal:  # disallowed, or robots.txt unavailable: RFC 9309 says fetch nothing then
            raise self.error(url, refusal)
        attempt, parse_failures = 0, 0
        while True:
            try:
                with self.throttle.slot(), self.pool.acquire() as pooled, self.progress.loading(url):
                    page = self._load(pooled, url, static)
                    try:
                        result = parse(page)
                        if browser_step is not None:
                            result = browser_step(pooled.driver, page, result)
                    except PageShapeError as exc:
                        raise ParseError(self.vendor, url, str(exc), status=page.status, retryable=True) from None
                    except WebDriverException as exc:  # a browser step (wait, hover) failed
                        pooled.mark_broken()
                        message = (exc.msg or type(exc).__name__).splitlines()[0]
                        raise self.error(url, f"browser error: {message}", retryable=True) from None
                return result
            except ScrapeError as exc:
                if isinstance(exc, ParseError):
                    parse_failures += 1
                    exc.retryable = parse_failures < PARSE_ATTEMPTS
                attempt += 1
                if not exc.retryable or attempt > self.policy.max_retries:
                    raise
                wait = backoff_seconds(attempt, self.policy)
                if exc.retry_after is not None:
                    if exc.retry_after > self.policy.backoff_max_seconds:
                        exc.reason += f" (Retry-After {exc.retry_after:.0f}s exceeds backoff_max_seconds)"
                        raise
                    wait = max(wait, exc.retry_after)
                if exc.status == 429:
                    self.throttle.pause(wait)
                with self._lock:
                    self.retries += 1
                self.progress.retry(self.vendor, url, attempt, exc.status, exc.reason, wait)
                time.sleep(wait)
                self.progress.retrying()

    def _load(self, pooled: PooledDriver, url: str, static: bool = False) -> Page:
        if static and self.fetch_static_pages and pooled.origin == origin(url):
            page = self._fetch_in_page(pooled, url)
            if page is not None:
                return page
        driver = pooled.driver
        timeout = self.policy.page_timeout_seconds
        try:
            pooled.origin = None
            driver.set_page_load_timeout(timeout)
            driver.get(url)
            html = driver.page_source
        except TimeoutException:
            pooled.mark_broken()  # a hung page load: replace the browser
            raise self.error(url, f"page load timed out after {timeout:.0f}s", retryable=True) from None
        except WebDriverException as exc:
            message = (exc.msg or str(exc)).splitlines()[0] if (exc.msg or str(exc)) else type(exc).__name__
            net = re.search(r"net::ERR_[A-Z_]+", message)
            if not net:
                pooled.mark_broken()
            raise self.error(url, net.group(0) if net else f"browser error: {message}", retryable=True) from None
        except (OSError, Exception) as exc:  # chromedriver not answering (urllib3 timeouts, refused)
            pooled.mark_broken()
            raise self.error(url, f"WebDriver not answering: {type(exc).__name__}: {exc}", retryable=True) from None
        with self._lock:
            self.pages_loaded += 1
        status, final_url, headers = self._status(pooled, url, html)
        if status != 0:  # a document of that site is loaded: later pages of it can be fetched from there
            pooled.origin = origin(final_url)
        page = Page(url, final_url, html, status, headers, navigated=True)
        self._check_status(page)
        return page

    def _fetch_in_page(self, pooled: PooledDriver, url: str) -> Page | None:
        """The page read by fetch() from the driver's current page of the same site; None: navigate instead."""
        timeout = self.policy.page_timeout_seconds
        try:
            document = fetch_in_page(pooled.driver, url, timeout)
        except InPageFetchTimeout:
            raise self.error(url, f"page fetch timed out after {timeout:.0f}s", retryable=True) from None
        except InPageFetchUnavailable as exc:
            # A network error, or a redirect to another site: a navigation reports (or follows) it properly.
            log.debug("%s: in-page fetch of %s failed (%s); navigating", self.vendor, url, exc)
            pooled.origin = None
            return None
        except Exception as exc:  # chromedriver not answering (urllib3 errors, refused connections)
            pooled.mark_broken()
            raise self.error(url, f"WebDriver not answering: {type(exc).__name__}: {exc}", retryable=True) from None
        with self._lock:
            self.pages_loaded += 1
            self.pages_fetched_in_page += 1
        page = Page(url, document.url, document.html, document.status, document.headers)
        self._check_status(page)
        return page

    def _status(self, pooled: PooledDriver, url: str, html: str) -> tuple[int | None, str, dict[str, str]]:
        found = None
        if not getattr(pooled, "no_perf_log", False):
            try:
                found = document_response(performance_log(pooled.driver), url)
            except (WebDriverException, AttributeError) as exc:
                log.warning("performance log unavailable (%s); detecting errors from page content", exc)
                pooled.no_perf_log = True  # type: ignore[attr-defined]
        if found:
            status, final_url, headers = found
            return status, final_url, {k.lower(): v for k, v in headers.items()}
        return status_from_page(html), url, {}

    def check_script_requests(self, driver: WebDriver, page: Page) -> None:
        """After waiting for script-built content: raise if the page's own XHR/fetch calls failed
        (they carry the same 429 / 5xx signals as pages)."""
        try:
            failed = subresource_errors(performance_log(driver))
        except (WebDriverException, AttributeError):
            return
        if failed:
            status, url, headers = failed[-1]
            raise self.error(
                page.url, f"HTTP {status} from the page's script request {url}", status=status,
                retryable=status in RETRY_STATUSES or status >= 500,
                retry_after=retry_after_seconds(headers.get("retry-after")),
            )

    def _check_status(self, page: Page) -> None:
        status = page.status
        if status is None or 200 <= status < 400:
            guessed = status_from_page(page.html) if status is None else None
            if guessed is None:
                return
            status = guessed
        if status == 0:
            raise self.error(page.url, "browser error page (network error)", retryable=True)
        retry_after = retry_after_seconds(page.headers.get("retry-after"))
        reason = f"HTTP {status}" + (" (rate limited)" if status == 429 else "")
        raise self.error(
            page.url, reason, status=status, retryable=status in RETRY_STATUSES or status >= 500,
            retry_after=retry_after,
        )
