"""Delivery to a real local webhook receiver: signed, retried with backoff, once; and the Dagster sensors."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import (
    DeliveryConfigError,
    RetryPolicy,
    WebhookConfig,
    deliver_due,
    make_webhook,
    retry_policy_from_settings,
    verify,
    webhook_from_settings,
)
from ornament_pipeline.auditor.jobs import deliver_alerts
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.auditor.sensors import auditor_alerts, auditor_deliveries
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.config import ENV_OVERRIDES, load_settings
from ornament_pipeline.pipeline.resources import SettingsResource, WarehouseResource
from ornament_pipeline_tests.auditor.conftest import SECRET, SHOP, T0, listing, rows, sync
from ornament_pipeline_tests.auditor.receiver import Receiver
from ornament_pipeline_tests.conftest import pipeline_instance

FAST = RetryPolicy(max_attempts=6, backoff_seconds=0.2, backoff_max_seconds=2.0)


def one_alert(engine: Engine, channels: list[str]) -> str:
    add_watch(engine, "QX6001", kinds="new_listing", label="mine")
    sync(engine, SHOP, [listing(1, price="19.50")], T0)
    assert raise_alerts(engine, channels).alert_count == 1
    return rows(engine, "SELECT idempotency_key FROM alerts")[0][0]


def deliver_until_done(engine: Engine, webhook: WebhookConfig, policy: RetryPolicy, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while rows(engine, "SELECT count(*) FROM alert_deliveries WHERE status = 'pending'") != [(0,)]:
        assert time.monotonic() < deadline, "deliveries still pending"
        deliver_due(engine, webhook, policy, budget_seconds=1)
        time.sleep(0.05)


def test_webhook_is_signed_and_carries_the_alert(engine: Engine, receiver: Receiver,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    key = one_alert(engine, ["log", "webhook"])
    webhook = make_webhook(receiver.url, SECRET)
    with caplog.at_level(logging.WARNING, logger="ornament_pipeline.auditor.alerts"):
        report = deliver_due(engine, webhook, FAST)
    assert report.delivered == 2 and report.failed_attempts == 0
    [request] = receiver.accepted
    assert verify(SECRET, request.body, request.headers["x-ornaments-signature"])
    assert not verify("another secret", request.body, request.headers["x-ornaments-signature"])
    assert request.key == key and request.json["idempotency_key"] == key
    assert abs(int(request.headers["x-ornaments-timestamp"]) - time.time()) < 60
    alert = request.json["alert"]
    assert (alert["kind"], alert["price"], alert["product"]["vendor"], alert["watch"]["label"]) == (
        "new_listing", "19.50", SHOP, "mine")
    assert [r for r in caplog.records if key in r.getMessage()], "the log channel logs the alert"
    assert rows(engine, "SELECT channel, status, attempts FROM alert_deliveries ORDER BY channel") == [
        ("log", "delivered", 1), ("webhook", "delivered", 1)]
    # Delivered is final: another pass sends nothing.
    assert deliver_due(engine, webhook, FAST).delivered == 0
    assert len(receiver.received) == 1


def test_a_receiver_failing_three_times_gets_the_alert_once(engine: Engine, receiver: Receiver) -> None:
    receiver.fail_first = 3
    key = one_alert(engine, ["webhook"])
    webhook = make_webhook(receiver.url, SECRET)
    started = time.monotonic()
    first = deliver_due(engine, webhook, FAST)
    assert (first.delivered, first.failed_attempts) == (0, 1)
    assert time.monotonic() - started < 1.5, "a failure is rescheduled, not waited for"
    deliver_until_done(engine, webhook, FAST)
    assert receiver.keys("received") == [key] * 4
    assert receiver.keys("accepted") == [key]
    assert [r.json["attempt"] for r in receiver.received] == [1, 2, 3, 4]
    attempts = rows(engine, "SELECT attempt, status_code, started_at FROM delivery_attempts ORDER BY attempt")
    assert [(a, code) for a, code, _ in attempts] == [(1, 500), (2, 500), (3, 500), (4, 200)]
    gaps = [(b[2] - a[2]).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps  # exponential backoff
    assert rows(engine, "SELECT status, attempts, last_error FROM alert_deliveries") == [("delivered", 4, None)]


def test_gives_up_after_max_attempts_and_honours_retry_after(engine: Engine, receiver: Receiver) -> None:
    receiver.fail_first, receiver.fail_status = 100, 503
    one_alert(engine, ["webhook"])
    policy = RetryPolicy(max_attempts=2, backoff_seconds=0.1, backoff_max_seconds=5)
    deliver_due(engine, make_webhook(receiver.url, SECRET), policy)
    due = rows(engine, "SELECT next_attempt_at - now() FROM alert_deliveries")[0][0]
    assert due < timedelta(seconds=0.5)
    time.sleep(0.3)
    deliver_due(engine, make_webhook(receiver.url, SECRET), policy)
    assert rows(engine, "SELECT status, attempts FROM alert_deliveries") == [("failed", 2)]
    assert RetryPolicy(backoff_seconds=1, backoff_max_seconds=60).delay(1, retry_after=30) == 30


def test_a_hanging_receiver_does_not_hold_the_tick(engine: Engine, receiver: Receiver) -> None:
    receiver.hold = threading.Event()
    one_alert(engine, ["webhook"])
    webhook = WebhookConfig(receiver.url, SECRET, timeout_seconds=0.5)
    started = time.monotonic()
    report = deliver_due(engine, webhook, FAST, budget_seconds=0.2)
    assert time.monotonic() - started < 2
    assert report.failed_attempts == 1 and "Timeout" in report.errors[0]
    assert rows(engine, "SELECT status, attempts FROM alert_deliveries") == [("pending", 1)]


def test_webhook_settings_are_checked() -> None:
    with pytest.raises(DeliveryConfigError, match="ORNAMENTS_WEBHOOK_SECRET"):
        make_webhook("http://127.0.0.1:9/hook", "")
    with pytest.raises(DeliveryConfigError, match="not an http"):
        make_webhook("ftp://example.test/", "s")


def test_sensors_raise_and_deliver(migrated_db_url: str, engine: Engine, receiver: Receiver) -> None:
    add_watch(engine, "QX6001", label="sensor")
    sync(engine, SHOP, [listing(1, price="20.00")], T0)
    sync(engine, SHOP, [listing(1, price="15.00")], T0 + timedelta(days=1))
    resources = {
        "warehouse": WarehouseResource(settings=SettingsResource(), database_url=migrated_db_url),
        "auditor": AuditorResource(webhook_url=receiver.url, webhook_secret=SECRET, backoff_seconds=0.1),
    }
    with dg.build_sensor_context(resources=resources) as context:
        tick = auditor_alerts(context)
        assert "read 2 change event(s); raised 3 alert(s)" in tick.skip_message
        assert context.cursor and ":" in context.cursor
    with dg.build_sensor_context(resources=resources, instance=pipeline_instance()) as context:
        assert isinstance(auditor_deliveries(context), dg.RunRequest)   # the tick asks for a run ...
    delivered = deliver_alerts.execute_in_process(resources=resources)   # ... which delivers
    assert delivered.output_for_node("deliver_due_alerts")["delivered"] == 6
    assert sorted(r.json["alert"]["kind"] for r in receiver.accepted) == ["all_time_low", "new_listing",
                                                                          "price_drop"]
    assert sorted(json.loads(r.body)["alert"]["price"] for r in receiver.accepted) == ["15.00", "15.00", "20.00"]


@pytest.fixture
def auditor_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file with an `auditor` section, selected by CONFIG_PATH; no webhook variable set."""
    for env_var, _, _ in ENV_OVERRIDES:
        monkeypatch.delenv(env_var, raising=False)
    path = tmp_path / "auditor.json"
    path.write_text(json.dumps({"vendors": {}, "auditor": {
        "webhook_url": "http://127.0.0.1:9/from-file", "webhook_timeout_seconds": 3, "max_attempts": 5,
        "backoff_seconds": 0.7, "backoff_max_seconds": 40}}))
    monkeypatch.setenv("CONFIG_PATH", str(path))
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", SECRET)
    return path


