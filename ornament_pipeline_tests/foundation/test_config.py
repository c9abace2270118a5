"""Configuration: the default file loads, env vars override, every kind of bad file is one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ornament_pipeline.config import ConfigError, load_settings
from ornament_pipeline.vendors import LIVE_BASE_URLS, VENDOR_KEYS

REPO = Path(__file__).resolve().parents[2]
ORNAMENTS = [sys.executable, "-m", "ornament_pipeline.cli"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ["DATABASE_URL", "REDIS_URL", "SELENIUM_REMOTE_URL", "ENV", "CONFIG_PATH"]:
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
