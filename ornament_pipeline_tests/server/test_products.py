"""Products, history, ornaments, vendors, years and changes against the same data read in SQL."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from ornament_pipeline.server.models import HistoryVersion, Product, ProductHistory, ProductPage

PRODUCTS = "/api/v1/products"


def sql(engine: Engine, query: str, **params) -> list:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(query), params)]


def all_pages(client: TestClient, path: str = PRODUCTS, **params) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 500


def test_default_page(reader: TestClient, engine: Engine) -> None:
    body = reader.get(PRODUCTS).json()
    assert body["limit"] == 50 and body["sort"] == "name" and body["order"] == "asc"
    assert len(body["items"]) == 50 and body["next_cursor"]
    listed = sql(engine, "SELECT id FROM products WHERE delisted_at IS NULL ORDER BY name, id LIMIT 50")
    assert [item["id"] for item in body["items"]] == [row[0] for row in listed]
    first = body["items"][0]
    assert isinstance(first["price"], str | None) and first["listed"] is True


@pytest.mark.parametrize(("sort", "order", "sql_order"), [
    ("name", "asc", "name, id"),
    ("name", "desc", "name DESC, id DESC"),
    ("price", "asc", "price ASC NULLS LAST, id"),
    ("price", "desc", "price DESC NULLS LAST, id DESC"),
    ("release_year", "asc", "release_year ASC NULLS LAST, id"),
    # last seen (docs/api.md): a listed product at the later of its last change and its partition's last complete scrape
    ("updated", "desc", "CASE WHEN delisted_at IS NULL THEN GREATEST(written_at, (SELECT confirmed_at FROM"
                        " partition_watermarks w WHERE (w.vendor, w.partition_year) = (products.vendor,"
                        " products.partition_year))) ELSE written_at END DESC, id DESC"),
    ("id", "desc", "id DESC"),
])
def test_keyset_pages_cover_every_row_once_in_order(reader: TestClient, engine: Engine, sort: str, order: str,
                                                     sql_order: str) -> None:
    items = all_pages(reader, sort=sort, order=order, limit=37, include_delisted=True)
    expected = [row[0] for row in sql(engine, f"SELECT id FROM products ORDER BY {sql_order}")]
    assert [item["id"] for item in items] == expected


def test_pages_are_stable_when_rows_arrive_meanwhile(reader: TestClient, engine: Engine) -> None:
    first = reader.get(PRODUCTS, params={"limit": 10}).json()
    second = reader.get(PRODUCTS, params={"limit": 10, "cursor": first["next_cursor"]}).json()
    # A listing that sorts before the cursor arrives between two page reads: the next page does not shift.
    with engine.begin() as conn:
        new_id = conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, name, availability, link) VALUES ('ornament_shop_com',"
            " 'stable-test', '  first of all', 'available', 'https://example.invalid/') RETURNING id")).scalar_one()
    try:
        again = reader.get(PRODUCTS, params={"limit": 10, "cursor": first["next_cursor"]}).json()
        assert again == second
        assert reader.get(PRODUCTS, params={"limit": 1}).json()["items"][0]["id"] == new_id
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM products WHERE id = :id"), {"id": new_id})


def test_filters_match_sql(reader: TestClient, engine: Engine) -> None:
    vendor, year = sql(engine, "SELECT vendor, release_year FROM products GROUP BY 1, 2 ORDER BY count(*) DESC"
                               " LIMIT 1")[0]
    items = all_pages(reader, vendor=vendor, year=year, availability="available", limit=200)
    expected = sql(engine, "SELECT id FROM products WHERE vendor = :v AND release_year = :y AND availability ="
                           " 'available' AND delisted_at IS NULL ORDER BY name, id", v=vendor, y=year)
    assert [i["id"] for i in items] == [r[0] for r in expected] and expected

    items = all_pages(reader, min_price="20", max_price="40.50", limit=200)
    assert items and all(Decimal("20") <= Decimal(i["price"]) <= Decimal("40.50") for i in items)
    assert len(items) == sql(engine, "SELECT count(*) FROM products WHERE price BETWEEN 20 AND 40.50"
                                     " AND delisted_at IS NULL")[0][0]


def test_text_search_over_name_and_sku(reader: TestClient, engine: Engine) -> None:
    items = all_pages(reader, q="frosty FRIENDS", limit=200)
    expected = sql(engine, "SELECT count(*) FROM products WHERE name ILIKE '%frosty friends%'"
                           " AND delisted_at IS NULL")[0][0]
    assert len(items) == expected > 0
    sku = sql(engine, "SELECT sku FROM products WHERE sku IS NOT NULL AND delisted_at IS NULL LIMIT 1")[0][0]
    assert sku in [i["sku"] for i in reader.get(PRODUCTS, params={"q": sku.lower()}).json()["items"]]


@pytest.mark.parametrize("q", ["'; DROP TABLE products; --", "%", "_", "\\", "' OR '1'='1", "\" OR 1=1 --",
                               "%' UNION SELECT * FROM api_keys --", "Frosty%Friends"])
def test_sql_metacharacters_are_just_text(reader: TestClient, engine: Engine, q: str) -> None:
    before = sql(engine, "SELECT count(*) FROM products")[0][0]
    response = reader.get(PRODUCTS, params={"q": q})
    assert response.status_code == 200
    assert response.json()["items"] == []  # no name or SKU contains these literally
    assert sql(engine, "SELECT count(*) FROM products")[0][0] == before


def test_item_number_filter_and_delisted(reader: TestClient, engine: Engine) -> None:
    delisted = sql(engine, "SELECT id, item_number FROM products WHERE delisted_at IS NOT NULL LIMIT 1")
    assert delisted, "five replica days delist something"
    product_id, item = delisted[0]
    listed_ids = [i["id"] for i in all_pages(reader, item_number=item.lower())]
    assert product_id not in listed_ids
    with_delisted = all_pages(reader, item_number=item, include_delisted=True)
    assert product_id in [i["id"] for i in with_delisted]
    assert next(i for i in with_delisted if i["id"] == product_id)["listed"] is False


def test_one_product_and_404(reader: TestClient, engine: Engine) -> None:
    product_id, name, price = sql(engine, "SELECT id, name, price FROM products WHERE price IS NOT NULL LIMIT 1")[0]
    body = reader.get(f"{PRODUCTS}/{product_id}").json()
    assert (body["id"], body["name"], Decimal(body["price"])) == (product_id, name, price)
    response = reader.get(f"{PRODUCTS}/999999999")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert reader.get(f"{PRODUCTS}/999999999/history").status_code == 404


def test_hot_routes_bodies_are_exactly_their_models(reader: TestClient, engine: Engine) -> None:
    """Search, product and history skip response-model validation (server/bodies.py): their bodies must still
    be what the OpenAPI schema promises, field for field, in the models' own JSON format."""
    product_id = sql(engine, "SELECT product_id FROM price_history GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
    cursor = reader.get(PRODUCTS, params={"limit": 2, "sort": "price"}).json()["next_cursor"]
    cases = [
        (f"{PRODUCTS}?limit=5&sort=updated&order=desc", ProductPage),
        (f"{PRODUCTS}?limit=2&sort=price&cursor={cursor}", ProductPage),
        (f"{PRODUCTS}?q=zzz-no-such-text", ProductPage),
        (f"{PRODUCTS}/{product_id}", Product),
        (f"{PRODUCTS}/{product_id}/history", ProductHistory),
        (f"{PRODUCTS}/{product_id}/history?limit=1", ProductHistory),
    ]
    for path, model in cases:
        response = reader.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json", path
        body = response.json()
        assert model.model_validate(body).model_dump(mode="json") == body, path
    items = reader.get(PRODUCTS, params={"limit": 3}).json()["items"] + [reader.get(f"{PRODUCTS}/{product_id}").json()]
    assert all(set(item) == set(Product.model_fields) for item in items)
    versions = reader.get(f"{PRODUCTS}/{product_id}/history").json()["versions"]
    assert versions and all(set(v) == set(HistoryVersion.model_fields) for v in versions)


def test_history_is_every_version_oldest_first(reader: TestClient, engine: Engine) -> None:
    product_id, versions = sql(engine, "SELECT product_id, count(*) FROM price_history GROUP BY 1"
                                       " ORDER BY 2 DESC, 1 LIMIT 1")[0]
    assert versions >= 2
    body = reader.get(f"{PRODUCTS}/{product_id}/history").json()
    expected = sql(engine, "SELECT id, price, valid_from, valid_to FROM price_history WHERE product_id = :p"
                           " ORDER BY valid_from, id", p=product_id)
    assert [v["id"] for v in body["versions"]] == [r[0] for r in expected]
    assert body["versions"][-1]["valid_to"] is None and body["next_cursor"] is None
    paged, cursor = [], None
    while True:
        page = reader.get(f"{PRODUCTS}/{product_id}/history", params={"limit": 1, **({"cursor": cursor} if cursor
                                                                                      else {})}).json()
        paged += page["versions"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == body["versions"]


def test_ornament_offers_across_vendors(reader: TestClient, engine: Engine) -> None:
    item = sql(engine, "SELECT item_number FROM products WHERE delisted_at IS NULL GROUP BY 1"
                       " HAVING count(DISTINCT vendor) = 3 ORDER BY 1 LIMIT 1")[0][0]
    body = reader.get(f"/api/v1/ornaments/{item.lower()}").json()
    assert body["item_number"] == item
    expected = sql(engine, "SELECT id, vendor, price, availability FROM products WHERE item_number = :i"
                           " AND delisted_at IS NULL", i=item)
    assert sorted(o["product_id"] for o in body["offers"]) == sorted(r[0] for r in expected)
    assert {o["vendor"] for o in body["offers"]} == {r[1] for r in expected}
    in_stock = [r for r in expected if r[3] == "available" and r[2] is not None]
    if in_stock:
        cheapest = min(in_stock, key=lambda r: (r[2], r[0]))
        assert body["cheapest_in_stock"]["product_id"] == cheapest[0]
    by_condition: dict[str, list[dict]] = {}
    for offer in body["offers"]:
        by_condition.setdefault(offer["condition"], []).append(offer)
    for offers in by_condition.values():
        flagged = [o for o in offers if o["cheapest_in_condition"]]
        assert len(flagged) <= 1
        if flagged:
            assert Decimal(flagged[0]["gap_in_condition"]) == 0
    prices = [Decimal(o["price"]) for o in body["offers"] if o["price"] is not None]
    assert prices == sorted(prices)
    missing = reader.get("/api/v1/ornaments/ZZ9999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_vendor_and_year_counts(reader: TestClient, engine: Engine) -> None:
    vendors = reader.get("/api/v1/vendors").json()
    assert [v["vendor"] for v in vendors] == ["hookedonhallmark_com", "ornament_shop_com", "hallmark_ornaments_com"]
    expected = dict(sql(engine, "SELECT vendor, count(*) FROM products GROUP BY 1"))
    assert {v["vendor"]: v["products"] for v in vendors} == expected
    years = reader.get("/api/v1/years", params={"vendor": "ornament_shop_com"}).json()
    expected = sql(engine, "SELECT release_year, count(*), count(*) FILTER (WHERE delisted_at IS NULL) FROM products"
                           " WHERE vendor = 'ornament_shop_com' GROUP BY 1 ORDER BY 1")
    assert [(y["year"], y["products"], y["listed"]) for y in years] == expected


def test_years_count_listings_of_unknown_year_too(reader: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        undated = conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, name, price, availability, link) VALUES"
            " ('ornament_shop_com', 'undated-test', 'Undated', 5.00, 'available', 'https://ornament-shop.com/u')"
            " RETURNING id")).scalar_one()
    try:
        years = reader.get("/api/v1/years").json()
        assert years[-1]["year"] is None and years[-1]["products"] >= 1
        assert [y["year"] for y in years[:-1]] == sorted(y["year"] for y in years[:-1])
        vendors = reader.get("/api/v1/vendors").json()
        assert sum(y["products"] for y in years) == sum(v["products"] for v in vendors)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM products WHERE id = :id"), {"id": undated})


def test_change_feed_by_cursor(reader: TestClient, engine: Engine) -> None:
    seen, cursor = [], None
    while True:
        body = reader.get("/api/v1/changes", params={"limit": 250, **({"cursor": cursor} if cursor else {})}).json()
        if not body["events"]:
            assert body["next_cursor"] == (cursor or "0-0")
            break
        seen += [e["id"] for e in body["events"]]
        cursor = body["next_cursor"]
    assert seen == [r[0] for r in sql(engine, "SELECT id FROM change_events ORDER BY txid, id")]
    # Money is a decimal string here as everywhere: the price each event recorded, with its cents.
    events = reader.get("/api/v1/changes", params={"limit": 1000}).json()["events"]
    prices = dict(sql(engine, "SELECT e.id, h.price FROM change_events e JOIN price_history h ON h.id = e.history_id"))
    assert events and all(e["new_values"]["price"] == (None if prices[e["id"]] is None else str(prices[e["id"]]))
                          for e in events)
    old_prices = [e["old_values"]["price"] for e in events if e["old_values"] and e["old_values"]["price"]]
    assert old_prices and all(re.fullmatch(r"\d+\.\d\d", price) for price in old_prices)
    changed = reader.get("/api/v1/changes", params={"kind": "changed", "limit": 1000}).json()["events"]
    assert changed and all(e["kind"] == "changed" and e["changed_fields"] for e in changed)
    assert len(changed) == sql(engine, "SELECT count(*) FROM change_events WHERE kind = 'changed'")[0][0]


def test_change_feed_holds_back_events_of_running_transactions(reader: TestClient, engine: Engine) -> None:
    """An event written by a transaction still open must not be skipped by a reader that moves on."""
    end = reader.get("/api/v1/changes", params={"limit": 1000}).json()
    while end["events"]:
        end = reader.get("/api/v1/changes", params={"limit": 1000, "cursor": end["next_cursor"]}).json()
    cursor = end["next_cursor"]
    product_id = sql(engine, "SELECT id FROM products ORDER BY id LIMIT 1")[0][0]
    insert = text("INSERT INTO change_events (product_id, history_id, kind, new_values, occurred_at)"
                  " SELECT :p, id, 'changed', '{}'::jsonb, now() FROM price_history WHERE product_id = :p LIMIT 1"
                  " RETURNING id")
    long_conn = engine.connect()
    long_tx = long_conn.begin()
    slow_id = long_conn.execute(insert, {"p": product_id}).scalar_one()  # a long merge, not committed yet
    with engine.begin() as conn:
        fast_id = conn.execute(insert, {"p": product_id}).scalar_one()  # a short one commits first
    try:
        held = reader.get("/api/v1/changes", params={"cursor": cursor}).json()
        assert held["events"] == [] and held["next_cursor"] == cursor  # nothing final yet past the cursor
        long_tx.commit()
        ids = [e["id"] for e in reader.get("/api/v1/changes", params={"cursor": cursor}).json()["events"]]
        assert ids == [slow_id, fast_id]
    finally:
        long_conn.close()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM change_events WHERE id IN (:a, :b)"), {"a": slow_id, "b": fast_id})
