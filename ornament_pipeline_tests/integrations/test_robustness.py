"""Faults, status detection, robots.txt, crashed browsers, a remote WebDriver, the politeness throttle."""

from __future__ import annotations

import subprocess
import time
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from ornament_pipeline.config import Politeness
from ornament_pipeline.integrations import DriverPool, ScrapeError, get_integration
from ornament_pipeline.vendors import VENDOR_KEYS

from .conftest import FAST, make_settings
from .test_replica import comparable

pytestmark = pytest.mark.browser
FAULTS = "seed=7;*:500=0.06,503=0.05,429=0.06,truncate=0.06,drop=0.04,noprice=0.03,retry_after=1"


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_with_faults_every_listing_is_obtained_or_its_page_reported(vendor, clean_replica, settings, pool, no_cache):
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    integration.get_year_links()  # fetched before faults: the test is about year pages
    clean_replica.set_faults(FAULTS)
    for year in (1975, 1998, 2020):
        result = integration.get_ornaments_by_year(year)
        truth = clean_replica.truth(vendor, year)
        got, want = comparable(result.listings, truth)
        for vendor_id, listing in got.items():  # whatever was obtained is right
            assert listing == want[vendor_id]
        if result.complete:
            assert got == want
        else:  # incomplete: said so, with vendor, URL and reason
            assert all(e.vendor == vendor and e.url and e.reason for e in result.failed_pages)
    assert integration.fetcher.retries > 0


def test_http_errors_are_detected_through_webdriver(clean_replica, settings, pool, no_cache):
    vendor = "hallmark_ornaments_com"
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    with pytest.raises(ScrapeError) as caught:
        integration.get_ornament_by_url("/No-Such-Thing_p_999999.html")
    assert caught.value.status == 404 and caught.value.vendor == vendor
    assert caught.value.url.endswith("/No-Such-Thing_p_999999.html")
    assert integration.fetcher.retries == 0  # a 404 is not retried


def test_rate_limiting_is_backed_off_and_reported(clean_replica, pool, no_cache):
    vendor = "ornament_shop_com"
    settings = make_settings(clean_replica.base_urls, Politeness(
        min_delay_seconds=0, max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=5, page_timeout_seconds=10))
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    url = clean_replica.truth(vendor, 1975)[0].link
    clean_replica.set_faults(f"{vendor}:429=1,retry_after=1")
    started = time.monotonic()
    with pytest.raises(ScrapeError) as caught:
        integration.get_ornament_by_url(url)
    assert caught.value.status == 429 and "rate limited" in caught.value.reason
    assert time.monotonic() - started >= 2.0  # Retry-After: 1 honoured before each of 2 retries
    assert integration.fetcher.retries == 2


def test_robots_txt_is_obeyed(clean_replica, settings, pool, no_cache):
    vendor = "hookedonhallmark_com"
    clean_replica.set_faults(f"{vendor}:robots=/1975-")
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    listing = clean_replica.truth(vendor, 1975)[0]
    with pytest.raises(ScrapeError, match="robots.txt"):
        integration.get_ornament_by_url(listing.link)
    assert integration.fetcher.pages_loaded == 0


def test_robots_txt_is_read_again_after_its_ttl(clean_replica, pool, no_cache):
    """politeness.robots_ttl_seconds: a new Disallow is seen once the cached robots.txt is older than
    the TTL, and not before."""
    vendor, ttl = "ornament_shop_com", 2.0
    settings = make_settings(clean_replica.base_urls, FAST.model_copy(update={"robots_ttl_seconds": ttl}))
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    listing = clean_replica.truth(vendor, 1975)[0]
    with pool.acquire():
        pass  # a browser started beforehand, so the fetch within the TTL is quick
    policy = integration.fetcher.robots  # creating the fetcher reads robots.txt (for Crawl-delay)
    read_at = time.monotonic()
    assert policy is not None and policy.ttl_seconds == ttl
    clean_replica.set_faults(f"{vendor}:robots={urlsplit(listing.link).path}")
    assert integration.get_ornament_by_url(listing.link) == listing  # the cached copy still allows it
    assert time.monotonic() - read_at < ttl  # (so the fetch above was within the TTL)
    time.sleep(max(0.0, read_at + ttl + 0.1 - time.monotonic()))
    loaded = integration.fetcher.pages_loaded
    with pytest.raises(ScrapeError, match="disallowed by robots.txt"):
        integration.get_ornament_by_url(listing.link)
    assert integration.fetcher.pages_loaded == loaded  # refused without a request