def test_webhook_and_retry_policy_come_from_the_settings(auditor_config: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(auditor_config)
    assert webhook_from_settings(settings) == WebhookConfig("http://127.0.0.1:9/from-file", SECRET, 3.0)
    assert retry_policy_from_settings(settings) == RetryPolicy(5, 0.7, 40.0, 3.0)  # 3.0: destinations' deadline
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_BACKOFF_SECONDS", "0.1")  # the documented variable still overrides
    assert retry_policy_from_settings(load_settings(auditor_config)).backoff_seconds == 0.1
    default = Path(__file__).resolve().parents[2] / "config" / "default.json"
    assert webhook_from_settings(load_settings(default)) is None  # log only


def test_auditor_resource_takes_its_unset_fields_from_the_settings(auditor_config: Path) -> None:
    resource = AuditorResource(webhook_url="http://127.0.0.1:9/from-resource", max_attempts=2)
    assert resource.webhook() == WebhookConfig("http://127.0.0.1:9/from-resource", SECRET, 3.0)
    assert resource.policy() == RetryPolicy(2, 0.7, 40.0, 3.0)
    assert AuditorResource().webhook() == WebhookConfig("http://127.0.0.1:9/from-file", SECRET, 3.0)
    assert AuditorResource(timeout_seconds=1).webhook() == WebhookConfig("http://127.0.0.1:9/from-file", SECRET, 1)


def test_the_auditor_process_refuses_a_webhook_without_its_secret(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"vendors": {}, "auditor": {"webhook_url": "http://127.0.0.1:9/hook"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORNAMENTS_WEBHOOK_")}
    env["CONFIG_PATH"] = str(config)
    result = subprocess.run([sys.executable, "-m", "ornament_pipeline.auditor", "--once",
                             "--database-url", "postgresql://127.0.0.1:9/none"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"config error: {config}: auditor: webhook_url is set but ORNAMENTS_WEBHOOK_SECRET is not; "
                     "every alert is signed with it (set it in the environment, or unset the URL for log-only "
                     "alerts)"]
