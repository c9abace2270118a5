"""Resources: the project settings, the warehouse, and the vendor integrations with their browser pool."""


from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
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
    """Vendor integrations (`ornament_pipeline.integrations`) sharing one pool of headless browsers per run."""

    settings: SettingsResource
    pool_size: int | None = None

    @contextmanager
    def integration(self, vendor: str) -> Iterator[object]:
        from ornament_pipeline.integrations.browser import DriverPool
        from ornament_pipeline.integrations.registry import get_integration

        settings = self.settings.get()
        with DriverPool(settings, self.pool_size) as pool:
            yield get_integration(vendor, settings, pool)
