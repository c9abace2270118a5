"""The Dagster code location: `defs` is what `dg dev`, `dg check defs` and the webserver load."""

import dagster as dg

defs = dg.Definitions()
