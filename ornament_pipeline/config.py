"""Project configuration: `ENV` picks `CONFIG_PATH` (default `./config/$ENV.json`), env vars override
(`ENV_OVERRIDES`, the one list of them). Secrets (the webhook's) come from the environment only.

With neither `ENV` nor `CONFIG_PATH` set and no `./config/default.json` (an installed wheel run outside the
checkout), the built-in defaults apply: the live sites with the polite settings below, logged once. A file
that `ENV` or `CONFIG_PATH` names and that is missing stays an error.

A bad file ends in one `ConfigError` that names the file and the key; the CLI prints it and exits 2. Values
are refused here, at load, rather than wherever they would first be used (a request that cannot be sent,
a schedule Dagster cannot build): non-finite numbers, URLs without a host or with whitespace or control
characters, header values that cannot be sent, crons and time zones Dagster would not accept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ornament_pipeline.vendors import LIVE_BASE_URLS, VENDOR_KEYS, base_url_env_var

log = logging.getLogger(__name__)

TRACKABLE_FIELDS = ("price", "availability", "name", "sku", "condition", "item_number", "link")


class ConfigError(Exception):
    """A configuration problem, already phrased for a person: file, key, reason."""


MAX_SECONDS = 7 * 24 * 3600.0  # any delay, timeout or TTL: beyond this it is a typo (and overflows sleeps)


def _no_controls(value: str) -> str:
    """Refuse whitespace and control characters: in a URL they are a paste accident, never meant."""
    for index, char in enumerate(value):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            raise ValueError(f"contains {'whitespace' if char.isspace() else 'a control character'} "
                             f"(U+{ord(char):04X} at position {index})")
    return value


def _url_parts(value: str, schemes: tuple[str, ...]) -> Any:
    _no_controls(value)
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"must start with {' or '.join(f'{scheme}://' for scheme in schemes)}")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when asked)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return parts


def _http_url(value: str) -> str:
    if not _url_parts(value, ("http", "https")).hostname:
        raise ValueError("has no host")
    return value.rstrip("/")


def _webhook_url(value: str) -> str:
    # Checked like any URL but posted exactly as written: a trailing slash may matter to the receiver.
    if not _url_parts(value, ("http", "https")).hostname:
        raise ValueError("has no host")
    return value


def _database_url(value: str) -> str:
    # The value is not quoted back: it may hold a password.
    parts = _url_parts(value, ("postgresql", "postgres", "postgresql+psycopg2"))
    if not parts.hostname and not parse_qs(parts.query).get("host"):  # ?host=/run/postgresql: a socket
        raise ValueError("has no host")
    return value


def _redis_url(value: str) -> str:
    parts = _url_parts(value, ("redis", "rediss", "unix"))
    if parts.scheme == "unix" and not parts.path:
        raise ValueError("unix:// needs the socket's path")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("has no host")
    return value


def _celery_broker_url(value: str) -> str:
    if not _url_parts(value, ("amqp", "amqps", "pyamqp", "redis", "rediss")).hostname:
        raise ValueError("has no host")
    return value


def _celery_backend_url(value: str) -> str:
    # rpc:// sends each result back over the broker; Redis keeps them there.
    parts = _url_parts(value, ("rpc", "redis", "rediss"))
    if parts.scheme != "rpc" and not parts.hostname:
        raise ValueError("has no host")
    return value


def _header_text(value: str) -> str:
    """Text sent in the User-Agent header: printable ASCII only (what the HTTP client and Chromium send as
    is; a CR or LF would make every request fail, or split the header)."""
    for index, char in enumerate(value):
        if not " " <= char <= "~":
            raise ValueError(f"must be printable ASCII for an HTTP header; U+{ord(char):04X} at position {index}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _cron(value: str) -> str:
    from dagster._utils.schedules import is_valid_cron_schedule  # the check Dagster's schedules run

    if not is_valid_cron_schedule(value):
        raise ValueError(f"{value!r} is not a cron expression Dagster accepts (5 fields, e.g. '0 6 * * *')")
    return value


def _timezone(value: str) -> str:
    if value in ("UTC", "utc"):  # Dagster's own shortcut
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{value!r} is not a known time zone (an IANA name such as 'America/New_York')") from None
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]


class _Strict(BaseModel):
    # allow_inf_nan: JSON as Python reads it has Infinity and NaN literals; no float field may take them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Politeness(_Strict):
    obey_robots_txt: bool = True
    min_delay_seconds: Seconds = 1.0
    max_concurrency: int = Field(1, ge=1)
    max_retries: int = Field(3, ge=0)
    backoff_base_seconds: Seconds = 2.0
    backoff_max_seconds: Seconds = 120.0
    page_timeout_seconds: PositiveSeconds = 30.0
    robots_ttl_seconds: PositiveSeconds = 3600.0  # how long a fetched robots.txt is trusted


class VendorConfig(_Strict):
    base_url: HttpUrlText
    enabled: bool = True
    politeness: Politeness = Politeness()
    # Pages the integration knows to be server-rendered: read with an in-page fetch() ("fetch", about 4x
    # cheaper) or by navigating to them ("navigate"). Pages built by script are always navigated to.
    static_pages: Literal["fetch", "navigate"] = "fetch"


class DatabaseConfig(_Strict):
    url: Annotated[str, AfterValidator(_database_url)] | None = None
    embedded_data_dir: str = ".ornaments/pgdata"
    embedded_port: int = Field(54329, ge=1, le=65535)


class RedisConfig(_Strict):
    url: Annotated[str, AfterValidator(_redis_url)] | None = None
    year_links_ttl_seconds: int = Field(7 * 24 * 3600, ge=1)


class SeleniumConfig(_Strict):
    remote_url: HttpUrlText | None = None
    chromedriver_path: str = "/usr/bin/chromedriver"
    chromium_path: str | None = None
    pool_size: int = Field(1, ge=1)
    page_load_strategy: Literal["normal", "eager", "none"] = "eager"
    block_images: bool = True
    driver_max_pages: int = Field(500, ge=1)


class ScraperConfig(_Strict):
    user_agent: Annotated[str, AfterValidator(_header_text)] = "ornament_pipeline/0.1 (Hallmark ornament price tracker)"
    contact_url: Annotated[str, AfterValidator(_http_url), AfterValidator(_header_text)] = (
        "https://github.com/ornament-pipeline/ornament_pipeline"
    )


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
    daily_cron: Annotated[str, AfterValidator(_cron)] = "0 6 * * *"
    weekly_cron: Annotated[str, AfterValidator(_cron)] = "0 2 * * 0"
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    retry_failed_after_minutes: int = Field(60, ge=0)
    # How long after a scheduled time its runs may take before a vendor-year it covers counts as late
    # (check synced_on_schedule).
    freshness_grace_minutes: int = Field(180, ge=0, le=7 * 24 * 60)


class ServerSettings(_Strict):
    open_reads: bool = False  # GET routes of the HTTP API without a key
    dagster_url: HttpUrlText = "http://127.0.0.1:3000"  # where POST /api/v1/syncs and `ornaments sync` launch
    # Threads per server process that run requests' database work. Few keeps the tail latency low (threads
    # past the first fight over the GIL); more lets slow queries overlap. Scale with `serve --workers` instead.
    db_threads: int = Field(1, ge=1, le=64)


class CeleryConfig(_Strict):
    """Where the `ornament_pipeline.celery_definitions` code location sends its steps; the workers' `-y` file
    names the same broker (README "Steps on Celery workers")."""

    broker_url: Annotated[str, AfterValidator(_celery_broker_url)] = "pyamqp://guest@127.0.0.1:5672//"
    backend_url: Annotated[str, AfterValidator(_celery_backend_url)] = "rpc://"


class MarketConfig(_Strict):
    # An in-stock offer at least this share under its ornament's fair price is marked a deal (0.2: 20% under).
    deal_share: float = Field(0.2, gt=0, lt=1)


WEBHOOK_SECRET_ENV = "ORNAMENTS_WEBHOOK_SECRET"


class AuditorConfig(_Strict):
    """Alert delivery (docs/auditor.md). The webhook's secret is read from the environment only."""

    webhook_url: Annotated[str, AfterValidator(_webhook_url)] | None = None  # None: alerts go to the log only
    webhook_timeout_seconds: PositiveSeconds = 10.0  # the whole of one attempt, wall clock
    max_attempts: int = Field(10, ge=1)
    backoff_seconds: Seconds = 30.0  # before the second attempt; doubled each time, up to backoff_max_seconds
    backoff_max_seconds: Seconds = 3600.0
    webhook_secret: SecretStr | None = None  # from WEBHOOK_SECRET_ENV (a file holding it is refused at load)

    @model_validator(mode="after")
    def _signed(self) -> AuditorConfig:
        # An unsigned alert could be forged by anyone who learns the URL: refuse rather than send one.
        if self.webhook_url and not (self.webhook_secret and self.webhook_secret.get_secret_value()):
            raise ValueError(f"webhook_url is set but {WEBHOOK_SECRET_ENV} is not; every alert is signed with it "
                             "(set it in the environment, or unset the URL for log-only alerts)")
        return self


