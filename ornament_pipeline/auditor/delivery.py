"""Delivery: send pending alert deliveries (webhook, log) with retries and backoff, state kept in Postgres.

One delivery is one transaction: `SELECT ... FOR UPDATE SKIP LOCKED` claims the row, the alert is sent while
the row stays locked (so no other worker sends it meanwhile), and the outcome is committed right after the
response. A worker killed mid-send holds no claim afterwards (Postgres drops its locks with its connection),
so the delivery is simply pending again. A delivery committed as `delivered` is never sent again.

The one window left: the receiver accepted the POST, then the worker died before its commit. The alert is
then sent again with the same `X-Ornaments-Idempotency-Key`, which a receiver uses to drop the repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)
alert_log = logging.getLogger("ornament_pipeline.auditor.alerts")

SIGNATURE_HEADER = "X-Ornaments-Signature"
KEY_HEADER = "X-Ornaments-Idempotency-Key"
TIMESTAMP_HEADER = "X-Ornaments-Timestamp"
ATTEMPT_HEADER = "X-Ornaments-Attempt"


class DeliveryConfigError(ValueError):
    """The webhook settings are inconsistent (e.g. a URL without a secret)."""


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `backoff_seconds * 2**(attempt-1)`, capped; after `max_attempts` it gives up."""

    max_attempts: int = 10
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        delay = min(self.backoff_seconds * 2 ** max(attempt - 1, 0), self.backoff_max_seconds)
        if retry_after is not None:  # the receiver asked for a pause (429/503): honour it, within the cap
            delay = min(max(delay, retry_after), self.backoff_max_seconds)
        return delay


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise DeliveryConfigError(f"{name}: {raw!r} is not a number") from None
    if value < 0:
        raise DeliveryConfigError(f"{name}: must not be negative, got {raw}")
    return value


def webhook_from_env() -> WebhookConfig | None:
    """`ORNAMENTS_WEBHOOK_URL` + `ORNAMENTS_WEBHOOK_SECRET` (+ `ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS`); None when unset."""
    url = os.environ.get("ORNAMENTS_WEBHOOK_URL", "").strip()
    if not url:
        return None
    return make_webhook(url, os.environ.get("ORNAMENTS_WEBHOOK_SECRET", ""),
                        _env_float("ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS", 10.0))


def make_webhook(url: str, secret: str | None, timeout_seconds: float = 10.0) -> WebhookConfig:
    if not url.startswith(("http://", "https://")):
        raise DeliveryConfigError(f"ORNAMENTS_WEBHOOK_URL: {url!r} is not an http(s) URL")
    if not secret:
        # An unsigned alert could be forged by anyone who learns the URL; refuse rather than send one.
        raise DeliveryConfigError("ORNAMENTS_WEBHOOK_SECRET: must be set when ORNAMENTS_WEBHOOK_URL is")
    return WebhookConfig(url, secret, timeout_seconds)


def retry_policy_from_env() -> RetryPolicy:
    """`ORNAMENTS_WEBHOOK_MAX_ATTEMPTS`, `..._BACKOFF_SECONDS`, `..._BACKOFF_MAX_SECONDS` (defaults: 10, 30, 3600)."""
    default = RetryPolicy()
    attempts = _env_float("ORNAMENTS_WEBHOOK_MAX_ATTEMPTS", default.max_attempts)
    if attempts < 1:
        raise DeliveryConfigError("ORNAMENTS_WEBHOOK_MAX_ATTEMPTS: must be at least 1")
    return RetryPolicy(int(attempts), _env_float("ORNAMENTS_WEBHOOK_BACKOFF_SECONDS", default.backoff_seconds),
                       _env_float("ORNAMENTS_WEBHOOK_BACKOFF_MAX_SECONDS", default.backoff_max_seconds))


