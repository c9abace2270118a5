"""A local Selenium Grid 4 (one hub, N nodes, all on 127.0.0.1) for development and the tests.

The server is the `selenium-server` jar shipped inside the npm package `@nightwatch/selenium-server`
(`scripts/setup.sh` unpacks it to `.ornaments/grid/`). Every node reads `config/grid-node.toml`: driver
detection and Selenium Manager off, one driver configuration naming Debian's `/usr/bin/chromedriver` and
`/usr/bin/chromium`, so nothing is ever downloaded. Each component runs in its own process group (a node's
chromedriver and Chromium with it), so stopping or killing a component ends what it started.

`LocalGrid` is a context manager: the hub's WebDriver URL is `grid.url` (what `SELENIUM_REMOTE_URL` or
`selenium.remote_url` should name). `ornaments grid` runs one in the foreground until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from ornament_pipeline.integrations.browser import tied_to_parent

REPO = Path(__file__).resolve().parents[1]
SERVER_VERSION = "4.20.0"
DEFAULT_JAR = REPO / ".ornaments" / "grid" / f"selenium-server-{SERVER_VERSION}.jar"
NODE_CONFIG = REPO / "config" / "grid-node.toml"
HOST = "127.0.0.1"
MIN_JAVA = 17


class GridError(RuntimeError):
    """The Grid cannot be started (no jar, no Java 17, a component exited or never became ready)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def java_major_version(java: str = "java") -> int:
    """The major version `java -version` reports (it prints to stderr: `openjdk version "17.0.15" ...`)."""
    try:
        output = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except FileNotFoundError:
        raise GridError(f"{java} not found: the Grid needs Java {MIN_JAVA}+ (scripts/setup.sh installs it)") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if not match:
        raise GridError(f"cannot read the Java version from `{java} -version`: {output.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


@dataclass
class Component:
    """One Grid server process (the hub or a node), the leader of its own process group."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the group (the node ends its sessions), SIGKILL whatever is left after `timeout`."""
        if self.process.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # chromedriver or Chromium that outlived their node
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crashed machine would: no session is ended cleanly."""
        self.signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)


class LocalGrid:
    """A hub and `nodes` nodes on free (or given) ports of 127.0.0.1; logs go to `log_dir`."""

    def __init__(self, log_dir: Path, nodes: int = 2, port: int | None = None, jar: Path = DEFAULT_JAR,
                 node_config: Path = NODE_CONFIG, java: str = "java", ready_timeout: float = 120.0) -> None:
        self.log_dir = Path(log_dir)
        self.node_count = nodes
        self.port = port or free_port()
        self.jar = Path(jar)
        self.node_config = Path(node_config)
        self.java = shutil.which(java) or java  # an absolute path: the launcher exec()s it without a PATH search
        self.ready_timeout = ready_timeout
        self.hub: Component | None = None
        self.nodes: list[Component] = []
        self._logs: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> LocalGrid:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, port: int, args: list[str]) -> Component:
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "ab")
        self._logs.append(log)
        argv = [self.java, "-jar", str(self.jar), *args, "--host", HOST, "--port", str(port)]
        if sys.platform.startswith("linux"):
            argv = tied_to_parent(str(os.getpid()), argv)  # no Grid left behind by a killed test run
        env = {**os.environ, "SE_OFFLINE": "true", "SE_AVOID_STATS": "true"}
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        return Component(name, port, process, log_path)

    def start(self) -> None:
        if not self.jar.is_file():
            raise GridError(f"Selenium server jar not found: {self.jar} (run scripts/setup.sh)")
        if not self.node_config.is_file():
            raise GridError(f"node configuration not found: {self.node_config}")
        if (version := java_major_version(self.java)) < MIN_JAVA:
            raise GridError(f"the Grid needs Java {MIN_JAVA}+, `{self.java}` is Java {version}")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        publish, subscribe = free_port(), free_port()
        bus = ["--publish-events", f"tcp://{HOST}:{publish}", "--subscribe-events", f"tcp://{HOST}:{subscribe}"]
        try:
            # A dead node is only taken out of rotation by the hub's health check (default every 120 s).
            self.hub = self._spawn("hub", self.port, ["hub", *bus, "--healthcheck-interval", "5"])
            self._wait(lambda status: True, "the hub to answer /status")
            for index in range(1, self.node_count + 1):
                self.nodes.append(self._spawn(f"node{index}", free_port(), [
                    "node", "--hub", self.url, *bus, "--config", str(self.node_config)]))
            self._wait(self._all_nodes_up, f"{self.node_count} nodes to register")
        except BaseException:
            self.stop()
            raise

    def _all_nodes_up(self, status: dict[str, Any]) -> bool:
        value = status.get("value", {})
        up = {n.get("uri") for n in value.get("nodes", []) if n.get("availability") == "UP"}
        return bool(value.get("ready")) and up >= {node.url for node in self.nodes}

    def _wait(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            for component in [self.hub, *self.nodes]:
                if component is not None and component.process.poll() is not None:
                    raise GridError(f"Grid {component.name} exited with {component.process.returncode} while "
                                    f"waiting for {what}; see {component.log_path}")
            try:
                if done(self.status()):
                    return
            except (OSError, ValueError):  # not listening yet
                pass
            time.sleep(0.5)
        raise GridError(f"timed out after {self.ready_timeout:.0f}s waiting for {what}; logs in {self.log_dir}")

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/status", timeout=5) as response:
            return dict(json.load(response))

    def sessions_by_node(self) -> dict[str, set[str]]:
        """Node URI -> ids of the sessions the hub believes run there (its GraphQL endpoint)."""
        query = json.dumps({"query": "{ nodesInfo { nodes { uri sessions { id } } } }"}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", query, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            nodes = json.load(response)["data"]["nodesInfo"]["nodes"]
        return {node["uri"]: {s["id"] for s in node["sessions"]} for node in nodes}

    def stop(self) -> None:
        for component in [*self.nodes, *([self.hub] if self.hub else [])]:
            component.stop()
        for log in self._logs:
            log.close()
        self._logs.clear()


def grid(
    port: int = typer.Option(4444, help="Port of the hub (the WebDriver URL)."),
    nodes: int = typer.Option(2, min=1, help="Number of nodes (each runs up to max-sessions Chromiums)."),
    jar: Annotated[Path, typer.Option(help="The selenium-server jar (scripts/setup.sh fetches it).")] = DEFAULT_JAR,
    node_config: Annotated[Path, typer.Option(help="The nodes' TOML configuration.")] = NODE_CONFIG,
    log_dir: Annotated[Path, typer.Option(help="Where each component logs.")] = REPO / ".ornaments" / "grid" / "logs",
) -> None:
    """A local Selenium Grid (hub + nodes on 127.0.0.1) in the foreground, until Ctrl-C."""
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with LocalGrid(log_dir, nodes=nodes, port=port, jar=jar, node_config=node_config) as local:
            typer.echo(f"Selenium Grid ready: {local.url} ({nodes} nodes; logs in {log_dir})")
            typer.echo(f"use it with: SELENIUM_REMOTE_URL={local.url}")
            while not stopping:
                for component in [local.hub, *local.nodes]:
                    if component is not None and component.process.poll() is not None:
                        raise GridError(f"Grid {component.name} exited with {component.process.returncode}; "
                                        f"see {component.log_path}")
                time.sleep(0.5)
            typer.echo("stopping the Grid")
    except GridError as exc:
        typer.secho(f"grid: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
