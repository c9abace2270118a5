"""A process that owns a DriverPool leaves no chromedriver or Chromium behind, even when SIGKILLed."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from ornament_pipeline.config import Settings
from ornament_pipeline.integrations.browser import DriverPool

pytestmark = pytest.mark.browser

# The child: a pool of two drivers, each started and used from a thread that then ends (as an executor's
# workers do), one page each; it prints the profiles, then waits to be killed.
CHILD = """
import json, sys, threading
from ornament_pipeline.config import Settings
from ornament_pipeline.integrations.browser import DriverPool

pool = DriverPool(Settings(vendors={}), 2, page_timeout=10)
profiles, barrier = [], threading.Barrier(2)
def use():
    with pool.acquire() as pooled:
        barrier.wait()  # both drivers exist at once
        pooled.driver.get(sys.argv[1])
        assert "marker page" in pooled.driver.page_source
        profiles.append(pooled.profile)
threads = [threading.Thread(target=use) for _ in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(profiles), flush=True)
threading.Event().wait()
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<html><head><title>ok</title></head><body>marker page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def referencing(marker: str, profiles: list[str]) -> dict[int, str]:
    """pid -> command line of every process whose environment holds `marker` or whose command line names
    one of `profiles` (Chromium's zygote and renderers start with a cleaned environment)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie is dead already, waiting for its (new) parent to reap it
        except OSError:
            continue
        if marker.encode() in environ or any(f"--user-data-dir={p}" in cmdline for p in profiles):
            found[int(entry)] = cmdline[:120]
    return found


def test_sigkilled_owner_leaves_no_browser_behind(page_url: str, tmp_path) -> None:
    marker = f"ORNAMENTS_TEST_MARKER={uuid.uuid4().hex}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    child = subprocess.Popen([sys.executable, "-c", CHILD, page_url], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=env, text=True)
    profiles: list[str] = []
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line, f"the child failed before it was ready (exit code {child.poll()})"
        profiles = json.loads(line)
        assert len(profiles) == 2
        running = referencing(marker, profiles)
        names = " ".join(running.values())
        assert "chromedriver" in names and "--type=renderer" in names  # the check sees what it must
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (left := referencing(marker, profiles)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == {}, f"left behind after SIGKILL: {left}"
    finally:
        child.kill()
        child.wait(timeout=10)
        for pid in referencing(marker, profiles):  # don't leave the old code's leak to other tests
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


def test_drivers_outlive_the_thread_that_started_them(page_url: str) -> None:
    """The parent-death signal fires when the *thread* that started a process ends: a driver created by a
    short-lived worker thread must go on working in the pool."""
    with DriverPool(Settings(vendors={}), 1, page_timeout=10) as pool:
        def start() -> None:
            with pool.acquire() as pooled:
                pooled.driver.get(page_url)

        worker = threading.Thread(target=start)
        worker.start()
        worker.join()
        time.sleep(1.0)
        with pool.acquire() as pooled:
            pooled.driver.get(page_url)
            assert "marker page" in pooled.driver.page_source
        assert pool.created == 1 and pool.replaced == 0
