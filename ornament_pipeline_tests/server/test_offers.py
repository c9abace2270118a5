"""`GET /ornaments/{item_number}`: one cheapest offer in stock per item and per condition, gaps against them,
read from the `cross_vendor_offers` table the asset builds (from the one ranking, the view `offer_ranking`)."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from ornament_pipeline.warehouse.offers import refresh_offers

from .test_products import sql

# (vendor, vendor_id, condition, price, availability): one item number in three conditions at three vendors.
OFFERS = [
    ("hookedonhallmark_com", "h-mib", "MIB", "20.00", "available"),
    ("ornament_shop_com", "o-mib", "MIB", "20.00", "available"),   # ties with h-mib: h-mib has the lower id
    ("hallmark_ornaments_com", "a-nb", "NB", "15.00", "available"),  # the cheapest in stock of the item
    ("ornament_shop_com", "o-nb", "NB", "12.00", "unavailable"),    # cheaper, but sold out
    ("hallmark_ornaments_com", "a-db", "DB", "30.00", "available"),  # the only DB offer
    ("hookedonhallmark_com", "h-open", "OPEN", None, "unavailable"),
]


def insert_offers(engine: Engine, item_number: str = "QX7001") -> dict[str, int]:
    with engine.begin() as conn:
        return {vendor_id: conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, item_number, condition, name, price, availability, link)"
            " VALUES (:vendor, :vendor_id, :item, :condition, :name, :price, :availability, 'https://example.test/')"
            " RETURNING id"), {"vendor": vendor, "vendor_id": vendor_id, "item": item_number, "condition": condition,
                               "name": f"Test ornament {vendor_id}", "price": price,
                               "availability": availability}).scalar_one()
            for vendor, vendor_id, condition, price, availability in OFFERS}


def refresh(engine: Engine) -> None:
    with engine.begin() as conn:
        refresh_offers(conn)


def test_one_cheapest_per_item_and_per_condition_and_gaps_against_it(own_client: tuple[Engine, TestClient]) -> None:
    engine, client = own_client
    ids = insert_offers(engine)
    refresh(engine)
    body = client.get("/api/v1/ornaments/qx7001").json()
    by_id = {o["product_id"]: o for o in body["offers"]}
    gaps = {vendor_id: by_id[ids[vendor_id]]["gap_to_cheapest"] for vendor_id in ids}
    # Measured against the one cheapest in stock ($15.00, NB), whatever the row's condition.
    assert gaps == {"h-mib": "5.00", "o-mib": "5.00", "a-nb": "0.00", "o-nb": "-3.00", "a-db": "15.00",
                    "h-open": None}
    assert [o["product_id"] for o in body["offers"] if o["cheapest_in_stock"]] == [ids["a-nb"]]
    assert body["cheapest_in_stock"]["product_id"] == ids["a-nb"]
    in_condition = {o["condition"]: o["product_id"] for o in body["offers"] if o["cheapest_in_condition"]}
    assert in_condition == {"MIB": ids["h-mib"], "NB": ids["a-nb"], "DB": ids["a-db"]}  # one each; OPEN: none
    assert {vendor_id: by_id[ids[vendor_id]]["gap_in_condition"] for vendor_id in ids} == {
        "h-mib": "0.00", "o-mib": "0.00", "a-nb": "0.00", "o-nb": "-3.00", "a-db": "0.00", "h-open": None}
    conditions = {c["condition"]: c for c in body["conditions"]}
    assert sorted(conditions) == ["DB", "MIB", "NB", "OPEN"]
    assert conditions["MIB"]["cheapest_in_stock"]["product_id"] == ids["h-mib"]
    assert conditions["OPEN"]["cheapest_in_stock"] is None
    assert [o["product_id"] for o in conditions["NB"]["offers"]] == [ids["o-nb"], ids["a-nb"]]


def test_gaps_match_the_products_table_for_every_item(reader: TestClient, engine: Engine) -> None:
    """Across the replica's catalogue: one cheapest per item, and every gap is against it (not all "0.00")."""
    items = [row[0] for row in sql(engine, "SELECT item_number FROM products WHERE delisted_at IS NULL"
                                           " AND item_number IS NOT NULL GROUP BY 1 HAVING count(*) > 1 ORDER BY 1")]
    assert len(items) > 20
    nonzero = 0
    for item in items[:40]:
        body = reader.get(f"/api/v1/ornaments/{item}").json()
        rows = sql(engine, "SELECT id, price, availability FROM products WHERE item_number = :i"
                           " AND delisted_at IS NULL", i=item)
        in_stock = [(price, pid) for pid, price, availability in rows if availability == "available" and price]
        assert sorted(o["product_id"] for o in body["offers"]) == sorted(r[0] for r in rows)
        flagged = [o["product_id"] for o in body["offers"] if o["cheapest_in_stock"]]
        assert flagged == ([min(in_stock)[1]] if in_stock else [])
        for offer in body["offers"]:
            expected = (None if offer["price"] is None or not in_stock
                        else str(Decimal(offer["price"]) - min(in_stock)[0]))
            assert offer["gap_to_cheapest"] == expected, (item, offer)
            nonzero += offer["gap_to_cheapest"] not in (None, "0.00")
    assert nonzero > 0


def test_the_api_shows_the_table_the_asset_built(own_client: tuple[Engine, TestClient]) -> None:
    engine, client = own_client
    ids = insert_offers(engine)
    # Before the first refresh: the item is known (200), no offer is compared yet.
    before = client.get("/api/v1/ornaments/QX7001").json()
    assert before["offers"] == [] and before["offers_refreshed_at"] is None and before["cheapest_in_stock"] is None
    refresh(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE products SET price = 9.00 WHERE id = :id"), {"id": ids["a-db"]})
    stale = client.get("/api/v1/ornaments/QX7001").json()
    assert stale["cheapest_in_stock"]["product_id"] == ids["a-nb"] and stale["offers_refreshed_at"]
    refresh(engine)
    fresh = client.get("/api/v1/ornaments/QX7001").json()
    assert fresh["cheapest_in_stock"]["product_id"] == ids["a-db"]
    assert fresh["offers_refreshed_at"] > stale["offers_refreshed_at"]
    assert client.get("/api/v1/ornaments/QX7002").status_code == 404
    assert client.get("/api/v1/ornaments/QX%207001").status_code == 422
