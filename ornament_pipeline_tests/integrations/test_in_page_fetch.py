"""Static pages read with the browser's fetch() (integrations/in_page.py): same listings as navigating, the
site's own charset, and a navigation whenever fetch() cannot do it (another site, a network error)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ornament_pipeline.config import Settings, VendorConfig
from ornament_pipeline.integrations import DriverPool, get_integration
from ornament_pipeline.integrations.errors import ScrapeError
from ornament_pipeline_tests.integrations.conftest import FAST, make_settings
from ornament_pipeline_tests.integrations.test_replica import comparable

pytestmark = pytest.mark.browser
PAGES = Path(__file__).parent / "pages"
NAME = "1975 Betsey Clark (Adorable) \u2018Caf\u00e9\u2019 NB"  # curly quotes: bytes 0x91/0x92 in windows-1252


@pytest.mark.parametrize("vendor", ["ornament_shop_com", "hookedonhallmark_com"])
def test_fetch_and_navigation_give_the_same_listings(clean_replica, vendor: str, no_cache) -> None:
    results = {}
    for mode in ("fetch", "navigate"):
        settings = Settings(
            vendors={v: VendorConfig(base_url=u, politeness=FAST, static_pages=mode)
                     for v, u in clean_replica.base_urls.items()},
            selenium={"pool_size": 1},
        )
        with DriverPool(settings, 1) as pool:
            integration = get_integration(vendor, settings, pool, cache=no_cache)
            result = integration.get_ornaments_by_year(1998)
            assert result.complete, result.failed_pages
            results[mode] = (result.listings, integration.fetcher)
    want = clean_replica.truth(vendor, 1998)
    for mode, (listings, _) in results.items():
        got, expected = comparable(listings, want)
        assert got == expected, mode
    fetched, navigated = results["fetch"][1], results["navigate"][1]
    assert navigated.pages_fetched_in_page == 0 and navigated.pages_loaded >= 3
    # One navigation puts the browser on the site; every later page of it is fetched.
    assert fetched.pages_fetched_in_page == fetched.pages_loaded - 1


class _Site(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status, headers, body = self.routes.get(self.path, (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_sites() -> Iterator[tuple[str, str, dict]]:
    """Two tiny sites on loopback (distinct origins) serving whatever the test puts in `routes`."""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("Site", (_Site,), {"routes": routes})
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers) + (routes,)  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


def _product_page(charset_in_meta: bool) -> bytes:
    html = (PAGES / "hoh_product.html").read_text().replace("1975 Betsey Clark (Adorable) NB", NAME)
    if charset_in_meta:
        html = html.replace("<head>", '<head><meta charset="windows-1252">')
    return html.encode("windows-1252")


@pytest.mark.parametrize("charset_in_meta", [False, True], ids=["header", "meta"])
def test_pages_in_windows_1252_decode_as_the_browser_would(two_sites, no_cache, charset_in_meta: bool) -> None:
    site, _, routes = two_sites
    content_type = "text/html" if charset_in_meta else "text/html; charset=windows-1252"
    routes["/Betsey_p_1161.html"] = (200, {"Content-Type": content_type}, _product_page(charset_in_meta))
    settings = make_settings({"hookedonhallmark_com": site})
    with DriverPool(settings, 1) as pool:
        integration = get_integration("hookedonhallmark_com", settings, pool, cache=no_cache)
        navigated = integration.get_ornament_by_url(f"{site}/Betsey_p_1161.html")
        fetched = integration.get_ornament_by_url(f"{site}/Betsey_p_1161.html")
        assert integration.fetcher.pages_fetched_in_page == 1
    assert navigated.name == fetched.name == NAME
    assert fetched == navigated


def test_a_redirect_to_another_site_is_followed_by_navigating(two_sites, no_cache) -> None:
    site, other, routes = two_sites
    page = (PAGES / "hoh_product.html").read_bytes()
    routes["/Betsey_p_1161.html"] = (200, {"Content-Type": "text/html"}, page)
    routes["/moved_p_1161.html"] = (301, {"Location": f"{other}/Betsey_p_1161.html"}, b"")
    settings = make_settings({"hookedonhallmark_com": site})
    with DriverPool(settings, 1) as pool:
        integration = get_integration("hookedonhallmark_com", settings, pool, cache=no_cache)
        first = integration.get_ornament_by_url(f"{site}/Betsey_p_1161.html")  # navigates: the browser is on `site`
        moved = integration.get_ornament_by_url(f"{site}/moved_p_1161.html")  # fetch() may not cross to `other`
        assert integration.fetcher.pages_fetched_in_page == 0 and integration.fetcher.pages_loaded == 2
    assert moved.sku == first.sku == "QX1571NB"
    assert moved.link.startswith(other)


def test_http_errors_from_fetch_carry_status_and_retry_after(two_sites, no_cache) -> None:
    site, _, routes = two_sites
    routes["/Betsey_p_1161.html"] = (200, {"Content-Type": "text/html"}, (PAGES / "hoh_product.html").read_bytes())
    routes["/busy_p_1.html"] = (429, {"Content-Type": "text/html", "Retry-After": "999"}, b"<h1>slow down</h1>")
    settings = make_settings({"hookedonhallmark_com": site})
    with DriverPool(settings, 1) as pool:
        integration = get_integration("hookedonhallmark_com", settings, pool, cache=no_cache)
        integration.get_ornament_by_url(f"{site}/Betsey_p_1161.html")
        with pytest.raises(ScrapeError) as missing:
            integration.get_ornament_by_url(f"{site}/Gone_p_2.html")
        with pytest.raises(ScrapeError) as busy:
            integration.get_ornament_by_url(f"{site}/busy_p_1.html")
        assert integration.fetcher.pages_fetched_in_page == 2
    assert missing.value.status == 404 and missing.value.url.endswith("/Gone_p_2.html")
    # Retry-After beyond backoff_max_seconds: not waited out, reported with the status
    assert busy.value.status == 429 and busy.value.retry_after == 999 and "Retry-After" in busy.value.reason
