"""The Celery code location (`ornament_pipeline.celery_definitions`): same definitions, steps on Celery, broker from
the settings; the default location keeps running steps in process. The workers themselves: pipeline/test_celery.py."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.snap import JobSnap
from dagster._serdes import serialize_value

from ornament_pipeline.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]
BROKER = "pyamqp://guest:s3cret-pass@127.0.0.1:5672/ornaments_probe"


def jobs(defs: dg.Definitions) -> list[dg.JobDefinition]:
    return [defs.resolve_implicit_global_asset_job_def(), *(defs.resolve_job_def(name) for name in (
        "sync_vendor_year", "sync_by_id", "sync_by_query", "discover_year_links", "deliver_alerts"))]


def test_celery_location_runs_every_job_on_the_configured_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIG_PATH", str(REPO / "config" / "default.json"))
    monkeypatch.setenv("ORNAMENTS_CELERY_BROKER", BROKER)
    import ornament_pipeline.celery_definitions as celery_location
    from ornament_pipeline.definitions import defs as default_defs

    celery_defs = importlib.reload(celery_location).defs  # built under this test's environment
    assert {job.executor_def.name for job in jobs(celery_defs)} == {"celery"}
    assert {job.executor_def.name for job in jobs(default_defs)} == {"in_process"}
    # The same assets, jobs, schedules and sensors as the default location.
    assert (celery_defs.resolve_asset_graph().get_all_asset_keys()
            == default_defs.resolve_asset_graph().get_all_asset_keys())
    repository, default_repository = celery_defs.get_repository_def(), default_defs.get_repository_def()
    assert {j.name for j in repository.get_all_jobs()} == {j.name for j in default_repository.get_all_jobs()}
    assert ({s.name for s in repository.sensor_defs}, {s.name for s in repository.schedule_defs}) == (
        {s.name for s in default_repository.sensor_defs}, {s.name for s in default_repository.schedule_defs})

    # The executor was configured with the broker of the settings (what CeleryExecutor is built from).
    executor_def = celery_defs.resolve_job_def("sync_by_id").executor_def
    assert executor_def.config_schema.resolve_config({}).value["config"] == {
        "broker": BROKER, "backend": "rpc://", "retries": {"enabled": {}}}
    # ...and is not part of what Dagster stores and shows of a job: the URL may hold the broker's password.
    for job in jobs(celery_defs):
        assert "s3cret-pass" not in serialize_value(JobSnap.from_job_def(job)), job.name


def test_without_the_extra_the_location_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIG_PATH", str(REPO / "config" / "default.json"))
    monkeypatch.setitem(sys.modules, "dagster_celery", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "ornament_pipeline.celery_definitions", raising=False)
    with pytest.raises(ImportError, match=r"needs the `celery` extra \(pip install 'ornament_pipeline\[celery\]'\)"):
        importlib.import_module("ornament_pipeline.celery_definitions")


def test_celery_settings_default_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ORNAMENTS_CELERY_BROKER", "ORNAMENTS_CELERY_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "conf.json"
    path.write_text(json.dumps({"vendors": {}, "celery": {"broker_url": "redis://127.0.0.1:6379/3"}}))
    assert load_settings(REPO / "config" / "default.json").celery.model_dump() == {
        "broker_url": "pyamqp://guest@127.0.0.1:5672//", "backend_url": "rpc://"}
    assert load_settings(path).celery.broker_url == "redis://127.0.0.1:6379/3"
    monkeypatch.setenv("ORNAMENTS_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672/x")
    monkeypatch.setenv("ORNAMENTS_CELERY_BACKEND", "redis://127.0.0.1:6379/4")
    assert load_settings(path).celery.model_dump() == {"broker_url": "amqp://guest:guest@127.0.0.1:5672/x",
                                                       "backend_url": "redis://127.0.0.1:6379/4"}


@pytest.mark.parametrize(
    ("file_celery", "variable", "value", "expected"),
    [
        ({}, "ORNAMENTS_CELERY_BROKER", "http://127.0.0.1:5672",
         r"celery.broker_url \(set by ORNAMENTS_CELERY_BROKER\): must start with amqp:// or amqps:// or pyamqp://"),
        ({}, "ORNAMENTS_CELERY_BROKER", "pyamqp:///vhost", r"celery.broker_url \(set by ORNAMENTS_CELERY_BROKER\): "
                                                           r"has no host"),
        ({}, "ORNAMENTS_CELERY_BACKEND", "redis://", r"celery.backend_url \(set by ORNAMENTS_CELERY_BACKEND\): has no"),
        ({"backend_url": "db+sqlite:///results.db"}, None, None, r"conf.json: celery.backend_url: must start with "
                                                                 r"rpc:// or redis:// or rediss://"),
        ({"broker": "pyamqp://h//"}, None, None, r"conf.json: celery.broker: unknown key"),
    ],
)
def test_bad_celery_settings_are_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_celery: dict,
                                                 variable: str | None, value: str | None, expected: str) -> None:
    path = tmp_path / "conf.json"
    path.write_text(json.dumps({"vendors": {}, "celery": file_celery}))
    if variable and value:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings(path)
