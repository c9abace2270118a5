"""How fast the replica serves listing pages, against how fast one real browser can load them.

Run: `.venv/bin/python benchmarks/replica_bench.py [--size full|small] [--seconds 5] [--concurrency 8]`.
The replica runs in its own process (as `ornaments replica serve` would); this process generates load
with httpx over keep-alive connections, then drives headless Chromium through the same pages
(hallmark_ornaments_com pages counted once their JavaScript tiles are in). It prints pages/second
for both and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import lxml.html

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP  # noqa: E402
from ornament_pipeline_tests.ports import free_ports  # noqa: E402


def start_replica(size: str) -> tuple[subprocess.Popen, dict[str, str]]:
    ports = free_ports(4)
    proc = subprocess.Popen([sys.executable, "-m", "ornament_pipeline.replica", "serve", "--size", size,
                             "--ports", ",".join(map(str, ports[:3])), "--admin-port", str(ports[3])],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    urls = dict(proc.stdout.readline().split() for _ in range(4))  # type: ignore[union-attr]
    return proc, urls


def listing_pages(urls: dict[str, str], per_vendor: int) -> list[tuple[str, str]]:
    """(vendor, url) of listing pages: category pages of several years for each vendor."""
    pages: list[tuple[str, str]] = []
    with httpx.Client(timeout=30) as client:
        hh = urls[HOOKEDONHALLMARK] + "/keepsake-hallmark-ornaments-by-year.html"
        for a in lxml.html.fromstring(client.get(hh).text).cssselect(".columns-5 li > a")[:per_vendor]:
            year_url = httpx.URL(hh).join(a.get("href"))
            doc = lxml.html.fromstring(client.get(year_url).text)
            view_all = [x.get("href") for x in doc.cssselect("a") if "view-all" in (x.get("href") or "")]
            pages.append((HOOKEDONHALLMARK, str(year_url.join(view_all[0])) if view_all else str(year_url)))
        for year in range(2025, 2025 - per_vendor, -1):
            pages.append((ORNAMENT_SHOP, f"{urls[ORNAMENT_SHOP]}/{year}-hallmark-ornaments/?page=2"))
        ho = urls[HALLMARK_ORNAMENTS] + "/Hallmark-Ornaments-By-Year_c_200.html"
        links = [a.get("href") for a in lxml.html.fromstring(client.get(ho).text).cssselect("a.subcat")]
        for href in links[-per_vendor - 5:-5]:  # the last years, before the non-year links
            pages.append((HALLMARK_ORNAMENTS, str(httpx.URL(ho).join(href))))
    return pages


async def http_rate(pages: list[tuple[str, str]], seconds: float, concurrency: int) -> tuple[float, int]:
    """Pages per second over `seconds`; a hallmark_ornaments page counts with its JSON tiles."""
    ho_json = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        for vendor, url in pages:
            if vendor == HALLMARK_ORNAMENTS:
                doc = lxml.html.fromstring((await client.get(url)).text)
                src = doc.cssselect("#productCategoryBlock")[0].get("data-src")
                ho_json[url] = str(httpx.URL(url).join(src))
        done, end = 0, time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal done
            i = offset
            while time.perf_counter() < end:
                vendor, url = pages[i % len(pages)]
                r = await client.get(url)
                assert r.status_code == 200
                if vendor == HALLMARK_ORNAMENTS:
                    assert (await client.get(ho_json[url])).status_code == 200
                done += 1
                i += concurrency

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return done / (time.perf_counter() - start), done


def browser_rate(pages: list[tuple[str, str]], seconds: float) -> tuple[float, int]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="replica-bench-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        def load(vendor: str, url: str) -> None:
            driver.get(url)
            if vendor == HALLMARK_ORNAMENTS:
                WebDriverWait(driver, 10).until(
                    lambda d: d.find_element(By.ID, "productCategoryBlock").get_attribute("data-loaded") == "true")
            driver.page_source  # noqa: B018 - a scraper reads the source; count that too

        load(*pages[0])  # warm-up
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            load(*pages[done % len(pages)])
            done += 1
        return done / (time.perf_counter() - start), done
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full", choices=("small", "full"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--per-vendor", type=int, default=10, help="listing pages per vendor in the rotation")
    args = parser.parse_args()
    t0 = time.perf_counter()
    proc, urls = start_replica(args.size)
    print(f"replica ({args.size}) up in {time.perf_counter() - t0:.1f}s: "
          + ", ".join(f"{k}={v}" for k, v in urls.items()))
    try:
        pages = listing_pages(urls, args.per_vendor)
        cold, _ = asyncio.run(http_rate(pages, 0.5, args.concurrency))
        served, n = asyncio.run(http_rate(pages, args.seconds, args.concurrency))
        print(f"replica: {served:,.0f} listing pages/s ({n} pages, {len(pages)} distinct, "
              f"concurrency {args.concurrency}; first pass incl. rendering {cold:,.0f}/s)")
        loaded, m = browser_rate(pages, args.seconds)
        print(f"browser: {loaded:,.1f} page loads/s ({m} loads, one headless Chromium)")
        print(f"ratio:   replica serves {served / loaded:,.0f}x faster than one browser loads")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
