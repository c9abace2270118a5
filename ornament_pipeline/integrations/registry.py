"""Vendor key -> integration."""

from __future__ import annotations

from ornament_pipeline.config import Settings
from ornament_pipeline.integrations.browser import DriverPool
from ornament_pipeline.integrations.vendors.base import Integration, Progress
from ornament_pipeline.integrations.vendors.hallmark_ornaments import HallmarkOrnaments
from ornament_pipeline.integrations.vendors.hookedonhallmark import HookedOnHallmark
from ornament_pipeline.integrations.vendors.ornament_shop import OrnamentShop
from ornament_pipeline.integrations.year_links_cache import YearLinksCache
from ornament_pipeline.vendors import VENDOR_KEYS

INTEGRATIONS: dict[str, type[Integration]] = {
    cls.vendor: cls for cls in (HookedOnHallmark, OrnamentShop, HallmarkOrnaments)
}


class UnknownVendorError(ValueError):
    """A vendor key that is not one of VENDOR_KEYS."""


def get_integration(
    vendor_key: str,
    settings: Settings | None = None,
    pool: DriverPool | None = None,
    *,
    base_url: str | None = None,
    cache: YearLinksCache | None = None,
    progress: Progress | None = None,
) -> Integration:
    """The integration of `vendor_key`; pass `pool` to share browsers (the caller then closes it)."""
    if vendor_key not in INTEGRATIONS:
        raise UnknownVendorError(f"unknown vendor {vendor_key!r}; expected one of {', '.join(VENDOR_KEYS)}")
    return INTEGRATIONS[vendor_key](settings, pool, base_url=base_url, cache=cache, progress=progress)
