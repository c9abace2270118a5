"""The three sites' markup, one module per vendor."""

from __future__ import annotations

from ornament_pipeline.replica.sites.hallmark_ornaments import HallmarkOrnaments
from ornament_pipeline.replica.sites.hookedonhallmark import HookedOnHallmark
from ornament_pipeline.replica.sites.ornament_shop import OrnamentShop
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, ORNAMENT_SHOP

SITES: dict[str, type[HookedOnHallmark | OrnamentShop | HallmarkOrnaments]] = {
    HOOKEDONHALLMARK: HookedOnHallmark, ORNAMENT_SHOP: OrnamentShop, HALLMARK_ORNAMENTS: HallmarkOrnaments}
Site = HookedOnHallmark | OrnamentShop | HallmarkOrnaments
