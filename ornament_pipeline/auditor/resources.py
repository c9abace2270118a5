"""`AuditorResource`: where and how alerts are delivered. Unset fields fall back to `ORNAMENTS_WEBHOOK_*` env vars."""

import os

import dagster as dg

from ornament_pipeline.auditor.delivery import (
    RetryPolicy,
    WebhookConfig,
    make_webhook,
    retry_policy_from_env,
    webhook_from_env,
)


class AuditorResource(dg.ConfigurableResource):
    """Webhook URL and secret, timeout and retry policy for alert delivery; `None` = read the env var."""

    webhook_url: str | None = None
    webhook_secret: str | None = None
    timeout_seconds: float | None = None
    max_attempts: int | None = None
    backoff_seconds: float | None = None
    backoff_max_seconds: float | None = None
    # How long one deliver_alerts run keeps starting sends (it ends within this plus one webhook timeout).
    delivery_budget_seconds: float = 20.0
    delivery_workers: int = 4

    def webhook(self) -> WebhookConfig | None:
        if not self.webhook_url:
            return webhook_from_env()
        secret = self.webhook_secret or os.environ.get("ORNAMENTS_WEBHOOK_SECRET", "")
        from_env = webhook_from_env()
        timeout = self.timeout_seconds or (from_env.timeout_seconds if from_env else 10.0)
        return make_webhook(self.webhook_url, secret, timeout)

    def policy(self) -> RetryPolicy:
        env = retry_policy_from_env()
        return RetryPolicy(
            self.max_attempts or env.max_attempts,
            env.backoff_seconds if self.backoff_seconds is None else self.backoff_seconds,
            env.backoff_max_seconds if self.backoff_max_seconds is None else self.backoff_max_seconds,
        )
