"""Migrations on real Postgres: a fresh database, twice, and twice at once from two processes."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import psycopg2
import pytest
from sqlalchemy import create_engine, inspect, text

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import available_migrations, migrate

ORNAMENTS = [sys.executable, "-m", "ornament_pipeline.cli"]


def applied_versions(url: str) -> list[str]:
    with create_engine(sqlalchemy_url(url)).connect() as conn:
        return list(conn.execute(text("SELECT version FROM schema_migrations ORDER BY version")).scalars())


def test_fresh_database_is_created_and_migrated_once(new_db_url: str) -> None:
    expected = [m.version for m in available_migrations()]
    applied = migrate(new_db_url)
    assert [name.split("_")[0] for name in applied] == expected
    assert applied_versions(new_db_url) == expected
    assert migrate(new_db_url) == []  # second time: a no-op
    assert applied_versions(new_db_url) == expected


def test_products_schema_fixes_the_old_one(migrated_db_url: str) -> None:
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    columns = {c["name"]: c for c in inspect(engine).get_columns("products")}
    assert {"id", "vendor", "sku", "name", "price", "brand", "availability", "release_year", "vendor_id", "link",
            "written_at", "created_at", "item_number", "condition"} <= set(columns)
    assert str(columns["price"]["type"]) == "NUMERIC(10, 2)"
    assert "TIMESTAMP" in str(columns["written_at"]["type"]) and columns["written_at"]["type"].timezone
    assert columns["name"]["type"].length >= 300
    insert = text(
        "INSERT INTO products (vendor, vendor_id, name, price, availability, link)"
        " VALUES (:vendor, :vid, :name, :price, :availability, 'https://x/y')"
    )
    long_name = "2020 Frosty Friends 41st in Series Exclusive Limited Edition with Display Stand " * 3
    with engine.begin() as conn:
        conn.execute(insert, dict(vendor="hallmark_ornaments_com", vid="25615", name=long_name,
                                  price=Decimal("1249.99"), availability="available"))
        stored = conn.execute(text("SELECT price FROM products")).scalar_one()
    assert stored == Decimal("1249.99")
    for bad in (
        dict(vendor="hallmark_ornaments_com", vid="25615", name="dup", price=1, availability="available"),
        dict(vendor="hallmark_ornaments_com", vid="2", name="x", price=1, availability="in stock"),
        dict(vendor="ebay_com", vid="3", name="x", price=1, availability="available"),
        dict(vendor="hallmark_ornaments_com", vid="4", name="x", price=0, availability="available"),
    ):
        with pytest.raises(Exception) as info, engine.begin() as conn:
            conn.execute(insert, bad)
        assert isinstance(info.value.orig, psycopg2.IntegrityError)


def test_two_inits_at_once_both_succeed(new_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": new_db_url, "CONFIG_PATH": "config/default.json"}
    procs = [subprocess.Popen([*ORNAMENTS, "db", "init"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = sorted(out.strip().split(":")[0] for _, out, _ in results)
    assert outputs == [f"applied {len(available_migrations())} migration(s)", "database schema is up to date"]
    assert applied_versions(new_db_url) == [m.version for m in available_migrations()]
