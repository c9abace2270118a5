"""robots.txt: fetched once per site and process (httpx, our User-Agent), parsed with Protego, and
fetched again once it is older than the vendor's `politeness.robots_ttl_seconds`."""

from __future__ import annotations

import logging
import threading
import time

import httpx
from protego import Protego

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 3600.0  # Politeness.robots_ttl_seconds' default
_cache: dict[str, tuple[float, Protego | None]] = {}
_lock = threading.Lock()


def _download(base_url: str, user_agent: str, attempts: int = 3) -> Protego | None:
    """Protego rules; None means "no rules" (404 and other 4xx, or unreachable after retries)."""
    url = f"{base_url.rstrip('/')}/robots.txt"
    for attempt in range(attempts):
        try:
            response = httpx.get(url, headers={"User-Agent": user_agent}, timeout=10, follow_redirects=True)
        except httpx.HTTPError as exc:
            log.warning("robots.txt %s: %s (attempt %d)", url, exc, attempt + 1)
        else:
            if response.status_code == 200:
                return Protego.parse(response.text)
            if 400 <= response.status_code < 500 and response.status_code != 429:
                return None  # no robots.txt: everything allowed
            log.warning("robots.txt %s: HTTP %d (attempt %d)", url, response.status_code, attempt + 1)
        time.sleep(0.5 * 2**attempt)
    log.warning("robots.txt %s unavailable; proceeding as allowed (as Scrapy does)", url)
    return None


class RobotsPolicy:
    """Whether a URL may be fetched, and the site's Crawl-delay, for one user agent."""

    def __init__(self, base_url: str, user_agent: str, robots_token: str = "ornament_pipeline",
                 ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent
        self.token = robots_token
        self.ttl_seconds = ttl_seconds

    def _rules(self) -> Protego | None:
        with _lock:
            # The cache is per site and shared by every policy of the process; each policy judges an
            # entry's age by its own TTL, so a shorter TTL never waits on a longer one.
            cached = _cache.get(self.base_url)
            if cached and time.monotonic() - cached[0] < self.ttl_seconds:
                return cached[1]
        rules = _download(self.base_url, self.user_agent)
        with _lock:
            _cache[self.base_url] = (time.monotonic(), rules)
        return rules

    def allowed(self, url: str) -> bool:
        rules = self._rules()
        return True if rules is None else rules.can_fetch(url, self.token)

    def crawl_delay(self) -> float | None:
        rules = self._rules()
        delay = rules.crawl_delay(self.token) if rules is not None else None
        return float(delay) if delay is not None else None


def clear_cache() -> None:
    """Forget every robots.txt (tests)."""
    with _lock:
        _cache.clear()
