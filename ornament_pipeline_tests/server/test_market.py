"""The fair price (`market_prices`, warehouse/market.py): built by its asset, served by `GET /ornaments/{item}`
with deal marks at `market.deal_share` under it."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from ornament_pipeline.config import ConfigError, MarketConfig, load_settings
from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.listing import Listing
from ornament_pipeline.pipeline.market import market_prices
from ornament_pipeline.pipeline.resources import SettingsResource, WarehouseResource
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import create_key
from ornament_pipeline.server.config import ServerConfig, server_config
from ornament_pipeline.warehouse.market import WINDOW_DAYS, refresh_market
from ornament_pipeline.warehouse.offers import refresh_offers
from ornament_pipeline.warehouse.products import LAST_SEEN, WATERMARK_JOIN
from ornament_pipeline.warehouse.scrapes import merge_observation
from ornament_pipeline_tests.conftest import pipeline_instance

from .test_products import sql

REPO = Path(__file__).resolve().parents[2]
ITEM = "QX6001"
DAY = timedelta(days=1)
# (days before the last observation, vendor, vendor id, price, availability): what each scrape of QX6001MIB saw.
# In stock inside the 90-day window: $5 for 1 day (the rest of that version is older), $10 for 1, $20 for 3,
# $24 for 1, $30 for 8 and $40 for 2: 16 days, of which 8 are reached at $30. Per version (5, 10, 20, 24, 30,
# 40) the median would be $20 or $24. The $1 version ended before the window.
SCRAPES = [
    (200, "hallmark_ornaments_com", "a1", "1.00", "available"),
    (100, "hallmark_ornaments_com", "a1", "5.00", "available"),
    (89, "hallmark_ornaments_com", "a1", "5.00", "unavailable"),
    (0, "hallmark_ornaments_com", "a1", "5.00", "unavailable"),
    (10, "ornament_shop_com", "o1", "10.00", "available"),
    (9, "ornament_shop_com", "o1", "20.00", "available"),
    (6, "ornament_shop_com", "o1", "20.00", "unavailable"),
    (1, "ornament_shop_com", "o1", "20.00", "unavailable"),
    (1, "ornament_shop_com", "o4", "24.00", "available"),
    (0, "ornament_shop_com", "o1", "20.00", "unavailable"),
    (0, "ornament_shop_com", "o4", "24.00", "available"),
    (10, "hookedonhallmark_com", "h1", "40.00", "available"),
    (8, "hookedonhallmark_com", "h1", "30.00", "available"),
    (0, "hookedonhallmark_com", "h1", "30.00", "available"),
]
FAIR = "30.00"


def record_scrapes(engine: Engine, last: datetime) -> None:
    """Each vendor's complete scrape of its 2020 page at each time, oldest first."""
    seen: dict[tuple[int, str], list[Listing]] = defaultdict(list)
    for days, vendor, vendor_id, price, availability in SCRAPES:
        seen[(days, vendor)].append(Listing(
            vendor=vendor, vendor_id=vendor_id, name=f"2020 Fair Test {vendor_id}", availability=availability,
            link=f"https://example.test/{vendor_id}", price=Decimal(price), sku=f"{ITEM}MIB", item_number=ITEM,
            condition="MIB", release_year=2020))
    for (days, vendor), listings in sorted(seen.items(), key=lambda entry: -entry[0][0]):
        with engine.begin() as conn:
            merge_observation(conn, vendor, 2020, listings, last - days * DAY, complete=True,
                              tracked=("price", "availability"))
    with engine.begin() as conn:
        refresh_offers(conn)


def client_for(engine: Engine, deal_share: str) -> TestClient:
    with engine.begin() as conn:
        _, key = create_key(conn, f"read-{uuid.uuid4().hex[:8]}", "read")
    app = create_app(engine, ServerConfig(deal_share=Decimal(deal_share)))
    return TestClient(app, headers={"X-API-Key": key})


@pytest.fixture
def market_engine(migrated_db_url: str):
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    yield engine
    engine.dispose()


def test_fair_price_is_the_time_weighted_median_with_its_evidence(market_engine: Engine) -> None:
    last = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    record_scrapes(market_engine, last)
    with market_engine.begin() as conn:
        summary = refresh_market(conn, as_of=last)
    assert (summary.ornaments, summary.multi_vendor, summary.observations) == (1, 1, 6)
    with client_for(market_engine, "0.2") as client:
        body = client.get(f"/api/v1/ornaments/{ITEM.lower()}").json()
    [condition] = body["conditions"]
    assert condition["condition"] == "MIB"
    market = condition["market"]
    assert (market["fair_price"], market["observations"], market["vendors"], market["listings"]) == (FAIR, 6, 3, 4)
    assert market["window_to"] == "2026-06-01T06:00:00Z"
    assert market["window_from"] == (last - WINDOW_DAYS * DAY).isoformat().replace("+00:00", "Z")
    by_vendor_id = {o["link"].rsplit("/", 1)[1]: o for o in body["offers"]}
    # $24 is 20% under $30: a deal at deal_share 0.2 (the boundary counts); $30 is not, $20 is out of stock.
    assert {k: o["deal"] for k, o in by_vendor_id.items()} == {"a1": False, "o1": False, "o4": True, "h1": False}
    assert by_vendor_id["o4"]["gap_to_fair_price"] == "-6.00" and by_vendor_id["h1"]["gap_to_fair_price"] == "0.00"
    assert body["deal_share"] == "0.2"
    with client_for(market_engine, "0.25") as stricter:
        assert not any(o["deal"] for o in stricter.get(f"/api/v1/ornaments/{ITEM}").json()["offers"])


