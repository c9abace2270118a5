"""The clock changes prices, stock and the set of listings a little each day, and nothing else."""

from __future__ import annotations

import httpx

from ornament_pipeline.replica.catalogue import catalogue, designs_per_year
from ornament_pipeline.replica.clock import truth
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.vendors import HOOKEDONHALLMARK, ORNAMENT_SHOP, VENDOR_KEYS
from ornament_pipeline_tests.replica import scrape

URLS = {v: f"http://replica/{v}" for v in VENDOR_KEYS}
FIXED = ("vendor", "vendor_id", "name", "link", "sku", "item_number", "condition", "brand", "release_year")


def keyed(rows: list) -> dict[tuple[str, str], object]:
    return {(r.vendor, r.vendor_id): r for r in rows}


def test_day_to_day_changes_are_few_and_only_moving_fields() -> None:
    totals = {"price": 0, "availability": 0, "appeared": 0, "gone": 0}
    common_total = 0
    for day in (0, 30, 200):
        a, b = keyed(truth("full", day, 7, URLS)), keyed(truth("full", day + 1, 7, URLS))
        common = a.keys() & b.keys()
        common_total += len(common)
        for key in common:
            for f in FIXED:
                assert getattr(a[key], f) == getattr(b[key], f), (key, f)
            totals["price"] += a[key].price != b[key].price
            totals["availability"] += a[key].availability != b[key].availability
        totals["appeared"] += len(b.keys() - a.keys())
        totals["gone"] += len(a.keys() - b.keys())
    rates = {k: v / common_total for k, v in totals.items()}
    assert 0.005 < rates["price"] < 0.06, rates
    assert 0.005 < rates["availability"] < 0.06, rates
    assert 0 < rates["appeared"] < 0.02 and 0 < rates["gone"] < 0.02, rates


def test_same_seed_and_day_same_truth_other_seed_differs() -> None:
    assert truth("small", 9, 1, URLS) == truth("small", 9, 1, URLS)
    assert truth("small", 9, 1, URLS) != truth("small", 9, 2, URLS)
    assert truth("small", 9, 1, URLS) != truth("small", 10, 1, URLS)


def test_full_catalogue_has_real_scale_and_shape() -> None:
    cat = catalogue("full", 7)
    assert designs_per_year(1973) == 18 and 180 <= designs_per_year(2000) <= 220 and designs_per_year(2024) >= 400
    assert 8000 <= len(cat.designs) <= 13500
    listings = truth("full", 0, 7, URLS)
    assert 20000 <= len(listings) <= 40000
    by_vendor = {v: {r.item_number for r in listings if r.vendor == v} for v in VENDOR_KEYS}
    overlap = by_vendor[HOOKEDONHALLMARK] & by_vendor[ORNAMENT_SHOP]
    assert 0.2 < len(overlap) / len(by_vendor[HOOKEDONHALLMARK]) < 0.9  # overlapping subsets
    names = " ".join(d.title for d in cat.designs)
    for series in ("Frosty Friends", "Betsey Clark", "Rocking Horse", "Nostalgic Houses and Shops", "Star Wars",
                   "Barbie"):
        assert series in names
    assert {d.item_number[:3] for d in cat.designs} >= {"XHD", "QXM", "QXI", "QXG", "QXR"}
    # One design in two conditions at one vendor: two listings.
    pairs = {(r.vendor, r.item_number) for r in listings}
    assert len(pairs) < len(listings)
    prices = sorted(r.price for r in listings)
    assert prices[0] >= 3 and prices[-1] >= 1000


def test_set_day_changes_served_pages(replica: ReplicaHandle, client: httpx.Client) -> None:
    base = replica.base_urls[ORNAMENT_SHOP]
    start = replica.day
    before = {t.vendor_id: t for t in replica.truth(ORNAMENT_SHOP)}
    try:
        replica.set_day(start + 45)
        after = {t.vendor_id: t for t in replica.truth(ORNAMENT_SHOP)}
        assert before != after
        served = {}
        for url in scrape.os_year_links(client, base).values():
            for page in scrape.os_listing_pages(client, url):
                for card in scrape.os_cards(scrape.fetch(client, page), page):
                    served[card["vendor_id"]] = (card["price"], card["availability"])
        assert served == {k: (t.price, t.availability) for k, t in after.items()}
    finally:
        replica.set_day(start)
