"""The wheel runs anywhere: built with `pip wheel`, installed (not editable) into a fresh venv, run from a
directory outside the checkout with no config file: `db init`, `replica serve`, `scrape`, `serve` and
loading the Dagster code location all work, and the tests are not in the wheel."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from ornament_pipeline.replica.catalogue import DEFAULT_SEED
from ornament_pipeline.replica.clock import truth
from ornament_pipeline.vendors import VENDOR_KEYS, base_url_env_var
from ornament_pipeline_tests.ports import free_ports

pytestmark = [pytest.mark.wheel, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
MIGRATION_FILES = sorted(p.name for p in (REPO / "ornament_pipeline" / "sql" / "migrations").glob("*.sql"))
VENDOR, YEAR = "ornament_shop_com", 1990  # a year of the small replica with few listings: a quick scrape


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the bin directory of a fresh venv it is installed in)."""
    root = tmp_path_factory.mktemp("wheel")
    # Build from a copy: an in-tree build leaves build/lib behind, whose stale files a later wheel would take.
    source = root / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    for package in ("ornament_pipeline", "ornament_pipeline_tests"):  # the tests too: the wheel must leave them out
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist = root / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], check=True, timeout=300)
    (wheel,) = dist.glob("ornament_pipeline-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # Only what the wheel declares is installed (a dependency it lacks fails below), at the locked versions.
    # The pins without their hashes: any hash turns on hash mode, which the wheel just built cannot satisfy.
    pins = root / "constraints.txt"
    lock = (REPO / "requirements.lock").read_text().splitlines()
    pins.write_text("\n".join(line.removesuffix(" \\") for line in lock if line[:1].isalnum()) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(pins), str(wheel)], check=True, timeout=600)
    return wheel, venv / "bin"


@pytest.fixture
def outside(tmp_path: Path, new_db_url: str) -> dict[str, str]:
    """The environment of a person who installed the wheel: no checkout on the path, no ENV/CONFIG_PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "ENV", "CONFIG_PATH", "VIRTUAL_ENV", "REDIS_URL", "DAGSTER_HOME")
           and not k.endswith("_BASE_URL")}
    assert not (tmp_path / "config").exists()
    return {**env, "DATABASE_URL": new_db_url, "SE_OFFLINE": "true", "HOME": str(tmp_path)}


def run(bin_dir: Path, args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300,
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@contextmanager
def background(bin_dir: Path, args: list[str], cwd: Path, env: dict[str, str], ready_url: str) -> Iterator[None]:
    """Run `args` until the block ends, once `ready_url` answers; stop it like Ctrl-C does."""
    log = cwd / f"{args[0]}-{args[1]}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"{args} exited {proc.returncode}\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{ready_url} did not answer\n{log.read_text()}"
            try:
                httpx.get(ready_url, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_wheel_leaves_the_tests_out_and_carries_its_data(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("ornament_pipeline_tests")]
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("ornament_pipeline/sql/migrations/")} == set(
        MIGRATION_FILES)
    assert {"ornament_pipeline/dagster.yaml", "ornament_pipeline/workspace.yaml"} <= set(names)


def test_the_installed_wheel_runs_outside_the_checkout(installed: tuple[Path, Path], tmp_path: Path,
                                                        outside: dict[str, str], new_db_url: str) -> None:
    _, bin_dir = installed
    # The venv's own copy is what runs, not this checkout.
    where = run(bin_dir, ["python", "-c", "import ornament_pipeline; print(ornament_pipeline.__file__)"],
                tmp_path, outside).stdout.strip()
    assert where.startswith(str(bin_dir.parent)), where

    # db init: every migration, from package data; the built-in defaults are said to apply, once.
    init = run(bin_dir, ["ornaments", "db", "init"], tmp_path, outside)
    assert init.stdout.startswith(f"applied {len(MIGRATION_FILES)} migration(s)"), init.stdout
    assert init.stderr.count("using the built-in defaults") == 1, init.stderr
    engine = create_engine(new_db_url)
    try:
        with engine.connect() as conn:
            versions = list(conn.execute(text("SELECT version FROM schema_migrations ORDER BY version")).scalars())
    finally:
        engine.dispose()
    assert versions == [name.split("_", 1)[0] for name in MIGRATION_FILES]

    # A missing file that ENV names is still an error, not the defaults.
    named = subprocess.run([str(bin_dir / "ornaments"), "db", "init"], cwd=tmp_path, env={**outside, "ENV": "prod"},
                           capture_output=True, text=True, timeout=120)
    assert named.returncode == 2 and "config/prod.json: config file not found" in named.stderr, named.stderr

    # replica serve on free ports, and a scrape of one vendor-year against it.
    *site_ports, admin_port, api_port = free_ports(5)
    replica = ["ornaments", "replica", "serve", "--ports", ",".join(map(str, site_ports)),
               "--admin-port", str(admin_port)]
    base_urls = {vendor: f"http://127.0.0.1:{port}" for vendor, port in zip(VENDOR_KEYS, site_ports, strict=True)}
    with background(bin_dir, replica, tmp_path, outside, f"{base_urls[VENDOR]}/robots.txt"):
        scrape_env = {**outside, base_url_env_var(VENDOR): base_urls[VENDOR]}
        scraped = run(bin_dir, ["ornaments", "scrape", VENDOR, "--year", str(YEAR), "--format", "json"],
                      tmp_path, scrape_env).stdout
    rows = [json.loads(line) for line in scraped.splitlines() if line.strip()]
    expected = truth("small", 0, DEFAULT_SEED, base_urls, VENDOR, YEAR)
    assert expected, "the chosen vendor-year has no listings in the small replica"
    # What a listing page shows (the SKU, item number and condition come from the product page).
    shown = ("vendor_id", "name", "price", "availability", "link")
    assert sorted(tuple(row[key] for key in shown) for row in rows) == sorted(
        tuple(listing.to_json_dict()[key] for key in shown) for listing in expected)

    # serve answers /api/v1/health on the migrated database.
    with background(bin_dir, ["ornaments", "serve", "--host", "127.0.0.1", "--port", str(api_port)], tmp_path,
                    outside, f"http://127.0.0.1:{api_port}/api/v1/health"):
        health = httpx.get(f"http://127.0.0.1:{api_port}/api/v1/health", timeout=10)
    assert health.status_code == 200, health.text

    # The Dagster code location loads.
    run(bin_dir, ["python", "-c", "from ornament_pipeline.definitions import defs; defs.resolve_asset_graph()"],
        tmp_path, {**outside, "DAGSTER_HOME": str(tmp_path / "dagster_home")})
