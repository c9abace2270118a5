"""Listing-page scrape benchmark against the local replica (real Chromium), in one run:

(a) bare `driver.get(url)` + `driver.page_source`          - the floor of a navigation
(b) our listing-page scrape (fetch policy + status check + lxml parse + validation); these listing pages are
    server-rendered, so the page is read with an in-page fetch() from the browser (integrations/in_page.py)
(b') the same scrape with `static_pages: navigate` (a full navigation, as for script-built pages)
(c) the 2020 approach: one WebDriver `find_element` call per field of every tile

Targets: (b) within 1.3x of (a); (c) at least 15x slower than (b). Then whole vendor-years are
scraped with the integrations (no politeness delay, as configured for the replica) and reported as
listings per second.

    python benchmarks/scrape_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from selenium.webdriver.common.by import By

from ornament_pipeline.config import Politeness, Settings, VendorConfig
from ornament_pipeline.integrations import DriverPool, get_integration
from ornament_pipeline.integrations.year_links_cache import YearLinksCache
from ornament_pipeline.replica.testing import running_replica

FAST = Politeness(min_delay_seconds=0.0, max_concurrency=1, max_retries=2, backoff_base_seconds=0.1)
PAGES = {  # vendor -> (year, listing-page path relative to the year's URL)
    "hookedonhallmark_com": [(1975, "?viewall=1"), (1984, "?viewall=1"), (2005, "?viewall=1"), (2020, "?viewall=1")],
    "ornament_shop_com": [(1975, ""), (1975, "?page=2"), (2005, "?page=2"), (2020, "?page=3")],
}


def old_style(driver, url: str, vendor: str) -> int:
    """The 2020 way: absolute XPaths, one WebDriver round trip per field of every tile."""
    driver.get(url)
    if vendor == "ornament_shop_com":
        grid = "/html/body/main/div/div/div/div/ul/li"
        fields = [("/article", "data-entity-id"), ("/article/div/h3/a", None), ("/article/figure/a", "href"),
                  ("/article//span[contains(@class,'price--withoutTax')]", None),
                  ("/article/figure/figcaption/div/a[2]", None)]
    else:
        grid = "/html/body/div[2]/div[1]/div"
        fields = [("", "data-catalogid"), ("/div[2]/a", None), ("/div[2]/a", "href"), ("/div[3]/span", None),
                  ("/div[4]/span", None)]
    rows = []
    for i in range(1, len(driver.find_elements(By.XPATH, grid)) + 1):
        row = []
        for path, attribute in fields:
            element = driver.find_element(By.XPATH, f"{grid}[{i}]{path}")
            row.append(element.get_attribute(attribute) if attribute else element.text)
        rows.append(row)
    assert rows and all(all(row) for row in rows), f"old-style XPaths found nothing on {url}"
    return len(rows)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", default="small", choices=("small", "full"), help="replica catalogue size")
    args = parser.parse_args()
    with running_replica(args.size) as replica:
        settings = Settings(
            vendors={v: VendorConfig(base_url=u, politeness=FAST) for v, u in replica.base_urls.items()},
            selenium={"pool_size": 1},
        )
        with DriverPool(settings, 1) as pool:
            times: dict[str, list[float]] = {"a": [], "b": [], "n": [], "c": []}
            by_vendor: dict[str, dict[str, list[float]]] = {v: {k: [] for k in "abnc"} for v in PAGES}
            navigating = Settings(
                vendors={v: VendorConfig(base_url=u, politeness=FAST, static_pages="navigate")
                         for v, u in replica.base_urls.items()},
                selenium={"pool_size": 1},
            )
            tiles = 0
            jobs = []
            for vendor, pages in PAGES.items():
                integration = get_integration(vendor, settings, pool, cache=YearLinksCache(None, 60))
                navigator = get_integration(vendor, navigating, pool, cache=YearLinksCache(None, 60))
                links = integration.get_year_links()
                for year, suffix in pages:
                    url = links[year] + (suffix or "")
                    jobs.append((vendor, integration, navigator, year, url))
            with pool.acquire() as pooled:  # warm up
                pooled.driver.get(jobs[0][4])
            for _ in range(args.rounds):
                for vendor, integration, navigator, year, url in jobs:
                    with pool.acquire() as pooled:
                        driver = pooled.driver
                        times["a"].append(timed(lambda d=driver, u=url: (d.get(u), d.page_source)))
                    times["b"].append(timed(lambda i=integration, u=url, y=year: i.scrape_listing_page(u, y)))
                    times["n"].append(timed(lambda i=navigator, u=url, y=year: i.scrape_listing_page(u, y)))
                    with pool.acquire() as pooled:
                        started = time.perf_counter()
                        tiles += old_style(pooled.driver, url, vendor)
                        times["c"].append(time.perf_counter() - started)
                    for key in "abnc":
                        by_vendor[vendor][key].append(times[key][-1])
            a, b, n, c = (statistics.median(times[k]) * 1000 for k in "abnc")
            print(f"listing pages: {len(jobs)} pages x {args.rounds} rounds, {tiles // args.rounds} tiles a round")
            print(f"(a)  bare get + page_source          : {a:8.1f} ms/page (median)")
            print(f"(b)  our listing-page scrape (fetch) : {b:8.1f} ms/page  = {b / a:.2f}x (a)   target <= 1.3x")
            print(f"(b') our scrape, navigating          : {n:8.1f} ms/page  = {n / a:.2f}x (a)")
            print(f"(c)  find_element per field          : {c:8.1f} ms/page  = {c / b:.1f}x (b)   target >= 15x"
                  f"   ({c / n:.1f}x (b'))")
            ta, tb, tn, tc = (sum(times[k]) for k in "abnc")
            print(f"totals over all pages: (a) {ta:.2f}s  (b) {tb:.2f}s = {tb / ta:.2f}x (a)  (b') {tn:.2f}s"
                  f"  (c) {tc:.2f}s = {tc / tb:.1f}x (b), {tc / tn:.1f}x (b')")
            for vendor, own in by_vendor.items():
                a, b, n, c = (statistics.median(own[k]) * 1000 for k in "abnc")
                print(f"  {vendor:24} (a) {a:7.1f}  (b) {b:7.1f} = {b / a:.2f}x  (b') {n:7.1f} = {n / a:.2f}x"
                      f"  (c) {c:7.1f} = {c / b:.1f}x (b), {c / n:.1f}x (b')")
            print("whole vendor-years (integration.get_ornaments_by_year, no delay):")
            for vendor in replica.base_urls:
                integration = get_integration(vendor, settings, pool, cache=YearLinksCache(None, 60))
                for year in (1998, 2020):
                    started = time.perf_counter()
                    result = integration.get_ornaments_by_year(year)
                    elapsed = time.perf_counter() - started
                    print(f"  {vendor:24} {year}: {len(result.listings):3d} listings, {result.pages_visited:3d} pages,"
                          f" {elapsed:6.2f}s = {len(result.listings) / elapsed:7.1f} listings/s"
                          f"{'' if result.complete else ' INCOMPLETE'}")


if __name__ == "__main__":
    main()
