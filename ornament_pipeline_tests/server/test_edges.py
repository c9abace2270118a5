"""API edges: forged cursors are 422s, keys never reach the logs however they are spelled, redirects never
name a foreign host, and what keyset paging guarantees while merges write (as docs/api.md states it)."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ornament_pipeline.server.auth import RedactKeys
from ornament_pipeline.server.cursors import encode_cursor
from ornament_pipeline_tests.server.conftest import T0, listing, merge

PRODUCTS = "/api/v1/products"


def raw_cursor(payload: str) -> str:
    """A cursor made by hand: base64url of any JSON text (or not-JSON), the way a forger would."""
    return base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def assert_422(response, field: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["status"] == 422 and error["code"] == "invalid_parameter", error
    assert field in [f["field"] for f in error["fields"]], error


FORGED_PRODUCT_CURSORS = [
    # sort, cursor
    ("name", encode_cursor("name", "asc", ["\ud800", 1])),                   # a lone surrogate
    ("name", raw_cursor('{"s":"name","o":"asc","k":["\\udfff",1]}')),
    ("name", encode_cursor("name", "asc", [["x"], 1])),
    ("name", encode_cursor("name", "asc", ["x", "1"])),
    ("name", encode_cursor("name", "asc", ["x", True])),
    ("name", encode_cursor("name", "asc", ["x", 2**64])),
    ("name", raw_cursor('{"s":"name","o":"asc","k":["x",1e1000000]}')),
    ("name", raw_cursor('{"s":["name"],"o":"asc","k":["x",1]}')),
    ("name", raw_cursor('{"s":"name","o":"asc","k":{"0":"x"}}')),
    ("name", raw_cursor("1e1000000")),
    ("name", raw_cursor("[1, 2]")),
    ("name", raw_cursor("null")),
    ("name", "1e1000000"),
    ("name", base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode()),
    ("price", encode_cursor("price", "asc", [False, "1e1000000", 1])),
    ("price", encode_cursor("price", "asc", [False, "1e-1000000", 1])),
    ("price", encode_cursor("price", "asc", [False, "1e999999999999999999999", 1])),
    ("price", encode_cursor("price", "asc", [False, "9" * 200, 1])),
    ("price", encode_cursor("price", "asc", [False, "0.001", 1])),
    ("price", encode_cursor("price", "asc", [False, "Infinity", 1])),
    ("price", encode_cursor("price", "asc", [False, 1.5, 1])),
    ("price", encode_cursor("price", "asc", [0, "1.00", 1])),
    ("price", raw_cursor('{"s":"price","o":"asc","k":[false,"1e1000000",1]}')),
    ("release_year", encode_cursor("release_year", "asc", [False, "2020", 1])),
    ("release_year", encode_cursor("release_year", "asc", [False, 2**62, 1])),
    ("updated", encode_cursor("updated", "asc", ["0001-01-01T00:00:00+23:59", 1])),
    ("updated", encode_cursor("updated", "asc", ["9999-12-31T23:59:59-23:59", 1])),
    ("updated", encode_cursor("updated", "asc", ["2020-01-01T00:00:00", 1])),   # no time zone
    ("updated", encode_cursor("updated", "asc", ["\ud800", 1])),
    ("updated", raw_cursor('{"s":"updated","o":"asc","k":[1e1000000,1]}')),
    ("id", encode_cursor("id", "asc", [2**63])),
    ("id", encode_cursor("id", "asc", [-(2**63) - 1])),
    ("id", raw_cursor('{"s":"id","o":"asc","k":[' + "9" * 400 + "]}")),
    ("id", encode_cursor("id", "asc", [1.5])),
]


@pytest.mark.parametrize(("sort", "cursor"), FORGED_PRODUCT_CURSORS)
def test_forged_product_cursors_are_422(reader: TestClient, sort: str, cursor: str) -> None:
    assert_422(reader.get(PRODUCTS, params={"sort": sort, "cursor": cursor}), "cursor")


@pytest.mark.parametrize("cursor", [
    encode_cursor("valid_from", "asc", ["0001-01-01T00:00:00+23:59", 1]),
    encode_cursor("valid_from", "asc", ["9999-12-31T23:59:59-23:59", 1]),
    encode_cursor("valid_from", "asc", ["\ud800", 1]),
    encode_cursor("valid_from", "asc", ["2020-01-01T00:00:00+00:00", 2**63]),
    encode_cursor("valid_from", "asc", ["2020-01-01T00:00:00+00:00", "1"]),
    encode_cursor("valid_from", "asc", [1e300, 1]),
    raw_cursor('{"s":"valid_from","o":"asc","k":["2020-01-01T00:00:00+00:00",1e1000000]}'),
    raw_cursor('{"s":"valid_from","o":"asc","k":"2020"}'),
    "1e1000000",
])
def test_forged_history_cursors_are_422(reader: TestClient, cursor: str) -> None:
    assert_422(reader.get(f"{PRODUCTS}/1/history", params={"cursor": cursor}), "cursor")


@pytest.mark.parametrize("query", [
    "cursor=1e1000000", "cursor=%ED%A0%80-1", "cursor=1-%ED%A0%80", "cursor=%D9%A1-%D9%A1",  # Arabic-Indic digits
    "cursor=9223372036854775808-1", "cursor=1-9223372036854775808", "cursor=" + "9" * 40 + "-1",
    "cursor=1-1-1", "cursor=%2B1-1", "cursor=1.0-1",
])
def test_forged_change_cursors_are_422(reader: TestClient, query: str) -> None:
    assert_422(reader.get(f"/api/v1/changes?{query}"), "cursor")


@pytest.mark.parametrize("query", [
    "after_id=1e1000000", "after_id=" + "9" * 5000, "after_id=%ED%A0%80", "after_id=1.5", "after_id=true",
    "after_id=9223372036854775808", "limit=1e1000000",
])
def test_forged_watch_paging_is_422(reader: TestClient, query: str) -> None:
    assert_422(reader.get(f"/api/v1/watches?{query}"), query.split("=")[0])


@pytest.mark.parametrize("query", ["q=%ED%A0%80", "q=%F0%9F", "item_number=%ED%A0%80", "vendor=%ED%A0%80"])
def test_undecodable_text_parameters_are_not_500(reader: TestClient, query: str) -> None:
    assert reader.get(f"{PRODUCTS}?{query}").status_code in (200, 422)


# ---- keys in logs

KEY = "orn_1a2b3c4d_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tX"
SECRET_PART = KEY[13:]


def redacted(path: str, logger: str = "uvicorn.access") -> str:
    """What the filter leaves of an access-log record quoting `path` (uvicorn's own format and argument shape)."""
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", path, "1.1", 401), None)
    RedactKeys().filter(record)
    return record.getMessage()


def pct(text_value: str) -> str:
    return "".join(f"%{ord(c):02X}" for c in text_value)


@pytest.mark.parametrize("path", [
    f"/api/v1/products?api_key={KEY}",
    f"/api/v1/products?API_KEY={KEY}",
    f"/api/v1/products?api%5Fkey={KEY}",
    f"/api/v1/products?Api%5FKey={KEY}&limit=5",
    f"/api/v1/products?api_key=%6Frn_1a2b3c4d_{SECRET_PART}",
    f"/api/v1/products?api_key=%256Frn_1a2b3c4d_{SECRET_PART}",          # encoded twice
    f"/api/v1/products?api_key=orn%5F1a2b3c4d%5F{SECRET_PART}",
    f"/api/v1/products?api_key=ORN_1A2B3C4D_{SECRET_PART}",
    f"/api/v1/products?api_key={pct(KEY)}",                              # every character encoded
    f"/api/v1/products/{KEY}",
    f"/api/v1/products/%6Frn_1a2b3c4d_{SECRET_PART}/history",
    f"/api/v1/products?x=1&key={SECRET_PART}",
    f"/api/v1/products?token={SECRET_PART}",
    f"/api/v1/products?access_token={SECRET_PART}",
    f"/api/v1/products?x-api-key={SECRET_PART}",
    f"/api/v1/products?api_key=orn_{SECRET_PART}",                       # malformed: no prefix
    f"/api/v1/products?api_key=orn_zz{SECRET_PART}!~",
    f"/api/v1/products/orn_{SECRET_PART}",
    f"/p/1?q=orn_{SECRET_PART}",
])
def test_keys_are_redacted_from_access_logs_in_any_spelling(path: str) -> None:
    line = redacted(path)
    assert SECRET_PART not in line and SECRET_PART.lower() not in line.lower(), line
    assert "<redacted>" in line and "GET" in line and "401" in line


def test_a_key_keeps_its_prefix_and_other_text_is_left_alone() -> None:
    assert redacted(f"/api/v1/products?api_key={KEY}&limit=5").endswith(
        '"GET /api/v1/products?api_key=orn_1a2b3c4d_<redacted>&limit=5 HTTP/1.1" 401')
    assert redacted("/api/v1/products?q=ornament_pipeline&sort=name") == (
        '127.0.0.1:5000 - "GET /api/v1/products?q=ornament_pipeline&sort=name HTTP/1.1" 401')


def test_keys_are_redacted_from_error_logs_and_tracebacks() -> None:
    try:
        raise ValueError(f"bad request line GET /api/v1/products?API%5FKEY={KEY}")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application %s",
                               (f"/x/%6Frn_{SECRET_PART}",), exc_info)
    RedactKeys().filter(record)
    line = logging.Formatter().format(record)
    assert SECRET_PART not in line and "ValueError" in line, line


