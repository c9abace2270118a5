"""Dagster objects of the auditor (merged into the code location by `ornament_pipeline/definitions.py`)."""

import dagster as dg

defs = dg.Definitions()
