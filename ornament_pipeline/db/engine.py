"""SQLAlchemy engines for the warehouse, from `DATABASE_URL` or the embedded fallback."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine

from ornament_pipeline.config import Settings
from ornament_pipeline.db.embedded import join_embedded_server, start_embedded_server


def database_url(settings: Settings, start_embedded: bool = False) -> str:
    """The configured URL, else the embedded server's: the one `ornaments dev` runs in this checkout (joined), or,
    with `start_embedded` (`ornaments dev` itself), one started here. Raises `NoWarehouseError` when there is none."""
    if settings.database.url:
        return settings.database.url
    if start_embedded:
        return start_embedded_server(settings.database.embedded_data_dir)
    return join_embedded_server(settings.database.embedded_data_dir)


def sqlalchemy_url(url: str) -> str:
    """Pin the psycopg2 driver whatever scheme the user wrote."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)


def warehouse_engine(settings: Settings, migrate_schema: bool = True) -> Engine:
    """The engine everything uses; applies pending migrations first so nobody has to remember."""
    url = database_url(settings)
    if migrate_schema:
        from ornament_pipeline.db.migrations import ensure_migrated

        ensure_migrated(url)
    return engine_for(url)
