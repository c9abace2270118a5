"""Project configuration: `ENV` picks `CONFIG_PATH` (default `./config/$ENV.json`), env vars override.

A bad file ends in one `ConfigError` that names the file and the key; the CLI prints it and exits 2.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ornament_pipeline.vendors import LIVE_BASE_URLS, VENDOR_KEYS, base_url_env_var

TRACKABLE_FIELDS = ("price", "availability", "name", "sku", "condition", "item_number", "link")


class ConfigError(Exception):
    """A configuration problem, already phrased for a person: file, key, reason."""


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


HttpUrlText = Annotated[str, AfterValidator(_http_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Politeness(_Strict):
    obey_robots_txt: bool = True
    min_delay_seconds: float = Field(1.0, ge=0)
    max_concurrency: int = Field(1, ge=1)
    max_retries: int = Field(3, ge=0)
    backoff_base_seconds: float = Field(2.0, ge=0)
    backoff_max_seconds: float = Field(120.0, ge=0)
    page_timeout_seconds: float = Field(30.0, gt=0)
    robots_ttl_seconds: float = Field(3600.0, gt=0)  # how long a fetched robots.txt is trusted


class VendorConfig(_Strict):
    base_url: HttpUrlText
    enabled: bool = True
    politeness: Politeness = Politeness()
    # Pages the integration knows to be server-rendered: read with an in-page fetch() ("fetch", about 4x
    # cheaper) or by navigating to them ("navigate"). Pages built by script are always navigated to.
    static_pages: Literal["fetch", "navigate"] = "fetch"



class DatabaseConfig(_Strict):
    url: str | None = None
    embedded_data_dir: str = ".ornaments/pgdata"
    embedded_port: int = Field(54329, ge=1, le=65535)


class RedisConfig(_Strict):
    url: str | None = None
    year_links_ttl_seconds: int = Field(7 * 24 * 3600, ge=1)


class SeleniumConfig(_Strict):
    remote_url: str | None = None
    chromedriver_path: str = "/usr/bin/chromedriver"
    chromium_path: str | None = None
    pool_size: int = Field(1, ge=1)
    page_load_strategy: Literal["normal", "eager", "none"] = "eager"
    block_images: bool = True
    driver_max_pages: int = Field(500, ge=1)


class ScraperConfig(_Strict):
    user_agent: str = "ornament_pipeline/0.1 (Hallmark ornament price tracker)"
    contact_url: str = "https://github.com/ornament-pipeline/ornament_pipeline"


class HistoryConfig(_Strict):
    tracked_fields: tuple[str, ...] = ("price", "availability")

    @field_validator("tracked_fields")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(TRACKABLE_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; trackable: {list(TRACKABLE_FIELDS)}")
        if not value:
            raise ValueError("at least one field must be tracked")
        return value


class SchedulesConfig(_Strict):
    daily_cron: str = "0 6 * * *"
    weekly_cron: str = "0 2 * * 0"
    timezone: str = "UTC"
    retry_failed_after_minutes: int = Field(60, ge=0)


class ServerSettings(_Strict):
    open_reads: bool = False  # GET routes of the HTTP API without a key
    dagster_url: HttpUrlText = "http://127.0.0.1:3000"  # where POST /api/v1/syncs and `ornaments sync` launch
    # Threads per server process that run requests' database work. Few keeps the tail latency low (threads
    # past the first fight over the GIL); more lets slow queries overlap. Scale with `serve --workers` instead.
    db_threads: int = Field(1, ge=1, le=64)



class Settings(_Strict):
    vendors: dict[str, VendorConfig]
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    selenium: SeleniumConfig = SeleniumConfig()
    scraper: ScraperConfig = ScraperConfig()
    history: HistoryConfig = HistoryConfig()
    schedules: SchedulesConfig = SchedulesConfig()
    server: ServerSettings = ServerSettings()
    source: str = ""

    @field_validator("vendors")
    @classmethod
    def _known_vendors(cls, value: dict[str, VendorConfig]) -> dict[str, VendorConfig]:
        for key in value:
            if key not in VENDOR_KEYS:
                raise ValueError(f"unknown vendor {key!r}; expected one of {list(VENDOR_KEYS)}")
        return value

    def vendor(self, key: str) -> VendorConfig:
        if key not in self.vendors:
            raise ConfigError(f"{self.source}: vendors.{key}: vendor not configured")
        return self.vendors[key]

    @property
    def enabled_vendors(self) -> list[str]:
        return [key for key in VENDOR_KEYS if key in self.vendors and self.vendors[key].enabled]


def config_path() -> Path:
    env = os.environ.get("ENV", "default")
    return Path(os.environ.get("CONFIG_PATH", f"./config/{env}.json"))


def _apply_env_overrides(raw: dict[str, Any]) -> dict[str, Any]:
    for key in VENDOR_KEYS:
        override = os.environ.get(base_url_env_var(key))
        vendors = raw.setdefault("vendors", {}) if override else None
        if isinstance(vendors, dict):
            entry = vendors.setdefault(key, {"base_url": LIVE_BASE_URLS[key]})
            if isinstance(entry, dict):
                entry["base_url"] = override
    for env_var, section, key in (
        ("DATABASE_URL", "database", "url"),
        ("REDIS_URL", "redis", "url"),
        ("SELENIUM_REMOTE_URL", "selenium", "remote_url"),
        ("DAGSTER_URL", "server", "dagster_url"),
        ("ORNAMENTS_API_OPEN_READS", "server", "open_reads"),
        ("ORNAMENTS_API_DB_THREADS", "server", "db_threads"),
    ):
        if os.environ.get(env_var):
            target = raw.setdefault(section, {})
            if isinstance(target, dict):
                target[key] = os.environ[env_var]
    return raw


def _describe(error: ValidationError, path: Path) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
    return f"{path}: {key}: {message}{more}"


def load_settings(path: Path | None = None) -> Settings:
    """Read, override from the environment, and validate. Raises `ConfigError`."""
    path = path or config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (ENV/CONFIG_PATH select it)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: (top level): must be a JSON object")
    try:
        return Settings.model_validate({**_apply_env_overrides(raw), "source": str(path)})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


@lru_cache(maxsize=1)
def _cached(path: str, env_fingerprint: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(Path(path))


def get_settings() -> Settings:
    """Settings for this process, re-read when the file path or the overriding env vars change."""
    names = ["DATABASE_URL", "REDIS_URL", "SELENIUM_REMOTE_URL", "DAGSTER_URL", "ORNAMENTS_API_OPEN_READS",
             *map(base_url_env_var, VENDOR_KEYS)]
    fingerprint = tuple((name, os.environ.get(name, "")) for name in names)
    return _cached(str(config_path()), fingerprint)