class Settings(_Strict):
    vendors: dict[str, VendorConfig]
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    selenium: SeleniumConfig = SeleniumConfig()
    scraper: ScraperConfig = ScraperConfig()
    history: HistoryConfig = HistoryConfig()
    schedules: SchedulesConfig = SchedulesConfig()
    server: ServerSettings = ServerSettings()
    market: MarketConfig = MarketConfig()
    auditor: AuditorConfig = AuditorConfig()
    celery: CeleryConfig = CeleryConfig()
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


BUILT_IN_SOURCE = "built-in defaults"  # `Settings.source` when no file was read


def _built_in() -> dict[str, Any]:
    """What `config/default.json` says (a test holds the two equal): the live sites, polite settings."""
    return {"vendors": {key: {"base_url": url} for key, url in LIVE_BASE_URLS.items()}}


_told_built_in = False


def _default_file_absent(path: Path) -> bool:
    """True when `path` is the implicit default and there is no file there: the built-in defaults apply."""
    global _told_built_in
    if "ENV" in os.environ or "CONFIG_PATH" in os.environ or path.exists():
        return False
    if not _told_built_in:
        _told_built_in = True
        log.warning("no config file at %s and neither ENV nor CONFIG_PATH set: using the built-in defaults "
                    "(the live sites, polite settings)", path)
    return True


