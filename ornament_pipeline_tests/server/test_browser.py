"""The collectors' page in real headless Chromium: search, open a product, the chart shows every price point."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import migrate
from ornament_pipeline.listing import Listing
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline.server.testing import running_app
from ornament_pipeline.warehouse.market import refresh_market
from ornament_pipeline.warehouse.offers import refresh_offers
from ornament_pipeline.warehouse.scrapes import merge_observation
from ornament_pipeline_tests.conftest import ADMIN_URL, drop_database

from .conftest import DEAD_DAGSTER
from .test_market import record_scrapes

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    if not (os.path.exists("/usr/bin/chromedriver") and os.path.exists("/usr/bin/chromium")):
        pytest.skip("needs /usr/bin/chromium and /usr/bin/chromedriver")
    os.environ.setdefault("SE_OFFLINE", "true")
    profile = tempfile.mkdtemp(prefix="ornaments-web-test-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1200,1000"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


def richest_product(engine: Engine) -> tuple[int, str, int]:
    """The listing with the most priced versions: (id, name, number of versions with a price)."""
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT p.id, p.name, count(h.price) FROM products p JOIN price_history h ON h.product_id = p.id"
            " WHERE p.delisted_at IS NULL AND p.item_number IS NOT NULL"
            " GROUP BY p.id ORDER BY count(h.price) DESC, p.id LIMIT 1")).one())


def wait(chrome: WebDriver, condition, seconds: float = 15):
    return WebDriverWait(chrome, seconds).until(condition)


def test_search_open_product_and_chart(driver: WebDriver, engine: Engine) -> None:
    product_id, name, points = richest_product(engine)
    assert points >= 2
    with running_app(create_app(engine, ServerConfig(open_reads=True, dagster_url=DEAD_DAGSTER))) as base:
        driver.get(base + "/")
        box = wait(driver, ec.visibility_of_element_located((By.ID, "q")))
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result"))
        box.send_keys(name)
        driver.find_element(By.ID, "search-button").click()
        wait(driver, lambda d: "q=" in d.current_url and d.find_elements(By.CSS_SELECTOR, "#results tr.result"))
        link = wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, f'#results a[href="/p/{product_id}"]')))
        assert link.text == name
        link.click()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg circle.point"))
        assert driver.find_element(By.ID, "product-name").text == name
        circles = driver.find_elements(By.CSS_SELECTOR, "#chart svg circle.point")
        assert len(circles) == points
        with engine.connect() as conn:
            prices = [str(p) for p in conn.execute(text(
                "SELECT price FROM price_history WHERE product_id = :id AND price IS NOT NULL"
                " ORDER BY valid_from, id"), {"id": product_id}).scalars()]
        assert [c.get_attribute("data-price") for c in circles] == prices
        xs = [float(c.get_attribute("cx")) for c in circles]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
        assert driver.find_elements(By.CSS_SELECTOR, "#chart svg polyline.line")
        history_rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        assert len(history_rows) >= points
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#offers tbody tr.offer"))
        offers = driver.find_elements(By.CSS_SELECTOR, "#offers tbody tr.offer")
        assert any("(this listing)" in row.text for row in offers)
        assert driver.find_element(By.ID, "offers-status").text.startswith(("Cheapest in stock", "No vendor"))
        assert not driver.find_elements(By.CSS_SELECTOR, "p.error")


def test_page_asks_for_a_key_when_reads_are_closed(driver: WebDriver, engine: Engine, read_key: str) -> None:
    with running_app(create_app(engine, ServerConfig(open_reads=False, dagster_url=DEAD_DAGSTER))) as base:
        driver.get(base + "/?q=Frosty")
        wait(driver, ec.visibility_of_element_located((By.ID, "keyinput"))).send_keys(read_key)
        driver.find_element(By.CSS_SELECTOR, "#keyform button").click()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#results tr.result")
        assert rows and all("frosty" in r.text.lower() for r in rows)
        assert driver.find_element(By.ID, "keybox").get_attribute("hidden") is not None
        driver.execute_script("sessionStorage.clear()")


def test_api_docs_render_without_a_cdn(driver: WebDriver, engine: Engine) -> None:
    # This machine reaches no CDN: the Swagger UI renders only if the app serves its files itself.
    with running_app(create_app(engine, ServerConfig(open_reads=True, dagster_url=DEAD_DAGSTER))) as base:
        driver.get(base + "/docs")
        title = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title")))
        assert title.text.startswith("ornament_pipeline API")
        assert driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path[data-path='/api/v1/products']")


@pytest.fixture
def odd_warehouse() -> Iterator[Engine]:
    """A warehouse holding one ornament at two vendors: a listing with 1,200 versions and a script link, and a
    cheaper one that is sold out."""
    name = f"ornaments_test_page_{uuid.uuid4().hex[:8]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        listing = conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, item_number, name, price, availability, release_year, link)"
            " VALUES ('hookedonhallmark_com', 'h1', 'QX9001', 'Long Story', 20.00, 'available', 1990,"
            " 'JavaScript:alert(document.domain)') RETURNING id")).scalar_one()
        conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, item_number, name, price, availability, release_year, link)"
            " VALUES ('ornament_shop_com', 'o1', 'QX9001', 'Long Story MIB', 16.00, 'unavailable', 1990,"
            " 'https://ornament-shop.com/o1')"))
        conn.execute(text(
            "INSERT INTO price_history (product_id, price, availability, name, link, valid_from, valid_to)"
            " SELECT :id, 10 + n % 7, 'available', 'Long Story', 'x', t,"
            "        CASE WHEN n < 1200 THEN t + interval '1 day' END"
            " FROM generate_series(1, 1200) AS n,"
            "      LATERAL (SELECT timestamptz '2020-01-01' + n * interval '1 day' AS t) d"),
            {"id": listing})
        refresh_offers(conn)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(name)


def test_product_page_long_history_cheaper_sold_out_offer_and_script_link(driver: WebDriver,
                                                                           odd_warehouse: Engine) -> None:
    with odd_warehouse.connect() as conn:
        listing = conn.execute(text("SELECT id FROM products WHERE vendor_id = 'h1'")).scalar_one()
    app = create_app(odd_warehouse, ServerConfig(open_reads=True, dagster_url=DEAD_DAGSTER))
    with running_app(app) as base:
        driver.get(f"{base}/p/{listing}")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#offers tbody tr.offer"))
        # Every version, past the history route's 1,000 per page.
        assert len(driver.find_elements(By.CSS_SELECTOR, "#chart svg circle.point")) == 1200
        assert len(driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 1200
        # The sold-out offer is $4 under the cheapest in stock.
        sold_out = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#offers tbody tr.offer")
                        if "Long Story MIB" in r.text)
        assert sold_out.find_element(By.CSS_SELECTOR, "td.gap").text == "−$4.00"
        # A link that is not a web address is not made a link.
        vendor_link = driver.find_element(By.ID, "product-link")
        assert vendor_link.get_attribute("href") is None and not vendor_link.is_displayed()
        assert not driver.find_elements(By.CSS_SELECTOR, "p.error")
    app.state.engine.dispose()


LAST = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
SAME_DAY = LAST - timedelta(days=1)  # two versions of one listing 12 hours apart, then one more observation


@pytest.fixture
def market_warehouse() -> Iterator[Engine]:
    """QX6001 with the history of test_market (fair price $30.00 in MIB; $24.00 in stock: a deal), a cheaper NB
    offer in stock, and QX6002: a listing whose price and stock changed twice on one day."""
    name = f"ornaments_test_page_{uuid.uuid4().hex[:8]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine = create_engine(sqlalchemy_url(url))
    record_scrapes(engine, LAST)
    for at, price, availability in ((SAME_DAY, "15.00", "available"), (SAME_DAY.replace(hour=18), "17.00",
                                                                       "unavailable"), (LAST, "17.00", "unavailable")):
        with engine.begin() as conn:
            merge_observation(conn, "hookedonhallmark_com", 2021, [Listing(
                vendor="hookedonhallmark_com", vendor_id="s1", name="2021 Same Day", availability=availability,
                link="https://example.test/s1", price=Decimal(price), sku="QX6002MIB", item_number="QX6002",
                condition="MIB", release_year=2021)], at, complete=True, tracked=("price", "availability"))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, item_number, condition, name, price, availability, link)"
            " VALUES ('hallmark_ornaments_com', 'nb1', 'QX6001', 'NB', '2020 Fair Test NB', 22.00, 'available',"
            " 'https://example.test/nb1'), ('hookedonhallmark_com', 'nb2', 'QX6001', 'NB', '2020 Fair Test NB2',"
            " 26.00, 'available', 'https://example.test/nb2')"))
        refresh_offers(conn)
        refresh_market(conn, as_of=LAST)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(name)


def product_id_of(engine: Engine, vendor_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM products WHERE vendor_id = :v"), {"v": vendor_id}).scalar_one()


def test_same_day_versions_are_distinct_points_with_price_and_stock_on_hover(driver: WebDriver,
                                                                              market_warehouse: Engine) -> None:
    app = create_app(market_warehouse, ServerConfig(open_reads=True, dagster_url=DEAD_DAGSTER))
    product_id = product_id_of(market_warehouse, "s1")
    with running_app(app) as base:
        driver.get(f"{base}/p/{product_id}")
        circles = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg circle.point"))
        assert [c.get_attribute("data-price") for c in circles] == ["15.00", "17.00"]
        first, second = (float(c.get_attribute("cx")) for c in circles)
        # 12 of the 24 hours the axis spans (first version to last observation): half the plot apart.
        assert second - first > 200
        assert driver.find_element(By.CSS_SELECTOR, "#chart text.axis-end").text == "2026-06-01 06:00 UTC"
        tip = driver.find_element(By.ID, "chart-tip")
        assert not tip.is_displayed()
        for circle, expected in zip(circles, ("2026-05-31 06:00 UTC: $15.00, In stock",
                                              "2026-05-31 18:00 UTC: $17.00, Sold out"), strict=True):
            ActionChains(driver).move_to_element(circle).perform()
            wait(driver, lambda d, text=expected: d.find_element(By.ID, "chart-tip").text == text)
            assert tip.is_displayed()
        ActionChains(driver).move_to_element(driver.find_element(By.ID, "product-name")).perform()
        wait(driver, lambda d: not d.find_element(By.ID, "chart-tip").is_displayed())
        headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#history thead th")]
        assert headers[:2] == ["From (UTC)", "To (UTC)"]
        rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
        assert rows == [["2026-05-31 18:00", "now", "$17.00", "Sold out"],
                        ["2026-05-31 06:00", "2026-05-31 18:00", "$15.00", "In stock"]]
        csv_link = driver.find_element(By.ID, "history-csv")
        assert csv_link.get_attribute("href") == f"{base}/api/v1/products/{product_id}/history.csv"
        fetched = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(async (r) => done([r.headers.get('Content-Type'), await r.text()]));",
            csv_link.get_attribute("href"))
        assert fetched[0] == "text/csv; charset=utf-8" and fetched[1].count("\r\n") == 3
        assert not driver.find_elements(By.CSS_SELECTOR, "p.error")
    app.state.engine.dispose()


def test_one_cheapest_per_condition_and_overall_and_the_deal_mark(driver: WebDriver,
                                                                  market_warehouse: Engine) -> None:
    app = create_app(market_warehouse, ServerConfig(open_reads=True, dagster_url=DEAD_DAGSTER))
    with running_app(app) as base:
        driver.get(f"{base}/p/{product_id_of(market_warehouse, 'h1')}")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#market tbody tr.market"))
        rows = {row.get_attribute("data-product-id"): row
                for row in driver.find_elements(By.CSS_SELECTOR, "#offers tbody tr.offer")}
        ids = {vendor_id: str(product_id_of(market_warehouse, vendor_id))
               for vendor_id in ("a1", "o1", "o4", "h1", "nb1", "nb2")}
        assert set(rows) == set(ids.values())
        rank = {vendor_id: rows[pid].find_element(By.CSS_SELECTOR, "td.rank").text for vendor_id, pid in ids.items()}
        assert rank == {"a1": "", "o1": "", "o4": "cheapest MIB", "h1": "", "nb1": "cheapest overall", "nb2": ""}
        assert len(driver.find_elements(By.CSS_SELECTOR, "#offers tr.cheapest")) == 1
        gaps = {vendor_id: rows[pid].find_element(By.CSS_SELECTOR, "td.gap").text for vendor_id, pid in ids.items()}
        assert gaps == {"a1": "−$17.00", "o1": "−$2.00", "o4": "+$2.00", "h1": "+$8.00", "nb1": "$0.00",
                        "nb2": "+$4.00"}
        assert driver.find_element(By.ID, "offers-status").text.startswith(
            "Cheapest in stock: $22.00 at Hallmark Ornaments (NB)")
        # $24.00 is 20% under the MIB fair price of $30.00; NB has no history, so no fair price and no deal.
        marked = [vendor_id for vendor_id, pid in ids.items() if rows[pid].find_elements(By.CSS_SELECTOR, "span.deal")]
        assert marked == ["o4"]
        assert rows[ids["o4"]].find_element(By.CSS_SELECTOR, "td.fair").text.startswith("−$6.00")
        market = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                  for tr in driver.find_elements(By.CSS_SELECTOR, "#market tbody tr.market")]
        assert market == [["MIB", "$30.00", "6", "3", "2026-03-03 06:00 – 2026-06-01 06:00"]]
        assert driver.find_element(By.ID, "deal-share").text == "20%"
        assert not driver.find_elements(By.CSS_SELECTOR, "p.error")
    app.state.engine.dispose()


def test_csv_links_send_the_key_when_reads_are_closed(driver: WebDriver, engine: Engine, read_key: str) -> None:
    product_id, _, _ = richest_product(engine)
    with running_app(create_app(engine, ServerConfig(open_reads=False, dagster_url=DEAD_DAGSTER))) as base:
        driver.get(base + "/")
        driver.execute_script("sessionStorage.setItem('ornamentsApiKey', arguments[0])", read_key)
        driver.get(f"{base}/p/{product_id}")
        wait(driver, lambda d: d.find_element(By.ID, "history-csv").get_attribute("href"))
        link = driver.find_element(By.ID, "history-csv")
        # Catch the save the page starts (the file's blob and name) instead of Chromium's download.
        driver.execute_script(
            "window.saved = null; let blob = null; const make = URL.createObjectURL;"
            "URL.createObjectURL = (b) => { blob = b; return make(b); };"
            "HTMLAnchorElement.prototype.click = function () {"
            " if (this.download) blob.text().then((body) => { window.saved = [this.download, body]; }); };")
        link.click()
        name, body = wait(driver, lambda d: d.execute_script("return window.saved"))
        assert name == f"product-{product_id}-history.csv"
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT count(*) FROM price_history WHERE product_id = :id"),
                                    {"id": product_id}).scalar_one()
        assert body.startswith("id,price,availability,") and body.count("\r\n") == versions + 1
        driver.execute_script("localStorage.clear()")
