"""Fixtures for auditor tests: a migrated warehouse, listings built in the test, a local webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, text

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.listing import Listing
from ornament_pipeline.warehouse.scrapes import merge_observation

SHOP, HALLMARK = "ornament_shop_com", "hallmark_ornaments_com"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
TRACKED = ("price", "availability")
SECRET = "test-secret"


def listing(n: int, price: str | None = "24.95", availability: str = "available", vendor: str = SHOP,
            condition: str = "MIB") -> Listing:
    return Listing(vendor=vendor, vendor_id=str(1000 + n), name=f"2020 Frosty Friends {n}", availability=availability,
                   link=f"https://example.test/{vendor}/p{n}/", price=None if price is None else Decimal(price),
                   sku=f"QX{6000 + n}{condition}", item_number=f"QX{6000 + n}", condition=condition,
                   release_year=2020)


def sync(engine: Engine, vendor: str, listings: list[Listing], at: datetime, year: int = 2020,
         tracked: tuple[str, ...] = TRACKED) -> None:
    """What the scrape and the merge do for one partition."""
    with engine.begin() as conn:
        merge_observation(conn, vendor, year, listings, at, complete=True, tracked=tracked)


def rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    yield engine
    engine.dispose()
