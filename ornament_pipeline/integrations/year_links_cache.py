"""Year links cached in Redis with a TTL.

Key: `ornaments:year_links:<vendor>:<base_url>` (the base URL keeps the live site and the replica
apart), value: a JSON object `{"<year>": "<url>", ...}`, TTL `redis.year_links_ttl_seconds` (a week by
default). No Redis, a Redis error or a miss: the caller fetches the year index.
"""

from __future__ import annotations

import json
import logging

import redis

log = logging.getLogger(__name__)
KEY_PREFIX = "ornaments:year_links"


def cache_key(vendor: str, base_url: str, prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:{vendor}:{base_url.rstrip('/')}"


class YearLinksCache:
    """get/put of one vendor's {year: url}; every Redis failure degrades to a miss."""

    def __init__(self, client: redis.Redis | None, ttl_seconds: int, prefix: str = KEY_PREFIX) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.prefix = prefix

    def get(self, vendor: str, base_url: str) -> dict[int, str] | None:
        if self.client is None:
            return None
        try:
            raw = self.client.get(cache_key(vendor, base_url, self.prefix))
        except redis.RedisError as exc:
            log.warning("year-link cache read failed (%s); fetching", exc)
            return None
        if not raw:
            return None
        try:
            return {int(year): str(url) for year, url in json.loads(raw).items()}
        except (ValueError, AttributeError):
            return None

    def put(self, vendor: str, base_url: str, links: dict[int, str]) -> None:
        if self.client is None or not links:
            return
        try:
            payload = json.dumps({str(year): url for year, url in sorted(links.items())})
            self.client.set(cache_key(vendor, base_url, self.prefix), payload, ex=self.ttl)
        except redis.RedisError as exc:
            log.warning("year-link cache write failed (%s)", exc)

    def invalidate(self, vendor: str, base_url: str) -> None:
        if self.client is not None:
            try:
                self.client.delete(cache_key(vendor, base_url, self.prefix))
            except redis.RedisError as exc:
                log.warning("year-link cache delete failed (%s)", exc)
