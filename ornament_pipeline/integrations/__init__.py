"""Scrapers for the three vendor sites: fetch (browser + politeness), parse (HTML), normalise.

    from ornament_pipeline.integrations import DriverPool, get_integration
    with DriverPool(settings, 2) as pool:
        scrape = get_integration("ornament_shop_com", settings, pool).get_ornaments_by_year(2020)
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ornament_pipeline.integrations.browser import DriverPool
    from ornament_pipeline.integrations.errors import ScrapeError, YearScrape
    from ornament_pipeline.integrations.registry import get_integration
    from ornament_pipeline.integrations.vendors.base import Integration

# Loaded on first use (PEP 562): the Dagster code location imports `integrations.progress` and
# `integrations.errors`, and should not pay for Selenium, Redis and the fetcher until a step scrapes.
_EXPORTS = {"DriverPool": "browser", "ScrapeError": "errors", "YearScrape": "errors",
            "get_integration": "registry", "Integration": "vendors.base"}

__all__ = ["DriverPool", "Integration", "ScrapeError", "YearScrape", "get_integration"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
