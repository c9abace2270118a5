"""WebDriver resource: headless Chromium via /usr/bin/chromedriver, or a remote WebDriver (Selenium Grid).

`DriverPool(settings, size)` keeps up to `size` drivers, reused across pages; a driver that crashed or
hung is quit and replaced on the next acquire, and every driver is recycled after
`selenium.driver_max_pages` pages.

A local chromedriver and its Chromium die with the process that started them, even when it is killed
with SIGKILL (no Python cleanup runs then): each is started through a launcher that sets Linux's
`PR_SET_PDEATHSIG` (SIGKILL) before exec'ing the real binary, chromedriver as a child of one thread that
lives as long as the process, Chromium as chromedriver's child. Chromium's own children (zygote,
renderers, GPU, network, crashpad handler) exit by themselves once the browser process is gone. Remote
WebDriver sessions (Selenium Grid) are the Grid's to end: out of reach of this.
"""

from __future__ import annotations

import logging
import os
import queue
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import SessionNotCreatedException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from ornament_pipeline.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
# A Grid keeps handing new sessions to a node that died until its health check marks it down: a remote
# session that could not be created is asked for again, this many times, waiting 1, 2, 4... seconds between.
REMOTE_SESSION_ATTEMPTS = 6

CHROMIUM_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--window-size=1280,1024",
)
DEFAULT_CHROMIUM = "/usr/bin/chromium"
PROFILE_ENV = "ORNAMENTS_BROWSER_PROFILE"  # in chromedriver's environment, so inherited by what it starts
LAUNCHER_NAME = "ornaments-chromium-launcher"  # the wrapper given to chromedriver as the browser binary

# Run argv[2:] with SIGKILL as its parent-death signal (kept across exec), unless the expected parent
# (argv[1]) died before the signal was set: then nothing would ever deliver it.
_DIE_WITH_PARENT = (
    "import ctypes,os,sys\n"
    "if ctypes.CDLL(None,use_errno=True).prctl(1,9,0,0,0):"  # PR_SET_PDEATHSIG=1, SIGKILL=9
    "sys.exit('prctl(PR_SET_PDEATHSIG) failed: '+os.strerror(ctypes.get_errno()))\n"
    "if os.getppid()!=int(sys.argv[1]):sys.exit('parent already gone')\n"
    "os.execv(sys.argv[2],sys.argv[2:])"
)


def _can_tie_to_parent() -> bool:
    return sys.platform.startswith("linux") and bool(sys.executable)


def tied_to_parent(parent: str, argv: list[str]) -> list[str]:
    """`argv` run so that it gets SIGKILL when `parent` (a pid, or "$PPID" in a shell script) dies."""
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, parent, *argv]


def write_chromium_launcher(profile: str, chromium: str) -> str:
    """An executable in `profile` that chromedriver starts as the browser: it runs `chromium` tied to
    chromedriver's life. (chromedriver takes one binary path, no arguments, hence a script.)"""
    path = os.path.join(profile, LAUNCHER_NAME)
    command = " ".join('"$PPID"' if part == "$PPID" else shlex.quote(part)
                       for part in tied_to_parent("$PPID", [chromium]))
    with open(path, "w") as handle:
        handle.write(f'#!/bin/sh\nexec {command} "$@"\n')
    os.chmod(path, 0o700)
    return path


class _Spawner:
    """The one thread that starts every local chromedriver. The parent-death signal fires when the
    *thread* that forked a child ends, not the process: a pool's worker threads come and go (an executor's
    threads end with it) while its drivers live on, so chromedriver must be no child of one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()

    def run(self, job: Callable[[], T]) -> T:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child (which has no copy of the thread)
                self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._serve, args=(self._jobs,), name="chromedriver-spawner",
                                 daemon=True).start()
                self._pid = os.getpid()
            done: Future[object] = Future()
            self._jobs.put((job, done))
        return done.result()  # type: ignore[return-value]

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]]) -> None:
        while True:
            job, done = jobs.get()
            try:
                done.set_result(job())
            except BaseException as exc:  # handed to the caller, who raises it
                done.set_exception(exc)


_spawner = _Spawner()


class TiedService(Service):
    """chromedriver started by the spawner thread, through the launcher that ties it to this process."""

    def __init__(self, chromedriver: str, profile: str) -> None:
        self._chromedriver = chromedriver
        self._tied = _can_tie_to_parent()
        if self._tied and not os.path.isfile(chromedriver):  # the launcher would fail less clearly
            raise FileNotFoundError(f"chromedriver not found: {chromedriver}")
        # Selenium runs [path, *command_line_args()]: path is the interpreter that runs the launcher.
        super().__init__(executable_path=sys.executable if self._tied else chromedriver,
                         env={**os.environ, PROFILE_ENV: profile})

    def command_line_args(self) -> list[str]:
        args = super().command_line_args()
        if not self._tied:
            return args
        return tied_to_parent(str(os.getpid()), [self._chromedriver])[1:] + args  # [1:]: the path

    def _start_process(self, path: str) -> None:
        _spawner.run(lambda: super(TiedService, self)._start_process(path))


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
        try:
            if binary and _can_tie_to_parent():
                options.binary_location = write_chromium_launcher(profile, binary)
            elif binary:
                options.binary_location = binary
            else:
                log.warning("no Chromium binary configured; chromedriver picks one, not tied to this process")
            driver = webdriver.Chrome(service=TiedService(sel.chromedriver_path, profile), options=options)
        except Exception:
            kill_browsers_using(profile)  # whatever started before the failure
            shutil.rmtree(profile, ignore_errors=True)
            raise
        executor = driver.command_executor
        assert isinstance(executor, RemoteConnection)  # a driver we built always has its connection object
        executor.client_config.timeout = command_timeout
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


def processes_using(profile: str) -> list[int]:
    """Processes started with `--user-data-dir=<profile>`, or with `PROFILE_ENV=<profile>` in their
    environment (chromedriver, and the crashpad handler that Chromium starts detached)."""
    flag = f"--user-data-dir={profile}".encode()
    variable = f"{PROFILE_ENV}={profile}".encode()
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                hit = flag in handle.read().split(b"\0")
            if not hit:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    hit = variable in handle.read().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        if hit:
            found.append(int(entry))
    return found


def kill_browsers_using(profile: str) -> None:
    """Kill the processes of a profile only this driver used (see `processes_using`)."""
    for pid in processes_using(profile):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
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
        attempts = REMOTE_SESSION_ATTEMPTS if self.settings.selenium.remote_url else 1
        for attempt in range(1, attempts + 1):
            try:
                driver, profile = make_driver(self.settings, self.page_timeout)
                break
            except SessionNotCreatedException as exc:
                if attempt == attempts:
                    raise
                first_line = (exc.msg or "").splitlines()[0] if exc.msg else type(exc).__name__
                log.warning("remote WebDriver session not created (%s); asking again", first_line)
                time.sleep(min(2 ** (attempt - 1), 8))
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
