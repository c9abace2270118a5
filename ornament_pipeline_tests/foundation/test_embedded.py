"""With no DATABASE_URL, `ornaments dev` starts an embedded PostgreSQL from the pip wheel, says where it is, and
every other command run in the same checkout (a second terminal, any subdirectory) uses that same server; with
no server running they say what to do instead of starting a second, empty database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline_tests.ports import free_port

ORNAMENTS = [sys.executable, "-m", "ornament_pipeline.cli"]
STRIPPED = {"DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME", "ENV", "CONFIG_PATH"}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory laid out like a checkout, with a config that scrapes nothing (so `dev` starts no replica)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "default.json").write_text(json.dumps({"vendors": {}}))
    (tmp_path / "docs").mkdir()
    return tmp_path


def _env(checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    return {**env, "CONFIG_PATH": str(checkout / "config" / "default.json"),
            "DAGSTER_HOME": str(checkout / ".ornaments" / "dagster_home")}


def _ornaments(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ORNAMENTS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _postmasters(data_dir: Path) -> list[int]:
    """Pids of PostgreSQL servers serving `data_dir`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"/postgres") and str(data_dir).encode() in argv:
            found.append(int(entry.name))
    return found


@contextmanager
def _dev(checkout: Path) -> Iterator[str]:
    """`ornaments dev` running in the checkout: the first line it prints, which names the warehouse; then
    `kill` (SIGTERM), as a service manager stops it."""
    log = (checkout / "dev.log").open("w")
    proc = subprocess.Popen([*ORNAMENTS, "dev", "--port", str(free_port())], cwd=checkout, env=_env(checkout),
                            stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # dev prints the warehouse before it migrates and starts Dagster
        assert line.startswith("warehouse: "), f"dev printed {line!r}:\n{(checkout / 'dev.log').read_text()[-3000:]}"
        yield line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def dev(checkout: Path) -> Iterator[str]:
    with _dev(checkout) as line:
        yield line


def test_a_second_terminal_uses_the_server_dev_started(checkout: Path, dev: str) -> None:
    line = dev
    data_dir = checkout / ".ornaments" / "pgdata"
    url = line.removeprefix("warehouse: ").split(" ", 1)[0]
    assert f"host={data_dir}" in url and "embedded PostgreSQL" in line, line
    env = _env(checkout)
    # From a subdirectory, with nothing copied from dev's terminal: the same server, the schema dev applied.
    created = _ornaments(["api-keys", "create", "--name", "second-terminal", "--scope", "read"],
                         checkout / "docs", env)
    assert created.returncode == 0, created.stderr
    init = _ornaments(["db", "init"], checkout / "docs", env)
    assert (init.returncode, init.stdout.strip()) == (0, "database schema is up to date"), init.stderr
    assert not (checkout / "docs" / ".ornaments").exists(), "a second data directory was made"
    # The key is in the database dev printed.
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM api_keys")).scalars().all()
    finally:
        engine.dispose()
    assert names == ["second-terminal"]
    # `ornaments serve` (two workers) from the subdirectory: it answers with the key made in the other command.
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    serve = subprocess.Popen([*ORNAMENTS, "serve", "--port", str(port), "--workers", "2"], cwd=checkout / "docs",
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                assert serve.poll() is None and time.monotonic() < deadline, serve.stdout.read() if serve.stdout else ""
                time.sleep(0.3)
        assert health.json()["database"] == "ok"
        products = httpx.get(f"http://127.0.0.1:{port}/api/v1/products", headers={"X-API-Key": key}, timeout=10)
        assert products.status_code == 200, products.text
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


def test_no_server_and_no_url_is_one_line_saying_what_to_do(checkout: Path) -> None:
    for args in (["db", "init"], ["watch", "list"]):
        result = _ornaments(args, checkout, _env(checkout))
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines == [f"config error: no warehouse: DATABASE_URL is not set and no embedded PostgreSQL runs in "
                          f"{checkout / '.ornaments' / 'pgdata'}; start `ornaments dev` in this checkout (in another "
                          f"terminal), or set DATABASE_URL"], result.stderr
    assert not (checkout / ".ornaments" / "pgdata").exists(), "a database was made anyway"


def test_dev_prints_a_configured_url_without_its_password(checkout: Path) -> None:
    from ornament_pipeline.cli.dev import warehouse_line
    from ornament_pipeline.config import load_settings

    config = checkout / "config" / "default.json"
    config.write_text(json.dumps({"vendors": {}, "database": {"url": "postgresql://app:s3cret@db.internal/orn"}}))
    line = warehouse_line(load_settings(config), "postgresql://app:s3cret@db.internal/orn")
    assert line == "warehouse: postgresql://app:***@db.internal/orn (DATABASE_URL / database.url)"


def test_dev_killed_while_it_starts_leaves_no_server_running(checkout: Path) -> None:
    with _dev(checkout):
        assert _postmasters(checkout / ".ornaments" / "pgdata"), "the embedded server is not running"
    # SIGTERM came while dev migrated or started Dagster; the server it started must stop with it.
    deadline = time.monotonic() + 20
    while _postmasters(checkout / ".ornaments" / "pgdata") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _postmasters(checkout / ".ornaments" / "pgdata") == []
