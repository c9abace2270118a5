"""`python -m ornament_pipeline.auditor [--database-url URL] [--once]`: the auditor loop as a process.

Webhook and retry settings come from the project settings' `auditor` section (config/*.json, overridden by the
`ORNAMENTS_WEBHOOK_*` env vars; docs/auditor.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from sqlalchemy import Engine

from ornament_pipeline.auditor.delivery import DeliveryConfigError, retry_policy_from_settings, webhook_from_settings
from ornament_pipeline.auditor.runner import run_forever, run_once
from ornament_pipeline.config import ConfigError, Settings, get_settings

log = logging.getLogger(__name__)


def run_with_settings(engine: Engine, settings: Settings, once: bool = False, poll_seconds: float = 10.0) -> int:
    """Run with the settings' webhook and retry policy; the exit status (2 on a settings error)."""
    try:
        webhook, policy = webhook_from_settings(settings), retry_policy_from_settings(settings)
    except DeliveryConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if once:
        totals = run_once(engine, webhook, policy)
        print(f"read {totals.alerts.events} event(s), raised {totals.alerts.alert_count} alert(s);"
              f" delivered {totals.deliveries.delivered}, {totals.deliveries.failed_attempts} failed attempt(s)")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("auditor running (webhook: %s)", webhook.url if webhook else "none, log only")
    run_forever(engine, webhook, policy, poll_seconds=poll_seconds, stop=stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ornament_pipeline.auditor", description=__doc__)
    parser.add_argument("--database-url", help="the warehouse (default: the project config / DATABASE_URL)")
    parser.add_argument("--once", action="store_true", help="work off what is there now, then exit")
    parser.add_argument("--poll-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()  # the webhook's settings even when --database-url names the warehouse
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if args.database_url:
        from ornament_pipeline.db.engine import engine_for
        from ornament_pipeline.db.migrations import ensure_migrated

        ensure_migrated(args.database_url)
        engine = engine_for(args.database_url)
    else:
        from ornament_pipeline.db.engine import warehouse_engine

        engine = warehouse_engine(settings)
    return run_with_settings(engine, settings, once=args.once, poll_seconds=args.poll_seconds)
