"""A stand-in for Dagster's GraphQL endpoint, answering the two mutations the API sends and the year partitions."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.responses import Response

from ornament_pipeline.pipeline.partitions import calendar_years
from ornament_pipeline.vendors import VENDOR_KEYS


def fake_dagster(calls: list[dict], refuse: bool = False, reply: Response | None = None) -> FastAPI:
    """Answers the year partitions query, launchPartitionBackfill and launchRun like Dagster's GraphQL API does, or
    always `reply`;
    records each request."""
    dagster = FastAPI()

    @dagster.post("/graphql")
    def graphql(body: dict) -> Any:
        calls.append(body)
        if reply is not None:
            return reply
        if "assetNodeOrError" in body["query"]:
            return {"data": {"assetNodeOrError": {"__typename": "AssetNode", "partitionKeysByDimension": [
                {"name": "vendor", "partitionKeys": list(VENDOR_KEYS)},
                {"name": "year", "partitionKeys": calendar_years()}]}}}
        if "launchPartitionBackfill" in body["query"]:
            result = ({"__typename": "PythonError", "message": "no"} if refuse
                      else {"__typename": "LaunchBackfillSuccess", "backfillId": "bf-1"})
            return {"data": {"launchPartitionBackfill": result}}
        return {"data": {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": "run-1"}}}}

    return dagster
