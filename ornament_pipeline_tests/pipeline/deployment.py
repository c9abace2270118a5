"""A Dagster deployment as a user runs one: `dagster-daemon` and `dagster-webserver` on 127.0.0.1 (the E2E tests and
`benchmarks/backfill_bench.py` use it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ornament_pipeline.pipeline.launch import Dagster
from ornament_pipeline_tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def running_dagster(log_dir: Path, env: dict[str, str], startup_seconds: float = 120,
                    workspace_file: Path = REPO / "workspace.yaml") -> Iterator[Dagster]:
    """Daemon and webserver of a workspace (default: this checkout's), with `env` (DAGSTER_HOME, ...); logs in
    `log_dir`.

    Each runs in its own process group, killed as a group at the end: the code servers and run workers they start
    go down with them (a code server left behind was seen orphaned for minutes, holding the database open)."""
    port = free_port()
    bin_dir = Path(sys.executable).parent
    workspace = ["-w", str(workspace_file)]
    logs = [open(log_dir / name, "wb") for name in ("daemon.log", "webserver.log")]  # noqa: SIM115
    procs = [
        subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", *workspace], env=env, cwd=REPO,
                         stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True),
        subprocess.Popen([str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), *workspace],
                         env=env, cwd=REPO, stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("webserver did not start:\n" + (log_dir / "webserver.log").read_text()[-3000:])
            time.sleep(1)
        client = Dagster(url)
        # A new deployment holds no year partitions until the year_partitions sensor's first tick adds them.
        while not client.years():
            if time.monotonic() > deadline:
                raise RuntimeError("no year partitions: the year_partitions sensor did not run:\n"
                                   + (log_dir / "daemon.log").read_text()[-3000:])
            time.sleep(1)
        yield client
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for log in logs:
            log.close()
