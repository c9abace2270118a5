"""The README's first command: `ornaments dev` starts the replica, the Dagster webserver and the daemon, and
Ctrl-C stops all of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ornament_pipeline.vendors import VENDOR_KEYS
from ornament_pipeline_tests.conftest import drop_database
from ornament_pipeline_tests.ports import free_ports


@pytest.mark.timeout(300)
def test_dev_serves_the_ui_on_the_replica_and_stops_cleanly(tmp_path: Path, new_db_url: str) -> None:
    *site_ports, ui_port = free_ports(4)
    config = tmp_path / "dev.json"
    config.write_text(json.dumps({"vendors": {
        vendor: {"base_url": f"http://127.0.0.1:{port}"} for vendor, port in zip(VENDOR_KEYS, site_ports, strict=True)
    }}))
    env = {**os.environ, "CONFIG_PATH": str(config), "DATABASE_URL": new_db_url,
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    env.pop("DAGSTER_PG_URL", None)
    dev = subprocess.Popen([str(Path(sys.executable).with_name("ornaments")), "dev", "--port", str(ui_port)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        graph = None
        while time.monotonic() < deadline and graph is None:
            assert dev.poll() is None, dev.stdout.read()
            try:
                answer = httpx.post(f"http://127.0.0.1:{ui_port}/graphql", timeout=5,
                                    json={"query": "{ assetNodes { assetKey { path } } }"}).json()
                graph = answer["data"]["assetNodes"] or None
            except (httpx.HTTPError, KeyError, TypeError):
                time.sleep(1)
        assert graph is not None, "the Dagster UI did not come up"
        assert sorted(node["assetKey"]["path"][0] for node in graph) == [
            "cross_vendor_offers", "market_prices", "price_history", "products", "vendor_listings"]
        # The replica it started answers on the configured ports, with the real sites' year index paths.
        index = httpx.get(f"http://127.0.0.1:{site_ports[1]}/hallmark-ornaments-by-year.html", timeout=10)
        assert index.status_code == 200 and "navList-action" in index.text
    finally:
        dev.send_signal(signal.SIGINT)
        output = dev.communicate(timeout=60)[0]
        drop_database(new_db_url.rsplit("/", 1)[1] + "_dagster")
    assert dev.returncode is not None
    # Nothing it started is left: not the code servers the daemon and webserver start for themselves either.
    home = str(tmp_path / "dagster_home")
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline_or_environ_mentions(pid, home)]
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200] for pid in left]
    for port in [*site_ports, ui_port]:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers after Ctrl-C\n{output}"


def _cmdline_or_environ_mentions(pid: str, text: str) -> bool:
    try:
        return any(text.encode() in Path(f"/proc/{pid}/{part}").read_bytes() for part in ("cmdline", "environ"))
    except OSError:  # gone meanwhile, or not ours to read
        return False
