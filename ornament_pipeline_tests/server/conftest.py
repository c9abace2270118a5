"""Server fixtures: one warehouse filled from the replica's truth (5 days, small) shared by the session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import migrate
from ornament_pipeline.listing import Listing
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import create_key
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline.server.testing import load_truth, observed_at
from ornament_pipeline.warehouse.market import refresh_market
from ornament_pipeline.warehouse.offers import refresh_offers
from ornament_pipeline.warehouse.scrapes import merge_observation
from ornament_pipeline_tests.conftest import ADMIN_URL, drop_database

DAYS = 5
# Nothing listens here: POST /syncs must answer 503, not hang or 500.
DEAD_DAGSTER = "http://127.0.0.1:9"


@pytest.fixture(scope="session")
def warehouse_url() -> Iterator[str]:
    name = f"ornaments_test_server_{uuid.uuid4().hex[:8]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine = create_engine(sqlalchemy_url(url))
    load_truth(engine, "small", DAYS)
    refresh_analysis(engine)
    engine.dispose()
    yield url
    drop_database(name)


def refresh_analysis(engine: Engine) -> None:
    """What the `cross_vendor_offers` and `market_prices` assets do after syncs (the market as of the last day)."""
    with engine.begin() as conn:
        refresh_offers(conn)
        refresh_market(conn, observed_at(DAYS - 1))


@pytest.fixture(scope="session")
def engine(warehouse_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(warehouse_url))
    yield engine
    engine.dispose()


def new_key(engine: Engine, scope: str) -> str:
    with engine.begin() as conn:
        _, key = create_key(conn, f"{scope}-{uuid.uuid4().hex[:8]}", scope)
    return key


@pytest.fixture(scope="session")
def read_key(engine: Engine) -> str:
    return new_key(engine, "read")


@pytest.fixture(scope="session")
def admin_key(engine: Engine) -> str:
    return new_key(engine, "admin")


@pytest.fixture(scope="session")
def app(engine: Engine):
    return create_app(engine, ServerConfig(open_reads=False, dagster_url=DEAD_DAGSTER))


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    """A client without a key."""
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def reader(app, read_key: str) -> Iterator[TestClient]:
    """A client sending a read key."""
    with TestClient(app, headers={"X-API-Key": read_key}) as c:
        yield c


@pytest.fixture(scope="session")
def admin(app, admin_key: str) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {admin_key}"}) as c:
        yield c


# Listings built in a test, for a warehouse of its own (`own_client`).
VENDOR = "ornament_shop_com"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def listing(n: int, price: str, availability: str = "available") -> Listing:
    return Listing(vendor=VENDOR, vendor_id=str(1000 + n), name=f"2020 Frosty Friends {n:03d}",
                   availability=availability, link=f"https://example.test/p{n}/", price=Decimal(price),
                   sku=f"QX{6000 + n}MIB", item_number=f"QX{6000 + n}", condition="MIB", release_year=2020)


def merge(engine: Engine, listings: list[Listing], at: datetime) -> None:
    with engine.begin() as conn:
        merge_observation(conn, VENDOR, 2020, listings, at, complete=True, tracked=("price", "availability"))


@pytest.fixture
def own_client(migrated_db_url: str) -> Iterator[tuple[Engine, TestClient]]:
    """An app on a fresh warehouse of its own (for tests that write), and a client with a read key."""
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    with engine.begin() as conn:
        _, key = create_key(conn, f"read-{uuid.uuid4().hex[:8]}", "read")
    with TestClient(create_app(engine, ServerConfig(open_reads=False)), headers={"X-API-Key": key}) as client:
        yield engine, client
    engine.dispose()
