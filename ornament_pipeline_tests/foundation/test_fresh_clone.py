"""A fresh clone with nothing exported: `dg check defs` passes and `dg dev` serves, then stops completely.

Before, ./dagster.yaml took Postgres storage from DAGSTER_PG_URL, so both failed until it was exported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ornament_pipeline.config import ENV_OVERRIDES
from ornament_pipeline.vendors import VENDOR_KEYS, base_url_env_var
from ornament_pipeline_tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Everything the project or Dagster would read; a fresh shell has none of them.
STRIPPED = {"DAGSTER_PG_URL", "DAGSTER_HOME", "DATABASE_URL", "CONFIG_PATH", "ENV",
            *(env_var for env_var, _, _ in ENV_OVERRIDES), *map(base_url_env_var, VENDOR_KEYS)}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed HEAD of this checkout, cloned (untracked and uncommitted files are not in it)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    target = tmp_path_factory.mktemp("fresh") / "ornament_pipeline"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(target)], check=True, timeout=120)
    subprocess.run(["git", "checkout", "-q", head], cwd=target, check=True, timeout=120)
    return target


def fresh_env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    # The clone's code, not the installed checkout's (what `pip install -e .` in the clone would give).
    env["PYTHONPATH"] = str(clone)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_dg_check_defs_passes_in_a_fresh_clone(clone: Path) -> None:
    result = subprocess.run([str(BIN / "dg"), "check", "defs"], cwd=clone, env=fresh_env(clone),
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "All definitions loaded successfully" in output


def _ours(clone: Path) -> list[int]:
    """Processes whose command line, environment or working directory names the clone."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            texts = [Path(f"/proc/{pid}/{part}").read_bytes() for part in ("cmdline", "environ")]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cwd.startswith(str(clone)) or any(str(clone).encode() in text for text in texts):
            found.append(int(pid))
    return found


@pytest.fixture
def dg_dev(clone: Path, tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    port = free_port()
    log = tmp_path / "dg_dev.log"
    with log.open("wb") as out:
        # Its own process group: the webserver, daemon and code servers it starts are stopped with it.
        proc = subprocess.Popen([str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)], cwd=clone,
                                env=fresh_env(clone), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", log, proc
    finally:
        os.killpg(proc.pid, signal.SIGINT)   # what Ctrl-C in a terminal does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 30      # children may take a moment after their parent
        while _ours(clone) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _ours(clone)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        assert not left, f"left running after dg dev stopped: {left}\n{log.read_text()[-3000:]}"


@pytest.mark.timeout(300)
def test_dg_dev_serves_in_a_fresh_clone_and_stops_completely(
        dg_dev: tuple[str, Path, subprocess.Popen[bytes]]) -> None:
    url, log, proc = dg_dev
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, f"dg dev exited with {proc.returncode}:\n" + log.read_text()[-4000:]
        try:
            answer = httpx.get(f"{url}/server_info", timeout=2)
            if answer.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "dg dev did not answer /server_info:\n" + log.read_text()[-4000:]
        time.sleep(1)
    assert "dagster_webserver_version" in answer.json()
    graph = httpx.post(f"{url}/graphql", json={"query": "{ assetNodes { assetKey { path } } }"}, timeout=30).json()
    assert sorted(node["assetKey"]["path"][0] for node in graph["data"]["assetNodes"]) == [
        "cross_vendor_offers", "market_prices", "price_history", "products", "vendor_listings"]


def test_ornaments_dev_keeps_postgres_storage(tmp_path: Path) -> None:
    import yaml

    from ornament_pipeline.cli.dev import write_instance_yaml

    write_instance_yaml(tmp_path)
    written = yaml.safe_load((tmp_path / "dagster.yaml").read_text())
    shared = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert "storage" not in shared
    assert written == {**shared, "storage": {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}}
