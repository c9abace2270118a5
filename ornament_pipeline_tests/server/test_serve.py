"""`ornaments serve` starts the app on the configured database (here DATABASE_URL) and answers over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", [1, 2])
def test_ornaments_serve(warehouse_url: str, read_key: str, workers: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": warehouse_url, "ORNAMENTS_API_OPEN_READS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "ornament_pipeline.cli", "serve", "--port", str(port),
                             "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(base + "/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        assert httpx.get(base + "/api/v1/products").status_code == 401
        assert httpx.get(base + "/api/v1/products", headers={"X-API-Key": read_key}).status_code == 200
        assert httpx.get(base + "/").headers["content-type"].startswith("text/html")
        # A key in the URL is not accepted, and the access log that quotes the URL does not show it either.
        assert httpx.get(base + "/api/v1/products", params={"api_key": read_key}).status_code == 401
        # However it is spelled: another case, percent-encoded, in the path, malformed, under another name.
        secret = read_key[13:]
        for url in (f"/api/v1/products?API%5FKEY=%6Frn%5F{read_key[4:12]}_{secret}",
                    f"/api/v1/products/%6F%72n_{read_key[4:]}/history", f"/api/v1/products?token={secret}",
                    f"/api/v1/products?api_key=ORN_{secret}", f"/nothing/orn_{secret}"):
            assert httpx.get(base + url).status_code in (401, 404, 422)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert read_key not in output and read_key[13:] not in output  # keys never reach the logs, access log included
    assert f"api_key={read_key[:13]}<redacted>" in output
    assert f"{workers} worker" in output and output.count("Started server process") == workers, output
