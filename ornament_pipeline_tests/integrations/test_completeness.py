"""A page cut short is never believed: year indexes and listing pages must show their own end.

Pages come from the replica's renderer (in process, no server), cut as its `truncate` fault cuts them, and
read both as the server's bytes (an in-page fetch) and as a browser's serialised DOM (a navigation: every
open element closed, `</html>` added), which lxml's serialisation stands in for here.
"""

from __future__ import annotations

import lxml.html
import pytest

from ornament_pipeline.integrations.errors import ScrapeError
from ornament_pipeline.integrations.fetch import Page
from ornament_pipeline.integrations.parsers import hallmark_ornaments as ho
from ornament_pipeline.integrations.parsers import hookedonhallmark as hoh
from ornament_pipeline.integrations.parsers import ornament_shop as os_
from ornament_pipeline.integrations.parsers.common import PageShapeError
from ornament_pipeline.integrations.registry import get_integration
from ornament_pipeline.integrations.year_links_cache import YearLinksCache
from ornament_pipeline.replica.server import Replica
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP, VENDOR_KEYS

from .conftest import make_settings

BASE = {HOOKEDONHALLMARK: "http://127.0.0.1:1", ORNAMENT_SHOP: "http://127.0.0.1:2", HALLMARK_ORNAMENTS: "http://127.0.0.1:3"}
PARSERS = {HOOKEDONHALLMARK: hoh, ORNAMENT_SHOP: os_, HALLMARK_ORNAMENTS: ho}


@pytest.fixture(scope="module")
def site() -> Replica:
    return Replica("small", 0, 0, BASE)


def served(site: Replica, vendor: str, path: str, query: str = "") -> str:
    page = site.page(vendor, path, query)
    assert page.status == 200, path
    return page.body.decode()


def as_dom(source: str) -> str:
    """What a browser's page_source gives for `source`: the parsed document serialised, closed at the end."""
    return lxml.html.tostring(lxml.html.document_fromstring(source), encoding="unicode")


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_the_whole_year_index_is_read_as_bytes_and_as_dom(site, vendor):
    parser = PARSERS[vendor]
    source = served(site, vendor, parser.YEAR_INDEX_PATH)
    url = BASE[vendor] + parser.YEAR_INDEX_PATH
    whole = parser.parse_year_index(source, url, raw=True)
    assert len(whole) > 40
    assert parser.parse_year_index(as_dom(source), url) == whole


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
@pytest.mark.parametrize("cut", [0.3, 0.45, 0.6, 0.75, 0.8])
def test_a_year_index_cut_short_is_an_error_not_fewer_years(site, vendor, cut):
    """Old behaviour: the cut index parsed into fewer years (and two loads cut at the same place agreed)."""
    parser = PARSERS[vendor]
    source = served(site, vendor, parser.YEAR_INDEX_PATH)
    short = source[: int(len(source) * cut)]
    url = BASE[vendor] + parser.YEAR_INDEX_PATH
    for text in (short, as_dom(short)):
        with pytest.raises(PageShapeError, match="year index incomplete|no year links"):
            parser.parse_year_index(text, url)


def _cut_after(source: str, marker: str, extra: int) -> str:
    at = source.index(marker)
    return source[: at + extra]


@pytest.mark.parametrize("extra", [0, 12, 25, 60])
def test_a_hookedonhallmark_listing_cut_in_its_paging_is_an_error_not_a_last_page(site, extra):
    """Old behaviour: a `div.paging` cut before its next link made page 1 look like the last page."""
    path = site.sites[HOOKEDONHALLMARK].year_category[1975].path
    source = served(site, HOOKEDONHALLMARK, path)
    assert "Next" in source or "next" in source or "NEXT" in source
    short = _cut_after(source, '<div class="paging">', extra)
    for text in (short, as_dom(short)):
        with pytest.raises(PageShapeError, match="incomplete"):
            hoh.parse_listing(text, BASE[HOOKEDONHALLMARK] + path, 1975)
    assert hoh.parse_listing(source, BASE[HOOKEDONHALLMARK] + path, 1975, raw=True).next_url
    assert hoh.parse_listing(as_dom(source), BASE[HOOKEDONHALLMARK] + path, 1975).next_url


@pytest.mark.parametrize("extra", [0, 60, 150])
def test_an_ornament_shop_listing_cut_in_its_paginator_is_an_error_not_a_last_page(site, extra):
    """Old behaviour: a paginator cut before its higher pages and next link passed as a last page."""
    path = "/1975-hallmark-ornaments/"
    source = served(site, ORNAMENT_SHOP, path)
    short = _cut_after(source, '<nav class="pagination"', extra)
    for text in (short, as_dom(short)):
        with pytest.raises(PageShapeError, match="incomplete"):
            os_.parse_listing(text, BASE[ORNAMENT_SHOP] + path, 1975)


