"""The auditor process killed (SIGKILL) in the middle of a delivery and restarted: nothing lost, nothing resent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline_tests.auditor.conftest import SECRET, SHOP, T0, listing, rows, sync
from ornament_pipeline_tests.auditor.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
ALERTS = 8


def start_auditor(url: str, receiver: Receiver) -> subprocess.Popen:
    env = {**os.environ, "ORNAMENTS_WEBHOOK_URL": receiver.url, "ORNAMENTS_WEBHOOK_SECRET": SECRET,
           "ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS": "6", "ORNAMENTS_WEBHOOK_BACKOFF_SECONDS": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "ornament_pipeline.auditor", "--database-url", url,
                             "--poll-seconds", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def delivered(engine: Engine) -> int:
    return rows(engine, "SELECT count(*) FROM alert_deliveries WHERE channel = 'webhook' AND status = 'delivered'"
                )[0][0]


def test_killed_mid_delivery_and_restarted_loses_nothing_and_resends_nothing(
        migrated_db_url: str, engine: Engine, receiver: Receiver) -> None:
    for n in range(ALERTS):
        add_watch(engine, f"QX{6000 + n}", kinds="new_listing")
    receiver.hold, receiver.hold_at = threading.Event(), 5   # the fifth POST hangs until released

    first = start_auditor(migrated_db_url, receiver)
    try:
        sync(engine, SHOP, [listing(n) for n in range(ALERTS)], T0)   # the NOTIFY wakes the auditor
        wait_for(receiver.holding.is_set, "the held delivery")
        # The other deliveries go on beside the held one; wait until they are all recorded as delivered.
        wait_for(lambda: delivered(engine) == ALERTS - 1, "the other deliveries")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    held_key = receiver.received[4].key
    receiver.hold.set()   # the receiver finds its sender gone: the request was never answered
    wait_for(lambda: len(receiver.abandoned) == 1, "the receiver to see the hang-up")
    assert rows(engine, "SELECT count(*) FROM alert_deliveries WHERE status = 'pending' AND channel = 'webhook'"
                ) == [(1,)]

    second = start_auditor(migrated_db_url, receiver)
    try:
        wait_for(lambda: delivered(engine) == ALERTS, "the restarted auditor to deliver the rest")
        wait_for(lambda: rows(engine, "SELECT count(*) FROM alert_deliveries WHERE status <> 'delivered'"
                              ) == [(0,)], "the log deliveries")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0, second.stderr.read().decode()[-2000:]

    keys = [key for (key,) in rows(engine, "SELECT idempotency_key FROM alerts ORDER BY id")]
    assert len(keys) == ALERTS
    # Exactly once at the receiver: every alert accepted once, the abandoned one sent again with the same key.
    assert Counter(receiver.keys("accepted")) == Counter(keys)
    assert receiver.keys("abandoned") == [held_key]
    assert Counter(receiver.keys("received")) == Counter(keys) + Counter([held_key])
    assert rows(engine, "SELECT count(*) FROM alerts") == [(ALERTS,)]   # no event raised twice
