"""ornament-shop.com: BigCommerce category pages (`?page=N`) and product pages."""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar

from ornament_pipeline.integrations.parsers import ornament_shop as parser
from ornament_pipeline.integrations.vendors.base import Integration
from ornament_pipeline.vendors import ORNAMENT_SHOP


class OrnamentShop(Integration):
    """BigCommerce (Cornerstone): `article.card` tiles, `li.pagination-item--next` links."""

    vendor = ORNAMENT_SHOP
    parser: ClassVar[ModuleType] = parser