def test_a_one_page_category_without_a_paginator_is_complete():
    """Old behaviour: "no pagination after the product grid" although the footer shows the page is whole."""
    card = ('<li class="product"><article class="card" data-entity-id="5" data-name="1999 Bell">'
            '<figure class="card-figure"><a href="/1999-bell/" class="card-figure__link"></a><figcaption>'
            '<a href="/cart.php?action=add&amp;product_id=5" data-button-type="add-cart">Add to Cart</a>'
            '</figcaption></figure><div class="card-body"><h3 class="card-title"><a href="/1999-bell/">1999 Bell</a>'
            '</h3><span class="price price--withoutTax">$28.95</span></div></article></li>')
    source = (f'<html><body><main><ul class="productGrid">{card}</ul></main>'
              '<footer class="footer">&copy;</footer></body></html>')
    for text, raw in ((source, True), (as_dom(source), False)):
        parsed = os_.parse_listing(text, "https://www.ornament-shop.com/1999-hallmark-ornaments/", 1999, raw=raw)
        assert [item.vendor_id for item in parsed.items] == ["5"] and parsed.next_url is None


def test_a_listing_dom_without_its_footer_is_incomplete_even_with_html_closed():
    source = ('<html><body><div id="itemsBlock"><div class="product-item" data-catalogid="11"><div class="name">'
              '<a href="/1999-Santa_p_11.html">1999 Santa</a></div><div class="price">$5.00</div><div class="status">'
              '<span class="availability">In Stock</span></div></div></div></body></html>')
    assert hoh.parse_listing(source, "https://www.hookedonhallmark.com/1999_c_1.html", 1999, raw=True).items
    with pytest.raises(PageShapeError, match="incomplete"):  # as a DOM: its </html> proves nothing
        hoh.parse_listing(source, "https://www.hookedonhallmark.com/1999_c_1.html", 1999)


# -- years are whole tokens in the year links ------------------------------------------------------------
def test_decade_links_are_not_years():
    """Old behaviour: "2000s Decade" and `/2000s-ornaments/` were taken as the year 2000."""
    hoh_index = ('<html><body><div class="columns-5"><ul>'
                 '<li><a href="/2000s-Decade_c_9.html"><span>2000s Decade</span></a></li>'
                 '<li><a href="/2001-Hallmark-Ornaments_c_10.html"><span>2001 Hallmark Ornaments</span></a></li>'
                 '</ul></div><div id="footer"></div></body></html>')
    assert hoh.parse_year_index(hoh_index, "https://www.hookedonhallmark.com/x.html") == {
        2001: "https://www.hookedonhallmark.com/2001-Hallmark-Ornaments_c_10.html"}
    os_index = ('<html><body><aside><ul class="navList">'
                '<li class="navList-item"><a class="navList-action" href="/2000s-ornaments/">2000s</a></li>'
                '<li class="navList-item"><a class="navList-action" href="/2020-hallmark-ornaments/">2020</a></li>'
                '</ul></aside><div class="page-content"></div></body></html>')
    assert os_.parse_year_index(os_index, "https://www.ornament-shop.com/x.html") == {
        2020: "https://www.ornament-shop.com/2020-hallmark-ornaments/"}
    ho_index = ('<html><body><ul><li><a class="subcat" href="1995_c_260.html">1995 Hallmark Ornaments</a></li>'
                '<li><a class="subcat" href="2000s-Decade_c_500.html">2000s Decade Collection</a></li>'
                '</ul></body></html>')
    assert ho.parse_year_index(ho_index, "https://www.hallmarkornaments.com/x.html") == {
        1995: "https://www.hallmarkornaments.com/1995_c_260.html"}


# -- an unexpected exception in a parser is a page error ---------------------------------------------------
def test_an_unexpected_parser_exception_is_a_page_error_naming_vendor_url_and_reason():
    integration = get_integration(HOOKEDONHALLMARK, make_settings(BASE), cache=YearLinksCache(None, 60))
    page = Page("http://127.0.0.1:1/x_p_1.html", "http://127.0.0.1:1/x_p_1.html", "<html></html>", 200)

    def broken(page: Page) -> None:
        raise KeyError("catalogid")

    with pytest.raises(ScrapeError) as caught:
        integration._guarded(broken)(page)
    error = caught.value
    assert (error.vendor, error.url) == (HOOKEDONHALLMARK, page.url)
    assert "parser error: KeyError" in error.reason and not error.retryable
