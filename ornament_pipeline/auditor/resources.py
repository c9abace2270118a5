"""`AuditorResource`: where and how alerts are delivered. Unset fields come from the project settings'
`auditor` section (config/*.json, overridden by the `ORNAMENTS_WEBHOOK_*` env vars; the secret from
`ORNAMENTS_WEBHOOK_SECRET` only)."""

import dagster as dg

from ornament_pipeline.auditor.delivery import RetryPolicy, WebhookConfig, make_webhook, retry_policy_from_settings
from ornament_pipeline.config import AuditorConfig, get_settings


class AuditorResource(dg.ConfigurableResource):
    """Webhook URL and secret, timeout and retry policy for alert delivery; `None` = the settings' value.

    A secret set here should come from the environment: `webhook_secret=dg.EnvVar("...")`."""

    webhook_url: str | None = None
    webhook_secret: str | None = None
    timeout_seconds: float | None = None
    max_attempts: int | None = None
    backoff_seconds: float | None = None
    backoff_max_seconds: float | None = None
    # How long one deliver_alerts run keeps starting sends (it ends within this plus one webhook timeout).
    delivery_budget_seconds: float = 20.0
    delivery_workers: int = 4

    def _auditor(self) -> AuditorConfig:
        return get_settings().auditor

    def webhook(self) -> WebhookConfig | None:
        """Each unset field from the settings; loaded only when one is unset."""
        if self.webhook_url and self.webhook_secret and self.timeout_seconds is not None:
            return make_webhook(self.webhook_url, self.webhook_secret, self.timeout_seconds)
        auditor = self._auditor()
        url = self.webhook_url or auditor.webhook_url
        if not url:
            return None
        secret = self.webhook_secret or (auditor.webhook_secret.get_secret_value() if auditor.webhook_secret else "")
        timeout = auditor.webhook_timeout_seconds if self.timeout_seconds is None else self.timeout_seconds
        return make_webhook(url, secret, timeout)

    def policy(self) -> RetryPolicy:
        """Retries, and the deadline of an attempt at a collector's destination (`timeout_seconds`)."""
        if (self.max_attempts is not None and self.backoff_seconds is not None and self.backoff_max_seconds is not None
                and self.timeout_seconds is not None):
            return RetryPolicy(self.max_attempts, self.backoff_seconds, self.backoff_max_seconds, self.timeout_seconds)
        default = retry_policy_from_settings(get_settings())
        return RetryPolicy(
            default.max_attempts if self.max_attempts is None else self.max_attempts,
            default.backoff_seconds if self.backoff_seconds is None else self.backoff_seconds,
            default.backoff_max_seconds if self.backoff_max_seconds is None else self.backoff_max_seconds,
            default.timeout_seconds if self.timeout_seconds is None else self.timeout_seconds,
        )
