"""hallmark_ornaments_com builds its product tiles with JavaScript: real headless Chromium sees the truth."""

from __future__ import annotations

import httpx
import lxml.html
import pytest

from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK
from ornament_pipeline_tests.replica import scrape

pytestmark = pytest.mark.browser


def load(driver, url: str) -> lxml.html.HtmlElement:  # noqa: ANN001 - selenium driver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "productCategoryBlock").get_attribute("data-loaded") == "true")
    return lxml.html.fromstring(driver.page_source)


@pytest.mark.parametrize("year,viewall", [(1998, False), (2020, True), (1975, False)])
def test_year_pages_in_chromium_equal_truth(replica: ReplicaHandle, chrome, client: httpx.Client, year: int,
                                            viewall: bool) -> None:
    base = replica.base_urls[HALLMARK_ORNAMENTS]
    chrome.get(base + "/Hallmark-Ornaments-By-Year_c_200.html")
    index = lxml.html.fromstring(chrome.page_source)
    url = scrape.ho_year_links(index, chrome.current_url)[year]
    tiles, count, pages = [], None, 0
    url = url + "?viewall=1" if viewall else url
    while url:
        doc = load(chrome, url)
        pages += 1
        count = int(doc.cssselect(".product-count")[0].text_content().rsplit(":", 1)[1])
        tiles += scrape.ho_tiles(doc, url)
        nxt = [a for a in doc.cssselect("div.paging a") if "next" in a.text_content().lower()]
        url = scrape.strip_query(scrape.urljoin(url, nxt[0].get("href"))) if nxt else None
    truth = {t.vendor_id: t for t in replica.truth(HALLMARK_ORNAMENTS, year)}
    assert count == len(tiles) == len(truth) > 0
    assert (pages == 1) == viewall
    if not viewall:
        assert pages > 1
    for tile in tiles:
        t = truth[tile["vendor_id"]]
        assert (tile["name"], tile["link"], tile["price"], tile["availability"]) == (
            t.name, t.link, t.price, t.availability)
        assert tile["quickview"] == f"{base}/product.asp?lt_c=1&itemid={t.vendor_id}&qv=1"
    # The quick-view page (what the 2020 scraper stored as link) agrees too.
    quick = scrape.ho_product(client, tiles[0]["quickview"])
    assert quick["sku"] == truth[tiles[0]["vendor_id"]].sku


def test_plain_html_site_renders_the_same_in_chromium(replica: ReplicaHandle, chrome) -> None:
    base = replica.base_urls[HOOKEDONHALLMARK]
    truth = {t.vendor_id: t for t in replica.truth(HOOKEDONHALLMARK, 1975)}
    chrome.get(base + "/keepsake-hallmark-ornaments-by-year.html")
    years = {}
    for a in lxml.html.fromstring(chrome.page_source).cssselect(".columns-5 li > a"):
        img = a.find("span/img")
        text = img.get("alt") if img is not None else a.text_content()
        years[scrape.year_of(text)] = scrape.urljoin(chrome.current_url, a.get("href"))
    chrome.get(years[1975])
    tiles = scrape.hh_tiles(lxml.html.fromstring(chrome.page_source), chrome.current_url)
    assert tiles and all(truth[t["vendor_id"]].price == t["price"] for t in tiles)
