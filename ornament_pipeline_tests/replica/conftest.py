"""Fixtures for the replica tests: a running small replica, an HTTP client, headless Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from ornament_pipeline.replica.testing import ReplicaHandle, running_replica

SEED = 4242


@pytest.fixture(scope="module")
def replica() -> Iterator[ReplicaHandle]:
    with running_replica(size="small", day=3, seed=SEED) as handle:
        yield handle


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def make_chrome():  # noqa: ANN201 - selenium type
    """Headless Chromium through the system chromedriver; Selenium never downloads anything."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="replica-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    driver._replica_profile = profile  # removed on quit by the fixture
    return driver


@pytest.fixture(scope="module")
def chrome() -> Iterator[object]:
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        pytest.skip("Chromium or chromedriver not installed")
    driver = make_chrome()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(driver._replica_profile, ignore_errors=True)
