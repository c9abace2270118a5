"""www.hookedonhallmark.com (3dcart / Shift4Shop): year index, split years, paged listings.

Variants served (see README.md): the year index as a `columns-5` list (years before 1990 and
2000-2004 as `<img alt>`, the rest as text spans) or, with option index_layout=sub-categories, as
the older `sub-categories` blocks; years from 1985 with year % 3 != 1 split into sub-categories
with a View All page (even years: View All is the first link of the first list; odd years: a
`sub-categories` block whose link contains `view-all`, after the series blocks); sale prices as
`del.regular-price` + `span.sale-price`; `a.category-viewall` on odd years' listings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from ornament_pipeline.replica.catalogue import Catalogue, slugify
from ornament_pipeline.replica.clock import DayListing, product_path
from ornament_pipeline.replica.sites.common import (
    NOT_FOUND,
    Page,
    category_ids,
    dollars,
    esc,
    html_page,
    int_param,
    paginate,
    robots_txt,
)
from ornament_pipeline.vendors import HOOKEDONHALLMARK

INDEX_PATH = "/keepsake-hallmark-ornaments-by-year.html"
NEXT_WORDS = ("Next &gt;", "next &raquo;", "NEXT")


@dataclass(frozen=True)
class Category:
    """A 3dcart category page."""

    id: int
    path: str
    title: str
    year: int
    kind: str  # year | viewall | group
    group: str = ""


def is_split(year: int) -> bool:
    """Years listed through sub-categories and a View All page."""
    return year >= 1985 and year % 3 != 1


class HookedOnHallmark:
    """Renders the site for one day's listings."""

    vendor = HOOKEDONHALLMARK

    def __init__(self, cat: Catalogue, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.page_size = 10 if cat.size == "small" else 24
        self.years = cat.vendor_years(self.vendor)
        groups: dict[int, set[str]] = defaultdict(set)
        for item in cat.listings[self.vendor]:
            groups[item.year].add(item.design.group)
        self.groups = {y: sorted(g) for y, g in groups.items()}
        keys = [f"year:{y}" for y in self.years]
        for y in self.years:
            if is_split(y):
                keys += [f"viewall:{y}", *(f"group:{y}:{g}" for g in self.groups.get(y, ()))]
        ids = category_ids(cat, "hh-categories", keys)
        self.categories: dict[str, Category] = {}
        self.year_category: dict[int, Category] = {}
        self.split_children: dict[int, list[Category]] = defaultdict(list)
        for key in keys:
            kind, year_s, *rest = key.split(":", 2)
            year, cid = int(year_s), ids[key]
            if kind == "year":
                c = Category(cid, f"/{year}-Hallmark-Ornaments_c_{cid}.html", f"{year} Hallmark Ornaments",
                             year, kind)
                self.year_category[year] = c
            elif kind == "viewall":
                c = Category(cid, f"/{year}-hallmark-ornaments-view-all_c_{cid}.html",
                             f"{year} Hallmark Ornaments - View All", year, kind)
                self.split_children[year].insert(0, c)
            else:
                c = Category(cid, f"/{year}-{slugify(rest[0])}_c_{cid}.html", f"{year} {rest[0]}", year, kind,
                             rest[0])
                self.split_children[year].append(c)
            self.categories[c.path] = c
        self.items: dict[str, list[DayListing]] = {}
        self.products: dict[str, DayListing] = {}

    def set_day(self, listings: list[DayListing]) -> None:
        """Load one day's listings (catalogue order)."""
        items: dict[str, list[DayListing]] = defaultdict(list)
        by_group = {(c.year, c.group): c.path for c in self.categories.values() if c.kind == "group"}
        for dl in listings:
            year = dl.item.year
            if is_split(year):
                items[self.split_children[year][0].path].append(dl)
                items[by_group[(year, dl.item.design.group)]].append(dl)
            else:
                items[self.year_category[year].path].append(dl)
        self.items = dict(items)
        self.products = {product_path(dl.item): dl for dl in listings}

    # -- routing -------------------------------------------------------------------------------

    def render(self, path: str, query: dict[str, str], options: dict[str, str], noprice: bool = False,
               robots_extra: tuple[str, ...] = ()) -> Page:
        if path == "/robots.txt":
            return robots_txt(("/checkout.asp", "/view_cart.asp", "/myaccount.asp", "/add_cart.asp"),
                              robots_extra, self.base)
        if path == "/":
            return self.home()
        if path == INDEX_PATH:
            return self.index(options.get("index_layout", "columns-5"))
        if path in self.categories:
            return self.category(self.categories[path], query)
        if path in self.products:
            return self.product(self.products[path], noprice)
        return NOT_FOUND

    def _chrome(self, title: str, content: str, head: str = "") -> Page:
        nav = (f'<div id="header"><a href="{self.base}/" class="logo">Hooked on Hallmark</a>'
               f'<ul class="topmenu"><li><a href="{INDEX_PATH}">Ornaments by Year</a></li>'
               '<li><a href="/view_cart.asp">Cart</a></li></ul></div>')
        return html_page(title, f'{nav}\n<div id="content">\n{content}\n</div>\n'
                                '<div id="footer">&copy; Hooked on Hallmark</div>', head)

    def home(self) -> Page:
        return self._chrome("Hooked on Hallmark", '<h1>Hallmark Keepsake Ornaments</h1>'
                            f'<p><a href="{INDEX_PATH}">Shop Keepsake Ornaments by Year</a></p>')

    def _year_href(self, year: int) -> str:
        path = self.year_category[year].path
        return self.base + path if year % 2 else path  # absolute and root-relative hrefs, as seen

    def index(self, layout: str) -> Page:
        years = sorted(self.years, reverse=True)
        if layout == "sub-categories":
            blocks = "\n".join(
                f'<div class="sub-categories"><a href="{self._year_href(y)}"><span>{y} Hallmark Ornaments'
                f'</span></a></div>' for y in years)
            body = f'<h1>Keepsake Hallmark Ornaments by Year</h1>\n<div class="category-list">\n{blocks}\n</div>'
        else:
            lis = []
            for y in years:
                if y < 1990 or 2000 <= y <= 2004:
                    inner = f'<img src="/assets/images/years/{y}.jpg" alt="{y} Hallmark Keepsake Ornaments">'
                else:
                    inner = f"{y} Hallmark Ornaments"
                lis.append(f'<li><a href="{self._year_href(y)}"><span>{inner}</span></a></li>')
            body = ('<h1>Keepsake Hallmark Ornaments by Year</h1>\n<div class="columns-5">\n<ul>\n'
                    + "\n".join(lis) + "\n</ul>\n</div>")
        return self._chrome("Keepsake Hallmark Ornaments by Year", body)

    def category(self, c: Category, query: dict[str, str]) -> Page:
        if c.kind == "year" and is_split(c.year):
            return self._chrome(c.title, f"<h1>{esc(c.title)}</h1>\n" + self._subcategories(c.year)
                                + '\n<p class="category-note">Choose a category above.</p>')
        items = self.items.get(c.path, [])
        viewall = query.get("viewall") == "1"
        page = int_param(query, "page", 1)
        if page is None:
            return NOT_FOUND
        if viewall:
            shown, pages = items, 1
        else:
            shown, pages = paginate(items, page, self.page_size)
            if page > pages:
                return NOT_FOUND
        tiles = "\n".join(self._tile(dl) for dl in shown)
        paging = "" if viewall else self._paging(c, page, pages)
        body = (f"<h1>{esc(c.title)}</h1>\n<div class=\"category-products\" id=\"itemsBlock\">\n{tiles}\n</div>\n"
                f"{paging}")
        return self._chrome(c.title, body)

    def _subcategories(self, year: int) -> str:
        children = self.split_children[year]
        viewall, groups = children[0], children[1:]
        if year % 2 == 0:  # View All as the first link of the first list
            lis = [f'<li><a href="{viewall.path[1:]}">View All</a></li>']
            lis += [f'<li><a href="{g.path[1:]}">{esc(g.group)}</a></li>' for g in groups]
            return ('<div class="subcategory-section" id="subcategories"><h2>Shop by Category</h2>\n<ul>\n'
                    + "\n".join(lis) + "\n</ul>\n</div>")
        blocks = [f'<div class="sub-categories"><a href="{self.base}{g.path}"><span>{esc(g.group)}</span></a></div>'
                  for g in groups]
        blocks.append(f'<div class="sub-categories"><a href="{self.base}{viewall.path}">'
                      f'<span>View All {year}</span></a></div>')
        return '<div class="subcategory-blocks">\n' + "\n".join(blocks) + "\n</div>"

    def _paging(self, c: Category, page: int, pages: int) -> str:
        rel = c.path[1:]
        links = [f"<span>Page {page} of {pages}</span>"]
        if page > 1:
            links.append(f'<a href="{rel}?page={page - 1}" class="prev">&lt; Prev</a>')
        for n in range(1, pages + 1):
            links.append(f'<span class="current">{n}</span>' if n == page else f'<a href="{rel}?page={n}">{n}</a>')
        if page < pages:
            links.append(f'<a href="{rel}?page={page + 1}" class="next">{NEXT_WORDS[c.year % 3]}</a>')
        if c.year % 2:
            links.append(f'<a href="{rel}?viewall=1" class="category-viewall">View All</a>')
        return '<div class="paging">' + " ".join(links) + "</div>"

    def _href(self, dl: DayListing) -> str:
        path = product_path(dl.item)
        return self.base + path if dl.item.variant % 2 else path[1:]

    def _tile(self, dl: DayListing) -> str:
        item = dl.item
        href = self._href(dl)
        if dl.regular_price is not None:
            price = (f'<del class="regular-price">{dollars(dl.regular_price)}</del> '
                     f'<span class="sale-price">{dollars(dl.price)}</span>')
        else:
            price = f'<span class="regular-price">{dollars(dl.price)}</span>'
        return (f'<div class="product-item item-{item.vendor_id}" data-catalogid="{item.vendor_id}">'
                f'<div class="img"><a href="{href}"><img src="/assets/images/{item.vendor_id}.jpg" '
                f'alt="{esc(item.name)}"></a></div>'
                f'<div class="name"><a href="{href}">{esc(item.name)}</a></div>'
                f'<div class="price">{price}</div>'
                f'<div class="status"><span class="availability">{esc(dl.stock_text)}</span></div>'
                f'<div class="actions"><a href="/add_cart.asp?item_id={item.vendor_id}" class="add-to-cart">'
                'Add to Cart</a></div></div>')

    def product(self, dl: DayListing, noprice: bool) -> Page:
        item = dl.item
        d3: dict[str, object] = {"catalogid": item.vendor_id, "id": item.sku, "name": item.name}
        if not noprice:
            d3["price"] = float(dl.price)
        d3["availability"] = 1 if dl.availability == "available" else 0
        d3["currency"] = "USD"
        if item.variant % 3 == 0:  # some pages quote every value
            d3 = {k: f"{dl.price}" if k == "price" else str(v) for k, v in d3.items()}
        head = f"<script>var _3d_item = {json.dumps(d3)};</script>\n"
        # The h1 is unreliable on the live site: here it sometimes drops the year or the condition.
        h1 = item.name if item.variant % 5 else item.design.title
        price = "" if noprice else (
            (f'<del id="listprice">{dollars(dl.regular_price)}</del> ' if dl.regular_price else "")
            + f'<div id="price" class="price">{dollars(dl.price)}</div>')
        body = (f'<div id="product-detail"><form id="add" method="post" action="/add_cart.asp">'
                f'<input type="hidden" name="item_id" value="{item.vendor_id}">'
                f'<input type="hidden" name="category_id" value="0">'
                f'<h1 class="product-title">{esc(h1)}</h1>'
                f'<div class="sku">SKU: <span id="product_id">{esc(item.sku)}</span></div>'
                f'{price}<div class="stock">Availability: <span id="availability">{esc(dl.stock_text)}</span></div>'
                f'<input type="text" name="qty-0" value="1"><button type="submit">Add to Cart</button></form>'
                f'<div class="description">{item.year} Hallmark Keepsake Ornament, item {esc(item.design.item_number)}.'
                '</div></div>')
        page = self._chrome(item.name, body, head)
        return Page(page.body, product=True)
