"""The vendor parsers on hand-written pages in the live sites' markup (vendor-sites.md), every variant.

Saved pages are the server's bytes, hence `raw=True` (their `</html>` shows the whole page arrived)."""

from decimal import Decimal
from pathlib import Path

import pytest

from ornament_pipeline.integrations.parsers import hallmark_ornaments as ho
from ornament_pipeline.integrations.parsers import hookedonhallmark as hoh
from ornament_pipeline.integrations.parsers import ornament_shop as os_
from ornament_pipeline.integrations.parsers.common import PageShapeError, PartialListing
from ornament_pipeline.listing import Listing

PAGES = Path(__file__).parent / "pages"
HOH = "https://www.hookedonhallmark.com"
OS = "https://www.ornament-shop.com"
HO = "https://www.hallmarkornaments.com"


def page(name: str) -> str:
    return (PAGES / name).read_text()


# -- hookedonhallmark ---------------------------------------------------------------------------
def test_hoh_year_index_columns5_text_and_img_alt():
    links = hoh.parse_year_index(page("hoh_index_columns5.html"), HOH + hoh.YEAR_INDEX_PATH, raw=True)
    assert links == {
        1973: f"{HOH}/1973-Hallmark-Ornaments_c_101.html",
        2020: f"{HOH}/2020-Hallmark-Ornaments_c_140.html",
    }


def test_hoh_year_index_older_subcategories_layout():
    links = hoh.parse_year_index(page("hoh_index_subcategories.html"), HOH + hoh.YEAR_INDEX_PATH, raw=True)
    assert links == {
        1974: f"{HOH}/1974-Hallmark-Ornaments_c_102.html",
        1975: f"{HOH}/1975-Hallmark-Ornaments_c_103.html",
    }


def test_hoh_year_index_without_links_is_an_error():
    with pytest.raises(PageShapeError):
        hoh.parse_year_index("<html><body><p>maintenance</p></body></html>", HOH)


@pytest.mark.parametrize(
    ("name", "view_all"),
    [
        ("hoh_year_split_first_link.html", f"{HOH}/1998-View-All_c_500.html"),
        ("hoh_year_split_block.html", f"{HOH}/2001-hallmark-ornaments-view-all_c_602.html"),
    ],
)
def test_hoh_split_year_view_all(name, view_all):
    parsed = hoh.parse_listing(page(name), f"{HOH}/year_c_1.html", raw=True)
    assert parsed.view_all_url == view_all
    assert parsed.items == []


def test_hoh_listing_tiles_prices_and_paging():
    parsed = hoh.parse_listing(page("hoh_listing.html"), f"{HOH}/1973-Hallmark-Ornaments_c_101.html", 1973, raw=True)
    assert parsed.next_url == f"{HOH}/1973-Hallmark-Ornaments_c_101.html?page=2"
    first, sale, sold_out = parsed.items
    assert first == Listing(
        "hookedonhallmark_com", "1161", "1973 Reindeer MIB", f"{HOH}/1973-Reindeer-MIB_p_1161.html",
        "available", Decimal("1249.00"), release_year=1973,
    )
    assert (sale.vendor_id, sale.price, sale.availability) == ("1162", Decimal("19.95"), "unavailable")
    assert sale.link == f"{HOH}/1973-Santa-NB_p_1162.html"
    assert (sold_out.vendor_id, sold_out.price, sold_out.price_note) == ("1163", None, "Sold Out")


def test_hoh_last_page_has_no_next():
    parsed = hoh.parse_listing(page("hoh_listing_last.html"), f"{HOH}/c_101.html?page=2", 1973, raw=True)
    assert parsed.next_url is None
    assert parsed.items[0].availability == "preorder"


def test_hoh_product_structured_data_first():
    listing = hoh.parse_product(page("hoh_product.html"), f"{HOH}/1975-Betsey-Clark_p_1161.html?x=1")
    assert listing.to_json_dict() == {
        "vendor": "hookedonhallmark_com", "vendor_id": "1161", "sku": "QX1571NB", "item_number": "QX1571",
        "condition": "NB", "name": "1975 Betsey Clark (Adorable) NB", "price": "28.95",
        "availability": "unavailable", "availability_text": None, "brand": None, "release_year": 1975,
        "link": f"{HOH}/1975-Betsey-Clark_p_1161.html",
    }


def test_hoh_product_dom_only_sold_out():
    listing = hoh.parse_product(page("hoh_product_dom_only.html"), f"{HOH}/Frosty_p_2001.html")
    assert (listing.vendor_id, listing.sku, listing.item_number, listing.condition) == (
        "2001", "QXR9031MIB", "QXR9031", "MIB")
    assert (listing.price, listing.price_note, listing.availability) == (None, "Sold Out", "unavailable")
    assert listing.release_year == 2020


def test_hoh_product_without_price_is_an_error():
    with pytest.raises(PageShapeError, match="no price"):
        hoh.parse_product(page("hoh_product_no_price.html"), f"{HOH}/Thing_p_2002.html")


