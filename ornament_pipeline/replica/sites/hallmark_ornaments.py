"""www.hallmarkornaments.com (3dcart, older theme): a.subcat menu, JavaScript-built product tiles.

Year pages carry the `.product-count` and the paging links, but the product tiles (with their
quick-view links) are fetched from /ajax/category.asp and inserted by a script after the `load`
event, so a plain GET of a year page shows no products; `#productCategoryBlock` gets
`data-loaded="true"` once the tiles are in. `?viewall=1` lists everything on one page; paged URLs
are `<year>_c_<id>-<page>-3.html`. Product and quick-view pages carry `_3d_item` in a head script
(numbers for odd catalog ids, strings for even ones) and a JSON-LD `Product` on every other page.

Option `tiles` (README.md): `plain` tiles carry `data-catalogid`, a `_p_<id>` name link and the
quick-view link. In the hover modes a tile shows no product id at all (the name is text) until the
pointer enters it: a `mouseenter` handler inserts the quick-view link and `mouseleave` removes it,
as the live theme does. `hover-trusted` ignores synthetic (script-dispatched) events, so only real
pointer input reveals the link; `hover-broken` reveals a quick-view link without an id (`href="#"`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from ornament_pipeline.replica.catalogue import Catalogue
from ornament_pipeline.replica.clock import DayListing, product_path
from ornament_pipeline.replica.sites.common import (
    NOT_FOUND,
    Page,
    category_ids,
    dollars,
    esc,
    html_page,
    int_param,
    json_page,
    robots_txt,
)
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS

INDEX_PATH = "/Hallmark-Ornaments-By-Year_c_200.html"
FIXED_IDS = {"1973": 303, "1995": 260, "1998": 263, "2020": 368}  # as seen on the live site
OTHER_SUBCATS = (("Frosty Friends Series", "Frosty-Friends-Series_c_412.html"),
                 ("Star Wars Ornaments", "Star-Wars-Ornaments_c_415.html"),
                 ("Barbie Ornaments", "Barbie-Ornaments_c_431.html"),
                 ("Miniature Ornaments", "Miniature-Ornaments_c_227.html"),
                 ("Ornaments Under $15", "Ornaments-Under-15_c_450.html"))
PAGED = re.compile(r"^/(\d{4})_c_(\d+)(?:-(\d+)-(\d+))?\.html$")
ARTISTS = ("Ed Seale", "Linda Sickman", "Duane Unruh", "Don Palmiter", "Robert Chad", "Nello Williams",
           "Joyce Lyle", "John Francis (Collin)", "Sue Tague", "Katrina Bricker")

# Builds the tiles after `load`, from the category's JSON, the way the live theme's scripts do.
# `__MODE__` is the `tiles` option (a JSON string), filled in by `category()`.
TILE_SCRIPT = """<script>
window.addEventListener('load', function () {
  var mode = __MODE__;
  var block = document.getElementById('productCategoryBlock');
  fetch(block.getAttribute('data-src'), {credentials: 'same-origin'})
    .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
    .then(function (data) {
      data.products.forEach(function (p) {
        var quickView = function () {
          var qv = document.createElement('a'); qv.className = 'quickview'; qv.textContent = 'Quick View';
          qv.setAttribute('href', mode === 'hover-broken' ? '#' : 'product.asp?lt_c=1&itemid=' + p.catalogid + '&qv=1');
          return qv;
        };
        var tile = document.createElement('div');
        tile.className = 'product-item';
        var name = document.createElement('div'); name.className = 'name';
        if (mode === 'plain') {
          tile.setAttribute('data-catalogid', String(p.catalogid));
          var a = document.createElement('a'); a.setAttribute('href', p.url); a.textContent = p.name;
          name.appendChild(a);
        } else {
          name.textContent = p.name;  // no product link: the quick view is the way in
        }
        tile.appendChild(name);
        var price = document.createElement('div'); price.className = 'price';
        var span = document.createElement('span'); span.className = 'regular-price'; span.textContent = p.price;
        price.appendChild(span); tile.appendChild(price);
        var status = document.createElement('div'); status.className = 'status';
        var av = document.createElement('span'); av.className = 'availability'; av.textContent = p.stock;
        status.appendChild(av); tile.appendChild(status);
        if (mode === 'plain') {
          tile.appendChild(quickView());
        } else {
          tile.addEventListener('mouseenter', function (e) {
            if (mode === 'hover-trusted' && !e.isTrusted) { return; }
            if (!tile.querySelector('a.quickview')) { tile.appendChild(quickView()); }
          });
          tile.addEventListener('mouseleave', function () {
            var qv = tile.querySelector('a.quickview');
            if (qv) { qv.remove(); }
          });
        }
        block.appendChild(tile);
      });
      block.setAttribute('data-loaded', 'true');
    })
    .catch(function (e) { block.setAttribute('data-error', String(e)); });
});
</script>
"""
STYLE = ("<style>.product-item .quickview{visibility:hidden}"
         ".product-item:hover .quickview{visibility:visible}</style>\n")


class HallmarkOrnaments:
    """Renders the site for one day's listings."""

    vendor = HALLMARK_ORNAMENTS

    def __init__(self, cat: Catalogue, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.page_size = 10 if cat.size == "small" else 24
        self.years = cat.vendor_years(self.vendor)
        keys = [str(y) for y in self.years]
        self.ids = {int(k): v for k, v in category_ids(cat, "ho-categories", keys, FIXED_IDS, 201, 400).items()}
        self.by_id = {v: k for k, v in self.ids.items()}
        self.items: dict[int, list[DayListing]] = {}
        self.products: dict[str, DayListing] = {}
        self.by_catalogid: dict[str, DayListing] = {}

    def set_day(self, listings: list[DayListing]) -> None:
        items: dict[int, list[DayListing]] = defaultdict(list)
        for dl in listings:
            items[dl.item.year].append(dl)
        self.items = dict(items)
        self.products = {product_path(dl.item): dl for dl in listings}
        self.by_catalogid = {str(dl.item.vendor_id): dl for dl in listings}

    def render(self, path: str, query: dict[str, str], options: dict[str, str], noprice: bool = False,
               robots_extra: tuple[str, ...] = ()) -> Page:
        if path == "/robots.txt":
            return robots_txt(("/view_cart.asp", "/checkout.asp", "/myaccount.asp", "/register.asp"),
                              robots_extra, self.base)
        if path in ("/", INDEX_PATH):
            return self.index()
        if path == "/ajax/category.asp":
            return self.tiles_json(query)
        if path == "/product.asp":
            dl = self.by_catalogid.get(query.get("itemid", ""))
            return NOT_FOUND if dl is None else self.product(dl, noprice, quick=query.get("qv") == "1")
        if path in self.products:
            return self.product(self.products[path], noprice, quick=False)
        m = PAGED.match(path)
        if m and int(m[1]) in self.ids and self.ids[int(m[1])] == int(m[2]):
            return self.category(int(m[1]), int(m[3] or 1), query.get("viewall") == "1",
                                 options.get("tiles", "plain"))
        return NOT_FOUND

    def _chrome(self, title: str, content: str, head: str = "") -> Page:
        # The older theme puts a fixed run of scripts in <head>; _3d_item comes among them.
        return html_page(title, '<div id="wrapper"><div id="header"><a href="/" id="logo">Hallmark Ornaments</a>'
                                f'</div>\n<div id="mainContent">\n{content}\n</div></div>', head)

    def category_path(self, year: int, page: int = 1) -> str:
        suffix = "" if page == 1 else f"-{page}-3"
        return f"/{year}_c_{self.ids[year]}{suffix}.html"

    def index(self) -> Page:
        links = []
        for y in sorted(self.years):
            href = self.category_path(y)
            href = href[1:] if y % 2 else self.base + href  # relative and absolute hrefs
            links.append(f'<li><a class="subcat" href="{href}">{y} Hallmark Ornaments</a></li>')
        links += [f'<li><a class="subcat" href="{href}">{esc(text)}</a></li>' for text, href in OTHER_SUBCATS]
        menu = '<div id="categoryMenu"><ul class="subcategories">\n' + "\n".join(links) + "\n</ul></div>"
        return self._chrome("Hallmark Ornaments By Year", f"<h1>Hallmark Ornaments By Year</h1>\n{menu}")

    def category(self, year: int, page: int, viewall: bool, tiles: str = "plain") -> Page:
        items = self.items.get(year, [])
        pages = max(1, -(-len(items) // self.page_size))
        if page > pages:
            return NOT_FOUND
        src = f"/ajax/category.asp?catid={self.ids[year]}&" + ("viewall=1" if viewall else f"page={page}")
        paging = ""
        if not viewall and pages > 1:
            parts = [f"Page {page} of {pages}"]
            if page > 1:
                parts.append(f'<a href="{self.category_path(year, page - 1)[1:]}">Prev</a>')
            if page < pages:
                parts.append(f'<a href="{self.category_path(year, page + 1)[1:]}">Next</a>')
            parts.append(f'<a href="{self.category_path(year)[1:]}?viewall=1">View All</a>')
            paging = '<div class="paging">' + " | ".join(parts) + "</div>"
        content = (f"<h1>{year} Hallmark Ornaments</h1>\n"
                   f'<div class="product-count">Total number of products: {len(items)}</div>\n'
                   f'<div id="productCategoryBlock" data-src="{esc(src)}"></div>\n{paging}')
        return self._chrome(f"{year} Hallmark Ornaments", content,
                            STYLE + TILE_SCRIPT.replace("__MODE__", json.dumps(tiles)))

    def tiles_json(self, query: dict[str, str]) -> Page:
        cid = int_param(query, "catid", 0)
        year = self.by_id.get(cid or 0)
        if year is None:
            return NOT_FOUND
        items = self.items.get(year, [])
        if query.get("viewall") != "1":
            page = int_param(query, "page", 1)
            if page is None:
                return NOT_FOUND
            items = items[(page - 1) * self.page_size: page * self.page_size]
        products = []
        for dl in items:
            path = product_path(dl.item)
            products.append({"catalogid": dl.item.vendor_id, "name": dl.item.name, "price": dollars(dl.price),
                             "stock": dl.stock_text,
                             "url": self.base + path if dl.item.variant % 2 else path[1:]})
        return json_page({"products": products})

    def product(self, dl: DayListing, noprice: bool, quick: bool) -> Page:
        item = dl.item
        d3: dict[str, object] = {"catalogid": item.vendor_id, "id": item.sku, "name": item.name}
        if not noprice:
            d3["price"] = float(dl.price)
        d3["availability"] = 1 if dl.availability == "available" else 0
        d3["currency"] = "USD"
        if item.vendor_id % 2 == 0:
            d3 = {k: f"{dl.price}" if k == "price" else str(v) for k, v in d3.items()}
        scripts = ["var _3d_cart = {};", "var _3d_sessionid = '';", "window.dataLayer = window.dataLayer || [];",
                   "var lt_c = 1;", "function qv_close() { window.history.back(); }", "var _3dpageType = 'product';",
                   f"var _3d_item = {json.dumps(d3)};", "var _3d_related = [];"]
        head = "".join(f"<script>{s}</script>\n" for s in scripts)
        url = self.base + product_path(item)
        if item.vendor_id % 4 < 2:
            ld: dict[str, object] = {"@context": "https://schema.org", "@type": "Product", "name": item.name,
                                     "sku": item.sku, "url": url}
            if not noprice:
                ld["offers"] = {"@type": "Offer", "price": f"{dl.price}", "priceCurrency": "USD",
                                "availability": "https://schema.org/"
                                + ("InStock" if dl.availability == "available" else "OutOfStock")}
            head += '<script type="application/ld+json">' + json.dumps(ld).replace("</", "<\\/") + "</script>\n"
        price = "" if noprice else f'<div class="price">Price: <span id="price">{dollars(dl.price)}</span></div>'
        artist = ARTISTS[item.variant % len(ARTISTS)]
        body = (f'<div id="productPage" class="{"quickview" if quick else "product"}">'
                f'<h1 class="item-name">{esc(item.name)}</h1>'
                f'<div class="subtitle">{item.year} Hallmark Keepsake Ornament</div>'
                f'<div class="item-number">Item Number: <span id="product_id">{esc(item.sku)}</span></div>'
                f'{price}<div class="stock" id="availability">{esc(dl.stock_text)}</div>'
                f'<div class="description"><p>{esc(item.design.title)}, Hallmark Keepsake Ornament from '
                f"{item.year}.</p>"
                f"<p>Artist: {esc(artist)}</p><p>Size: {2 + item.variant % 3} inches tall</p></div>"
                f'<form id="add" method="post" action="/add_cart.asp"><input type="hidden" name="item_id" '
                f'value="{item.vendor_id}"><button type="submit">Add to Cart</button></form></div>')
        page = self._chrome(item.name, body, head)
        return Page(page.body, product=True)
