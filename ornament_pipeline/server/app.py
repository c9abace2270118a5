"""The app factory: API routes under `/api/v1`, OpenAPI at `/openapi.json` and `/docs`, the web page at `/`."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine, create_engine

from ornament_pipeline.server import web
from ornament_pipeline.server.auth import KeyChecker, document_key_schemes, install_log_redaction
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline.server.errors import install_error_handlers
from ornament_pipeline.server.routes import catalog, changes, destinations, health, products, syncs, watches

API_PREFIX = "/api/v1"

DESCRIPTION = """Prices and stock of Hallmark Keepsake ornaments at three resellers, and how they changed.

Send an API key (`ornaments api-keys create`) as `X-API-Key: <key>` or `Authorization: Bearer <key>`.
Read routes need a key of any scope (none when the server opens reads), `POST /syncs` an `admin` key; a
`collector` key also manages its own watches and alert destinations (an `admin` key everyone's).
Errors are JSON: `{"error": {"status", "code", "message", "fields"}}`. Money is a decimal string."""


def create_app(engine: Engine, config: ServerConfig | None = None) -> FastAPI:
    """An app serving `engine`'s warehouse (already migrated) with `config`."""
    # FastAPIOffline serves Swagger UI's files itself: /docs works without reaching a CDN.
    # No trailing-slash redirects: Starlette builds their Location from the Host header, so `/api/v1/products/`
    # with a forged Host would send a client elsewhere; such a path is a 404 like any unknown one.
    app = FastAPIOffline(title="ornament_pipeline API", version="1.0.0", description=DESCRIPTION,
                         openapi_url="/openapi.json", docs_url="/docs", redoc_url=None, redirect_slashes=False)
    # Requests are single statements or read-only: autocommit spares each one a BEGIN and a ROLLBACK round trip,
    # and without pre-ping a checkout costs none (a connection broken by a database restart fails one request).
    app.state.engine = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False,
                                     pool_size=10, max_overflow=10, pool_recycle=1800)
    app.state.server_config = config or ServerConfig()
    app.state.db_executor = ThreadPoolExecutor(app.state.server_config.db_threads, thread_name_prefix="db")
    app.state.key_checker = KeyChecker()
    install_error_handlers(app)
    for module in (products, catalog, changes, watches, destinations, syncs, health):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(web.router)
    document_key_schemes(app)
    return app


def serving_app() -> FastAPI:
    """The app `ornaments serve` runs in each worker process: the configured warehouse and server settings."""
    from ornament_pipeline.config import get_settings
    from ornament_pipeline.db.engine import warehouse_engine
    from ornament_pipeline.server.config import server_config

    settings = get_settings()
    install_log_redaction()
    app = create_app(warehouse_engine(settings), server_config(settings))
    # Everything loaded so far lives as long as the process: keep it out of the collector's full passes,
    # which otherwise walk ~160k startup objects (tens of milliseconds, a request's worth of tail latency).
    gc.freeze()
    return app

