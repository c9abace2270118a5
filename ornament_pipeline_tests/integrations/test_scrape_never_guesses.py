"""Whole scrapes with real Chromium: a year index cut short is never believed or cached, a listing cut
short is a failed page, and product pages the parser cannot read are failed pages while the rest of the
year is scraped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ornament_pipeline.integrations import ScrapeError, get_integration
from ornament_pipeline.integrations.year_links_cache import cache_key
from ornament_pipeline.vendors import HOOKEDONHALLMARK, VENDOR_KEYS

from .conftest import make_settings
from .test_replica import comparable

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_a_year_index_cut_at_the_same_place_on_every_load_is_an_error_and_not_cached(
        vendor, clean_replica, settings, pool, redis_cache):
    """Old behaviour: two loads cut at the same place agreed, and the short index was cached for a week."""
    clean_replica.set_faults(f"{vendor}:truncate=1,truncate_at=0.6")
    integration = get_integration(vendor, settings, pool, cache=redis_cache)
    with pytest.raises(ScrapeError) as caught:
        integration.get_year_links()
    assert caught.value.vendor == vendor and caught.value.url == integration.year_index_url
    assert "year index incomplete" in caught.value.reason or "no year links" in caught.value.reason
    assert redis_cache.client.get(cache_key(vendor, clean_replica.base_urls[vendor], redis_cache.prefix)) is None
    result = integration.get_ornaments_by_year(2020)  # the year scrape says so, rather than "no page this year"
    assert not result.complete and result.failed_pages[0].url == integration.year_index_url
    clean_replica.set_faults(None)
    assert 2020 in integration.get_year_links()


def test_a_listing_page_cut_in_its_paging_is_a_failed_page(clean_replica, settings, pool, redis_cache):
    """Old behaviour: page 1 cut right after `<div class="paging">` passed as the last page of the year."""
    vendor = HOOKEDONHALLMARK
    integration = get_integration(vendor, settings, pool, cache=redis_cache)  # the index is read before the cut
    year_url = integration.get_year_links()[1975]
    source = clean_replica_page(integration, year_url)
    cut = (source.index('<div class="paging">') + 25) / len(source)
    clean_replica.set_faults(f"{vendor}:truncate=1,truncate_at={cut:.6f}")
    result = integration.get_ornaments_by_year(1975)
    assert not result.complete
    assert any(e.url == year_url and "incomplete" in e.reason for e in result.failed_pages), result.failed_pages
    clean_replica.set_faults(None)
    got, want = comparable(integration.get_ornaments_by_year(1975).listings, clean_replica.truth(vendor, 1975))
    assert got == want


def clean_replica_page(integration, url: str) -> str:
    return integration.fetcher.fetch(url, lambda page: page.html, static=True)


# -- product pages the parser cannot read: failed pages, the rest of the year goes on ------------------------
FOOTER = '<div id="footer">&copy;</div></body></html>'
GOOD = '{"catalogid": 1, "id": "QX1001MIB", "name": "1999 Good", "price": 24.95, "availability": 1, "currency": "USD"}'
HOSTILE = {  # catalog id: (_3d_item, #price) of a product page whose tile needs it (no price on the tile)
    1: (GOOD, "$24.95"),
    2: ('{"catalogid": 2, "id": "QX1002MIB", "name": "1999 NaN", "price": NaN, "availability": 1}', "$24.95"),
    3: ('{"catalogid": 3, "id": "QX1003MIB", "name": 1999, "price": 5, "availability": 1}', "$5.00"),
    4: ('{"catalogid": 4, "id": {"sku": "QX1004"}, "name": "1999 Dict", "price": 5, "availability": 1}', "$5.00"),
    5: ('{"catalogid": 5, "name": "1999 Superscript", "availability": 1}', "$\u00b24.95"),
    6: ('{"catalogid": 6, "id": "QX1006MIB", "name": "1999 Two prices", "availability": 1}', "Was $30 Now $24"),
}


def hostile_site(base: str) -> dict[str, str]:
    tiles = "".join(f'<div class="product-item" data-catalogid="{i}"><div class="name">'
                    f'<a href="/1999-Item-{i}_p_{i}.html">1999 Item {i}</a></div></div>' for i in HOSTILE)
    pages = {
        "/keepsake-hallmark-ornaments-by-year.html": '<html><body><div class="columns-5"><ul><li>'
        '<a href="/1999-Hallmark-Ornaments_c_1.html"><span>1999 Hallmark Ornaments</span></a></li></ul></div>'
        + FOOTER,
        "/1999-Hallmark-Ornaments_c_1.html": f'<html><body><div id="itemsBlock">{tiles}</div>{FOOTER}',
    }
    for i, (d3, price) in HOSTILE.items():
        pages[f"/1999-Item-{i}_p_{i}.html"] = (
            f'<html><head><script>var _3d_item = {d3};</script></head><body><form id="add">'
            f'<input type="hidden" name="item_id" value="{i}"><h1>1999 Item {i}</h1>'
            f'<span id="price">{price}</span><span id="availability">In Stock</span></form>{FOOTER}')
    return pages


@pytest.fixture
def hostile_server() -> Iterator[str]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            data = (body or "<html><head><title>Not Found</title></head><body></body></html>").encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages.update(hostile_site(base))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_product_pages_the_parser_cannot_read_are_failed_pages_and_the_year_goes_on(hostile_server, pool, no_cache):
    """Old behaviour: the NaN price raised decimal.InvalidOperation out of the scrape (the partition crashed);
    "$²4.95" became 4.95 and "Was $30 Now $24" became 30."""
    settings = make_settings({HOOKEDONHALLMARK: hostile_server})
    integration = get_integration(HOOKEDONHALLMARK, settings, pool, cache=no_cache)
    result = integration.get_ornaments_by_year(1999)
    assert [(item.vendor_id, str(item.price)) for item in result.listings] == [("1", "24.95")]
    failed = {e.url.rsplit("_p_", 1)[-1].split(".")[0]: e for e in result.failed_pages}
    assert set(failed) == {"2", "3", "4", "5", "6"}
    assert all(e.vendor == HOOKEDONHALLMARK and e.url.startswith(hostile_server) for e in failed.values())
    assert "_3d_item.price" in failed["2"].reason and "not a number" in failed["2"].reason
    assert "_3d_item.name" in failed["3"].reason
    assert "_3d_item.id" in failed["4"].reason
    assert "#price" in failed["5"].reason and "U+00B2" in failed["5"].reason
    assert "#price" in failed["6"].reason and "several amounts" in failed["6"].reason
    assert not result.complete
