"""The change stream turned into alerts: each rule, exactly once, and nothing lost to a slow transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.warehouse.scrapes import merge_observation
from ornament_pipeline_tests.auditor.conftest import HALLMARK, SHOP, T0, TRACKED, listing, rows, sync


def shop_day0() -> list:
    return [listing(n, price=f"{10 + n}.95") for n in range(10)]


def alerts(engine: Engine) -> list[tuple]:
    return rows(engine, "SELECT w.label, a.kind, p.vendor, a.payload->>'price', a.payload->>'previous_price'"
                        " FROM alerts a JOIN watches w ON w.id = a.watch_id JOIN products p ON p.id = a.product_id"
                        " ORDER BY a.id")


def test_each_rule_raises_exactly_the_expected_alerts(engine: Engine) -> None:
    add_watch(engine, "QX6001", drop_percent=10, label="drop10")                       # every kind
    add_watch(engine, "QX6002", max_price="20", kinds="price_drop", label="under20")
    add_watch(engine, "QX6003", kinds=["back_in_stock"], label="stock")
    add_watch(engine, "qx6099", kinds="new_listing", label="newitem")
    add_watch(engine, "QX6004", condition="MIB", kinds="all_time_low", label="low")
    add_watch(engine, "QX6005", vendor=HALLMARK, label="other-vendor")
    add_watch(engine, "QX6006", condition="NB", label="other-condition")

    sync(engine, SHOP, shop_day0(), T0)
    assert raise_alerts(engine, ["log"]).events == 10
    # Day 0: every listing is new; only watches that want new listings hear of it.
    day0 = alerts(engine)
    assert [(a[0], a[1]) for a in day0] == [("drop10", "new_listing")]  # QX6006 is MIB, the watch wants NB

    day1 = shop_day0() + [listing(99, price="30.00")]
    day1[1] = listing(1, price="10.50")                                   # -12%: drop and all-time low
    day1[2] = listing(2, price="12.50")                                   # -3.5%, but under 20
    day1[3] = listing(3, availability="unavailable", price="13.95")       # out of stock: no alert
    day1[5] = listing(5, price="5.00")                                    # watched at another vendor only
    sync(engine, SHOP, day1, T0 + timedelta(days=1))
    sync(engine, HALLMARK, [listing(4, price="9.00", vendor=HALLMARK)], T0 + timedelta(days=1, hours=1))
    result = raise_alerts(engine, ["log", "webhook"])
    assert result.events == 6  # 4 changed + 2 new
    assert alerts(engine)[len(day0):] == [
        ("drop10", "price_drop", SHOP, "10.50", "11.95"),
        ("drop10", "all_time_low", SHOP, "10.50", "11.95"),
        ("under20", "price_drop", SHOP, "12.50", "12.95"),
        ("newitem", "new_listing", SHOP, "30.00", None),
        ("low", "all_time_low", HALLMARK, "9.00", None),   # cheaper than any vendor ever offered QX6004 MIB
    ]
    payload = rows(engine, "SELECT payload FROM alerts WHERE kind = 'price_drop' ORDER BY id LIMIT 1")[0][0]
    assert payload["drop_percent"] == "12.13" and payload["product"]["item_number"] == "QX6001"
    assert payload["idempotency_key"] == rows(engine, "SELECT idempotency_key FROM alerts WHERE kind = 'price_drop'"
                                                      " ORDER BY id LIMIT 1")[0][0]
    low = rows(engine, "SELECT payload->>'previous_low' FROM alerts WHERE kind = 'all_time_low' ORDER BY id")
    assert low == [("11.95",), ("14.95",)]
    # Two channels were asked for on day 1, one on day 0.
    assert rows(engine, "SELECT channel, count(*) FROM alert_deliveries GROUP BY channel ORDER BY channel") == [
        ("log", 6), ("webhook", 5)]

    day2 = list(day1)
    day2[3] = listing(3, price="13.95")                                   # back in stock
    day2[1] = listing(1, price="13.00")                                   # up: nothing
    sync(engine, SHOP, day2, T0 + timedelta(days=2))
    raise_alerts(engine, ["log"])
    assert [(a[0], a[1]) for a in alerts(engine)][6:] == [("stock", "back_in_stock")]

    # Reading again raises nothing: the cursor moved with the alerts.
    assert raise_alerts(engine, ["log"]).events == 0
    assert rows(engine, "SELECT count(*), count(DISTINCT idempotency_key) FROM alerts") == [(7, 7)]


def test_delisting_and_relisting(engine: Engine) -> None:
    add_watch(engine, "QX6001", label="any")
    items = [listing(n, price="20.00") for n in range(4)]
    sync(engine, SHOP, items, T0)
    sync(engine, SHOP, [items[0], items[2], items[3]], T0 + timedelta(days=1))    # QX6001 delisted: no alert
    sync(engine, SHOP, [*items[:1], listing(1, price="15.00"), *items[2:]], T0 + timedelta(days=2))
    raise_alerts(engine, ["log"])
    assert [(a[1], a[3], a[4]) for a in alerts(engine)] == [
        ("new_listing", "20.00", None),
        ("price_drop", "15.00", "20.00"),
        ("back_in_stock", "15.00", "20.00"),   # relisted: it is offered again
        ("all_time_low", "15.00", "20.00"),
    ]


def test_a_slow_transaction_is_not_skipped(engine: Engine) -> None:
    """Event ids are handed out at insert: a later, shorter transaction may commit first. Nothing is lost."""
    add_watch(engine, "QX6001", kinds="new_listing", label="shop")
    add_watch(engine, "QX6001", vendor=HALLMARK, kinds="new_listing", label="hallmark")
    slow = engine.connect()
    slow_tx = slow.begin()
    merge_observation(slow, SHOP, 2020, [listing(1)], T0, complete=True, tracked=TRACKED)  # lower event id, open
    sync(engine, HALLMARK, [listing(1, vendor=HALLMARK)], T0)  # higher event id, committed first
    assert rows(engine, "SELECT count(*) FROM change_events") == [(1,)]
    first = raise_alerts(engine, ["log"])
    assert first.events == 0   # the committed event waits behind the running transaction that is older
    slow_tx.commit()
    slow.close()
    second = raise_alerts(engine, ["log"])
    assert second.events == 2
    assert sorted((a[0], a[2]) for a in alerts(engine)) == [("hallmark", HALLMARK), ("shop", HALLMARK),
                                                             ("shop", SHOP)]


def test_events_from_before_the_auditor_raise_nothing(migrated_db_url: str, engine: Engine) -> None:
    # The migration starts the cursor at the end of the stream; a later cursor starts at its beginning.
    sync(engine, SHOP, shop_day0(), T0)
    add_watch(engine, "QX6001", label="w")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM auditor_cursors"))
    assert raise_alerts(engine, ["log"]).alert_count == 1   # a fresh cursor reads from the start
    assert raise_alerts(engine, ["log"], cursor_name="alerts").events == 0
