"""Without a config file and with neither ENV nor CONFIG_PATH set (an installed wheel run anywhere), the built-in
defaults apply and the log says so once; a file that ENV or CONFIG_PATH names and that is missing is an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ornament_pipeline import config
from ornament_pipeline.config import BUILT_IN_SOURCE, ConfigError, get_settings, load_settings
from ornament_pipeline.vendors import VENDOR_KEYS, base_url_env_var

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ["DATABASE_URL", "REDIS_URL", "SELENIUM_REMOTE_URL", "ENV", "CONFIG_PATH"]:
        monkeypatch.delenv(name, raising=False)
    for vendor in VENDOR_KEYS:
        monkeypatch.delenv(base_url_env_var(vendor), raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "_told_built_in", False)


def test_without_a_file_the_built_in_defaults_are_the_shipped_default_file(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ornament_pipeline.config"):
        settings = load_settings()
        again = load_settings()
    assert settings.source == BUILT_IN_SOURCE
    shipped = load_settings(REPO / "config" / "default.json")
    assert settings.model_dump(exclude={"source"}) == shipped.model_dump(exclude={"source"})
    assert again == settings
    told = [r.getMessage() for r in caplog.records if "built-in defaults" in r.getMessage()]
    assert len(told) == 1 and "config/default.json" in told[0], told


def test_env_overrides_apply_to_the_built_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORNAMENT_SHOP_COM_BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    settings = get_settings()
    assert settings.vendor("ornament_shop_com").base_url == "http://127.0.0.1:9999"
    assert settings.database.url == "postgresql://u@db/x"
    monkeypatch.setenv("DATABASE_URL", "not a url")
    with pytest.raises(ConfigError, match=rf"^{BUILT_IN_SOURCE}: database.url \(set by DATABASE_URL\)"):
        get_settings()


@pytest.mark.parametrize(("name", "value", "path"), [("ENV", "prod", "config/prod.json"),
                                                      ("ENV", "default", "config/default.json"),
                                                      ("CONFIG_PATH", "/nowhere/x.json", "/nowhere/x.json")])
def test_a_named_file_that_is_missing_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                  path: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{path}: config file not found"):
        load_settings()
    with pytest.raises(ConfigError, match=f"{path}: config file not found"):
        get_settings()


def test_a_default_file_that_is_present_is_read(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "default.json").write_text('{"vendors": {}}')
    assert load_settings().enabled_vendors == []
    assert load_settings().source == "config/default.json"
