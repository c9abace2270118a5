"""Server settings read from the environment (until they move into `config/*.json`).

- `ORNAMENTS_API_OPEN_READS` (true/false, default false): when true, GET routes need no API key.
- `DAGSTER_URL` (default http://127.0.0.1:3000): the Dagster webserver `POST /api/v1/syncs` launches on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ornament_pipeline.config import ConfigError

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class ServerConfig:
    open_reads: bool = False
    dagster_url: str = "http://127.0.0.1:3000"


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"environment: {name}: expected true or false, got {raw!r}")


def server_config_from_env() -> ServerConfig:
    """The server's settings from `ORNAMENTS_API_OPEN_READS` and `DAGSTER_URL`."""
    url = os.environ.get("DAGSTER_URL", "").strip() or ServerConfig.dagster_url
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"environment: DAGSTER_URL: must start with http:// or https://, got {url!r}")
    return ServerConfig(open_reads=_flag("ORNAMENTS_API_OPEN_READS", False), dagster_url=url.rstrip("/"))
