"""Configuration: the default file loads, env vars override, every kind of bad file is one clear error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ornament_pipeline.config import ENV_OVERRIDES, ConfigError, get_settings, load_settings
from ornament_pipeline.vendors import LIVE_BASE_URLS, VENDOR_KEYS

REPO = Path(__file__).resolve().parents[2]
ORNAMENTS = [sys.executable, "-m", "ornament_pipeline.cli"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ["ENV", "CONFIG_PATH", *(env_var for env_var, _, _ in ENV_OVERRIDES)]:
        monkeypatch.delenv(name, raising=False)
    for vendor in VENDOR_KEYS:
        monkeypatch.delenv(f"{vendor.upper()}_BASE_URL", raising=False)


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "conf.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_default_config_points_at_live_sites() -> None:
    settings = load_settings(REPO / "config" / "default.json")
    assert {k: v.base_url for k, v in settings.vendors.items()} == LIVE_BASE_URLS
    assert settings.history.tracked_fields == ("price", "availability")
    assert settings.enabled_vendors == list(VENDOR_KEYS)
    live = settings.vendor("ornament_shop_com").politeness
    assert live.max_concurrency == 1 and live.min_delay_seconds >= 1.0 and live.obey_robots_txt


def test_env_selects_file_and_env_vars_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "staging.json").write_text(
        json.dumps({"vendors": {"ornament_shop_com": {"base_url": "https://www.ornament-shop.com"}}})
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENV", "staging")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("SELENIUM_REMOTE_URL", "http://grid:4444")
    monkeypatch.setenv("ORNAMENT_SHOP_COM_BASE_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("HOOKEDONHALLMARK_COM_BASE_URL", "http://127.0.0.1:9998")
    settings = load_settings()
    assert settings.source == "config/staging.json"
    assert settings.database.url == "postgresql://u@db/x"
    assert settings.redis.url == "redis://cache:6379/1"
    assert settings.selenium.remote_url == "http://grid:4444"
    assert settings.vendor("ornament_shop_com").base_url == "http://127.0.0.1:9999"
    # An override for a vendor the file does not list adds it.
    assert settings.vendor("hookedonhallmark_com").base_url == "http://127.0.0.1:9998"
    with pytest.raises(ConfigError, match="vendors.hallmark_ornaments_com"):
        settings.vendor("hallmark_ornaments_com")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"vendors": {', r"invalid JSON at line 1 column 14"),
        ([1, 2], r"\(top level\): must be a JSON object"),
        ({"vendors": {"ebay_com": {"base_url": "https://ebay.com"}}}, r"vendors: unknown vendor 'ebay_com'"),
        (
            {"vendors": {"ornament_shop_com": {"base_url": "x", "enabled": True}}},
            r"vendors.ornament_shop_com.base_url: must start with http",
        ),
        (
            {"vendors": {"ornament_shop_com": {"base_url": "https://a.b", "enabled": "sometimes"}}},
            r"vendors.ornament_shop_com.enabled: Input should be a valid boolean",
        ),
        (
            {"vendors": {}, "redis": {"year_links_ttl_seconds": "a week"}},
            r"redis.year_links_ttl_seconds: Input should be a valid integer",
        ),
        ({"vendors": {}, "history": {"tracked_fields": ["colour"]}}, r"history.tracked_fields: unknown field"),
        ({"vendors": {}, "databse": {}}, r"databse: unknown key"),
        ({}, r"vendors: Field required"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, content: object, expected: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.json")


def test_cli_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, {"vendors": {"ornament_shop_com": {"base_url": "https://a.b", "enabled": "sometimes"}}})
    env = {**os.environ, "CONFIG_PATH": str(path)}
    result = subprocess.run([*ORNAMENTS, "db", "init"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"config error: {path}: vendors.ornament_shop_com.enabled: Input should be a valid boolean, "
                     "unable to interpret input"]


SHOP = "ornament_shop_com"


def shop(**politeness: object) -> dict[str, object]:
    return {"vendors": {SHOP: {"base_url": "https://a.b", "politeness": politeness}}}


def run_cli(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ENV")}
    return subprocess.run([*ORNAMENTS, *(args or ("db", "init"))], capture_output=True, text=True,
                          env={**env, **env_extra}, timeout=120)


# Values that passed before and failed later (a request that cannot be sent, a schedule Dagster will not
# build, an endless sleep), or ended in a traceback: each is now one line naming file and key.
REFUSED_AT_LOAD = [
    ('{"vendors": {"ornament_shop_com": {"base_url": "https://a.b", "politeness": {"min_delay_seconds": Infinity}}}}',
     rf"vendors.{SHOP}.politeness.min_delay_seconds: Input should be a finite number"),
    ('{"vendors": {"ornament_shop_com": {"base_url": "https://a.b", "politeness": {"page_timeout_seconds": NaN}}}}',
     rf"vendors.{SHOP}.politeness.page_timeout_seconds: Input should be a finite number"),
    ('{"vendors": {"ornament_shop_com": {"base_url": "https://a.b", "politeness": {"max_retries": -Infinity}}}}',
     rf"vendors.{SHOP}.politeness.max_retries: Input should be a finite number"),
    (shop(backoff_max_seconds=-1), rf"vendors.{SHOP}.politeness.backoff_max_seconds: Input should be greater"),
    (shop(page_timeout_seconds=1e300), rf"vendors.{SHOP}.politeness.page_timeout_seconds: Input should be less"),
    ({"vendors": {SHOP: {"base_url": "https://"}}}, rf"vendors.{SHOP}.base_url: has no host"),
    ({"vendors": {SHOP: {"base_url": "https://a.b/x y"}}}, rf"vendors.{SHOP}.base_url: contains whitespace"),
    ({"vendors": {SHOP: {"base_url": "https://a.b\n"}}}, rf"vendors.{SHOP}.base_url: contains whitespace"),
    ({"vendors": {SHOP: {"base_url": "https://a.b:99999"}}}, rf"vendors.{SHOP}.base_url: has an invalid port"),
    ({"vendors": {}, "database": {"url": "postgresql:///ornaments"}}, r"database.url: has no host"),
    ({"vendors": {}, "database": {"url": "mysql://db/x"}}, r"database.url: must start with postgresql://"),
    ({"vendors": {}, "redis": {"url": "redis://"}}, r"redis.url: has no host"),
    ({"vendors": {}, "redis": {"url": "redis://cache\x00:6379"}}, r"redis.url: contains a control character"),
    ({"vendors": {}, "selenium": {"remote_url": "grid:4444"}}, r"selenium.remote_url: must start with http"),
    ({"vendors": {}, "server": {"dagster_url": "http:///graphql"}}, r"server.dagster_url: has no host"),
    ({"vendors": {}, "scraper": {"contact_url": "https://x.org/\u200bme"}}, r"scraper.contact_url: contains a control"),
    ({"vendors": {}, "scraper": {"user_agent": "bot/1\r\nX-Injected: 1"}},
     r"scraper.user_agent: must be printable ASCII for an HTTP header; U\+000D at position 5"),
    ({"vendors": {}, "scraper": {"user_agent": "caf\u00e9 bot"}}, r"scraper.user_agent: must be printable ASCII"),
    ({"vendors": {}, "scraper": {"user_agent": " "}}, r"scraper.user_agent: must not be empty"),
    ({"vendors": {}, "schedules": {"daily_cron": "0 6 * *"}}, r"schedules.daily_cron: '0 6 \* \*' is not a cron"),
    ({"vendors": {}, "schedules": {"weekly_cron": "0 2 31 2 *"}}, r"schedules.weekly_cron: .* is not a cron"),
    ({"vendors": {}, "schedules": {"timezone": "Mars/Olympus"}}, r"schedules.timezone: 'Mars/Olympus' is not a known"),
    ({"vendors": {}, "schedules": {"timezone": "America"}}, r"schedules.timezone: 'America' is not a known"),
    ('{"vendors": {}, "x": ' + "[" * 100_000 + "]" * 100_000 + "}", r"\(top level\): nested more than 16 levels"),
    ('{"vendors": {"a": ' + '{"a": ' * 30 + "1" + "}" * 31 + "}",
     r"vendors\.a\.a\.a\.\.\.: nested more than 16 levels"),
]


@pytest.mark.parametrize(("content", "expected"), REFUSED_AT_LOAD)
def test_bad_values_are_refused_at_load(tmp_path: Path, content: object, expected: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_valid_urls_crons_and_zones_still_load(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "vendors": {SHOP: {"base_url": "http://127.0.0.1:8702/"}},
        "database": {"url": "postgresql://u:p%40ss@db:5432/x?sslmode=require"},
        "redis": {"url": "unix:///run/redis.sock"},
        "selenium": {"remote_url": "http://grid:4444/wd/hub"},
        "schedules": {"daily_cron": "*/15 6-18 * * 1-5", "weekly_cron": "@weekly", "timezone": "America/New_York"},
    })
    settings = load_settings(path)
    assert settings.vendor(SHOP).base_url == "http://127.0.0.1:8702"
    assert settings.schedules.timezone == "America/New_York"
    socket_url = write(tmp_path, {"vendors": {}, "database": {"url": "postgresql:///x?host=/run/postgresql"}})
    assert load_settings(socket_url).database.url == "postgresql:///x?host=/run/postgresql"


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "conf.json"
    path.write_bytes(b'{"vendors": {},\n "scraper": {"user_agent": "caf\xe9"}}')
    with pytest.raises(ConfigError, match=r"not UTF-8 text: byte 0xe9 at line 2 column 32"):
        load_settings(path)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "postgresql://db/x\n", r"database.url \(set by DATABASE_URL\): contains whitespace"),
        ("REDIS_URL", "redis:///0", r"redis.url \(set by REDIS_URL\): has no host"),
        ("SELENIUM_REMOTE_URL", "http://", r"selenium.remote_url \(set by SELENIUM_REMOTE_URL\): has no host"),
        ("ORNAMENT_SHOP_COM_BASE_URL", "https://a b",
         rf"vendors.{SHOP}.base_url \(set by ORNAMENT_SHOP_COM_BASE_URL\): contains whitespace"),
        ("ORNAMENTS_API_DB_THREADS", "0", r"server.db_threads \(set by ORNAMENTS_API_DB_THREADS\): Input should be"),
    ],
)
def test_environment_overrides_are_validated_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, {"vendors": {}}))


@pytest.mark.parametrize(
    ("content", "env_extra", "expected"),
    [
        ('{"vendors": {"ornament_shop_com": {"base_url": "https://a.b", "politeness": {"min_delay_seconds": NaN}}}}',
         {}, rf"vendors.{SHOP}.politeness.min_delay_seconds: Input should be a finite number"),
        ({"vendors": {}, "schedules": {"timezone": "Mars/Olympus"}}, {}, r"schedules.timezone: 'Mars/Olympus'"),
        ({"vendors": {}, "schedules": {"daily_cron": "every day"}}, {}, r"schedules.daily_cron: 'every day'"),
        ({"vendors": {}, "scraper": {"user_agent": "bot\r\nX: 1"}}, {}, r"scraper.user_agent: must be printable"),
        (b'{"vendors": {}, "x": "\xff"}', {}, r"not UTF-8 text: byte 0xff at line 1 column 23"),
        ("[" * 100_000 + "]" * 100_000, {}, r"\(top level\): nested more than 16 levels deep"),
        ({"vendors": {}}, {"DATABASE_URL": "postgresql://"}, r"database.url \(set by DATABASE_URL\): has no host"),
    ],
)
def test_cli_refuses_bad_config_in_one_line_exit_2(tmp_path: Path, content: object, env_extra: dict[str, str],
                                                   expected: str) -> None:
    path = tmp_path / "conf.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write(tmp_path, content)
    result = run_cli({"CONFIG_PATH": str(path), **env_extra})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"config error: {path}: "), lines
    assert re.search(expected, lines[0]), lines[0]


# The auditor's settings: in the file, overridden by the documented ORNAMENTS_WEBHOOK_* variables; the secret
# from the environment only. Before, delivery.py read the variables itself and the files had no such section.
AUDITOR_OVERRIDES = [
    ("ORNAMENTS_WEBHOOK_URL", "https://hooks.example.test/ornaments/", "webhook_url",
     "https://hooks.example.test/ornaments/"),  # posted as written: no trailing slash stripped
    ("ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS", "2.5", "webhook_timeout_seconds", 2.5),
    ("ORNAMENTS_WEBHOOK_MAX_ATTEMPTS", "4", "max_attempts", 4),
    ("ORNAMENTS_WEBHOOK_BACKOFF_SECONDS", "0.5", "backoff_seconds", 0.5),
    ("ORNAMENTS_WEBHOOK_BACKOFF_MAX_SECONDS", "90", "backoff_max_seconds", 90.0),
]


def test_auditor_settings_are_in_the_config_files() -> None:
    default = load_settings(REPO / "config" / "default.json").auditor
    assert (default.webhook_url, default.webhook_timeout_seconds, default.max_attempts, default.backoff_seconds,
            default.backoff_max_seconds) == (None, 10.0, 10, 30.0, 3600.0)
    replica = load_settings(REPO / "config" / "replica.json").auditor
    assert replica.webhook_url is None and replica.backoff_seconds < default.backoff_seconds
    raw = json.loads((REPO / "config" / "default.json").read_text())["auditor"]
    assert "webhook_secret" not in raw


@pytest.mark.parametrize(("variable", "value", "key", "expected"), AUDITOR_OVERRIDES)
def test_webhook_env_vars_override_the_auditor_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       variable: str, value: str, key: str, expected: object) -> None:
    path = write(tmp_path, {"vendors": {}, "auditor": {"webhook_url": "https://file.example.test/hook",
                                                       "max_attempts": 7, "backoff_seconds": 3}})
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv(variable, value)
    auditor = load_settings(path).auditor
    assert getattr(auditor, key) == expected
    assert auditor.webhook_secret is not None and auditor.webhook_secret.get_secret_value() == "s3cret"
    if key != "max_attempts":
        assert auditor.max_attempts == 7  # the file's value where no variable says otherwise


@pytest.mark.parametrize("url_from", ["file", "env"])
def test_a_webhook_url_without_its_secret_is_a_config_error_naming_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url_from: str) -> None:
    auditor = {"webhook_url": "https://hooks.example.test/x"} if url_from == "file" else {}
    if url_from == "env":
        monkeypatch.setenv("ORNAMENTS_WEBHOOK_URL", "https://hooks.example.test/x")
    path = write(tmp_path, {"vendors": {}, "auditor": auditor})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: auditor: webhook_url is set but ORNAMENTS_WEBHOOK_SECRET is not")
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", "s3cret")
    assert load_settings(path).auditor.webhook_url == "https://hooks.example.test/x"


def test_a_secret_in_the_file_is_refused_and_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, {"vendors": {}, "auditor": {"webhook_url": "https://h.test/x", "webhook_secret": "leak"}})
    with pytest.raises(ConfigError, match=r"auditor.webhook_secret: a secret is not kept in a config file; set "
                                          r"ORNAMENTS_WEBHOOK_SECRET in the environment") as info:
        load_settings(path)
    assert "leak" not in str(info.value)


def test_the_secret_is_not_shown_in_the_settings_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_URL", "https://h.test/x")
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", "s3cret-value")
    settings = load_settings(write(tmp_path, {"vendors": {}}))
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        # float("nan") passed the old "not negative" check: a NaN deadline or backoff, never an error.
        ("ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS", "nan", r"auditor.webhook_timeout_seconds \(set by "
                                                     r"ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS\): Input should be a finite"),
        ("ORNAMENTS_WEBHOOK_BACKOFF_SECONDS", "inf", r"auditor.backoff_seconds \(set by ORNAMENTS_WEBHOOK_BACKOFF_SEC"),
        ("ORNAMENTS_WEBHOOK_TIMEOUT_SECONDS", "0", r"auditor.webhook_timeout_seconds .*greater than 0"),
        ("ORNAMENTS_WEBHOOK_MAX_ATTEMPTS", "0", r"auditor.max_attempts \(set by ORNAMENTS_WEBHOOK_MAX_ATTEMPTS\)"),
        ("ORNAMENTS_WEBHOOK_MAX_ATTEMPTS", "2.5", r"auditor.max_attempts .*valid integer"),  # was cut to 2
        ("ORNAMENTS_WEBHOOK_URL", "https://", r"auditor.webhook_url \(set by ORNAMENTS_WEBHOOK_URL\): has no host"),
        ("ORNAMENTS_WEBHOOK_URL", "https://h.test/x\n", r"auditor.webhook_url .*contains whitespace"),
    ],
)
def test_bad_webhook_settings_are_refused_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str,
                                                  value: str, expected: str) -> None:
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, {"vendors": {}}))


def test_get_settings_sees_a_change_of_the_file_even_with_the_same_size_and_mtime(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, shop(min_delay_seconds=1.0))
    monkeypatch.setenv("CONFIG_PATH", str(path))
    assert get_settings().vendor(SHOP).politeness.min_delay_seconds == 1.0
    stat = path.stat()
    path.write_text(json.dumps(shop(min_delay_seconds=2.0)))  # same length
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime: an edit within one tick
    assert path.stat().st_size == stat.st_size
    assert get_settings().vendor(SHOP).politeness.min_delay_seconds == 2.0


def test_get_settings_sees_another_directory_s_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default path is relative (./config/default.json): the same string names another file after a chdir.
    for name, delay in (("a", 1.0), ("b", 3.0)):
        (tmp_path / name / "config").mkdir(parents=True)
        (tmp_path / name / "config" / "default.json").write_text(json.dumps(shop(min_delay_seconds=delay)))
    monkeypatch.chdir(tmp_path / "a")
    assert get_settings().vendor(SHOP).politeness.min_delay_seconds == 1.0
    monkeypatch.chdir(tmp_path / "b")
    assert get_settings().vendor(SHOP).politeness.min_delay_seconds == 3.0


def test_get_settings_follows_the_overrides_the_secret_included(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIG_PATH", str(write(tmp_path, {"vendors": {}})))
    assert get_settings().auditor.webhook_url is None
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_URL", "https://h.test/x")
    with pytest.raises(ConfigError, match="ORNAMENTS_WEBHOOK_SECRET is not"):
        get_settings()
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", "one")
    assert get_settings().auditor.webhook_secret.get_secret_value() == "one"  # type: ignore[union-attr]
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_SECRET", "two")
    assert get_settings().auditor.webhook_secret.get_secret_value() == "two"  # type: ignore[union-attr]
    monkeypatch.setenv("ORNAMENTS_WEBHOOK_BACKOFF_SECONDS", "4")
    assert get_settings().auditor.backoff_seconds == 4.0
