"""Watches: the functions the API imports, and `ornaments watch add|list|remove` on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from typer.testing import CliRunner

from ornament_pipeline.auditor.watches import (
    ALERT_KINDS,
    WatchError,
    WatchNotFound,
    add_watch,
    get_watch,
    list_watches,
    remove_watch,
)
from ornament_pipeline.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_add_list_remove(engine: Engine) -> None:
    first = add_watch(engine, " qx1571 ", condition="nb", vendor="ornament_shop_com", max_price="30",
                      drop_percent=15, kinds="back_in_stock, price_drop", label="Frosty")
    assert (first.item_number, first.condition, first.vendor, first.max_price, first.drop_percent, first.kinds) == (
        "QX1571", "NB", "ornament_shop_com", Decimal("30.00"), Decimal("15.00"), ("price_drop", "back_in_stock"))
    second = add_watch(engine, "QXM4152")
    assert second.kinds == ALERT_KINDS and second.max_price is None
    assert [w.id for w in list_watches(engine)] == [first.id, second.id]
    assert [w.id for w in list_watches(engine, "qxm4152")] == [second.id]
    with engine.begin() as conn:   # inside a caller's transaction (as the API uses it)
        assert get_watch(conn, first.id) == first
        assert remove_watch(conn, first.id) == first
    assert [w.id for w in list_watches(engine)] == [second.id]
    with pytest.raises(WatchNotFound, match=f"no watch with id {first.id}"):
        remove_watch(engine, first.id)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"item_number": "frosty"}, "item_number: 'frosty' is not a Hallmark item number"),
    ({"item_number": ""}, "item_number"),
    ({"condition": "mint box!"}, "condition"),
    ({"vendor": "ebay"}, "vendor: unknown vendor 'ebay'"),
    ({"max_price": "abc"}, "max_price: 'abc' is not a number"),
    ({"max_price": "-1"}, "max_price: must be above 0"),
    ({"max_price": "1.999"}, "max_price: at most two decimal places"),
    ({"max_price": "nan"}, "max_price"),
    ({"drop_percent": 0}, "drop_percent: must be above 0 and at most 100"),
    ({"drop_percent": 120}, "drop_percent"),
    ({"kinds": "price_drop,cheaper"}, "kinds: unknown alert kind(s) cheaper"),
    ({"kinds": " , "}, "kinds: name at least one"),
    ({"label": "x" * 201}, "label: at most 200 characters"),
])
def test_bad_input_is_a_clear_value_error(kwargs: dict, message: str) -> None:
    # Validation comes before any database work: this engine points nowhere and is never used.
    nowhere = create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    with pytest.raises(ValueError) as info:
        add_watch(nowhere, **{"item_number": "QX1571", **kwargs})
    assert isinstance(info.value, WatchError) and message in str(info.value)


def test_cli(migrated_db_url: str) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": migrated_db_url, "CONFIG_PATH": str(ROOT / "config" / "default.json")}
    added = runner.invoke(app, ["watch", "add", "--item-number", "QX1571", "--condition", "NB", "--max-price", "30",
                                "--drop-percent", "15", "--kinds", "price_drop,all_time_low", "--label", "Frosty",
                                "--format", "json"], env=env)
    assert added.exit_code == 0, added.output
    watch = json.loads(added.stdout)
    assert (watch["item_number"], watch["max_price"], watch["kinds"]) == ("QX1571", "30.00",
                                                                          ["price_drop", "all_time_low"])
    table = runner.invoke(app, ["watch", "list"], env=env)
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split()[:4] == ["ID", "ITEM", "COND", "VENDOR"]
    assert "QX1571  NB" in table.stdout and "Frosty" in table.stdout
    listed = runner.invoke(app, ["watch", "list", "--format", "json"], env=env)
    assert [w["id"] for w in json.loads(listed.stdout)] == [watch["id"]]

    bad = runner.invoke(app, ["watch", "add", "--item-number", "QX1571", "--drop-percent", "150"], env=env)
    assert bad.exit_code == 2 and "error: drop_percent: must be above 0 and at most 100" in bad.stderr
    assert isinstance(bad.exception, SystemExit)
    missing = runner.invoke(app, ["watch", "remove", "999"], env=env)
    assert missing.exit_code == 1 and "error: no watch with id 999" in missing.stderr
    not_a_number = runner.invoke(app, ["watch", "remove", "abc"], env=env)
    assert not_a_number.exit_code == 2 and "is not a watch id" in not_a_number.stderr
    removed = runner.invoke(app, ["watch", "remove", str(watch["id"])], env=env)
    assert removed.exit_code == 0 and f"removed watch {watch['id']}" in removed.stdout
    assert runner.invoke(app, ["watch", "list"], env=env).stdout.strip() == "no watches"


def test_the_real_command_exits_non_zero_without_traceback(migrated_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": migrated_db_url, "CONFIG_PATH": str(ROOT / "config" / "default.json")}
    for args, code, message in [
        (["add", "--item-number", "nope"], 2, "error: item_number: 'nope' is not a Hallmark item number"),
        (["add"], 2, "error: --item-number is required"),
        (["list", "--format", "xml"], 2, "error: --format: expected table or json"),
        (["remove", "12345"], 1, "error: no watch with id 12345"),
    ]:
        done = subprocess.run([sys.executable, "-m", "ornament_pipeline.cli", "watch", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == code, (args, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr and "╭" not in done.stderr
