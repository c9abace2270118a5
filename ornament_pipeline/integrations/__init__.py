"""Scrapers for the three vendor sites: fetch (browser + politeness), parse (HTML), normalise.

    from ornament_pipeline.integrations import DriverPool, get_integration
    with DriverPool(settings, 2) as pool:
        scrape = get_integration("ornament_shop_com", settings, pool).get_ornaments_by_year(2020)
"""

from ornament_pipeline.integrations.browser import DriverPool
from ornament_pipeline.integrations.errors import ScrapeError, YearScrape
from ornament_pipeline.integrations.registry import get_integration
from ornament_pipeline.integrations.vendors.base import Integration

__all__ = ["DriverPool", "Integration", "ScrapeError", "YearScrape", "get_integration"]
