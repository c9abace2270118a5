"""Hostile prices, stock wordings and structured data: one unambiguous value or a reason, never a guess.

Pure unit tests (no browser): `parse_price` / `parse_availability` on their own, then the vendor parsers on
pages that carry the same values where the live sites put them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ornament_pipeline.integrations.normalise import leading_year, parse_availability, parse_price, release_year
from ornament_pipeline.integrations.parsers import hallmark_ornaments as ho
from ornament_pipeline.integrations.parsers import hookedonhallmark as hoh
from ornament_pipeline.integrations.parsers import ornament_shop as os_
from ornament_pipeline.integrations.parsers.common import PageShapeError, PartialListing
from ornament_pipeline.listing import Listing

HOH = "https://www.hookedonhallmark.com"
OS = "https://www.ornament-shop.com"
HO = "https://www.hallmarkornaments.com"
REJECTED = "unreadable price"

# (what a price field holds, a word of the reason it is rejected)
HOSTILE_PRICES = [
    ("Was $30 Now $24", "several amounts"),
    ("Only 3 left! $24.95", "several amounts"),
    ("$24.95 - $30.00", "several amounts"),
    ("$24.95 $19.95", "several amounts"),
    ("2 for $40", "several amounts"),
    ("1.249,00 €", "currency"),
    ("€24.95", "currency"),
    ("£24.95", "currency"),
    ("¥2495", "currency"),
    ("24.95 EUR", "currency"),
    ("CAD 24.95", "currency"),
    ("C$24.95", "currency"),
    ("AU$24.95", "currency"),
    ("$2\u200b4.95", "invisible"),
    ("$24.95\u200d", "invisible"),
    ("\ufeff$24.95", "invisible"),
    ("$24\u00ad.95", "invisible"),
    ("$\u00a024.95", "invisible"),
    ("$24.95\u2060", "invisible"),
    ("-$5", "negative"),
    ("$-5.00", "negative"),
    ("- 24.95", "negative"),
    ("$24.999", "more than 2 decimals"),
    ("24.9500", "more than 2 decimals"),
    ("$1,24,900", "thousands"),
    ("$12,49.00", "thousands"),
    ("1.249.00", "thousands"),
    ("$1249,00", "thousands"),
    ("2.495e1", "exponent"),
    ("2495E-2", "exponent"),
    ("NaN", "not a number"),
    ("Infinity", "not a number"),
    ("-inf", "not a number"),
    ("$²4.95", "non-ASCII"),
    ("$２４.９５", "non-ASCII"),
    ("$٢٤.٩٥", "non-ASCII"),
    ("$0.00", "zero"),
    ("$0", "zero"),
    ("$100,000,000.00", "more than"),
    ("$", "not one US-dollar amount"),
    ("$.95", "not one US-dollar amount"),
    ("Call 555-1234 for price", "several amounts"),
    (True, "boolean"),
    (False, "boolean"),
    ([1, 2], "list"),
    ({"value": "24.95"}, "dict"),
    (Decimal("NaN"), "not a number"),
    (Decimal("Infinity"), "not a number"),
    (Decimal("24.999"), "more than 2 decimals"),
    (Decimal("-5"), "negative"),
    (0, "zero"),
    (float("nan"), "not a number"),
]


@pytest.mark.parametrize(("value", "reason"), HOSTILE_PRICES, ids=[repr(v) for v, _ in HOSTILE_PRICES])
def test_a_price_that_is_not_one_us_dollar_amount_is_rejected_with_a_reason(value, reason):
    price, note = parse_price(value)
    assert price is None
    assert note is not None and note.startswith(REJECTED) and reason in note, note


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$24.95", "24.95"), ("24.95", "24.95"), ("$1,249.00", "1249.00"), ("  $5 \n", "5.00"),
        ("USD 24.95", "24.95"), ("$24.95 USD", "24.95"), ("US$24.95", "24.95"), ("Price: $5", "5.00"),
        ("Sale Price: $19.95", "19.95"), ("Now $24", "24.00"), ("$99,999,999.99", "99999999.99"), ("$0.01", "0.01"),
        (Decimal("24.95"), "24.95"), (25, "25.00"), ("$24.9", "24.90"),
    ],
)
def test_one_us_dollar_amount_is_read_exactly(value, expected):
    assert parse_price(value) == (Decimal(expected), None)


@pytest.mark.parametrize("words", ["Sold Out", "Call for price", "Out of Stock"])
def test_words_instead_of_a_price_are_kept_as_the_note(words):
    assert parse_price(words) == (None, words)


# (stock wording, what it means): quantities are read; what is not understood is "unknown", never "unavailable"
STOCK = [
    ("Only 3 left", "available"),
    ("Only 3 left!", "available"),
    ("3 in stock", "available"),
    ("Hurry, 1 left in stock", "available"),
    ("12 available", "available"),
    ("0 in stock", "unavailable"),
    ("0 left", "unavailable"),
    ("Only 0 left", "unavailable"),
    ("In Stock - Ships Next Business Day", "available"),
    ("In Stock", "available"),
    ("Usually ships in 24 hours - in stock", "available"),
    ("Out of Stock", "unavailable"),
    ("Sold Out", "unavailable"),
    ("Not available", "unavailable"),
    ("Discontinued", "unavailable"),
    ("Backordered soon", "unavailable"),
    ("https://schema.org/InStock", "available"),
    ("http://schema.org/OutOfStock", "unavailable"),
    ("https://schema.org/PreOrder", "preorder"),
    ("Pre-Order", "preorder"),
    ("1", "available"),
    ("0", "unavailable"),
    (1, "available"),
    (0, "unavailable"),
    ("Limited", "unknown"),
    ("Ships in 2-3 weeks", "unknown"),
    ("Ask us", "unknown"),
    ("Coming soon", "unknown"),
    ("In the warehouse", "unknown"),
    ("²", "unknown"),
    ("-1", "unknown"),
    (-1, "unknown"),
    ("Only 3 left, 0 in stock", "unknown"),
    ("New", "unknown"),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("text", "expected"), STOCK, ids=[repr(t) for t, _ in STOCK])
def test_stock_wordings(text, expected):
    assert parse_availability(text) == expected


@pytest.mark.parametrize("text", ["2000s Decade", "2000s-ornaments", "1990s", "2020th", "20201 things", "2020x"])
def test_a_year_is_a_whole_token(text):
    assert leading_year(text) is None
    assert release_year(text) is None


@pytest.mark.parametrize(("text", "year"), [("2020 Hallmark Ornaments", 2020), ("2020-hallmark-ornaments", 2020),
                                            ("1995_c_260.html", 1995), ("1998", 1998), (" 1975 Betsey", 1975)])
def test_year_tokens_still_read(text, year):
    assert leading_year(text) == year


# -- the parsers: the element or field that holds the price, decided by structure ---------------------------
FOOT = '<div id="footer">&copy;</div></body></html>'


def hoh_listing(price_html: str, stock: str = "In Stock") -> str:
    return ('<html><body><div id="itemsBlock"><div class="product-item" data-catalogid="11">'
            '<div class="name"><a href="/1999-Santa_p_11.html">1999 Santa</a></div>'
            f'<div class="price">{price_html}</div>'
            f'<div class="status"><span class="availability">{stock}</span></div></div></div>{FOOT}')


@pytest.mark.parametrize(
    "price_html",
    ["Was $30 Now $24", "Only 3 left! $24.95", "<del>$30.00</del>", "$2\u200b4.95", "1.249,00 €", "-$5", "$24.999",
     '<span class="sale-price">$24.00</span><span class="sale-price">$19.00</span>'],
)
def test_a_tile_price_that_cannot_be_read_sends_the_tile_to_its_product_page(price_html):
    (item,) = hoh.parse_listing(hoh_listing(price_html), f"{HOH}/1999_c_1.html", 1999).items
    assert isinstance(item, PartialListing) and item.price is None and item.price_note.startswith(REJECTED)


@pytest.mark.parametrize(
    ("price_html", "price"),
    [('<del class="regular-price">$30.00</del> <span class="sale-price">$24.00</span>', "24.00"),
     ('<span class="sale-price">$24.00</span> <del class="regular-price">$30.00</del>', "24.00"),
     ('<s>$30.00</s> $24.00', "24.00"), ('<span class="regular-price">$1,249.00</span>', "1249.00"),
     ('<meta itemprop="price" content="24.95"><span>$24.95</span>', "24.95"),
     ('<span class="regular-price">$24.95</span><span class="sale-price"> </span>', "24.95")],
)
def test_the_current_price_is_the_element_that_holds_it(price_html, price):
    (item,) = hoh.parse_listing(hoh_listing(price_html), f"{HOH}/1999_c_1.html", 1999).items
    assert isinstance(item, Listing) and item.price == Decimal(price)


def test_a_bigcommerce_card_reads_the_without_tax_price_not_the_non_sale_block():
    card = ('<li class="product"><article class="card" data-entity-id="5" data-name="1999 Bell">'
            '<figure class="card-figure"><a href="/1999-bell/" class="card-figure__link"></a><figcaption>'
            '<a href="/cart.php?action=add&amp;product_id=5" data-button-type="add-cart">Add to Cart</a>'
            '</figcaption></figure><div class="card-body"><h3 class="card-title"><a href="/1999-bell/">1999 Bell</a>'
            '</h3><div class="price-section non-sale-price--withoutTax">Was: <span class="price price--non-sale">'
            '$35.95</span></div><div class="price-section"><span class="price price--withoutTax">$28.95</span>'
            '</div></div></article></li>')
    source = (f'<html><body><ul class="productGrid">{card}</ul><nav class="pagination"></nav>'
              '<footer class="footer"></footer></body></html>')
    (item,) = os_.parse_listing(source, f"{OS}/1999-hallmark-ornaments/", 1999).items
    assert item.price == Decimal("28.95")


def test_a_tile_stock_wording_not_understood_is_never_unavailable():
    (item,) = hoh.parse_listing(hoh_listing("$24.95", "Ask us about this one"), f"{HOH}/1999_c_1.html", 1999).items
    assert isinstance(item, PartialListing) and item.availability is None  # the product page decides


def test_tile_quantities_are_read():
    (item,) = hoh.parse_listing(hoh_listing("$24.95", "Only 3 left!"), f"{HOH}/1999_c_1.html", 1999).items
    assert isinstance(item, Listing) and item.availability == "available"
    (item,) = hoh.parse_listing(hoh_listing("$24.95", "0 in stock"), f"{HOH}/1999_c_1.html", 1999).items
    assert isinstance(item, Listing) and item.availability == "unavailable"


def threedcart_product(d3: str, body: str = '<span id="price">$24.95</span>', head: str = "") -> str:
    return (f'<html><head><script>var _3d_item = {d3};</script>{head}</head><body>'
            '<form id="add"><input type="hidden" name="item_id" value="77"><h1>1999 Santa</h1>'
            f'<span id="product_id">QX1234MIB</span>{body}<span id="availability">In Stock</span></form>'
            '</body></html>')


GOOD_3D = '{"catalogid": 77, "id": "QX1234MIB", "name": "1999 Santa", "price": 24.95, "availability": 1}'


def test_3d_item_price_is_exact():
    listing = hoh.parse_product(threedcart_product(GOOD_3D), f"{HOH}/1999-Santa_p_77.html")
    assert listing.price == Decimal("24.95") and listing.price.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("d3", "body", "head", "reason"),
    [
        (GOOD_3D.replace("24.95", "NaN"), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", "Infinity"), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", "[1, 2]"), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", "true"), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", '"Was $30 Now $24"'), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", "24.999"), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", "-5"), "", "", "_3d_item.price"),
        (GOOD_3D.replace("24.95", "2.495e1"), "", "", "_3d_item.price"),
        (GOOD_3D.replace('"availability": 1', '"availability": 1, "currency": "CAD"'), "", "", "CAD"),
        (GOOD_3D.replace('"1999 Santa"', "1999"), "", "", "_3d_item.name"),
        (GOOD_3D.replace('"QX1234MIB"', "1234"), "", "", "_3d_item.id"),
        (GOOD_3D.replace('"QX1234MIB"', '{"sku": "QX1234MIB"}'), "", "", "_3d_item.id"),
        (GOOD_3D.replace('"availability": 1', '"availability": {"in": 1}'), "", "", "_3d_item.availability"),
        (GOOD_3D.replace("77", '"seventy-seven"', 1), "", "", "_3d_item.catalogid"),
        ('{"catalogid": 77, "name": "1999 Santa"}', '<span id="price">$²4.95</span>', "", "#price"),
        ('{"catalogid": 77, "name": "1999 Santa"}', '<span id="price">$2\u200b4.95</span>', "", "#price"),
        ('{"catalogid": 77, "name": "1999 Santa"}', '<span id="price"></span>', "", "no price"),
        ('{"catalogid": 77, "name": "1999 Santa"}', "", '<script type="application/ld+json">{"@type": "Product", '
         '"offers": {"price": NaN}}</script>', "offers.price"),
        ('{"catalogid": 77}', "", '<script type="application/ld+json">{"@type": "Product", "name": 1999, '
         '"offers": {"price": "24.95"}}</script>', "JSON-LD name"),
    ],
)
def test_a_product_page_whose_price_or_fields_cannot_be_read_is_a_page_error(d3, body, head, reason):
    with pytest.raises(PageShapeError, match=reason.replace("$", r"\$").replace(".", r"\.")):
        hoh.parse_product(threedcart_product(d3, body, head), f"{HOH}/1999-Santa_p_77.html")


def test_a_product_page_stock_wording_not_understood_is_unknown_with_its_text():
    d3 = '{"catalogid": 77, "id": "QX1234MIB", "name": "1999 Santa", "price": "24.95"}'
    source = threedcart_product(d3).replace(">In Stock<", ">Ask about availability<")
    listing = ho.parse_product(source, f"{HO}/1999-Santa_p_77.html")
    assert (listing.availability, listing.availability_text) == ("unknown", "Ask about availability")


def os_product(ld: str) -> str:
    return (f'<html><head><script type="application/ld+json">{ld}</script></head><body>'
            '<h1 class="productView-title">1999 Bell</h1><form><input type="hidden" name="product_id" value="9">'
            '</form></body></html>')


@pytest.mark.parametrize(
    ("ld", "reason"),
    [
        ('{"@type": "Product", "name": "1999 Bell", "sku": {"v": 1}, "offers": {"price": "5", '
         '"availability": "InStock"}}', "JSON-LD sku"),
        ('{"@type": "Product", "name": ["1999 Bell"], "offers": {"price": "5", "availability": "InStock"}}',
         "JSON-LD name"),
        ('{"@type": "Product", "name": "1999 Bell", "offers": {"price": [1, 2], "availability": "InStock"}}',
         "offers.price"),
        ('{"@type": "Product", "name": "1999 Bell", "offers": {"price": "24.95", "priceCurrency": "EUR", '
         '"availability": "InStock"}}', "EUR"),
        ('{"@type": "Product", "name": "1999 Bell", "offers": {"price": "5", "availability": {"x": 1}}}',
         "offers.availability"),
        ('{"@type": "Product", "name": "1999 Bell", "brand": ["Hallmark"], "offers": {"price": "5", '
         '"availability": "InStock"}}', "JSON-LD brand"),
    ],
)
def test_bigcommerce_structured_data_of_the_wrong_type_is_a_page_error(ld, reason):
    with pytest.raises(PageShapeError, match=reason.replace(".", r"\.")):
        os_.parse_product(os_product(ld), f"{OS}/1999-bell/")


def test_json_ld_price_stays_exact():
    ld = '{"@type": "Product", "name": "1999 Bell", "offers": {"price": 24.95, "availability": "InStock"}}'
    assert os_.parse_product(os_product(ld), f"{OS}/1999-bell/").price == Decimal("24.95")
