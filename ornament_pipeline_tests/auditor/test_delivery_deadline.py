"""A slow webhook never stalls the change stream: each attempt has a total deadline, no database transaction is
open during the HTTP call, and `ornaments watch run` stops promptly on SIGTERM while a receiver drips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import RetryPolicy, WebhookConfig, deliver_due
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import create_key
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline_tests.auditor.conftest import SECRET, SHOP, T0, listing, rows, sync

ROOT = Path(__file__).resolve().parents[2]
POLICY = RetryPolicy(max_attempts=5, backoff_seconds=60, backoff_max_seconds=60)


class Dripper:
    """Answers every POST `200` with a 100-byte body announced, then drips one byte a second until stopped."""

    def __init__(self) -> None:
        self.started = threading.Event()   # a POST arrived and its drip began
        self.stopped = threading.Event()
        self.requests = 0
        dripper = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                dripper.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.flush()
                dripper.started.set()
                for _ in range(100):
                    if dripper.stopped.wait(1.0):
                        return   # the connection closes short: the sender sees an incomplete body
                    try:
                        self.wfile.write(b".")
                        self.wfile.flush()
                    except OSError:
                        return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def dripper() -> Iterator[Dripper]:
    state = Dripper()
    yield state
    state.close()


def queue_alert(engine: Engine, n: int = 1) -> None:
    add_watch(engine, f"QX{6000 + n}", kinds="new_listing")
    sync(engine, SHOP, [listing(n)], T0)
    assert raise_alerts(engine, ["webhook"]).alert_count == 1


def test_a_dripping_receiver_does_not_hold_back_the_change_stream(engine: Engine, dripper: Dripper) -> None:
    queue_alert(engine)
    webhook = WebhookConfig(dripper.url, SECRET, timeout_seconds=4)
    reports = []
    worker = threading.Thread(target=lambda: reports.append(deliver_due(engine, webhook, POLICY, budget_seconds=1)))
    started = time.monotonic()
    worker.start()
    try:
        assert dripper.started.wait(10), "the POST reached the receiver"
        # While the body drips: a merge commits 81 events (80 new, 1 delisted), and the feed shows them at once.
        sync(engine, SHOP, [listing(n) for n in range(10, 90)], T0 + timedelta(hours=1))
        [(committed,)] = rows(engine, "SELECT count(*) FROM change_events")
        assert committed == 82
        with engine.begin() as conn:
            _, key = create_key(conn, f"read-{uuid.uuid4().hex[:8]}", "read")
        app = create_app(engine, ServerConfig(open_reads=False))
        with TestClient(app, headers={"X-API-Key": key}) as client:
            deadline, seen = time.monotonic() + 2, 0
            while time.monotonic() < deadline and seen < committed:
                seen = len(client.get("/api/v1/changes", params={"limit": 1000}).json()["events"])
                time.sleep(0.1)
        assert seen == committed, f"only {seen} of {committed} committed events readable while a webhook drips"
        # The attempt ends at its total deadline (4 s), not when the drip would (100 s).
        worker.join(8)
        assert not worker.is_alive(), "the attempt outlived its deadline"
        assert time.monotonic() - started < 7
    finally:
        dripper.stopped.set()
        worker.join(10)
    [report] = reports
    assert (report.delivered, report.failed_attempts) == (0, 1)
    assert "deadline" in report.errors[0]
    [(status, attempts, error, due_in)] = rows(
        engine, "SELECT status, attempts, last_error, next_attempt_at - now() FROM alert_deliveries")
    assert (status, attempts) == ("pending", 1) and "deadline" in error
    assert timedelta(seconds=50) < due_in <= timedelta(seconds=60), "retried after its backoff"
    [(attempt, code, attempt_error)] = rows(engine, "SELECT attempt, status_code, error FROM delivery_attempts")
    assert attempt == 1 and code == 200 and "deadline" in attempt_error


def test_a_second_worker_does_not_send_a_claimed_delivery(engine: Engine, dripper: Dripper) -> None:
    """The claim commits before the POST; its lease keeps other workers off the delivery until the deadline."""
    queue_alert(engine)
    webhook = WebhookConfig(dripper.url, SECRET, timeout_seconds=3)
    worker = threading.Thread(target=deliver_due, args=(engine, webhook, POLICY), kwargs={"budget_seconds": 1})
    worker.start()
    try:
        assert dripper.started.wait(10)
        time.sleep(0.5)   # the other delivery threads' empty claims are over by now
        open_transactions = [rows(engine, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                          " AND state LIKE 'idle in transaction%'")[0][0] for _ in range(5)]
        assert open_transactions == [0] * 5, "no transaction is open during the POST"
        second = deliver_due(engine, webhook, POLICY, budget_seconds=0.5)
        assert (second.delivered, second.failed_attempts) == (0, 0)
        assert dripper.requests == 1
    finally:
        dripper.stopped.set()
        worker.join(10)


def test_watch_run_stops_on_sigterm_while_a_receiver_drips(migrated_db_url: str, engine: Engine,
                                                           dripper: Dripper) -> None:
    add_watch(engine, "QX6001", kinds="new_listing")
    env = {**os.environ, "DATABASE_URL": migrated_db_url, "ORNAMENTS_WEBHOOK_URL": dripper.url,
           "ORNAMENTS_WEBHOOK_SECRET": SECRET, "ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "ornament_pipeline.cli", "watch", "run", "--poll-seconds", "0.2"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sync(engine, SHOP, [listing(1)], T0)
        assert dripper.started.wait(30), "the auditor sent the alert"
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail("`ornaments watch run` did not stop within 5 s of SIGTERM")
        assert time.monotonic() - stopping < 5
        assert code == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        dripper.stopped.set()
    # The abandoned attempt leaves the delivery pending and due again at once, for the next run.
    [(status, due_in)] = rows(engine, "SELECT status, next_attempt_at - now() FROM alert_deliveries"
                                      " WHERE channel = 'webhook'")
    assert status == "pending" and due_in <= timedelta(seconds=1)
