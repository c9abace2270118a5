"""Year links in Redis (hit, miss, expiry, no Redis) and the `ornaments scrape` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ornament_pipeline.integrations import get_integration
from ornament_pipeline.integrations.year_links_cache import YearLinksCache, cache_key

pytestmark = pytest.mark.browser
VENDOR = "ornament_shop_com"


def test_cache_miss_fetches_and_stores(clean_replica, settings, pool, redis_cache):
    integration = get_integration(VENDOR, settings, pool, cache=redis_cache)
    links = integration.get_year_links()
    assert integration.fetcher.pages_loaded >= 1
    key = cache_key(VENDOR, clean_replica.base_urls[VENDOR], redis_cache.prefix)
    assert 0 < redis_cache.client.ttl(key) <= 60
    assert redis_cache.get(VENDOR, clean_replica.base_urls[VENDOR]) == links


def test_cache_hit_does_not_fetch(clean_replica, settings, pool, redis_cache):
    base = clean_replica.base_urls[VENDOR]
    redis_cache.put(VENDOR, base, {1999: f"{base}/1999-hallmark-ornaments/"})
    integration = get_integration(VENDOR, settings, pool, cache=redis_cache)
    assert integration.get_year_links() == {1999: f"{base}/1999-hallmark-ornaments/"}
    assert integration.fetcher.pages_loaded == 0


def test_cache_expiry_fetches_again(clean_replica, settings, pool, redis_cache):
    short = YearLinksCache(redis_cache.client, 1, prefix=redis_cache.prefix)
    integration = get_integration(VENDOR, settings, pool, cache=short)
    integration.get_year_links()
    loaded = integration.fetcher.pages_loaded
    integration.get_year_links()
    assert integration.fetcher.pages_loaded == loaded  # hit
    time.sleep(1.3)
    assert short.get(VENDOR, clean_replica.base_urls[VENDOR]) is None
    integration.get_year_links()
    assert integration.fetcher.pages_loaded > loaded  # expired: fetched again


def test_no_redis_just_fetches(clean_replica, settings, pool):
    integration = get_integration(VENDOR, settings, pool, cache=YearLinksCache(None, 60))
    assert integration.get_year_links()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from ornament_pipeline.cli import main; main()", "scrape", *args]
    full_env = {**os.environ, "CONFIG_PATH": "config/replica.json", **(env or {})}
    full_env.pop("REDIS_URL", None)
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_cli_year_json_lines(clean_replica):
    base = clean_replica.base_urls[VENDOR]
    done = run_cli(VENDOR, "--year", "1975", "--base-url", base)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    want = {item.vendor_id: item.to_json_dict() for item in clean_replica.truth(VENDOR, 1975)}
    assert {row["vendor_id"]: row["price"] for row in rows} == {k: v["price"] for k, v in want.items()}
    assert list(rows[0]) == list(next(iter(want.values())))
    assert "progress:" in done.stderr


def test_cli_years_and_url(clean_replica):
    vendor = "hallmark_ornaments_com"
    env = {"HALLMARK_ORNAMENTS_COM_BASE_URL": clean_replica.base_urls[vendor]}
    done = run_cli(vendor, "--years", "--format", "table", env=env)
    assert done.returncode == 0 and "1998" in done.stdout
    listing = clean_replica.truth(vendor, 1998)[0]
    done = run_cli(vendor, "--url", listing.link, env=env)
    assert done.returncode == 0 and json.loads(done.stdout) == listing.to_json_dict()


def test_cli_failures_are_clear(clean_replica):
    vendor = "hallmark_ornaments_com"
    base = clean_replica.base_urls[vendor]
    done = run_cli(vendor, "--url", "/Gone_p_424242.html", "--base-url", base)
    assert done.returncode == 1
    assert f"vendor={vendor} url={base}/Gone_p_424242.html reason=HTTP 404" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("no_such_vendor", "--years")
    assert done.returncode == 2 and "unknown vendor" in done.stderr


def test_cli_year_with_failed_pages_exits_non_zero(clean_replica):
    clean_replica.set_faults(f"{VENDOR}:503=1")
    done = run_cli(VENDOR, "--year", "1975", "--base-url", clean_replica.base_urls[VENDOR])
    assert done.returncode == 1
    assert "reason=HTTP 503" in done.stderr and "INCOMPLETE" in done.stderr
