"""The collectors' page: one HTML document with inline CSS and JavaScript (no CDN, no build step).

It is a small client of the API: `/` searches (`GET /api/v1/products`), `/p/{id}` shows a listing, its price
history as an inline SVG chart (points at their real times, price and stock on hover or focus) and a table,
the cross-vendor comparison with the fair price and deal marks, and CSV links for both. Kept in a Python module
so it ships inside the package without package-data configuration. All text from the API is inserted with `textContent`.
Signing in, watches and alert destinations are `page_watches.py`'s, put in at the `@watches` markers.
"""

from ornament_pipeline.server.page_watches import insert_watches

PAGE_HTML = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hallmark ornament prices</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafaf7; }
  header { background: #7a1f1f; color: #fff; padding: .8rem 1.2rem; }
  header a { color: #fff; text-decoration: none; font-weight: 600; }
  main { max-width: 960px; margin: 0 auto; padding: 1rem 1.2rem; }
  form.search { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: 1rem; }
  form.search input, form.search select, button { padding: .35rem .5rem; font-size: 1rem; }
  form.search input[name=q] { flex: 1 1 18rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e4e0; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.cheapest td { background: #eef8ee; font-weight: 600; }
  .muted { color: #777; }
  .error { color: #a00; }
  #keybox { background: #fff3cd; padding: .8rem; margin-bottom: 1rem; border: 1px solid #e0c36b; }
  svg.chart { background: #fff; border: 1px solid #e4e4e0; max-width: 100%; }
  svg.chart .line { fill: none; stroke: #7a1f1f; stroke-width: 2; }
  svg.chart .point { fill: #7a1f1f; }
  svg.chart .point.out { fill: #fff; stroke: #7a1f1f; stroke-width: 2; }
  svg.chart text { font-size: 11px; fill: #555; }
  svg.chart .axis { stroke: #bbb; }
  svg.chart .point:hover, svg.chart .point:focus { r: 6; outline: none; }
  #chart { position: relative; }
  #chart-tip { position: absolute; background: #222; color: #fff; padding: .25rem .45rem; border-radius: 3px;
               font-size: .85rem; pointer-events: none; white-space: nowrap; }
  tr.cheapest-in-condition td.rank { color: #2c6e2c; }
  .deal { background: #2c6e2c; color: #fff; border-radius: 3px; padding: 0 .35rem; margin-left: .35rem;
          font-size: .85rem; font-weight: 600; }
  table caption { text-align: left; color: #777; padding: .3rem 0; }
/* @watches: css */
</style>
</head>
<body>
<header><a href="/">Hallmark ornament prices</a><!-- @watches: account --></header>
<main>
  <div id="keybox" hidden>
    <form id="keyform">
      <label>Sign in with your API key (kept in this tab only): <input id="keyinput" type="password" size="40"
             autocomplete="off"></label>
      <button type="submit">Use key</button>
      <span id="keyerror" class="error"></span>
    </form>
  </div>
  <section id="search-view" hidden>
    <form class="search" method="get" action="/">
      <input name="q" id="q" placeholder="Name or SKU, e.g. Frosty Friends or QX6001" maxlength="200">
      <select name="vendor" id="vendor"><option value="">All vendors</option></select>
      <input name="year" id="year" type="number" min="1973" max="2200" placeholder="Year" style="width:6rem">
      <select name="availability" id="availability">
        <option value="">Any stock</option><option value="available">In stock</option>
        <option value="preorder">Preorder</option><option value="unavailable">Sold out</option>
        <option value="unknown">Stock unknown</option>
      </select>
      <select name="sort" id="sort">
        <option value="name">Name</option><option value="price">Price, low first</option>
        <option value="price-desc">Price, high first</option><option value="release_year">Year</option>
      </select>
      <button type="submit" id="search-button">Search</button>
    </form>
    <p id="status" class="muted"></p>
    <p><a id="search-csv" class="csv" hidden>Download these results as CSV</a></p>
    <table id="results" hidden>
      <thead><tr><th>Ornament</th><th>Vendor</th><th class="num">Year</th><th class="num">Price</th>
        <th>Stock</th></tr></thead>
      <tbody></tbody>
    </table>
    <p><button id="more" hidden>More results</button></p>
  </section>
  <section id="product-view" hidden>
    <h1 id="product-name"></h1>
    <p id="product-meta" class="muted"></p>
    <p><a id="product-link" rel="noopener noreferrer">Open on the vendor's site</a></p>
    <h2>Price history</h2>
    <div id="chart"><div id="chart-tip" role="status" hidden></div></div>
    <p><a id="history-csv" class="csv">Download the history as CSV</a></p>
    <table id="history"><caption>Every version, newest first; the chart's points. Times are UTC.</caption>
      <thead><tr><th>From (UTC)</th><th>To (UTC)</th><th class="num">Price</th><th>Stock</th></tr></thead>
      <tbody></tbody></table>
    <h2>Every vendor's offer of <span id="item-number"></span></h2>
    <p id="offers-status" class="muted"></p>
    <table id="offers"><thead><tr><th>Vendor</th><th>Condition</th><th>Listing</th><th class="num">Price</th>
      <th>Stock</th><th>Cheapest</th><th class="num">Over cheapest</th><th class="num">Vs fair price</th></tr></thead>
      <tbody></tbody></table>
    <h2>Fair price</h2>
    <p class="muted">The time-weighted median of every vendor's in-stock prices of this ornament, per condition, over
      the last 90 days: half of the time it was in stock somewhere, it cost this much or less. An offer in stock at
      least <span id="deal-share"></span> under it is marked <span class="deal">Deal</span>.</p>
    <p id="market-status" class="muted"></p>
    <table id="market" hidden><thead><tr><th>Condition</th><th class="num">Fair price</th>
      <th class="num">Observations</th><th class="num">Vendors</th><th>Window (UTC)</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <!-- @watches: views -->
</main>
<script>
"use strict";
const API = "/api/v1";
const VENDORS = {hookedonhallmark_com: "Hooked on Hallmark", ornament_shop_com: "Ornament Shop",
                 hallmark_ornaments_com: "Hallmark Ornaments"};
const STOCK = {available: "In stock", preorder: "Preorder", unavailable: "Sold out", unknown: "Stock unknown"};
const $ = (id) => document.getElementById(id);

class AuthNeeded extends Error {}

function requestHeaders(accept) {
  const headers = {"Accept": accept};
  const key = signedInKey();
  if (key) headers["X-API-Key"] = key;
  return headers;
}

async function api(path) {
  const response = await fetch(API + path, {headers: requestHeaders("application/json")});
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) throw new AuthNeeded(body.error ? body.error.message : "API key needed");
  if (!response.ok) throw new Error(body.error ? body.error.message : ("HTTP " + response.status));
  return body;
}

function askForKey(message) {
  $("keybox").hidden = false;
  $("keyerror").textContent = signedInKey() ? message : "";
}

$("keyform").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("keyinput").value.trim());
});

function cell(row, text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (text instanceof Node) td.appendChild(text); else td.textContent = text == null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function money(price) { return price == null ? "—" : "$" + price; }
// A signed amount of money: negative for an offer out of stock that is cheaper than the cheapest in stock.
function gap(amount) {
  if (amount == null) return "";
  if (amount === "0.00") return "$0.00";
  return amount.startsWith("-") ? "−$" + amount.slice(1) : "+$" + amount;
}
// A timestamp as UTC date and time (seconds only when there are some), e.g. "2026-11-01 06:00".
function stamp(iso) {
  if (!iso) return "";
  const text = new Date(iso).toISOString();
  return text.slice(0, 10) + " " + (text.slice(17, 19) === "00" ? text.slice(11, 16) : text.slice(11, 19));
}
// Vendor links come from scraped pages: only web addresses become links (never javascript: or data:).
function webAddress(href) { return /^https?:\/\//i.test(href || "") ? href : null; }

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

// ---- search ----
let nextCursor = null;

function searchQuery(cursor) {
  const params = new URLSearchParams(location.search);
  const out = new URLSearchParams();
  for (const name of ["q", "vendor", "year", "availability"]) {
    const value = (params.get(name) || "").trim();
    if (value) out.set(name, value);
  }
  const sort = params.get("sort") || "name";
  if (sort === "price-desc") { out.set("sort", "price"); out.set("order", "desc"); }
  else out.set("sort", ["name", "price", "release_year"].includes(sort) ? sort : "name");
  out.set("limit", "50");
  if (cursor) out.set("cursor", cursor);
  return out;
}

async function runSearch(cursor) {
  const params = new URLSearchParams(location.search);
  for (const name of ["q", "vendor", "year", "availability", "sort"]) {
    if (params.get(name)) $(name).value = params.get(name);
  }
  $("status").textContent = "Searching…";
  const page = await api("/products?" + searchQuery(cursor).toString());
  const tbody = $("results").querySelector("tbody");
  if (!cursor) tbody.replaceChildren();
  for (const p of page.items) {
    const row = document.createElement("tr");
    row.className = "result";
    cell(row, link("/p/" + p.id, p.name));
    cell(row, VENDORS[p.vendor] || p.vendor);
    cell(row, p.release_year, "num");
    cell(row, money(p.price), "num");
    cell(row, STOCK[p.availability] || p.availability);
    tbody.appendChild(row);
  }
  const shown = tbody.children.length;
  $("results").hidden = shown === 0;
  $("status").textContent = shown === 0 ? "No ornament matches."
    : shown + " shown" + (page.next_cursor ? "" : " (all)");
  nextCursor = page.next_cursor;
  $("more").hidden = !nextCursor;
  const exported = searchQuery(null);
  exported.delete("limit");
  csvLink($("search-csv"), "/products.csv?" + exported.toString());
}

async function showSearch() {
  $("search-view").hidden = false;
  const vendors = await api("/vendors");
  for (const v of vendors) {
    const option = document.createElement("option");
    option.value = v.vendor;
    option.textContent = (VENDORS[v.vendor] || v.vendor) + " (" + v.listed + ")";
    $("vendor").appendChild(option);
  }
  $("more").addEventListener("click", () => runSearch(nextCursor).catch(fail));
  await runSearch(null);
}

// ---- product ----
const SVG = "http://www.w3.org/2000/svg";

function svg(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text != null) el.textContent = text;
  return el;
}

// A step chart of price over time: one point per version that had a price, at the time it was first seen, and a
// line held until the next one. The time axis runs from the first version to the listing's last observation (now
// when that is unknown): versions of one day stay apart, and nothing is drawn past what was seen.
function drawChart(versions, lastObserved) {
  const points = versions.filter((v) => v.price != null)
    .map((v) => ({t: Date.parse(v.valid_from), end: v.valid_to ? Date.parse(v.valid_to) : null,
                  price: Number(v.price), raw: v.price, from: v.valid_from, stock: v.availability,
                  delisted: v.is_delisted}));
  const box = $("chart");
  const tip = $("chart-tip");
  box.replaceChildren(tip);
  if (points.length === 0) { box.appendChild(document.createTextNode("No price recorded yet.")); return; }
  const W = 640, H = 240, L = 56, R = 16, T = 12, B = 28;
  const last = points[points.length - 1];
  const t0 = points[0].t;
  const t1 = Math.max(lastObserved ? Date.parse(lastObserved) : Date.now(), last.end || last.t);
  let lo = Math.min(...points.map((p) => p.price)), hi = Math.max(...points.map((p) => p.price));
  if (hi === lo) { lo = lo * 0.9; hi = hi * 1.1 + 1; }
  // One instant only (a single observation): its point in the middle.
  const x = (t) => t1 > t0 ? L + (W - L - R) * (t - t0) / (t1 - t0) : (L + W - R) / 2;
  const y = (p) => T + (H - T - B) * (1 - (p - lo) / (hi - lo));
  const chart = svg("svg", {class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
                            "aria-label": "Price history (the table below lists every point)"});
  chart.appendChild(svg("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}));
  chart.appendChild(svg("line", {class: "axis", x1: L, y1: T, x2: L, y2: H - B}));
  chart.appendChild(svg("text", {x: L - 6, y: y(hi) + 4, "text-anchor": "end"}, "$" + hi.toFixed(2)));
  chart.appendChild(svg("text", {x: L - 6, y: y(lo) + 4, "text-anchor": "end"}, "$" + lo.toFixed(2)));
  chart.appendChild(svg("text", {class: "axis-start", x: L, y: H - 8}, stamp(new Date(t0).toISOString()) + " UTC"));
  chart.appendChild(svg("text", {class: "axis-end", x: W - R, y: H - 8, "text-anchor": "end"},
                        stamp(new Date(t1).toISOString()) + " UTC"));
  const path = [];
  points.forEach((p, i) => {
    const until = i + 1 < points.length ? points[i + 1].t : Math.min(p.end || t1, t1);
    path.push(`${x(p.t).toFixed(1)},${y(p.price).toFixed(1)}`, `${x(until).toFixed(1)},${y(p.price).toFixed(1)}`);
  });
  chart.appendChild(svg("polyline", {class: "line", points: path.join(" ")}));
  for (const p of points) {
    const inStock = p.stock === "available" && !p.delisted;
    const label = `${stamp(p.from)} UTC: $${p.raw}, ${p.delisted ? "delisted" : (STOCK[p.stock] || p.stock)}`;
    const dot = svg("circle", {class: inStock ? "point" : "point out", cx: x(p.t).toFixed(2),
                               cy: y(p.price).toFixed(1), r: 4, tabindex: 0, "aria-label": label,
                               "data-price": p.raw, "data-from": p.from, "data-stock": p.stock});
    dot.appendChild(svg("title", {}, label));
    const show = () => {
      tip.textContent = label;
      tip.hidden = false;
      const left = Math.min(Number(dot.getAttribute("cx")) + 8, W - tip.offsetWidth);
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = Math.max(0, Number(dot.getAttribute("cy")) - 34) + "px";
    };
    const hide = () => { tip.hidden = true; };
    dot.addEventListener("mouseenter", show);
    dot.addEventListener("focus", show);
    dot.addEventListener("mouseleave", hide);
    dot.addEventListener("blur", hide);
    chart.appendChild(dot);
  }
  box.appendChild(chart);
}

// An export link: the browser follows it when reads are open; with a key it is fetched with the key (keys never
// go into URLs) and saved under the server's file name.
function csvLink(anchor, path) {
  anchor.href = API + path;
  anchor.hidden = false;
  anchor.onclick = async (event) => {
    if (!requestHeaders("text/csv")["X-API-Key"]) return;
    event.preventDefault();
    const response = await fetch(API + path, {headers: requestHeaders("text/csv")});
    if (!response.ok) { fail(new Error("HTTP " + response.status)); return; }
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const save = document.createElement("a");
    save.href = URL.createObjectURL(await response.blob());
    save.download = name ? name[1] : "export.csv";
    save.click();
    URL.revokeObjectURL(save.href);
  };
}

function cheapestLabel(offer) {
  if (offer.cheapest_in_stock) return "cheapest overall";
  if (offer.cheapest_in_condition) return "cheapest " + (offer.condition || "without condition");
  return "";
}

function showOffers(ornament, product) {
  const offers = $("offers").querySelector("tbody");
  for (const o of ornament.offers) {
    const row = document.createElement("tr");
    row.className = "offer" + (o.cheapest_in_stock ? " cheapest" : "") +
      (o.cheapest_in_condition ? " cheapest-in-condition" : "") + (o.deal ? " deal-offer" : "");
    row.dataset.productId = o.product_id;
    cell(row, VENDORS[o.vendor] || o.vendor);
    cell(row, o.condition || "—");
    cell(row, o.product_id === product.id ? o.name + " (this listing)" : link("/p/" + o.product_id, o.name));
    cell(row, money(o.price), "num");
    cell(row, STOCK[o.availability] || o.availability);
    cell(row, cheapestLabel(o), "rank");
    cell(row, gap(o.gap_to_cheapest), "num gap");
    const fair = cell(row, gap(o.gap_to_fair_price), "num fair");
    if (o.deal) {
      const mark = document.createElement("span");
      mark.className = "deal";
      mark.textContent = "Deal";
      mark.title = `${Math.round(Number(ornament.deal_share) * 100)}% or more under the fair price`;
      fair.appendChild(mark);
    }
    offers.appendChild(row);
  }
  const best = ornament.cheapest_in_stock;
  const when = ornament.offers_refreshed_at ? ` (compared ${stamp(ornament.offers_refreshed_at)} UTC)` : "";
  $("offers-status").textContent = best
    ? `Cheapest in stock: ${money(best.price)} at ${VENDORS[best.vendor] || best.vendor}` +
      (best.condition ? ` (${best.condition})` : "") + when
    : (ornament.offers.length ? "No vendor has it in stock." + when
       : "No vendor's offer is compared yet: the comparison is rebuilt after each sync.");
}

function showMarket(ornament) {
  $("deal-share").textContent = Math.round(Number(ornament.deal_share) * 100) + "%";
  const tbody = $("market").querySelector("tbody");
  for (const c of ornament.conditions.filter((c) => c.market)) {
    const row = document.createElement("tr");
    row.className = "market";
    cell(row, c.condition || "—");
    cell(row, money(c.market.fair_price), "num");
    cell(row, c.market.observations, "num");
    cell(row, c.market.vendors, "num");
    cell(row, stamp(c.market.window_from) + " – " + stamp(c.market.window_to));
    tbody.appendChild(row);
  }
  $("market").hidden = tbody.children.length === 0;
  $("market-status").textContent = tbody.children.length ? ""
    : "No fair price yet: no vendor had it in stock in the last 90 days.";
}

async function showProduct(id) {
  $("product-view").hidden = false;
  const product = await api("/products/" + encodeURIComponent(id));
  document.title = product.name + " — Hallmark ornament prices";
  $("product-name").textContent = product.name;
  $("product-meta").textContent = [VENDORS[product.vendor] || product.vendor, product.sku,
    product.release_year, money(product.price), STOCK[product.availability],
    product.listed ? null : "delisted"].filter((v) => v != null && v !== "").join(" · ");
  const vendorPage = webAddress(product.link);
  if (vendorPage) $("product-link").href = vendorPage; else $("product-link").hidden = true;
  const versions = [];
  let cursor = null;
  do {  // every page of the history, not only the first 1000 versions
    const page = await api("/products/" + encodeURIComponent(id) + "/history" +
                           (cursor ? "?cursor=" + encodeURIComponent(cursor) : ""));
    versions.push(...page.versions);
    cursor = page.next_cursor;
  } while (cursor);
  drawChart(versions, product.last_synced_at);
  csvLink($("history-csv"), "/products/" + encodeURIComponent(id) + "/history.csv");
  const tbody = $("history").querySelector("tbody");
  for (const v of versions.slice().reverse()) {
    const row = document.createElement("tr");
    cell(row, stamp(v.valid_from));
    cell(row, v.valid_to ? stamp(v.valid_to) : "now");
    cell(row, money(v.price), "num");
    cell(row, v.is_delisted ? "Delisted" : (STOCK[v.availability] || v.availability));
    tbody.appendChild(row);
  }
  $("item-number").textContent = product.item_number || "this ornament";
  if (!product.item_number) { $("offers-status").textContent = "No Hallmark item number is known."; return; }
  const ornament = await api("/ornaments/" + encodeURIComponent(product.item_number));
  showOffers(ornament, product);
  showMarket(ornament);
}

function fail(error) {
  if (error instanceof AuthNeeded) { askForKey(error.message); return; }
  const p = document.createElement("p");
  p.className = "error";
  p.textContent = "Could not load: " + error.message;
  document.querySelector("main").appendChild(p);
}

// @watches: script

const match = location.pathname.match(/^\/p\/(\d+)\/?$/);
const account = showAccount();
(location.pathname === "/watches" ? showMyWatches(account) : match ? showProduct(match[1]) : showSearch())
  .catch(fail);
if (match) showWatchPanel(match[1], account).catch(fail);
</script>
</body>
</html>
"""

PAGE_HTML = insert_watches(PAGE_HTML)