def channels_for(webhook: WebhookConfig | None) -> list[str]:
    """Deliveries queued per new alert: always the log, and the webhook when one is configured."""
    return ["log", "webhook"] if webhook else ["log"]


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` + hex HMAC-SHA256 of the raw body with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time compare)."""
    return hmac.compare_digest(sign(secret, body), signature)


def webhook_request(webhook: WebhookConfig, key: str, payload: dict[str, Any], attempt: int,
                    now: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one POST. `sent_at` is inside the signed body, so a replay can be told by age."""
    sent_at = (now or datetime.now(UTC)).replace(microsecond=0)
    body = json.dumps({"idempotency_key": key, "sent_at": sent_at.isoformat(), "attempt": attempt, "alert": payload},
                      sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ornament_pipeline-auditor/1",
        SIGNATURE_HEADER: sign(webhook.secret, body),
        KEY_HEADER: key,
        TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
        ATTEMPT_HEADER: str(attempt),
    }
    return body, headers


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.failed_attempts += other.failed_attempts
        self.gave_up += other.gave_up
        self.errors.extend(other.errors[:5])


# The claim picks rows on the due index alone (ordered, LIMIT) before joining the payloads: a plan that joins
# first sorts every pending delivery on each claim (seen at 24k pending: 230 ms instead of 0.1 ms).
_CLAIM = """
WITH claimed AS (
    SELECT id, alert_id, channel, attempts FROM alert_deliveries
    WHERE status = 'pending' AND channel = :channel AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
SELECT c.id, c.channel, c.attempts, a.idempotency_key, a.payload
FROM claimed c JOIN alerts a ON a.id = c.alert_id
ORDER BY c.id"""

# The log cannot refuse an alert: a batch is logged and marked delivered in one transaction.
_LOGGED = """
WITH done AS (
    UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = clock_timestamp()
    WHERE id = ANY(:ids) RETURNING id, attempts
)
INSERT INTO delivery_attempts (delivery_id, attempt, started_at, finished_at)
SELECT id, attempts, :started_at, clock_timestamp() FROM done"""

_RECORD_ATTEMPT = """
INSERT INTO delivery_attempts (delivery_id, attempt, started_at, finished_at, status_code, error)
VALUES (:id, :attempt, :started_at, clock_timestamp(), :status_code, :error)"""

_DELIVERED = f"""
WITH done AS (
    UPDATE alert_deliveries SET status = 'delivered', attempts = :attempt, delivered_at = clock_timestamp(),
                                last_error = NULL
    WHERE id = :id
)
{_RECORD_ATTEMPT}"""

_FAILED = f"""
WITH failed AS (
    UPDATE alert_deliveries
    SET attempts = :attempt, last_error = :error,
        status = CASE WHEN :give_up THEN 'failed' ELSE 'pending' END,
        next_attempt_at = clock_timestamp() + make_interval(secs => :delay)
    WHERE id = :id
)
{_RECORD_ATTEMPT}"""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
        except (TypeError, ValueError):
            return None


def _send(client: httpx.Client | None, webhook: WebhookConfig | None, channel: str, key: str, payload: dict[str, Any],
          attempt: int) -> tuple[int | None, str | None, float | None]:
    """(status code, error or None when delivered, Retry-After seconds)."""
    if channel == "log":
        alert_log.warning("alert %s %s: %s", payload.get("kind"), key, json.dumps(payload, sort_keys=True))
        return None, None, None
    if webhook is None or client is None:
        return None, "no webhook configured (ORNAMENTS_WEBHOOK_URL)", None
    body, headers = webhook_request(webhook, key, payload, attempt)
    try:
        response = client.post(webhook.url, content=body, headers=headers, timeout=webhook.timeout_seconds)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], None
    if 200 <= response.status_code < 300:
        return response.status_code, None, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}", _retry_after(response)


def deliver_logs(conn: Connection, limit: int = 500) -> int:
    """Log up to `limit` due log-channel deliveries and mark them delivered; in the caller's transaction."""
    started_at = datetime.now(UTC)
    due = conn.execute(text(_CLAIM), {"channel": "log", "limit": limit}).all()
    for row in due:
        _send(None, None, "log", row.idempotency_key, row.payload, row.attempts + 1)  # type: ignore[arg-type]
    if due:
        conn.execute(text(_LOGGED), {"ids": [row.id for row in due], "started_at": started_at})
    return len(due)


def deliver_one(conn: Connection, client: httpx.Client, webhook: WebhookConfig | None,
                policy: RetryPolicy) -> DeliveryReport | None:
    """Claim one due webhook delivery, send it, record the outcome; in the caller's transaction.

    None when none is due. The claim's row lock is held during the POST, and the outcome commits with it."""
    row = conn.execute(text(_CLAIM), {"channel": "webhook", "limit": 1}).first()
    if row is None:
        return None
    attempt = row.attempts + 1
    started_at = datetime.now(UTC)
    status_code, error, retry_after = _send(client, webhook, row.channel, row.idempotency_key, row.payload, attempt)
    params = {"id": row.id, "attempt": attempt, "started_at": started_at, "status_code": status_code, "error": error}
    if error is None:
        conn.execute(text(_DELIVERED), params)
        return DeliveryReport(delivered=1)
    give_up = attempt >= policy.max_attempts
    conn.execute(text(_FAILED), {**params, "give_up": give_up, "delay": policy.delay(attempt, retry_after)})
    log.warning("delivery %s (%s, attempt %s) failed: %s%s", row.id, row.channel, attempt, error,
                "; giving up" if give_up else "")
    return DeliveryReport(failed_attempts=1, gave_up=int(give_up), errors=[error])


def deliver_due(engine: Engine, webhook: WebhookConfig | None, policy: RetryPolicy | None = None,
                budget_seconds: float = 20.0, workers: int = 4, client: httpx.Client | None = None) -> DeliveryReport:
    """Deliver what is due with `workers` threads, starting no new send after `budget_seconds`.

    Bounded: at most `budget_seconds` + one webhook timeout. A failure never waits here: it is rescheduled
    in Postgres (`next_attempt_at`) and picked up by a later call."""
    policy = policy or RetryPolicy()
    deadline = time.monotonic() + budget_seconds
    total, lock = DeliveryReport(), threading.Lock()
    own_client = client is None
    client = client or httpx.Client(follow_redirects=False)

    while time.monotonic() < deadline:
        with engine.begin() as conn:
            logged = deliver_logs(conn)
        total.delivered += logged
        if logged < 500:
            break

    def work() -> None:
        while time.monotonic() < deadline:
            with engine.begin() as conn:
                report = deliver_one(conn, client, webhook, policy)
            if report is None:
                return
            with lock:
                total.add(report)

    try:
        threads = [threading.Thread(target=work, name=f"auditor-delivery-{n}", daemon=True)
                   for n in range(max(workers, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if own_client:
            client.close()
    return total


def next_due_in(engine: Engine) -> float | None:
    """Seconds until the next pending delivery is due (0 when one is due now); None when nothing is pending."""
    with engine.connect() as conn:
        value = conn.execute(text(
            "SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - clock_timestamp()) FROM alert_deliveries"
            " WHERE status = 'pending'")).scalar()
    return None if value is None else max(float(value), 0.0)
