"""www.ornament-shop.com (BigCommerce, customised Cornerstone): sidebar index, cards, product pages.

Variants served (see README.md): the sidebar mixes non-year categories in with the years; cards in
`ul.productGrid`, 12 a page, `?page=N`; sale prices with `price--non-sale`; the card's cart button
says "Add to Cart", "Pre-Order Now" or "Out of stock"; product pages carry a positional `<dl>` whose
Condition and Brand rows are omitted when empty (so later rows shift), and structured data as
microdata (variant % 3 == 0), JSON-LD (== 1) or both (== 2); every page ends with Cornerstone's `footer.footer`.
"""

from __future__ import annotations

import json
from collections import defaultdict

from ornament_pipeline.replica.catalogue import Catalogue
from ornament_pipeline.replica.clock import DayListing, product_path
from ornament_pipeline.replica.sites.common import (
    NOT_FOUND,
    Page,
    dollars,
    esc,
    html_page,
    int_param,
    paginate,
    robots_txt,
)
from ornament_pipeline.vendors import ORNAMENT_SHOP

INDEX_PATH = "/hallmark-ornaments-by-year.html"
PAGE_SIZE = 12  # Cornerstone's default
CONDITION_NAMES = {"MIB": "Mint in Box", "NB": "No Box", "DB": "Damaged Box", "MIP": "Mint in Package",
                   "NT": "No Tag"}
SCHEMA = {"available": "InStock", "unavailable": "OutOfStock", "preorder": "PreOrder"}
# Non-year links the real sidebar mixes in with the years (first path segment has no year).
OTHER_LINKS = (("Star Wars", "/star-wars-s129.html"), ("Frosty Friends", "/frosty-friends-s45.html"),
               ("Keepsake Ornament Club", "/keepsake-ornament-club/"),
               ("Under $20", "/hallmark-ornaments/?price_min=0&price_max=20&sort=pricedesc"),
               ("$20 - $50", "/hallmark-ornaments/?price_min=20&price_max=50&sort=pricedesc"))


def year_path(year: int) -> str:
    return f"/{year}-hallmark-ornaments/"


