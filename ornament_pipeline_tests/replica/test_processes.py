"""Two processes with the same seed and day serve identical sites; the CLI's truth and errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ornament_pipeline.replica.clock import truth
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP, VENDOR_KEYS
from ornament_pipeline_tests.ports import free_ports
from ornament_pipeline_tests.replica import scrape

CMD = [sys.executable, "-m", "ornament_pipeline.replica"]


@contextmanager
def serve(*args: str) -> Iterator[dict[str, str]]:
    ports = free_ports(4)
    proc = subprocess.Popen([*CMD, "serve", "--ports", ",".join(map(str, ports[:3])), "--admin-port", str(ports[3]),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        urls = {}
        for _ in range(4):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            key, url = line.split()
            urls[key] = url
        yield urls
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def crawl(urls: dict[str, str]) -> dict[str, str]:
    """Every page of a few vendor-years plus all year pages, bodies with the base URLs masked."""
    pages: dict[str, str] = {}
    with httpx.Client(timeout=30) as client:
        def get(url: str) -> str:
            raw = client.get(url).text
            text, key = raw, url
            for vendor in VENDOR_KEYS:
                text = text.replace(urls[vendor], f"<{vendor}>")
                key = key.replace(urls[vendor], f"<{vendor}>")
            pages[key] = text
            return raw

        hh, os_, ho = urls[HOOKEDONHALLMARK], urls[ORNAMENT_SHOP], urls[HALLMARK_ORNAMENTS]
        get(hh + "/robots.txt")
        get(hh + "/keepsake-hallmark-ornaments-by-year.html")
        for url in scrape.hh_year_links(client, hh).values():
            for page in scrape.hh_listing_pages(client, url):
                get(page)
                for tile in scrape.hh_tiles(scrape.fetch(client, page), page)[:3]:
                    get(tile["link"])
        get(os_ + "/hallmark-ornaments-by-year.html")
        for url in scrape.os_year_links(client, os_).values():
            for page in scrape.os_listing_pages(client, url):
                get(page)
        index = ho + "/Hallmark-Ornaments-By-Year_c_200.html"
        doc = scrape.lxml.html.fromstring(get(index))
        for url in scrape.ho_year_links(doc, index).values():
            page = scrape.lxml.html.fromstring(get(url))
            get(ho + page.cssselect("#productCategoryBlock")[0].get("data-src"))
    return pages


def test_two_processes_same_seed_and_day_serve_identical_sites() -> None:
    with serve("--seed", "99", "--day", "12") as a, serve("--seed", "99", "--day", "12") as b:
        assert a[HOOKEDONHALLMARK] != b[HOOKEDONHALLMARK]
        pages_a, pages_b = crawl(a), crawl(b)
        assert len(pages_a) > 150
        assert pages_a == pages_b
        # Moving one process's clock through its admin interface makes them differ.
        httpx.post(a["admin"] + "/day", json={"day": 60}).raise_for_status()
        assert httpx.get(a["admin"] + "/state").json()["day"] == 60
        assert crawl(a) != pages_b


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = free_ports(3)
        result = subprocess.run([*CMD, "serve", "--ports", f"{others[0]},{port},{others[1]}",
                                 "--admin-port", str(others[2])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "already in use" in result.stderr


def test_truth_cli_prints_json_lines() -> None:
    result = subprocess.run([*CMD, "truth", "--day", "5", "--seed", "8", "--vendor", ORNAMENT_SHOP, "--year", "2020",
                             "--ports", "9001,9002,9003"], capture_output=True, text=True, timeout=60, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = truth("small", 5, 8, {v: f"http://127.0.0.1:{9001 + i}" for i, v in enumerate(VENDOR_KEYS)},
                     ORNAMENT_SHOP, 2020)
    assert rows == [r.to_json_dict() for r in expected] and rows
    assert list(rows[0]) == ["vendor", "vendor_id", "sku", "item_number", "condition", "name", "price",
                             "availability", "availability_text", "brand", "release_year", "link"]
    assert rows[0]["link"].startswith("http://127.0.0.1:9002/") and isinstance(rows[0]["price"], str)
