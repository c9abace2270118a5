"""Normalisation: prices, availability, SKUs, years, URLs."""

from decimal import Decimal

import pytest

from ornament_pipeline.integrations.normalise import (
    absolute_url,
    parse_availability,
    parse_price,
    release_year,
    split_sku,
    strip_tracking,
    threedcart_link,
    threedcart_product_id,
)


@pytest.mark.parametrize(
    ("text", "value", "note"),
    [
        ("$24.95", Decimal("24.95"), None),
        ("$1,249.00", Decimal("1249.00"), None),
        ("Price: $5", Decimal("5.00"), None),
        (28.95, Decimal("28.95"), None),
        ("28.95", Decimal("28.95"), None),
        ("Sold Out", None, "Sold Out"),
        ("", None, "no price shown"),
        (None, None, "no price shown"),
        ("Call for price", None, "Call for price"),
    ],
)
def test_parse_price(text, value, note):
    assert parse_price(text) == (value, note)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In Stock - Ships Next Business Day", "available"),
        ("Out of Stock", "unavailable"),
        ("Sold Out", "unavailable"),
        ("https://schema.org/InStock", "available"),
        ("http://schema.org/OutOfStock", "unavailable"),
        ("https://schema.org/PreOrder", "preorder"),
        ("Pre-Order Now", "preorder"),
        ("Add to Cart", "available"),
        (1, "available"),
        (0, "unavailable"),
        ("1", "available"),
        ("Backordered soon", "unavailable"),
        ("", None),
        (None, None),
    ],
)
def test_parse_availability(text, expected):
    assert parse_availability(text) == expected


def test_new_means_available_only_when_asked():
    assert parse_availability("New", new_means_available=True) == "available"
    assert parse_availability("New") == "unknown"  # words not understood are never "unavailable"


@pytest.mark.parametrize(
    ("sku", "item", "condition"),
    [
        ("QX1571NB", "QX1571", "NB"),
        ("QX4722", "QX4722", None),
        ("QXM4152MIB", "QXM4152", "MIB"),
        ("QXI7109-SDB", "QXI7109", "SDB"),
        ("XHD852", "XHD852", None),
        ("qxr9031nt", "QXR9031", "NT"),
        ("QX6863HTF", "QX6863", "HTF"),
        ("not a sku", None, None),
        (None, None, None),
    ],
)
def test_split_sku(sku, item, condition):
    assert split_sku(sku) == (item, condition)


def test_release_year():
    assert release_year("2020 Frosty Friends 41st in Series") == 2020
    assert release_year("Frosty Friends", "1975 Betsey Clark") == 1975
    assert release_year("1234 Bad") is None


def test_urls():
    page = "https://www.hallmarkornaments.com/1975_c_260.html"
    quick = absolute_url("product.asp?lt_c=1&itemid=25615&qv=1&", page)
    assert threedcart_product_id(quick) == "25615"
    assert threedcart_link(quick) == "https://www.hallmarkornaments.com/product.asp?itemid=25615"
    product = absolute_url("/1973-Blue-Girl_p_15763.html?utm_source=a#top", page)
    assert threedcart_link(product) == "https://www.hallmarkornaments.com/1973-Blue-Girl_p_15763.html"
    assert strip_tracking("https://x.com/a/?page=2&utm_medium=b&gclid=c") == "https://x.com/a/?page=2"
    assert absolute_url("javascript:void(0)", page) is None
    for hostile in ("JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)", "java\nscript:x",
                    "data:text/html,<script>x</script>", "MAILTO:a@b.c", "tel:123", "vbscript:x", "#top"):
        assert absolute_url(hostile, page) is None, hostile
    assert absolute_url("HTTPS://Example.COM/a", page) == "https://example.com/a"
    assert absolute_url("//cdn.example.com/x.html", page) == "https://cdn.example.com/x.html"
