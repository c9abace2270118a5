"""Redis, optional: whatever uses the cache keeps working without it."""

from __future__ import annotations

import logging

import redis

from ornament_pipeline.config import Settings

log = logging.getLogger(__name__)


def redis_client(settings: Settings) -> redis.Redis | None:
    """A client for `REDIS_URL` / `redis.url`, or None when none is configured or it does not answer."""
    if not settings.redis.url:
        return None
    client = redis.Redis.from_url(settings.redis.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        log.warning("Redis at %s unavailable (%s); continuing without the cache", settings.redis.url, exc)
        return None
    return client
