"""A small reference scraper for the replica's pages (lxml only), used by the tests to compare
what the sites show with the truth. It follows vendor-sites.md, not the replica's code."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import lxml.html

IN_STOCK = "In Stock - Ships Next Business Day"
SKU = re.compile(r"^([A-Z]+\d+)([A-Z]*)$")
D3 = re.compile(r"var\s+_3d_item\s*=\s*(\{.*?\});", re.S)


def money(text: str) -> Decimal:
    return Decimal(text.strip().lstrip("$").replace(",", ""))


def split_sku(sku: str) -> tuple[str, str | None]:
    m = SKU.match(sku)
    assert m, sku
    return m[1], m[2] or None


def strip_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def year_of(text: str) -> int | None:
    word = (text or "").strip().split(" ")[0]
    return int(word[:4]) if re.match(r"^\d{4}", word) else None


def fetch(client: httpx.Client, url: str) -> lxml.html.HtmlElement:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return lxml.html.fromstring(response.text)


def three_d_item(doc: lxml.html.HtmlElement) -> dict:
    for script in doc.xpath("//head/script"):
        m = D3.search(script.text or "")
        if m:
            return json.loads(m[1])
    raise AssertionError("no _3d_item")


# -- hookedonhallmark_com --------------------------------------------------------------------------

def hh_year_links(client: httpx.Client, base: str) -> dict[int, str]:
    url = base + "/keepsake-hallmark-ornaments-by-year.html"
    doc = fetch(client, url)
    links = {}
    for a in doc.cssselect(".columns-5 li > a, .sub-categories a"):
        span = a.find("span")
        img = span.find("img") if span is not None else None
        text = img.get("alt") if img is not None else (span.text_content() if span is not None else "")
        year = year_of(text)
        if year is not None:
            links[year] = urljoin(url, a.get("href"))
    return links


def hh_listing_pages(client: httpx.Client, year_url: str) -> list[str]:
    """URLs of every listing page for a year (following View All, then the paging links)."""
    doc = fetch(client, year_url)
    url = year_url
    viewall = doc.cssselect("#subcategories ul:first-of-type li:first-child a") or [
        a for a in doc.cssselect(".sub-categories a") if "view-all" in a.get("href", "")]
    if viewall:
        url = urljoin(year_url, viewall[0].get("href"))
        doc = fetch(client, url)
    pages = [url]
    while True:
        nxt = [a for a in doc.cssselect("div.paging a") if "next" in a.text_content().lower()]
        if not nxt:
            return pages
        url = urljoin(url, nxt[0].get("href"))
        pages.append(url)
        doc = fetch(client, url)


def hh_tiles(doc: lxml.html.HtmlElement, page_url: str) -> list[dict]:
    out = []
    for item in doc.cssselect("div.product-item"):
        a = item.cssselect(".name a")[0]
        price = item.cssselect(".price .sale-price") or item.cssselect(".price .regular-price")
        text = item.cssselect(".status .availability")[0].text_content().strip()
        out.append({"vendor_id": item.get("data-catalogid"), "name": a.text_content().strip(),
                    "link": urljoin(page_url, a.get("href")), "price": money(price[0].text_content()),
                    "availability": "available" if text == IN_STOCK else "unavailable"})
    return out


def hh_product(client: httpx.Client, url: str) -> dict:
    doc = fetch(client, url)
    sku = doc.get_element_by_id("product_id").text_content().strip()
    d3 = three_d_item(doc)
    assert str(d3["id"]) == sku and str(d3["catalogid"]) == doc.cssselect("form#add input")[0].get("value")
    price = doc.get_element_by_id("price", None)
    text = doc.get_element_by_id("availability").text_content().strip()
    return {"sku": sku, "vendor_id": doc.cssselect("form#add input")[0].get("value"),
            "price": None if price is None else money(price.text_content()),
            "availability": "available" if text == IN_STOCK else "unavailable"}


# -- ornament_shop_com -----------------------------------------------------------------------------

OS_AVAILABILITY = {"Add to Cart": "available", "Pre-Order Now": "preorder", "Out of stock": "unavailable"}
SCHEMA = {"InStock": "available", "OutOfStock": "unavailable", "PreOrder": "preorder"}


def os_year_links(client: httpx.Client, base: str) -> dict[int, str]:
    url = base + "/hallmark-ornaments-by-year.html"
    doc = fetch(client, url)
    links = {}
    for a in doc.cssselect("li.navList-item > a.navList-action"):
        href = urljoin(url, a.get("href"))
        segment = urlsplit(href).path.strip("/").split("/")[0]
        if re.match(r"^\d{4}", segment):
            links[int(segment[:4])] = href
    return links


def os_listing_pages(client: httpx.Client, year_url: str) -> list[str]:
    pages, url = [year_url], year_url
    doc = fetch(client, url)
    while nxt := doc.cssselect("li.pagination-item--next > a"):
        url = urljoin(url, nxt[0].get("href"))
        pages.append(url)
        doc = fetch(client, url)
    return pages


def os_cards(doc: lxml.html.HtmlElement, page_url: str) -> list[dict]:
    out = []
    for card in doc.cssselect("ul.productGrid > li.product > article.card"):
        figure_links = card.cssselect(".card-figure a")
        buttons = [a.text_content().strip() for a in card.cssselect("a.card-figcaption-button")
                   if "quickview" not in a.get("class", "")]
        brand = card.cssselect('[data-test-info-type="brandName"]')
        price = money(card.cssselect("span.price.price--withoutTax")[0].text_content())
        assert Decimal(card.get("data-product-price")) == price
        out.append({"vendor_id": card.get("data-entity-id"), "name": card.cssselect(".card-title a")[0].text_content(),
                    "data_name": card.get("data-name"),
                    "link": strip_query(urljoin(page_url, figure_links[0].get("href"))), "price": price,
                    "availability": OS_AVAILABILITY[buttons[0]],
                    "brand": brand[0].text_content().strip() if brand else None})
    return out


def os_product(client: httpx.Client, url: str) -> dict:
    """Every source on the page; the test checks they agree."""
    doc = fetch(client, url)
    out: dict = {"sku": doc.cssselect("[data-product-sku]")[0].text_content().strip(),
                 "vendor_id": doc.cssselect("form[data-cart-item-add] input[name=product_id]")[0].get("value"),
                 "name": doc.cssselect("h1.productView-title")[0].text_content().strip()}
    price = doc.cssselect(".productView-price span.price--withoutTax")
    out["price"] = money(price[0].text_content()) if price else None
    sources = []
    for block in doc.xpath('//script[@type="application/ld+json"]'):
        data = json.loads(block.text)
        offers = data["offers"]
        sources.append(("jsonld", data["sku"], Decimal(offers["price"]) if "price" in offers else None,
                        SCHEMA[offers["availability"].rsplit("/", 1)[1]],
                        data.get("brand", {}).get("name")))
    if doc.xpath('//*[@itemtype="http://schema.org/Product"]'):
        price_meta = doc.xpath('//*[@itemprop="offers"]/meta[@itemprop="price"]/@content')
        sources.append(("microdata", doc.xpath('//meta[@itemprop="sku"]/@content')[0],
                        Decimal(price_meta[0]) if price_meta else None,
                        SCHEMA[doc.xpath('//meta[@itemprop="availability"]/@content')[0].rsplit("/", 1)[1]],
                        None))
    out["sources"] = sources
    rows = {dt.text_content().strip(): dd for dt, dd in zip(doc.cssselect("dl.productView-info dt"),
                                                            doc.cssselect("dl.productView-info dd"), strict=True)}
    out["dl"] = {k: v.text_content().strip() for k, v in rows.items()}
    out["dd_count"] = len(rows)
    return out


# -- hallmark_ornaments_com ------------------------------------------------------------------------

def ho_year_links(doc: lxml.html.HtmlElement, page_url: str) -> dict[int, str]:
    links = {}
    for a in doc.cssselect("a.subcat"):
        href = urljoin(page_url, a.get("href"))
        year = year_of(a.text_content()) or year_of(urlsplit(href).path.lstrip("/"))
        if year is not None:
            links[year] = href
    return links


def ho_tiles(doc: lxml.html.HtmlElement, page_url: str) -> list[dict]:
    out = []
    for tile in doc.cssselect("#productCategoryBlock .product-item"):
        a = tile.cssselect(".name a")[0]
        quick = tile.cssselect("a.quickview")[0].get("href")
        text = tile.cssselect(".availability")[0].text_content().strip()
        out.append({"vendor_id": tile.get("data-catalogid"), "name": a.text_content().strip(),
                    "link": urljoin(page_url, a.get("href")), "quickview": urljoin(page_url, quick),
                    "price": money(tile.cssselect(".price .regular-price")[0].text_content()),
                    "availability": "available" if text == "In Stock" else "unavailable"})
    return out


def ho_product(client: httpx.Client, url: str) -> dict:
    doc = fetch(client, url)
    d3 = three_d_item(doc)
    return {"sku": str(d3["id"]), "vendor_id": str(d3["catalogid"]),
            "price": Decimal(str(d3["price"])).quantize(Decimal("0.01")) if "price" in d3 else None,
            "availability": "available" if int(d3["availability"]) == 1 else "unavailable",
            "dom_sku": doc.get_element_by_id("product_id").text_content().strip(), "name": str(d3["name"])}
