"""robots.txt per RFC 9309 against a real HTTP server on 127.0.0.1: a 4xx allows everything; a 5xx,
429, timeout or refused connection disallows everything until a later download succeeds; a request we
cannot even send disallows everything too. No browser is needed: refusals come before any page load."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from ornament_pipeline.config import Politeness, Settings, VendorConfig
from ornament_pipeline.integrations import robots
from ornament_pipeline.integrations.browser import DriverPool
from ornament_pipeline.integrations.errors import ScrapeError
from ornament_pipeline.integrations.fetch import Fetcher
from ornament_pipeline.integrations.robots import RobotsPolicy

from .conftest import free_port

RULES = "User-agent: *\nDisallow: /private\n"


@dataclass
class Site:
    """What the server answers for /robots.txt: one (status or "hang", body) per request, the last repeated."""

    url: str
    answers: list[tuple[int | str, str]] = field(default_factory=lambda: [(200, RULES)])
    requests: list[str] = field(default_factory=list)

    def answer(self, *answers: tuple[int | str, str]) -> None:
        self.answers = list(answers)

    def robots_requests(self) -> int:
        return self.requests.count("/robots.txt")


@pytest.fixture
def site() -> Iterator[Site]:
    handle = Site("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            handle.requests.append(self.path)
            status, body = handle.answers.pop(0) if len(handle.answers) > 1 else handle.answers[0]
            if self.path != "/robots.txt":
                status, body = 200, "<html><body>a page</body></html>"
            if status == "hang":
                time.sleep(1.5)  # longer than the policy's request timeout
                return
            data = body.encode()
            self.send_response(int(status))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    handle.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    robots.clear_cache()
    yield handle
    robots.clear_cache()
    server.shutdown()
    server.server_close()


def policy(site: Site, user_agent: str = "ornament_pipeline/test", **options: float) -> RobotsPolicy:
    options = {"attempts": 2, "request_timeout": 0.5, **options}
    return RobotsPolicy(site.url, user_agent, **options)  # type: ignore[arg-type]


def test_rules_of_a_200_are_obeyed(site: Site) -> None:
    rules = policy(site)
    assert rules.allowed(f"{site.url}/public")
    assert rules.refusal(f"{site.url}/private/x") == "disallowed by robots.txt"


@pytest.mark.parametrize("status", [404, 403, 410])
def test_a_4xx_allows_everything(site: Site, status: int) -> None:
    site.answer((status, "no such file"))
    assert policy(site).allowed(f"{site.url}/private/x")
    assert site.robots_requests() == 1  # a 4xx is an answer, not retried


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_5xx_or_429_disallows_everything(site: Site, status: int) -> None:
    site.answer((status, "busy"))
    rules = policy(site)
    assert rules.refusal(f"{site.url}/public") == f"robots.txt unavailable (HTTP {status} after 2 attempt(s))"
    assert site.robots_requests() == 2  # retried, then refused
    assert rules.crawl_delay() is None


def test_a_timeout_disallows_everything(site: Site) -> None:
    site.answer(("hang", ""))
    reason = policy(site, request_timeout=0.3).refusal(f"{site.url}/public")
    assert reason is not None and reason.startswith("robots.txt unavailable (ReadTimeout")


def test_an_unreachable_site_disallows_everything() -> None:
    robots.clear_cache()
    rules = RobotsPolicy(f"http://127.0.0.1:{free_port()}", "ornament_pipeline/test", attempts=2)
    reason = rules.refusal("/public")
    assert reason is not None and reason.startswith("robots.txt unavailable (ConnectError")


def test_a_transient_5xx_is_retried(site: Site) -> None:
    site.answer((503, "busy"), (200, RULES))
    rules = policy(site)
    assert rules.allowed(f"{site.url}/public") and not rules.allowed(f"{site.url}/private")


def test_disallowed_until_a_later_download_succeeds(site: Site) -> None:
    site.answer((503, "busy"))
    rules = policy(site, unavailable_retry_seconds=0.5)
    assert not rules.allowed(f"{site.url}/public")
    site.answer((200, RULES))
    assert not rules.allowed(f"{site.url}/public")  # within the retry interval: still refused, not asked
    assert site.robots_requests() == 2
    time.sleep(0.6)
    assert rules.allowed(f"{site.url}/public")
    assert site.robots_requests() == 3


@pytest.mark.parametrize("user_agent", ["ornament_pipeline\r\nX-Injected: 1", "caf\u00e9 bot"])
def test_a_request_we_cannot_send_disallows_everything(site: Site, user_agent: str) -> None:
    """The defect: an illegal User-Agent made every robots.txt request fail inside httpx, and the scraper
    went on as if there were no rules. (config.py now refuses such a value at load.)"""
    reason = policy(site, user_agent=user_agent).refusal(f"{site.url}/private/x")
    assert reason is not None and reason.startswith("robots.txt unavailable (request cannot be sent: ")
    assert site.robots_requests() == 0


def test_the_refusal_is_the_pages_error_reason(site: Site) -> None:
    site.answer((503, "busy"))
    politeness = Politeness(min_delay_seconds=0, max_retries=0)
    settings = Settings(vendors={"ornament_shop_com": VendorConfig(base_url=site.url, politeness=politeness)})
    pool = DriverPool(settings, 1)  # never asked for a driver: nothing may be fetched
    fetcher = Fetcher("ornament_shop_com", site.url, settings, politeness, pool)
    with pytest.raises(ScrapeError) as caught:
        fetcher.fetch(f"{site.url}/ornaments/2020.html", parse=lambda page: page)
    assert caught.value.vendor == "ornament_shop_com" and caught.value.url.endswith("/ornaments/2020.html")
    assert caught.value.reason.startswith("robots.txt unavailable (HTTP 503 after 3 attempt(s))")
    assert "/ornaments/2020.html" not in site.requests and pool.created == 0
