"""Every integration against the replica, with real Chromium: results equal the replica's truth."""

from __future__ import annotations

import pytest

from ornament_pipeline.integrations import get_integration
from ornament_pipeline.listing import Listing
from ornament_pipeline.vendors import VENDOR_KEYS

pytestmark = pytest.mark.browser
# 1975/1998/2005/2020 span several pages; 1998 and 2001 are split years with View All pages at
# hookedonhallmark (both View All variants); 2002 has image year links; 1973 is small.
SAMPLE_YEARS = (1973, 1975, 1998, 2001, 2002, 2020)
LISTING_FIELDS = ("vendor", "vendor_id", "name", "price", "availability", "release_year", "link")


def shown(listing: Listing, fields: tuple[str, ...] = LISTING_FIELDS) -> dict[str, object]:
    data = listing.to_json_dict()
    return {key: data[key] for key in fields}


def comparable(scraped: list[Listing], truth: list[Listing]) -> tuple[dict, dict]:
    """Scraped and true listings by vendor_id, on the fields the scrape saw (all fields it filled)."""
    got = {item.vendor_id: item for item in scraped}
    want = {item.vendor_id: item for item in truth}
    fields = LISTING_FIELDS
    if all(item.sku is not None for item in scraped):
        fields = tuple(item for item in scraped[0].to_json_dict()) if scraped else fields
    return ({k: shown(v, fields) for k, v in got.items()}, {k: shown(v, fields) for k, v in want.items()})


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_year_links_match_the_replica(vendor, clean_replica, settings, pool, no_cache):
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    links = integration.get_year_links()
    truth_years = {item.release_year for item in clean_replica.truth(vendor)}
    assert truth_years <= set(links)
    assert all(url.startswith(clean_replica.base_urls[vendor]) for url in links.values())


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_sample_years_equal_the_truth(vendor, clean_replica, settings, pool, no_cache):
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    for year in SAMPLE_YEARS:
        result = integration.get_ornaments_by_year(year)
        assert result.complete, [str(e) for e in result.failed_pages]
        assert len(result.listings) == len({item.vendor_id for item in result.listings})  # no duplicates
        got, want = comparable(result.listings, clean_replica.truth(vendor, year))
        assert got == want, f"{vendor} {year}"


def test_hookedonhallmark_older_index_layout(clean_replica, settings, pool, no_cache):
    vendor = "hookedonhallmark_com"
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    columns = integration.get_year_links()
    clean_replica.set_options(vendor, index_layout="sub-categories")
    try:
        assert integration.get_year_links(refresh=True) == columns
    finally:
        clean_replica.set_options(vendor, index_layout="columns-5")


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_product_pages_give_every_field(vendor, clean_replica, settings, pool, no_cache):
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    truth = sorted(clean_replica.truth(vendor, 1998), key=lambda item: item.vendor_id)[:6]
    for expected in truth:
        got = integration.get_ornament_by_url(expected.link)
        assert got.to_json_dict() == expected.to_json_dict()


def test_day_change_is_seen(clean_replica, settings, pool, no_cache):
    vendor = "ornament_shop_com"
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    try:
        clean_replica.set_day(5)
        result = integration.get_ornaments_by_year(2020)
        got, want = comparable(result.listings, clean_replica.truth(vendor, 2020))
        assert result.complete and got == want
    finally:
        clean_replica.set_day(0)


@pytest.mark.parametrize("vendor", VENDOR_KEYS)
def test_whole_vendor_equals_the_truth(vendor, clean_replica, settings, pool, no_cache):
    """Every year of a vendor (the year scrapes the pipeline runs), against the whole truth."""
    integration = get_integration(vendor, settings, pool, cache=no_cache)
    scraped: list[Listing] = []
    for year in integration.get_year_links():
        result = integration.get_ornaments_by_year(year)
        assert result.complete, [str(e) for e in result.failed_pages]
        scraped += result.listings
    got, want = comparable(scraped, clean_replica.truth(vendor))
    assert got == want
