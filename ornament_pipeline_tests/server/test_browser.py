"""The collectors' page in real headless Chromium: search, open a product, the chart shows every price point."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import migrate
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline.server.testing import running_app
from ornament_pipeline_tests.conftest import ADMIN_URL, drop_database

from .conftest import DEAD_DAGSTER

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
        assert sold_out.find_elements(By.TAG_NAME, "td")[-1].text == "−$4.00"
        # A link that is not a web address is not made a link.
        vendor_link = driver.find_element(By.ID, "product-link")
        assert vendor_link.get_attribute("href") is None and not vendor_link.is_displayed()
        assert not driver.find_elements(By.CSS_SELECTOR, "p.error")
    app.state.engine.dispose()
