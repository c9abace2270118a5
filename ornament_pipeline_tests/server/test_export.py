"""CSV exports: a product's history and a search result, values exactly as stored."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from ornament_pipeline.server.models import HistoryVersion, Product

from .test_products import PRODUCTS, all_pages, sql


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def as_stored(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def test_history_csv_is_every_version_as_stored(reader: TestClient, engine: Engine) -> None:
    product_id = sql(engine, "SELECT product_id FROM price_history GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    response = reader.get(f"{PRODUCTS}/{product_id}/history.csv")
    rows = read_csv(response)
    assert response.headers["content-disposition"] == f'attachment; filename="product-{product_id}-history.csv"'
    columns = list(HistoryVersion.model_fields)
    assert list(rows[0]) == columns
    stored = sql(engine, f"SELECT {', '.join(columns)} FROM price_history WHERE product_id = :p"
                         " ORDER BY valid_from, id", p=product_id)
    assert len(stored) >= 2
    assert [[row[c] for c in columns] for row in rows] == [[as_stored(v) for v in r] for r in stored]
    assert reader.get(f"{PRODUCTS}/999999999/history.csv").status_code == 404


def test_search_csv_is_the_whole_search_result(reader: TestClient, engine: Engine) -> None:
    params = {"q": "frosty", "sort": "price", "order": "desc", "include_delisted": "true"}
    response = reader.get(f"{PRODUCTS}.csv", params=params)
    rows = read_csv(response)
    assert response.headers["content-disposition"] == 'attachment; filename="products.csv"'
    assert list(rows[0]) == list(Product.model_fields)
    pages = all_pages(reader, limit=7, **params)
    assert [int(r["id"]) for r in rows] == [item["id"] for item in pages] and len(rows) > 7
    stored = dict(sql(engine, "SELECT id, price FROM products"))
    assert all(r["price"] == as_stored(stored[int(r["id"])]) for r in rows)


def test_csv_keeps_commas_quotes_and_line_breaks(reader: TestClient, engine: Engine) -> None:
    name = 'Snow Angel, "Limited"\nsecond line'
    with engine.begin() as conn:
        product_id = conn.execute(text(
            "INSERT INTO products (vendor, vendor_id, name, price, availability, link) VALUES ('ornament_shop_com',"
            " 'csv-test', :name, 1234.50, 'available', 'https://example.test/a,b?c=\"d\"') RETURNING id"),
            {"name": name}).scalar_one()
    try:
        [row] = read_csv(reader.get(f"{PRODUCTS}.csv", params={"q": "Snow Angel, \"Limited"}))
        assert (int(row["id"]), row["name"], row["price"], row["link"], row["sku"]) == (
            product_id, name, "1234.50", 'https://example.test/a,b?c="d"', "")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM products WHERE id = :id"), {"id": product_id})


def test_csv_routes_need_a_key_and_valid_filters(client: TestClient, reader: TestClient) -> None:
    assert client.get(f"{PRODUCTS}.csv").status_code == 401
    assert client.get(f"{PRODUCTS}/1/history.csv").status_code == 401
    bad = reader.get(f"{PRODUCTS}.csv", params={"vendor": "nobody"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "vendor"
