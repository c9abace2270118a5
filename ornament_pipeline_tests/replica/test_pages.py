"""Every plain-HTML page parses, with an ordinary HTML parser, to exactly the truth."""

from __future__ import annotations

import httpx
import lxml.html
import pytest

from ornament_pipeline.replica.catalogue import LAST_YEAR, ORNAMENT_SHOP_MISSING_YEARS, catalogue
from ornament_pipeline.replica.sites.hookedonhallmark import is_split
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.vendors import FIRST_YEAR, HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP
from ornament_pipeline_tests.replica import scrape

ALL_YEARS = set(range(FIRST_YEAR, LAST_YEAR + 1))


def by_id(rows: list) -> dict[str, object]:
    out = {r.vendor_id: r for r in rows}
    assert len(out) == len(rows)
    return out


def test_hookedonhallmark_whole_site_equals_truth(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[HOOKEDONHALLMARK]
    years = scrape.hh_year_links(client, base)
    assert set(years) == ALL_YEARS
    truth = by_id(replica.truth(HOOKEDONHALLMARK))
    seen: dict[str, dict] = {}
    paged_years = 0
    for year, url in years.items():
        pages = scrape.hh_listing_pages(client, url)
        paged_years += len(pages) > 1
        assert ("view-all" in pages[0]) == is_split(year)
        for page in pages:
            for tile in scrape.hh_tiles(scrape.fetch(client, page), page):
                assert tile["vendor_id"] not in seen
                seen[tile["vendor_id"]] = {**tile, "release_year": year}
    assert paged_years >= 2
    assert seen.keys() == truth.keys()
    for vid, tile in seen.items():
        t = truth[vid]
        assert (tile["name"], tile["link"], tile["price"], tile["availability"], tile["release_year"]) == (
            t.name, t.link, t.price, t.availability, t.release_year)
        product = scrape.hh_product(client, tile["link"])
        item, condition = scrape.split_sku(product["sku"])
        assert (product["vendor_id"], product["sku"], item, condition, product["price"], product["availability"]) == (
            t.vendor_id, t.sku, t.item_number, t.condition, t.price, t.availability)
        assert t.brand is None


def test_hookedonhallmark_old_index_layout(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[HOOKEDONHALLMARK]
    new = scrape.hh_year_links(client, base)
    replica.set_options(HOOKEDONHALLMARK, index_layout="sub-categories")
    try:
        doc = scrape.fetch(client, base + "/keepsake-hallmark-ornaments-by-year.html")
        assert not doc.cssselect(".columns-5") and doc.cssselect(".sub-categories")
        assert scrape.hh_year_links(client, base) == new
    finally:
        replica.set_options(HOOKEDONHALLMARK, index_layout="columns-5")
    # Both span variants are served.
    doc = scrape.fetch(client, base + "/keepsake-hallmark-ornaments-by-year.html")
    assert doc.cssselect(".columns-5 li > a > span > img[alt]") and [
        s for s in doc.cssselect(".columns-5 li > a > span") if s.find("img") is None]


def test_ornament_shop_whole_site_equals_truth(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[ORNAMENT_SHOP]
    doc = scrape.fetch(client, base + "/hallmark-ornaments-by-year.html")
    all_links = doc.cssselect("li.navList-item > a.navList-action")
    years = scrape.os_year_links(client, base)
    assert set(years) == ALL_YEARS - set(ORNAMENT_SHOP_MISSING_YEARS)
    assert len(all_links) > len(years)  # non-year categories mixed in
    truth = by_id(replica.truth(ORNAMENT_SHOP))
    seen: dict[str, dict] = {}
    dd_counts, sources = set(), set()
    for year, url in years.items():
        for page in scrape.os_listing_pages(client, url):
            cards = scrape.os_cards(scrape.fetch(client, page), page)
            assert len(cards) <= 12
            for card in cards:
                assert card["vendor_id"] not in seen
                seen[card["vendor_id"]] = {**card, "release_year": year}
    assert seen.keys() == truth.keys()
    for vid, card in seen.items():
        t = truth[vid]
        assert (card["name"], card["data_name"], card["link"], card["price"], card["availability"], card["brand"],
                card["release_year"]) == (t.name, t.name, t.link, t.price, t.availability, t.brand, t.release_year)
        product = scrape.os_product(client, card["link"])
        item, condition = scrape.split_sku(product["sku"])
        assert (product["vendor_id"], product["sku"], item, condition, product["price"], product["name"]) == (
            t.vendor_id, t.sku, t.item_number, t.condition, t.price, t.name)
        assert product["sources"]
        for kind, sku, price, availability, brand in product["sources"]:
            sources.add(kind)
            assert (sku, price, availability) == (t.sku, t.price, t.availability)
            assert kind == "microdata" or brand == t.brand
        assert product["dl"]["SKU:"] == t.sku
        assert product["dl"].get("Brand:") == t.brand
        dd_counts.add(product["dd_count"])
    assert sources == {"jsonld", "microdata"}
    assert len(dd_counts) >= 2  # rows omitted when empty: positions shift
    assert {t.availability for t in truth.values()} >= {"available", "unavailable"}


def test_hallmark_ornaments_plain_get_shows_no_products(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[HALLMARK_ORNAMENTS]
    index_url = base + "/Hallmark-Ornaments-By-Year_c_200.html"
    doc = scrape.fetch(client, index_url)
    years = scrape.ho_year_links(doc, index_url)
    assert set(years) == ALL_YEARS
    assert list(years) == sorted(years)  # ascending
    assert len(doc.cssselect("a.subcat")) > len(years)  # non-year links after the years
    assert years[1973].endswith("/1973_c_303.html") and years[1998].endswith("/1998_c_263.html")
    for year in (1998, 2020):
        page = scrape.fetch(client, years[year] + "?viewall=1")
        count = int(page.cssselect(".product-count")[0].text_content().rsplit(":", 1)[1])
        assert count == len(replica.truth(HALLMARK_ORNAMENTS, year)) > 0
        assert page.cssselect("#productCategoryBlock") and not page.cssselect(".product-item")
        assert "quickview" not in lxml.html.tostring(page.cssselect("#mainContent")[0]).decode()


def test_hallmark_ornaments_product_pages_equal_truth(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[HALLMARK_ORNAMENTS]
    kinds = set()
    for t in replica.truth(HALLMARK_ORNAMENTS):
        for url in (t.link, f"{base}/product.asp?lt_c=1&itemid={t.vendor_id}&qv=1"):
            product = scrape.ho_product(client, url)
            item, condition = scrape.split_sku(product["sku"])
            assert (product["vendor_id"], product["sku"], product["dom_sku"], item, condition, product["price"],
                    product["availability"], product["name"]) == (
                t.vendor_id, t.sku, t.sku, t.item_number, t.condition, t.price, t.availability, t.name)
        kinds.add(int(t.vendor_id) % 2)
    assert kinds == {0, 1}  # _3d_item with numbers and with strings


@pytest.mark.parametrize("vendor", [HOOKEDONHALLMARK, ORNAMENT_SHOP, HALLMARK_ORNAMENTS])
def test_robots_and_unknown_paths(replica: ReplicaHandle, client: httpx.Client, vendor: str) -> None:
    base = replica.base_urls[vendor]
    robots = client.get(base + "/robots.txt")
    assert robots.status_code == 200 and robots.text.startswith("User-agent: *")
    assert client.get(base + "/no-such-page.html").status_code == 404
    assert client.get(base + "/__admin/state").status_code == 404  # admin is not on the sites' ports


def test_small_catalogue_shape() -> None:
    cat = catalogue("small", 4242)
    years = {li.year for li in cat.listings[HOOKEDONHALLMARK]}
    assert years == ALL_YEARS
    assert 300 <= sum(len(v) for v in cat.listings.values()) <= 3000