# Environment variables that override one key of the file: (variable, section, key).
ENV_OVERRIDES = (
    ("DATABASE_URL", "database", "url"),
    ("REDIS_URL", "redis", "url"),
    ("SELENIUM_REMOTE_URL", "selenium", "remote_url"),
    ("DAGSTER_URL", "server", "dagster_url"),
    ("ORNAMENTS_API_OPEN_READS", "server", "open_reads"),
    ("ORNAMENTS_API_DB_THREADS", "server", "db_threads"),
    ("ORNAMENTS_WEBHOOK_URL", "auditor", "webhook_url"),
    (WEBHOOK_SECRET_ENV, "auditor", "webhook_secret"),  # the one key a file may not set
    ("ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS", "auditor", "webhook_timeout_seconds"),
    ("ORNAMENTS_WEBHOOK_MAX_ATTEMPTS", "auditor", "max_attempts"),
    ("ORNAMENTS_WEBHOOK_BACKOFF_SECONDS", "auditor", "backoff_seconds"),
    ("ORNAMENTS_WEBHOOK_BACKOFF_MAX_SECONDS", "auditor", "backoff_max_seconds"),
    ("ORNAMENTS_CELERY_BROKER", "celery", "broker_url"),
    ("ORNAMENTS_CELERY_BACKEND", "celery", "backend_url"),
)
ENV_ONLY = {("auditor", "webhook_secret")}  # secrets: from the environment, never from a file
MAX_DEPTH = 16  # the deepest key of a valid file is 4 levels down; far deeper is no config