# -- ornament_shop ------------------------------------------------------------------------------
def test_os_year_index_keeps_only_year_categories():
    links = os_.parse_year_index(page("os_index.html"), OS + os_.YEAR_INDEX_PATH, raw=True)
    assert links == {2020: f"{OS}/2020-hallmark-ornaments/", 1975: f"{OS}/1975-hallmark-ornaments/?sort=featured"}


def test_os_listing_cards():
    parsed = os_.parse_listing(page("os_listing.html"), f"{OS}/1975-hallmark-ornaments/", 1975, raw=True)
    assert parsed.next_url == f"{OS}/1975-hallmark-ornaments/?page=2"
    angel, charmers, snowman, mystery = parsed.items
    assert angel == Listing("ornament_shop_com", "201", "1975 Angel - MIP", f"{OS}/1975-angel-qx4304-mip/",
                            "available", Decimal("68.95"), release_year=1975)
    assert (charmers.price, charmers.availability) == (Decimal("28.95"), "unavailable")
    assert (snowman.price, snowman.availability, snowman.release_year) == (Decimal("1249.00"), "preorder", 2026)
    assert isinstance(mystery, PartialListing) and mystery.availability is None  # needs its product page


def test_os_product_json_ld():
    listing = os_.parse_product(page("os_product_jsonld.html"), f"{OS}/1975-angel-qx4304-mip/?utm_source=x")
    assert listing.to_json_dict() == {
        "vendor": "ornament_shop_com", "vendor_id": "201", "sku": "QX4304MIP", "item_number": "QX4304",
        "condition": "MIP", "name": "1975 Angel (Acrylic) - MIP", "price": "68.95", "availability": "available",
        "availability_text": None, "brand": "Hallmark", "release_year": 1975, "link": f"{OS}/1975-angel-qx4304-mip/",
    }


def test_os_product_microdata():
    listing = os_.parse_product(page("os_product_microdata.html"), f"{OS}/2026-snowman/")
    assert (listing.vendor_id, listing.sku, listing.condition, listing.price, listing.availability, listing.brand) == (
        "999", "QXG7084MIB", "MIB", Decimal("1249.00"), "preorder", "Hallmark")


def test_os_product_2020_positions_as_last_resort():
    listing = os_.parse_product(page("os_product_positional.html"), f"{OS}/1976-norman-rockwell/")
    assert (listing.sku, listing.price, listing.brand, listing.availability) == (
        "QX5329", Decimal("41.99"), "Hallmark", "unavailable")


def test_os_product_labelled_rows_and_sale_price():
    listing = os_.parse_product(page("os_product_labelled.html"), f"{OS}/1977-bell-nb/")
    assert (listing.sku, listing.item_number, listing.condition) == ("QX2002NB", "QX2002", "NB")
    assert (listing.price, listing.availability) == (Decimal("19.50"), "available")


# -- hallmark_ornaments -------------------------------------------------------------------------
def test_ho_year_index_years_first_then_other_subcats():
    links = ho.parse_year_index(page("ho_index.html"), HO + ho.YEAR_INDEX_PATH, raw=True)
    assert links == {
        1973: f"{HO}/1973_c_303.html",
        1998: f"{HO}/1998-Hallmark-Ornaments_c_263.html",
        2020: f"{HO}/2020_c_368.html",
    }


def test_ho_view_all_url():
    assert ho.view_all_url(f"{HO}/1973_c_303.html") == f"{HO}/1973_c_303.html?viewall=1"


def test_ho_year_page_tiles():
    parsed = ho.parse_listing(page("ho_year.html"), f"{HO}/1975_c_260.html?viewall=1", 1975, raw=True)
    assert parsed.expected_count == 3
    by_id = {item.vendor_id: item for item in parsed.items}
    assert set(by_id) == {"25615", "25616", "25617"}
    assert by_id["25615"].link == f"{HO}/1975-Betsey-Clark-Adorable-NB_p_25615.html"
    assert by_id["25615"].name == "1975 Betsey Clark (Adorable) NB"
    assert by_id["25616"].link == f"{HO}/product.asp?itemid=25616"  # only a quick-view link
    angel = by_id["25617"]
    assert isinstance(angel, Listing) and (angel.price, angel.availability) == (Decimal("12.00"), "available")
    assert isinstance(by_id["25615"], PartialListing)  # no price shown: product page needed


def test_ho_year_page_count_is_read_for_contradictions():
    parsed = ho.parse_listing(page("ho_year_contradiction.html"), f"{HO}/1975_c_260.html?viewall=1", 1975, raw=True)
    assert parsed.expected_count == 40 and len(parsed.items) == 2


def test_ho_product_3d_item_with_strings():
    listing = ho.parse_product(page("ho_product.html"), f"{HO}/1973-Blue-Girl_p_15763.html")
    assert (listing.vendor_id, listing.sku, listing.item_number, listing.condition) == (
        "15763", "XHD852", "XHD852", None)
    assert (listing.price, listing.availability, listing.release_year) == (Decimal("125.00"), "available", 1973)
