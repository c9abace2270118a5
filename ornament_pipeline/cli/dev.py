"""`ornaments dev`: the whole project on one machine (Postgres, replica, Dagster webserver and daemon)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlparse

import typer

from ornament_pipeline.config import BUILT_IN_SOURCE, Settings, get_settings
from ornament_pipeline.db.embedded import embedded_data_dir
from ornament_pipeline.db.engine import database_url
from ornament_pipeline.db.migrations import ensure_database, migrate
from ornament_pipeline.vendors import VENDOR_KEYS, base_url_env_var

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def replica_ports(settings: Settings) -> list[int] | None:
    """The replica's ports when every enabled vendor points at this machine, else None (live sites)."""
    urls = [urlparse(settings.vendor(v).base_url) for v in VENDOR_KEYS if v in settings.enabled_vendors]
    if len(urls) != len(VENDOR_KEYS) or any(u.hostname not in LOCAL_HOSTS for u in urls):
        return None
    return [u.port or 80 for u in urls]


def dagster_pg_url(warehouse_url: str) -> str:
    """Dagster's own storage: `DAGSTER_PG_URL`, else a `<warehouse>_dagster` database on the warehouse's server."""
    if os.environ.get("DAGSTER_PG_URL"):
        return os.environ["DAGSTER_PG_URL"]
    prefix, sep, query = warehouse_url.partition("?")
    server, _, database = prefix.rpartition("/")
    return f"{server}/{database}_dagster{sep}{query}"


# The storage `ornaments dev` adds to the packaged dagster.yaml (which has none, so a fresh clone's `dg dev` runs).
POSTGRES_STORAGE = """
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
"""


def _packaged(name: str) -> str:
    return files("ornament_pipeline").joinpath(name).read_text(encoding="utf-8")


def write_instance_yaml(home: Path) -> None:
    """`home/dagster.yaml`: the project's instance settings on Postgres storage (from `DAGSTER_PG_URL`), and
    `home/workspace.yaml`. Both are package data (the checkout's `dagster.yaml` and `workspace.yaml` link to them)."""
    (home / "dagster.yaml").write_text(_packaged("dagster.yaml") + POSTGRES_STORAGE)
    (home / "workspace.yaml").write_text(_packaged("workspace.yaml"))


def dagster_home(settings: Settings) -> Path:
    """`DAGSTER_HOME`, by default `dagster_home` beside the embedded database's directory (`.ornaments/pgdata` of the
    checkout, wherever in it `dev` runs), whether or not that database is used."""
    default = embedded_data_dir(settings.database.embedded_data_dir).parent / "dagster_home"
    home = Path(os.environ.get("DAGSTER_HOME", default)).resolve()
    home.mkdir(parents=True, exist_ok=True)
    write_instance_yaml(home)
    return home


def warehouse_line(settings: Settings, url: str) -> str:
    """What `ornaments dev` says of the warehouse it uses: the URL (password hidden) and where it comes from."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True) if parsed.password else url  # as given: psql takes it
    if settings.database.url:
        return f"warehouse: {shown} (DATABASE_URL / database.url)"
    return (f"warehouse: {shown} (embedded PostgreSQL in {embedded_data_dir(settings.database.embedded_data_dir)}; "
            "`ornaments serve`, `watch`, `api-keys` and `db init` run in this checkout use it while this runs)")


def _signal_group(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


def dev(
    port: int = typer.Option(3000, help="Port of the Dagster web UI."),
    host: str = typer.Option("127.0.0.1", help="Address the web UI listens on."),
    replica_size: str = typer.Option("small", help="Catalogue size when the replica is started: small or full."),
) -> None:
    """Start Postgres (embedded unless DATABASE_URL is set), the replica (unless live sites are configured),
    and the Dagster webserver and daemon on Postgres storage. Stops everything on Ctrl-C."""
    # `kill` stops everything too, at any point: the children, and the embedded server (at exit, by its handle).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    children: list[subprocess.Popen[bytes]] = []
    try:
        _run(children, port, host, replica_size)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            _signal_group(child, signal.SIGINT)  # what Ctrl-C in a terminal does
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
            _signal_group(child, signal.SIGKILL)  # a code server that outlived its parent (they can ignore SIGTERM)


def _run(children: list[subprocess.Popen[bytes]], port: int, host: str, replica_size: str) -> None:
    """The warehouse, then each child as it starts (into `children`, which the caller stops), until one exits."""
    settings = get_settings()
    warehouse = database_url(settings, start_embedded=True)
    typer.echo(warehouse_line(settings, warehouse))
    migrate(warehouse)
    pg_url = dagster_pg_url(warehouse)
    ensure_database(pg_url)
    home = dagster_home(settings)
    env = {**os.environ, "DATABASE_URL": warehouse, "DAGSTER_PG_URL": pg_url, "DAGSTER_HOME": str(home),
           "SE_OFFLINE": "true"}
    if settings.source != BUILT_IN_SOURCE:  # the children read the same file (they start in this directory)
        env["CONFIG_PATH"] = str(Path(settings.source).resolve())
    bin_dir = Path(sys.executable).parent
    ports = replica_ports(settings)
    if ports:
        if any(_port_open("127.0.0.1", p) for p in ports):
            typer.echo(f"replica: ports {ports} already answer; using what runs there")
        else:
            children.append(subprocess.Popen(
                [str(bin_dir / "ornaments"), "replica", "serve", "--size", replica_size,
                 "--ports", ",".join(map(str, ports))], env=env, start_new_session=True))
    for vendor in settings.enabled_vendors:
        env[base_url_env_var(vendor)] = settings.vendor(vendor).base_url
    workspace = ["-w", str(home / "workspace.yaml")]
    # Each child leads its own process group, so that stopping it stops the code servers and runs it started.
    children.append(subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", *workspace], env=env,
                                     start_new_session=True))
    children.append(subprocess.Popen(
        [str(bin_dir / "dagster-webserver"), "-h", host, "-p", str(port), *workspace], env=env,
        start_new_session=True))
    typer.echo(f"Dagster UI: http://{host}:{port}  (Ctrl-C stops everything)")
    while all(child.poll() is None for child in children):
        time.sleep(1)
    typer.echo("a component exited; stopping the rest", err=True)