def weighted_medians(engine: Engine, window_from: datetime, window_to: datetime) -> dict:
    """The definition in Python, from the history rows: per (item, condition) the lowest price at which half of
    the in-stock time inside the window is reached, with versions, vendors and listings counted."""
    spans: dict[tuple[str, str], list[tuple[Decimal, timedelta, str, int]]] = defaultdict(list)
    rows = sql(engine, "SELECT COALESCE(h.item_number, p.item_number), COALESCE(h.condition, p.condition, ''),"
                       f" p.vendor, p.id, h.price, h.valid_from, COALESCE(h.valid_to, {LAST_SEEN})"
                       f" FROM price_history h JOIN products p ON p.id = h.product_id {WATERMARK_JOIN}"
                       " WHERE h.availability = 'available' AND h.price IS NOT NULL AND NOT h.is_delisted")
    for item, condition, vendor, product_id, price, start, end in rows:
        held = min(end, window_to) - max(start, window_from)
        if item and held > timedelta(0):
            spans[(item, condition)].append((price, held, vendor, product_id))
    out = {}
    for key, held in spans.items():
        total = sum((h for _, h, _, _ in held), timedelta(0))
        running, ordered = timedelta(0), sorted(held, key=lambda s: s[0])
        fair = next(price for price, h, _, _ in ordered if (running := running + h) * 2 >= total)
        out[key] = (fair, len(held), len({v for _, _, v, _ in held}), len({p for _, _, _, p in held}))
    return out


def test_fair_prices_of_the_replica_catalogue_match_the_definition(engine: Engine) -> None:
    stored = {(i, c): (p, o, v, n) for i, c, p, o, v, n, in sql(
        engine, "SELECT item_number, condition, fair_price, observations, vendors, listings FROM market_prices")}
    window_from, window_to = sql(engine, "SELECT DISTINCT window_from, window_to FROM market_prices")[0]
    assert window_to - window_from == WINDOW_DAYS * DAY
    assert stored == weighted_medians(engine, window_from, window_to)
    assert len(stored) > 100 and any(v > 1 for _, _, v, _ in stored.values())


def test_the_asset_builds_the_market_table(market_engine: Engine, migrated_db_url: str) -> None:
    record_scrapes(market_engine, datetime.now(UTC) - timedelta(minutes=1))
    resources = {"warehouse": WarehouseResource(settings=SettingsResource(), database_url=migrated_db_url)}
    result = dg.materialize([market_prices], resources=resources, instance=pipeline_instance())
    assert result.success
    metadata = result.asset_materializations_for_node("market_prices")[0].metadata
    assert metadata["dagster/row_count"].value == 1 and metadata["observations"].value == 6
    assert sql(market_engine, "SELECT item_number, condition, fair_price::text, vendors FROM market_prices") == [
        (ITEM, "MIB", FAIR, 3)]


def test_unknown_and_malformed_item_numbers(reader: TestClient) -> None:
    missing = reader.get("/api/v1/ornaments/QX0000")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no listing carries item number QX0000"
    for bad in ("QX%206001", "-QX6001", "Q" * 33, "QX6001%00"):
        response = reader.get(f"/api/v1/ornaments/{bad}")
        assert response.status_code == 422, bad
        assert response.json()["error"]["fields"][0]["field"] == "item_number"


@pytest.mark.parametrize(("value", "message"), [
    (0, "market.deal_share: Input should be greater than 0"),
    (1, "market.deal_share: Input should be less than 1"),
    ("a lot", "market.deal_share: Input should be a valid number"),
])
def test_deal_share_is_validated_naming_its_key(tmp_path: Path, value: object, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"vendors": {}, "market": {"deal_share": value}}))
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: ")


def test_deal_share_default_in_files_and_built_in() -> None:
    for name in ("default.json", "replica.json"):
        settings = load_settings(REPO / "config" / name)
        assert settings.market.deal_share == 0.2
        assert server_config(settings).deal_share == Decimal("0.2")
    assert MarketConfig().deal_share == 0.2 and ServerConfig().deal_share == Decimal("0.2")  # built in


def test_an_offer_without_history_in_the_window_has_no_fair_price(own_client) -> None:
    engine, client = own_client
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, item_number, condition, name, price, availability, link)"
            " VALUES ('ornament_shop_com', 'x', 'QX6100', 'NB', 'No history', 5.00, 'available', 'https://e.test/')"))
        refresh_offers(conn)
        refresh_market(conn)
    body = client.get("/api/v1/ornaments/QX6100").json()
    assert body["conditions"][0]["market"] is None
    assert body["offers"][0]["deal"] is False and body["offers"][0]["gap_to_fair_price"] is None
