"""Dagster objects of the auditor (merged into the code location by `ornament_pipeline/definitions.py`).

The `settings` and `warehouse` resources come from the pipeline's definitions; `auditor` is added here."""

import dagster as dg

from ornament_pipeline.auditor.jobs import deliver_alerts
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.auditor.sensors import auditor_alerts, auditor_deliveries

defs = dg.Definitions(
    jobs=[deliver_alerts],
    sensors=[auditor_alerts, auditor_deliveries],
    resources={"auditor": AuditorResource()},
)
