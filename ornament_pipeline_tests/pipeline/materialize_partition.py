"""`python -m ornament_pipeline_tests.pipeline.materialize_partition CONFIG VENDOR YEAR`: one partition, in a
process of its own, so a test can kill it at a chosen moment."""

import sys

import dagster as dg

from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource

if __name__ == "__main__":
    config, vendor, year = sys.argv[1:4]
    settings = SettingsResource(config_path=config)
    result = dg.materialize(
        SYNC_ASSETS, partition_key=partition_key(vendor, year),
        resources={"settings": settings, "warehouse": WarehouseResource(settings=settings),
                   "scraper": ScraperResource(settings=settings)},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    sys.exit(0 if result.success else 1)
