"""`availability: "unknown"` (a stock wording the scraper could not read) is served, filtered on and labelled."""

from __future__ import annotations

import json

from sqlalchemy import text

from ornament_pipeline_tests.server.conftest import T0, listing, merge

PRODUCTS = "/api/v1/products"


def test_availability_unknown_is_served(own_client) -> None:
    engine, client = own_client
    with engine.begin() as conn:  # what the lead's migration allows; done here until it lands
        conn.execute(text("ALTER TABLE products DROP CONSTRAINT IF EXISTS products_availability_check"))
    merge(engine, [listing(1, "12.00", availability="unknown"), listing(2, "13.00")], T0)
    page = client.get(PRODUCTS, params={"availability": "unknown"})
    assert page.status_code == 200, page.text
    [item] = page.json()["items"]
    assert item["availability"] == "unknown"
    assert client.get(f"{PRODUCTS}/{item['id']}").json()["availability"] == "unknown"
    history = client.get(f"{PRODUCTS}/{item['id']}/history").json()
    assert [v["availability"] for v in history["versions"]] == ["unknown"]
    assert 'unknown: "Stock unknown"' in client.get("/").text
    schema = client.get("/openapi.json").json()
    param = next(p for p in schema["paths"][PRODUCTS]["get"]["parameters"] if p["name"] == "availability")
    assert "unknown" in json.dumps(param["schema"])
