"""robots.txt: fetched once per site and process (httpx, our User-Agent), parsed with Protego, and
fetched again once it is older than the vendor's `politeness.robots_ttl_seconds`.

What a download means follows RFC 9309 (2.3.1): a 2xx gives the rules; a 4xx (404 included) means there
are none, everything is allowed; a 5xx or 429, or a site that cannot be reached (after the retries),
disallows everything until a later download succeeds, which is tried again after
`unavailable_retry_seconds`. A request that cannot even be sent (our own User-Agent or URL is not
valid) disallows everything too, and says why: config.py refuses such values at load, so this is the
last line, never a pass.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import httpx
from protego import Protego

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 3600.0  # Politeness.robots_ttl_seconds' default
UNAVAILABLE_RETRY_SECONDS = 60.0  # how long "unavailable" stands before robots.txt is asked for again
ATTEMPTS = 3
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Robots:
    """One download's outcome: the rules (None: no robots.txt, all allowed), or why it is unavailable."""

    rules: Protego | None = None
    unavailable: str | None = None  # set: everything is disallowed, for this reason


_cache: dict[str, tuple[float, Robots]] = {}
_lock = threading.Lock()


def download(base_url: str, user_agent: str, attempts: int = ATTEMPTS,
             timeout: float = REQUEST_TIMEOUT_SECONDS) -> Robots:
    """Fetch and judge `<base_url>/robots.txt`; 5xx, 429 and network errors are retried."""
    url = f"{base_url.rstrip('/')}/robots.txt"
    problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.get(url, headers={"User-Agent": user_agent}, timeout=timeout, follow_redirects=True)
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL, ValueError) as exc:
            # Our own request is not valid (an illegal header value, a bad URL): retrying cannot help.
            return Robots(unavailable=f"request cannot be sent: {type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:  # refused, timed out, reset, too many redirects, ...
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            status = response.status_code
            if 200 <= status < 300:
                return Robots(rules=Protego.parse(response.text))
            if 400 <= status < 500 and status != 429:
                return Robots()  # no robots.txt: everything allowed
            problem = f"HTTP {status}"
        log.warning("robots.txt %s: %s (attempt %d of %d)", url, problem, attempt, attempts)
        if attempt < attempts:
            time.sleep(0.5 * 2 ** (attempt - 1))
    log.warning("robots.txt %s unavailable; every page of the site is disallowed until it is read", url)
    return Robots(unavailable=f"{problem} after {attempts} attempt(s)")


class RobotsPolicy:
    """Whether a URL may be fetched, and the site's Crawl-delay, for one user agent."""

    def __init__(self, base_url: str, user_agent: str, robots_token: str = "ornament_pipeline",
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, *,
                 unavailable_retry_seconds: float = UNAVAILABLE_RETRY_SECONDS, attempts: int = ATTEMPTS,
                 request_timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent
        self.token = robots_token
        self.ttl_seconds = ttl_seconds
        self.unavailable_retry_seconds = min(unavailable_retry_seconds, ttl_seconds)
        self.attempts = attempts
        self.request_timeout = request_timeout

    def _robots(self) -> Robots:
        with _lock:
            # The cache is per site and shared by every policy of the process; each policy judges an
            # entry's age by its own TTL, so a shorter TTL never waits on a longer one.
            cached = _cache.get(self.base_url)
            if cached:
                read_at, robots = cached
                max_age = self.unavailable_retry_seconds if robots.unavailable else self.ttl_seconds
                if time.monotonic() - read_at < max_age:
                    return robots
        robots = download(self.base_url, self.user_agent, self.attempts, self.request_timeout)
        with _lock:
            _cache[self.base_url] = (time.monotonic(), robots)
        return robots

    def refusal(self, url: str) -> str | None:
        """Why `url` must not be fetched (a page error's reason), or None when it may be."""
        robots = self._robots()
        if robots.unavailable:
            return f"robots.txt unavailable ({robots.unavailable})"
        if robots.rules is not None and not robots.rules.can_fetch(url, self.token):
            return "disallowed by robots.txt"
        return None

    def allowed(self, url: str) -> bool:
        return self.refusal(url) is None

    def crawl_delay(self) -> float | None:
        rules = self._robots().rules
        delay = rules.crawl_delay(self.token) if rules is not None else None
        return float(delay) if delay is not None else None


def clear_cache() -> None:
    """Forget every robots.txt (tests)."""
    with _lock:
        _cache.clear()
