"""The three resellers, keyed the same way everywhere: config, partitions, database."""

from __future__ import annotations

HOOKEDONHALLMARK = "hookedonhallmark_com"
ORNAMENT_SHOP = "ornament_shop_com"
HALLMARK_ORNAMENTS = "hallmark_ornaments_com"

VENDOR_KEYS: tuple[str, ...] = (HOOKEDONHALLMARK, ORNAMENT_SHOP, HALLMARK_ORNAMENTS)

LIVE_BASE_URLS: dict[str, str] = {
    HOOKEDONHALLMARK: "https://www.hookedonhallmark.com",
    ORNAMENT_SHOP: "https://www.ornament-shop.com",
    HALLMARK_ORNAMENTS: "https://www.hallmarkornaments.com",
}

FIRST_YEAR = 1973


def base_url_env_var(vendor: str) -> str:
    """`ornament_shop_com` -> `ORNAMENT_SHOP_COM_BASE_URL`."""
    return f"{vendor.upper()}_BASE_URL"
