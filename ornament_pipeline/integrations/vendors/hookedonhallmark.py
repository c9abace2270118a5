"""hookedonhallmark.com: year pages with View All, paged listings, product pages."""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar

from ornament_pipeline.integrations.parsers import hookedonhallmark as parser
from ornament_pipeline.integrations.vendors.base import Integration
from ornament_pipeline.vendors import HOOKEDONHALLMARK


class HookedOnHallmark(Integration):
    """3dcart store: `div.product-item` tiles, `div.paging` next links, View All sub-category pages."""

    vendor = HOOKEDONHALLMARK
    parser: ClassVar[ModuleType] = parser