def test_the_api_loggers_that_quote_requests_redact_keys() -> None:
    from ornament_pipeline.server.auth import install_log_redaction

    install_log_redaction()
    for name in ("uvicorn.access", "uvicorn.error", "ornament_pipeline.server.errors"):
        assert any(isinstance(f, RedactKeys) for f in logging.getLogger(name).filters), name


# ---- redirects

@pytest.mark.parametrize("path", ["/api/v1/products/", "/api/v1/vendors/", "/api/v1/health/", "/p/1/",
                                  "/docs/", "/api/v1/products/?limit=1"])
def test_a_trailing_slash_never_redirects_to_the_host_header(reader: TestClient, path: str) -> None:
    response = reader.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil.example" not in response.headers.get("location", ""), response.headers
    assert not 300 <= response.status_code < 400, (response.status_code, response.headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# ---- keyset paging while a merge writes

def test_sort_by_id_pages_repeat_and_miss_nothing_while_merges_write(own_client) -> None:
    engine, client = own_client
    merge(engine, [listing(n, f"{10 + n}.00") for n in range(40)], T0)
    seen: list[int] = []
    cursor = None
    for page_number in range(100):
        params = {"sort": "id", "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get(PRODUCTS, params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # Between pages a merge reprices everything (reversing the price order), touches every
        # last_synced_at, and adds listings; the id order is untouched by all of it.
        merge(engine, [listing(n, f"{90 - n + page_number}.00") for n in range(40 + page_number)],
              T0 + timedelta(hours=page_number + 1))
    assert len(seen) == len(set(seen)), "an item repeated"
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM products WHERE delisted_at IS NULL ORDER BY id"))]
    assert seen == ids, "every listing listed throughout, and each new one (its id is higher), once"


def test_other_sorts_can_repeat_an_item_whose_sort_value_changed(own_client) -> None:
    """What docs/api.md states: only `sort=id` is immune; a repriced item can come round again under `price`."""
    engine, client = own_client
    merge(engine, [listing(n, f"{10 + n}.00") for n in range(10)], T0)
    first = client.get(PRODUCTS, params={"sort": "price", "limit": 5}).json()
    # The five seen (10.00-14.00) now cost 20.00-24.00, past the cursor and below the five unseen (50.00+).
    merge(engine, [listing(n, f"{(20 if n < 5 else 50) + n}.00") for n in range(10)], T0 + timedelta(hours=1))
    second = client.get(PRODUCTS, params={"sort": "price", "limit": 5, "cursor": first["next_cursor"]}).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(ids) != len(set(ids))