def _apply_env_overrides(raw: dict[str, Any]) -> dict[tuple[str, ...], str]:
    """Put the environment's values into `raw`; returns which variable set which key (for errors)."""
    applied: dict[tuple[str, ...], str] = {}
    for key in VENDOR_KEYS:
        override = os.environ.get(base_url_env_var(key))
        vendors = raw.setdefault("vendors", {}) if override else None
        if isinstance(vendors, dict):
            entry = vendors.setdefault(key, {"base_url": LIVE_BASE_URLS[key]})
            if isinstance(entry, dict):
                entry["base_url"] = override
                applied[("vendors", key, "base_url")] = base_url_env_var(key)
    for env_var, section, key in ENV_OVERRIDES:
        if os.environ.get(env_var):
            target = raw.setdefault(section, {})
            if isinstance(target, dict):
                target[key] = os.environ[env_var]
                applied[(section, key)] = env_var
    return applied


def _describe(error: ValidationError, source: str, from_env: dict[tuple[str, ...], str]) -> str:
    first = error.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    key = ".".join(loc) or "(top level)"
    if loc in from_env:
        key += f" (set by {from_env[loc]})"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
    return f"{source}: {key}: {message}{more}"


def _too_deep(raw: object) -> str | None:
    """The key path of the first value nested deeper than `MAX_DEPTH`, or None."""
    stack: list[tuple[object, tuple[str, ...]]] = [(raw, ())]
    while stack:
        value, keys = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for name, child in items:
            if len(keys) >= MAX_DEPTH:
                return ".".join(keys[:4]) + "..."
            stack.append((child, (*keys, str(name))))
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Read, override from the environment, and validate. Raises `ConfigError`."""
    explicit = path is not None
    path = path or config_path()
    if not explicit and _default_file_absent(path):
        return _validate(_built_in(), BUILT_IN_SOURCE)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (ENV/CONFIG_PATH select it)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return _parse(path, data)


def _parse(path: Path, data: bytes) -> Settings:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = data.count(b"\n", 0, exc.start) + 1, exc.start - data.rfind(b"\n", 0, exc.start)
        byte = data[exc.start]
        raise ConfigError(f"{path}: not UTF-8 text: byte 0x{byte:02x} at line {line} column {column}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"{path}: (top level): nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: (top level): must be a JSON object")
    deep = _too_deep(raw)
    if deep:
        raise ConfigError(f"{path}: {deep}: nested more than {MAX_DEPTH} levels deep")
    for env_var, section, key in ENV_OVERRIDES:
        if (section, key) in ENV_ONLY and isinstance(raw.get(section), dict) and key in raw[section]:
            raise ConfigError(f"{path}: {section}.{key}: a secret is not kept in a config file; "
                              f"set {env_var} in the environment")
    return _validate(raw, str(path))


def _validate(raw: dict[str, Any], source: str) -> Settings:
    from_env = _apply_env_overrides(raw)
    try:
        return Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, from_env)) from None


@lru_cache(maxsize=1)
def _cached(path: str, data: bytes | None, env_fingerprint: str) -> Settings:
    # data None: no file selected and none at the default path (`_default_file_absent`).
    return _validate(_built_in(), BUILT_IN_SOURCE) if data is None else _parse(Path(path), data)


def get_settings() -> Settings:
    """Settings for this process, re-read whenever the file's content or an overriding env var changes: the
    cache's key is the bytes read now (a few KB; cheap next to what a caller does with the settings) and a
    digest of the variables, so a cached value is never stale, whatever the file's mtime or the cwd."""
    path = config_path()
    data: bytes | None = None
    if not _default_file_absent(path):
        try:
            data = path.read_bytes()
        except OSError:
            return load_settings(path)  # raises the ConfigError that says why
    names = [env_var for env_var, _, _ in ENV_OVERRIDES] + list(map(base_url_env_var, VENDOR_KEYS))
    env = json.dumps([(name, os.environ.get(name, "")) for name in names])
    # A digest, not the values: the secret is not kept a second time in memory.
    return _cached(str(path), data, hashlib.sha256(env.encode()).hexdigest())
