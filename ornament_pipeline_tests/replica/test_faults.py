"""Each fault appears at about its rate; the spec parses or fails clearly."""

from __future__ import annotations

import math
import time

import httpx
import pytest

from ornament_pipeline.replica.faults import FaultSpecError, parse_faults
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP, VENDOR_KEYS
from ornament_pipeline_tests.replica import scrape


def within(count: int, n: int, rate: float) -> bool:
    """Within 4.5 binomial standard deviations (plus one) of n * rate."""
    return abs(count - n * rate) <= 4.5 * math.sqrt(n * rate * (1 - rate)) + 1


def test_spec_parsing() -> None:
    plan = parse_faults("seed=3;*:500=0.1;ornament_shop_com:429=0.2,retry_after=7,robots=/a/|/b/")
    assert plan.seed == 3
    assert all(plan.vendors[v].rates["500"] == 0.1 for v in VENDOR_KEYS)
    assert plan.vendors[ORNAMENT_SHOP].retry_after == 7 and plan.vendors[ORNAMENT_SHOP].robots == ("/a/", "/b/")
    assert parse_faults(plan.to_spec()).vendors == plan.vendors
    assert parse_faults("").to_spec() == "" and parse_faults(None).vendors[HOOKEDONHALLMARK].rates == {}
    for bad in ("nosuchvendor:500=0.1", "*:500=2", "*:teapot=0.1", "*:500", "junk", "*:500=0.6,503=0.6"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)


def test_faults_off_by_default(replica: ReplicaHandle, client: httpx.Client) -> None:
    url = replica.truth(HOOKEDONHALLMARK)[0].link
    assert all(client.get(url).status_code == 200 for _ in range(200))


def test_request_faults_at_their_rates(replica: ReplicaHandle) -> None:
    rates = {"500": 0.08, "503": 0.05, "429": 0.07, "truncate": 0.06, "drop": 0.05, "noprice": 0.1}
    spec = "seed=11;hookedonhallmark_com:" + ",".join(f"{k}={v}" for k, v in rates.items()) + ",retry_after=3"
    item = replica.truth(HOOKEDONHALLMARK)[0]
    full = httpx.get(item.link).text
    replica.set_faults(spec)
    counts = dict.fromkeys(rates, 0)
    counts["ok"] = 0
    n = 1500
    try:
        with httpx.Client(timeout=10) as client:
            for _ in range(n):
                try:
                    r = client.get(item.link)
                except httpx.RemoteProtocolError:
                    counts["drop"] += 1
                    continue
                if r.status_code != 200:
                    counts[str(r.status_code)] += 1
                    if r.status_code == 429:
                        assert r.headers["retry-after"] == "3"
                    continue
                if not r.text.rstrip().endswith("</html>"):
                    counts["truncate"] += 1
                    # A cut of the page (maybe of its price-less version: faults combine).
                    assert r.text[:100] == full[:100] and len(r.text) < len(full)
                    continue
                counts["ok"] += 1
                if 'id="price"' not in r.text:
                    counts["noprice"] += 1
                    assert '"price"' not in r.text  # _3d_item has no price either
                else:
                    assert r.text == full
        # Other vendors are untouched.
        other = replica.truth(ORNAMENT_SHOP)[0].link
        assert all(httpx.get(other).status_code == 200 for _ in range(50))
    finally:
        replica.set_faults(None)
    for key in ("500", "503", "429", "truncate", "drop"):
        assert within(counts[key], n, rates[key]), (key, counts)
    assert within(counts["noprice"], counts["ok"], rates["noprice"]), counts


def test_slow_responses_at_their_rate(replica: ReplicaHandle, client: httpx.Client) -> None:
    replica.set_faults("seed=5;ornament_shop_com:slow=0.2,slow_seconds=0.15")
    url = replica.base_urls[ORNAMENT_SHOP] + "/hallmark-ornaments-by-year.html"
    slow, n = 0, 120
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            assert client.get(url).status_code == 200
            slow += time.perf_counter() - t0 >= 0.14
    finally:
        replica.set_faults(None)
    assert within(slow, n, 0.2), slow


def test_noprice_on_every_site(replica: ReplicaHandle, client: httpx.Client) -> None:
    replica.set_faults("*:noprice=1")
    try:
        hh = scrape.hh_product(client, replica.truth(HOOKEDONHALLMARK)[0].link)
        os_ = scrape.os_product(client, replica.truth(ORNAMENT_SHOP)[0].link)
        ho = scrape.ho_product(client, replica.truth(HALLMARK_ORNAMENTS)[0].link)
    finally:
        replica.set_faults(None)
    assert hh["price"] is None and ho["price"] is None and os_["price"] is None
    assert "Price:" not in os_["dl"] and all(src[2] is None for src in os_["sources"])


def test_robots_disallow_and_bad_spec_rejected(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[HALLMARK_ORNAMENTS]
    replica.set_faults("hallmark_ornaments_com:robots=/1998_c_263|/product.asp")
    try:
        robots = client.get(base + "/robots.txt").text
        assert "Disallow: /1998_c_263\n" in robots and "Disallow: /product.asp\n" in robots
        assert "1998" not in client.get(replica.base_urls[ORNAMENT_SHOP] + "/robots.txt").text
        with pytest.raises(ValueError, match="unknown fault"):
            replica.set_faults("*:teapot=1")
    finally:
        replica.set_faults(None)
    assert "1998" not in client.get(base + "/robots.txt").text
