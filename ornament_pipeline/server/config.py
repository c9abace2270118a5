"""Server settings: the `server` section of the project config (`open_reads`, `dagster_url`, `db_threads`),
overridden by `ORNAMENTS_API_OPEN_READS`, `DAGSTER_URL` and `ORNAMENTS_API_DB_THREADS` like every other
setting (see config.py), and `market.deal_share` (what the API marks a deal)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ornament_pipeline.config import Settings

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class ServerConfig:
    open_reads: bool = False
    dagster_url: str = "http://127.0.0.1:3000"
    db_threads: int = 1
    deal_share: Decimal = Decimal("0.2")
    webhook_timeout_seconds: float = 10.0  # the deadline of a destination's signed test delivery


def server_config(settings: Settings) -> ServerConfig:
    return ServerConfig(open_reads=settings.server.open_reads, dagster_url=settings.server.dagster_url,
                        db_threads=settings.server.db_threads,
                        deal_share=Decimal(str(settings.market.deal_share)),  # 0.2, not 0.2000000000000000111
                        webhook_timeout_seconds=settings.auditor.webhook_timeout_seconds)