def test_robots_ttl_must_be_positive():
    with pytest.raises(ValidationError, match="robots_ttl_seconds"):
        Politeness(robots_ttl_seconds=0)


def test_slow_page_times_out_and_the_browser_is_replaced(clean_replica, replica, no_cache):
    vendor = "ornament_shop_com"
    settings = make_settings(replica.base_urls, Politeness(
        min_delay_seconds=0, max_retries=1, backoff_base_seconds=0.01, page_timeout_seconds=1.0))
    clean_replica.set_faults(f"{vendor}:slow=1,slow_seconds=3")
    with DriverPool(settings, 1, page_timeout=1.0) as own_pool:
        integration = get_integration(vendor, settings, own_pool, cache=no_cache)
        with pytest.raises(ScrapeError, match="timed out"):
            integration.get_ornament_by_url(replica.truth(vendor, 1975)[0].link)
        assert own_pool.replaced == 2
        clean_replica.set_faults(None)
        assert integration.get_ornament_by_url(replica.truth(vendor, 1975)[0].link).vendor_id


def test_crashed_browser_is_replaced(clean_replica, settings, no_cache):
    vendor = "hallmark_ornaments_com"
    with DriverPool(settings, 1) as own_pool:
        integration = get_integration(vendor, settings, own_pool, cache=no_cache)
        expected = clean_replica.truth(vendor, 1975)[0]
        assert integration.get_ornament_by_url(expected.link) == expected
        with own_pool.acquire() as pooled:
            pooled.driver.service.process.kill()  # chromedriver dies behind the pool's back
            profile = pooled.profile
        assert integration.get_ornament_by_url(expected.link) == expected
        assert own_pool.replaced == 1
    survivors = subprocess.run(["pgrep", "-f", f"--user-data-dir={profile}"], capture_output=True, text=True)
    assert survivors.stdout == ""  # the orphaned Chromium was killed too


def test_remote_webdriver(clean_replica, remote_chromedriver, no_cache):
    """SELENIUM_REMOTE_URL: chromedriver's own port speaks the Grid's protocol, status detection included."""
    vendor = "hallmark_ornaments_com"
    settings = make_settings(clean_replica.base_urls, remote_url=remote_chromedriver)
    with DriverPool(settings, 1) as remote_pool:
        integration = get_integration(vendor, settings, remote_pool, cache=no_cache)
        result = integration.get_ornaments_by_year(1998)
        got, want = comparable(result.listings, clean_replica.truth(vendor, 1998))
        assert result.complete and got == want
        with pytest.raises(ScrapeError) as caught:
            integration.get_ornament_by_url("/No-Such-Thing_p_999999.html")
        assert caught.value.status == 404
        assert remote_pool.created == 1
        (pooled,) = remote_pool._all
        assert type(pooled.driver).__module__.startswith("selenium.webdriver.remote")
        assert not getattr(pooled, "no_perf_log", False)  # the status came from the performance log


def test_politeness_delay_between_pages(clean_replica, pool, no_cache):
    vendor = "ornament_shop_com"
    settings = make_settings(clean_replica.base_urls, Politeness(min_delay_seconds=0.4, max_concurrency=1))
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    links = [item.link for item in clean_replica.truth(vendor, 1975)[:4]]
    started = time.monotonic()
    for link in links:
        integration.get_ornament_by_url(link)
    assert time.monotonic() - started >= 0.4 * (len(links) - 1)
