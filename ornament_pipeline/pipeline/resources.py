"""Resources: the project settings, the warehouse, and the vendor integrations with their browser pool."""


from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from ornament_pipeline.config import Settings, get_settings, load_settings
from ornament_pipeline.db.engine import engine_for, warehouse_engine
from ornament_pipeline.db.migrations import ensure_migrated


class SettingsResource(dg.ConfigurableResource):
    """The project configuration (`ENV` / `CONFIG_PATH`, overridden by env vars); `config_path` pins a file."""

    config_path: str | None = None

    def get(self) -> Settings:
        return load_settings(Path(self.config_path)) if self.config_path else get_settings()


class WarehouseResource(dg.ConfigurableResource):
    """The Postgres warehouse; `database_url` defaults to `DATABASE_URL` / config (embedded when unset).

    The schema is migrated on first use, so a run never meets a missing table."""

    settings: SettingsResource
    database_url: str | None = None

    def engine(self) -> Engine:
        if self.database_url:
            ensure_migrated(self.database_url)
            return engine_for(self.database_url)
        return warehouse_engine(self.settings.get())


class ScraperResource(dg.ConfigurableResource):
    """Vendor integrations (`ornament_pipeline.integrations`) sharing one pool of headless browsers per run:
    the browsers start at first use and stop when the run (or sensor tick) ends."""

    settings: SettingsResource
    pool_size: int | None = None
    _pool: Any = PrivateAttr(default=None)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextmanager
    def integration(self, vendor: str) -> Iterator[Any]:
        from ornament_pipeline.integrations.browser import DriverPool
        from ornament_pipeline.integrations.registry import get_integration

        settings = self.settings.get()
        if self._pool is None:
            self._pool = DriverPool(settings, self.pool_size)
        yield get_integration(vendor, settings, self._pool)
