"""WebDriver resource: headless Chromium via /usr/bin/chromedriver, or a remote WebDriver (Selenium Grid).

`DriverPool(settings, size)` keeps up to `size` drivers, reused across pages; a driver that crashed or
hung is quit and replaced on the next acquire, and every driver is recycled after
`selenium.driver_max_pages` pages.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from ornament_pipeline.config import Settings

log = logging.getLogger(__name__)

CHROMIUM_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--window-size=1280,1024",
)
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def user_agent(settings: Settings) -> str:
    """The User-Agent every page is fetched with: the project's name plus a contact URL."""
    return f"{settings.scraper.user_agent} (+{settings.scraper.contact_url})"


def chrome_options(settings: Settings, user_data_dir: str | None = None) -> webdriver.ChromeOptions:
    """Options for one Chromium: headless, blocked images, page-load strategy, performance log on."""
    sel = settings.selenium
    options = webdriver.ChromeOptions()
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-agent={user_agent(settings)}")
    if user_data_dir:
        options.add_argument(f"--user-data-dir={user_data_dir}")
    if sel.block_images:
        options.add_argument("--blink-settings=imagesEnabled=false")
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.images": 2})
    options.page_load_strategy = sel.page_load_strategy
    # The performance log carries the DevTools Network events: HTTP status and headers of each page.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    return options


def make_driver(settings: Settings, page_timeout: float = 30.0) -> tuple[WebDriver, str | None]:
    """One new driver and its temporary profile directory (None for a remote driver)."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download anything
    os.environ.setdefault("SE_AVOID_STATS", "true")
    sel = settings.selenium
    command_timeout = int(page_timeout + 30)
    if sel.remote_url:
        options = chrome_options(settings)
        config = ClientConfig(remote_server_addr=sel.remote_url, timeout=command_timeout)
        driver: WebDriver = webdriver.Remote(
            command_executor=RemoteConnection(client_config=config), options=options
        )
        profile = None
    else:
        profile = tempfile.mkdtemp(prefix="ornaments-chromium-")
        options = chrome_options(settings, profile)
        binary = sel.chromium_path or (DEFAULT_CHROMIUM if os.path.exists(DEFAULT_CHROMIUM) else None)
        if binary:
            options.binary_location = binary
        try:
            driver = webdriver.Chrome(service=Service(executable_path=sel.chromedriver_path), options=options)
        except Exception:
            shutil.rmtree(profile, ignore_errors=True)
            raise
        driver.command_executor.client_config.timeout = command_timeout
    driver.set_page_load_timeout(page_timeout)
    driver.set_script_timeout(page_timeout)
    return driver, profile


@dataclass
class PooledDriver:
    """A driver lent by the pool. Call `mark_broken()` when it crashed or hung."""

    driver: WebDriver
    profile: str | None
    pages: int = 0
    broken: bool = False
    origin: str | None = None  # scheme://host of the document loaded now (None: none, or an error page)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark_broken(self) -> None:
        self.broken = True

    def quit(self) -> None:
        try:
            self.driver.quit()
        except Exception as exc:  # a crashed browser may not answer quit
            log.debug("quit failed: %s", exc)
        if self.profile:
            kill_browsers_using(self.profile)  # a Chromium orphaned by a dead chromedriver
            shutil.rmtree(self.profile, ignore_errors=True)


def kill_browsers_using(profile: str) -> None:
    """Kill the processes started with `--user-data-dir=<profile>` (a profile only this driver used)."""
    marker = f"--user-data-dir={profile}".encode()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


class DriverPool:
    """Up to `size` WebDrivers shared by threads. Use as a context manager; `acquire()` lends one."""

    def __init__(self, settings: Settings, size: int | None = None, page_timeout: float = 30.0) -> None:
        self.settings = settings
        self.size = size or settings.selenium.pool_size
        self.page_timeout = page_timeout
        self._idle: queue.LifoQueue[PooledDriver] = queue.LifoQueue()
        self._slots = threading.Semaphore(self.size)
        self._lock = threading.Lock()
        self._all: list[PooledDriver] = []
        self._closed = False
        self.created = 0
        self.replaced = 0

    def __enter__(self) -> DriverPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new(self) -> PooledDriver:
        driver, profile = make_driver(self.settings, self.page_timeout)
        pooled = PooledDriver(driver, profile)
        with self._lock:
            self._all.append(pooled)
            self.created += 1
        return pooled

    def _discard(self, pooled: PooledDriver) -> None:
        pooled.quit()
        with self._lock:
            if pooled in self._all:
                self._all.remove(pooled)

    @contextmanager
    def acquire(self) -> Iterator[PooledDriver]:
        """Lend a driver; a driver marked broken (or past `driver_max_pages`) is quit, not returned."""
        if self._closed:
            raise RuntimeError("driver pool is closed")
        self._slots.acquire()
        pooled: PooledDriver | None = None
        try:
            try:
                pooled = self._idle.get_nowait()
            except queue.Empty:
                pooled = self._new()
            yield pooled
        finally:
            if pooled is not None:
                pooled.pages += 1
                if pooled.broken or pooled.pages >= self.settings.selenium.driver_max_pages or self._closed:
                    if pooled.broken:
                        self.replaced += 1
                        log.warning("replacing a broken WebDriver")
                    self._discard(pooled)
                else:
                    self._idle.put(pooled)
            self._slots.release()

    def close(self) -> None:
        """Quit every driver (idle or not)."""
        self._closed = True
        with self._lock:
            drivers = list(self._all)
            self._all.clear()
        for pooled in drivers:
            pooled.quit()
