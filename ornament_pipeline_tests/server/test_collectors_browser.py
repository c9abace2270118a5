"""A collector in real headless Chromium: sign in with a key, watch an ornament, see it in My watches, add an
alert destination, get the alert at a local receiver once the replica's clock moves the price, remove the watch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import RetryPolicy, deliver_due, verify
from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import migrate
from ornament_pipeline.listing import Listing
from ornament_pipeline.replica.catalogue import DEFAULT_SEED
from ornament_pipeline.replica.clock import truth
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import create_key
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline.server.testing import load_day, observed_at, running_app
from ornament_pipeline.vendors import LIVE_BASE_URLS
from ornament_pipeline_tests.auditor.receiver import Receiver
from ornament_pipeline_tests.conftest import ADMIN_URL, drop_database
from ornament_pipeline_tests.server.test_browser import driver, wait  # noqa: F401 - the module's browser

from .conftest import DEAD_DAGSTER

pytestmark = pytest.mark.browser


def day_listings(day: int) -> list[Listing]:
    return truth("small", day, DEFAULT_SEED, LIVE_BASE_URLS)


def a_price_drop() -> tuple[int, Listing, Listing]:
    """A listing with an item number and condition whose price falls on some day after day 0."""
    first = {(x.vendor, x.vendor_id): x for x in day_listings(0)}
    for day in range(1, 10):
        for later in day_listings(day):
            before = first.get((later.vendor, later.vendor_id))
            if (before and before.item_number and before.condition and before.price and later.price
                    and later.price < before.price):
                return day, before, later
    raise AssertionError("the replica moves no price in 10 days")


@pytest.fixture
def warehouse() -> Iterator[Engine]:
    name = f"ornaments_test_collector_page_{uuid.uuid4().hex[:8]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine = create_engine(sqlalchemy_url(url))
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(name)


def test_a_collector_watches_an_ornament_and_gets_its_alert(driver: WebDriver,  # noqa: F811
                                                            warehouse: Engine, receiver: Receiver) -> None:
    partitions: set[tuple[str, int]] = set()
    load_day(warehouse, day_listings(0), observed_at(0), partitions)
    day, before, after = a_price_drop()
    with warehouse.connect() as conn:
        product_id = conn.execute(text("SELECT id FROM products WHERE vendor = :v AND vendor_id = :id"),
                                  {"v": before.vendor, "id": before.vendor_id}).scalar_one()
    with warehouse.begin() as conn:
        _, key = create_key(conn, "dana-key", "collector", collector="dana")
    app = create_app(warehouse, ServerConfig(open_reads=False, dagster_url=DEAD_DAGSTER))
    with running_app(app) as base:
        # Sign in: the key goes to this tab's sessionStorage, nowhere else.
        driver.get(base + "/")
        wait(driver, ec.element_to_be_clickable((By.ID, "sign-in"))).click()
        wait(driver, ec.visibility_of_element_located((By.ID, "keyinput"))).send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "#keyform button").click()
        wait(driver, lambda d: d.find_element(By.ID, "whoami").text == "dana-key (collector)")
        assert driver.execute_script("return sessionStorage.getItem('ornamentsApiKey')") == key
        assert driver.execute_script("return localStorage.length") == 0
        assert key not in driver.current_url

        # Watch the ornament (item number + condition, any vendor) from its product page.
        driver.get(f"{base}/p/{product_id}")
        wait(driver, ec.visibility_of_element_located((By.ID, "watch-form")))
        assert driver.find_element(By.CSS_SELECTOR, "#watch-panel .watch-item").text == before.item_number
        assert driver.find_element(By.ID, "watch-condition").get_attribute("value") == before.condition
        driver.find_element(By.ID, "watch-max-price").send_keys(str(before.price))
        for kind in ("back_in_stock", "new_listing", "all_time_low"):
            driver.find_element(By.ID, f"watch-kind-{kind}").click()
        driver.find_element(By.ID, "watch-button").click()
        status = wait(driver, lambda d: d.find_element(By.ID, "watch-status").text.startswith("Watching")
                      and d.find_element(By.ID, "watch-status"))
        assert f"{before.item_number} · {before.condition} · any vendor · target ${before.price}" in status.text
        assert "Price drop" in status.text and key not in driver.current_url

        # My watches lists it; add the receiver as an alert destination (verified by its signed test).
        driver.find_element(By.ID, "my-watches-link").click()
        article = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#watch-list article.watch"))[0]
        assert article.find_element(By.TAG_NAME, "h3").text.startswith(f"{before.item_number} · {before.condition}")
        assert "No alert yet." in article.text
        driver.find_element(By.ID, "destination-url").send_keys(receiver.url)
        driver.find_element(By.ID, "destination-add").click()
        added = wait(driver, lambda d: "secret" in d.find_element(By.ID, "destination-status").text
                     and d.find_element(By.ID, "destination-status").text)
        assert added.startswith("Verified.")
        secret = added.rsplit(" ", 1)[-1]
        wait(driver, lambda d: "verified" in d.find_element(By.CSS_SELECTOR, "#destinations tr.destination").text)

        # The replica's clock moves the price; the pipeline's merge and the auditor run.
        load_day(warehouse, day_listings(day), observed_at(day), partitions)
        raised = raise_alerts(warehouse, ["log"])
        assert raised.alerts.get("price_drop", 0) >= 1 and set(raised.alerts) == {"price_drop"}
        deadline = time.monotonic() + 20
        while len(receiver.accepted) < 1 + raised.alert_count:
            assert time.monotonic() < deadline, "alerts not delivered"
            deliver_due(warehouse, None, RetryPolicy(backoff_seconds=0.1), budget_seconds=2)
        alerts = [r for r in receiver.accepted if r.json["alert"]["kind"] != "test"]
        assert len({r.key for r in alerts}) == len(alerts) == raised.alert_count
        for request in alerts:
            assert verify(secret, request.body, request.headers["x-ornaments-signature"])
            assert request.json["alert"]["product"]["item_number"] == before.item_number
        assert str(after.price) in {r.json["alert"]["price"] for r in alerts}

        # My watches shows the alert; then the watch is removed.
        driver.refresh()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#watch-list article.watch tr.alert"))
        lines = driver.find_elements(By.CSS_SELECTOR, "#watch-list article.watch tr.alert")
        assert len(lines) == raised.alert_count and all("Price drop" in line.text for line in lines)
        assert any(f"${before.price} → ${after.price}" in line.text for line in lines)
        driver.find_element(By.CSS_SELECTOR, "#watch-list article.watch button.remove-watch").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "#watch-list article.watch"))
        assert driver.find_element(By.ID, "watches-status").text.startswith("No watches yet")
        with warehouse.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM watches")).scalar_one() == 0
        assert not driver.find_elements(By.CSS_SELECTOR, "p.error")

        # Sign out forgets the key.
        driver.find_element(By.ID, "sign-out").click()
        wait(driver, ec.element_to_be_clickable((By.ID, "sign-in")))
        assert driver.execute_script("return sessionStorage.getItem('ornamentsApiKey')") is None
    app.state.engine.dispose()