class OrnamentShop:
    """Renders the site for one day's listings."""

    vendor = ORNAMENT_SHOP

    def __init__(self, cat: Catalogue, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.years = cat.vendor_years(self.vendor)
        self.year_paths = {year_path(y): y for y in self.years}
        self.items: dict[int, list[DayListing]] = {}
        self.products: dict[str, DayListing] = {}

    def set_day(self, listings: list[DayListing]) -> None:
        items: dict[int, list[DayListing]] = defaultdict(list)
        for dl in listings:
            items[dl.item.year].append(dl)
        self.items = dict(items)
        self.products = {product_path(dl.item): dl for dl in listings}

    def render(self, path: str, query: dict[str, str], options: dict[str, str], noprice: bool = False,
               robots_extra: tuple[str, ...] = ()) -> Page:
        if path == "/robots.txt":
            return robots_txt(("/account.php", "/cart.php", "/checkout", "/login.php", "/search.php"),
                              robots_extra, self.base)
        if path in ("/", INDEX_PATH):
            return self.index()
        if path in self.year_paths:
            return self.category(self.year_paths[path], query)
        if path in self.products:
            return self.product(self.products[path], noprice)
        return NOT_FOUND

    def _sidebar(self) -> str:
        links = [(f"{y} Hallmark Ornaments", year_path(y)) for y in sorted(self.years, reverse=True)]
        # Non-year categories at the top, in the middle and at the end, as on the live sidebar.
        links = [OTHER_LINKS[0], *links[:20], OTHER_LINKS[1], OTHER_LINKS[2], *links[20:], *OTHER_LINKS[3:]]
        lis = "\n".join(f'<li class="navList-item"><a class="navList-action" href="{esc(self.base + href)}">'
                        f"{esc(text)}</a></li>" for text, href in links)
        return (f'<aside class="page-sidebar" id="faceted-search-container"><nav><h2 class="sidebarBlock-heading">'
                f'Categories</h2>\n<ul class="navList">\n{lis}\n</ul></nav></aside>')

    def _chrome(self, title: str, main: str, head: str = "") -> Page:
        header = (f'<header class="header"><h1 class="header-logo"><a href="{self.base}/">Ornament Shop</a></h1>'
                  f'<nav class="navPages"><a class="navPages-action" href="{self.base}{INDEX_PATH}">By Year</a>'
                  f'</nav></header>')
        return html_page(title, f'{header}\n<main class="body"><div class="container"><div class="page">\n'
                                f'{self._sidebar()}\n<div class="page-content">\n{main}\n</div></div></div></main>\n'
                                '<footer class="footer" role="contentinfo"><div class="container">'
                                '<p class="footer-info">&copy; Ornament Shop</p></div></footer>',
                         head)

    def index(self) -> Page:
        return self._chrome("Hallmark Ornaments by Year",
                            '<h1 class="page-heading">Hallmark Ornaments by Year</h1>'
                            '<p>Choose a year from the list.</p>')

    def category(self, year: int, query: dict[str, str]) -> Page:
        page = int_param(query, "page", 1)
        if page is None:
            return NOT_FOUND
        shown, pages = paginate(self.items.get(year, []), page, PAGE_SIZE)
        if page > pages:
            return NOT_FOUND
        cards = "\n".join(self._card(dl) for dl in shown)
        main = (f'<h1 class="page-heading">{year} Hallmark Ornaments</h1>\n'
                f'<div class="productGrid-wrapper"><ul class="productGrid">\n{cards}\n</ul></div>\n'
                + self._pagination(year, page, pages))
        return self._chrome(f"{year} Hallmark Ornaments", main)

    def _pagination(self, year: int, page: int, pages: int) -> str:
        url = self.base + year_path(year)
        items = []
        if page > 1:
            items.append(f'<li class="pagination-item pagination-item--previous"><a class="pagination-link" '
                         f'href="{url}?page={page - 1}" data-faceted-search-facet>Previous</a></li>')
        for n in range(1, pages + 1):
            cls = " pagination-item--current" if n == page else ""
            items.append(f'<li class="pagination-item{cls}"><a class="pagination-link" href="{url}?page={n}">'
                         f"{n}</a></li>")
        if page < pages:
            items.append(f'<li class="pagination-item pagination-item--next"><a class="pagination-link" '
                         f'href="{url}?page={page + 1}" data-faceted-search-facet>Next</a></li>')
        return ('<nav class="pagination" aria-label="pagination"><ul class="pagination-list">' + "".join(items)
                + "</ul></nav>")

    def _price_html(self, dl: DayListing) -> str:
        sale = ""
        if dl.regular_price is not None:
            sale = ('<div class="price-section price-section--withoutTax non-sale-price--withoutTax">Was: '
                    f'<span data-product-non-sale-price-without-tax class="price price--non-sale">'
                    f"{dollars(dl.regular_price)}</span></div>")
        return (f'{sale}<div class="price-section price-section--withoutTax"><span class="price-label"></span>'
                f'<span data-product-price-without-tax class="price price--withoutTax">{dollars(dl.price)}'
                "</span></div>")

    def _card(self, dl: DayListing) -> str:
        item = dl.item
        url = self.base + product_path(item)
        button = {"available": ("Add to Cart", f"{self.base}/cart.php?action=add&amp;product_id={item.vendor_id}"),
                  "preorder": ("Pre-Order Now", f"{self.base}/cart.php?action=add&amp;product_id={item.vendor_id}"),
                  "unavailable": ("Out of stock", url)}[dl.availability]
        brand = (f'<p class="card-text" data-test-info-type="brandName">{esc(item.brand)}</p>' if item.brand else "")
        return (f'<li class="product"><article class="card" data-test="card-{item.vendor_id}" '
                f'data-entity-id="{item.vendor_id}" data-event-type="list" data-name="{esc(item.name)}" '
                f'data-product-category="{item.year} Hallmark Ornaments" data-product-brand="{esc(item.brand or "")}" '
                f'data-product-price="{dl.price}">'
                f'<figure class="card-figure"><a href="{esc(url)}" class="card-figure__link" '
                f'aria-label="{esc(item.name)}"><div class="card-img-container"><img class="card-image" '
                f'src="{self.base}/product_images/{item.vendor_id}.jpg" alt="{esc(item.name)}"></div></a>'
                f'<figcaption class="card-figcaption"><div class="card-figcaption-body">'
                f'<a href="{url}" class="button button--small card-figcaption-button quickview" '
                f'data-product-id="{item.vendor_id}">Quick view</a>'
                f'<a href="{button[1]}" data-event-type="product-click" class="button button--small '
                f'card-figcaption-button">{button[0]}</a></div></figcaption></figure>'
                f'<div class="card-body">{brand}<h3 class="card-title"><a href="{esc(url)}">{esc(item.name)}</a></h3>'
                f'<div class="card-text" data-test-info-type="price">{self._price_html(dl)}</div></div>'
                "</article></li>")

    def product(self, dl: DayListing, noprice: bool) -> Page:
        item = dl.item
        url = self.base + product_path(item)
        microdata, jsonld = item.variant % 3 in (0, 2), item.variant % 3 in (1, 2)
        rows = []
        if item.condition:
            rows.append(("Condition:", esc(CONDITION_NAMES.get(item.condition, item.condition))))
        rows.append(("Release Year:", str(item.year)))
        if not noprice:
            rows.append(("Price:", f'<div class="price-section"><span class="price">{dollars(dl.price)}</span></div>'))
        if item.brand:
            rows.append(("Brand:", f'<a href="{self.base}/brands/{esc(item.brand)}.html"><span>{esc(item.brand)}'
                                   "</span></a>"))
        rows.append(("SKU:", esc(item.sku)))
        rows.append(("Availability:", esc(dl.stock_text)))
        dl_html = "".join(
            f'<dt class="productView-info-name">{dt}</dt><dd class="productView-info-value"'
            + (" data-product-sku" if dt == "SKU:" else " data-product-stock" if dt == "Availability:" else "")
            + f">{dd}</dd>" for dt, dd in rows)
        scope = ' itemscope itemtype="http://schema.org/Product"' if microdata else ""
        offer = ""
        if microdata:
            offer = ('<div itemprop="offers" itemscope itemtype="http://schema.org/Offer">'
                     '<meta itemprop="priceCurrency" content="USD">'
                     + ("" if noprice else f'<meta itemprop="price" content="{dl.price}">')
                     + f'<meta itemprop="availability" content="http://schema.org/{SCHEMA[dl.availability]}">'
                     f'<link itemprop="url" href="{esc(url)}"></div>'
                     f'<meta itemprop="sku" content="{esc(item.sku)}">')
        head = ""
        if jsonld:
            offers: dict[str, object] = {"@type": "Offer", "priceCurrency": "USD",
                                         "availability": f"https://schema.org/{SCHEMA[dl.availability]}", "url": url}
            if not noprice:
                offers["price"] = str(dl.price)
            data: dict[str, object] = {"@context": "https://schema.org", "@type": "Product", "name": item.name,
                                       "sku": item.sku, "offers": offers}
            if item.brand:
                data["brand"] = {"@type": "Brand", "name": item.brand}
            head = ('<script type="application/ld+json">' + json.dumps(data).replace("</", "<\\/") + "</script>\n")
        price_block = "" if noprice else f'<div class="productView-price">{self._price_html(dl)}</div>'
        name_attr = ' itemprop="name"' if microdata else ""
        main = (f'<div class="productView"{scope}><section class="productView-details">'
                f'<h1 class="productView-title"{name_attr}>{esc(item.name)}</h1>{price_block}{offer}'
                f'<div class="productView-info"><dl class="productView-info">{dl_html}</dl></div>'
                f'<form class="form" method="post" action="{self.base}/cart.php" enctype="multipart/form-data" '
                f'data-cart-item-add><input type="hidden" name="action" value="add">'
                f'<input type="hidden" name="product_id" value="{item.vendor_id}">'
                f'<input class="form-input" type="number" name="qty[]" value="1">'
                f'<input class="button button--primary" type="submit" value="Add to Cart"></form>'
                "</section></div>")
        page = self._chrome(item.name, main, head)
        return Page(page.body, product=True)
