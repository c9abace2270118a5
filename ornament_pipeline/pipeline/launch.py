"""Start syncs on a running Dagster deployment through its GraphQL API (the CLI and the HTTP API use this)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ornament_pipeline.pipeline.partitions import partition_key, plausible_year
from ornament_pipeline.vendors import FIRST_YEAR, VENDOR_KEYS

SYNC_ASSETS = ("vendor_listings", "products", "price_history")
LOCATION = "ornament_pipeline"

_LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
    ... on InvalidSubsetError { message }
  }
}"""

_LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""

_BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id status numPartitions
      runs(limit: 10000) { runId status startTime endTime tags { key value } }
      assetBackfillData { assetBackfillStatuses { ... on AssetPartitionsStatusCounts {
        assetKey { path } numPartitionsTargeted numPartitionsInProgress numPartitionsMaterialized numPartitionsFailed
      } } }
    }
    ... on PythonError { message }
  }
}"""


# The year partitions Dagster holds now (dynamic: discovered, never frozen at import).
_YEARS = """
query {
  assetNodeOrError(assetKey: {path: ["vendor_listings"]}) {
    __typename
    ... on AssetNode { partitionKeysByDimension { name partitionKeys } }
    ... on AssetNotFoundError { message }
  }
}"""

_RUN_STATUS = """
query($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run { status }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}"""


class LaunchError(Exception):
    """Dagster refused or could not be reached; the message says which."""


class BadChoice(LaunchError):
    """The vendor or year asked for is no partition: the caller's mistake, not Dagster's. `field` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnreadableReply(LaunchError):
    """Dagster answered, but not with the GraphQL result asked for: a launch may or may not have happened."""


@dataclass(frozen=True)
class Dagster:
    """A Dagster webserver, e.g. `Dagster("http://127.0.0.1:3000")`."""

    url: str
    timeout: float = 30.0

    def _post(self, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
        """`data.<field>` of the reply: a dict with a `__typename`, or a LaunchError saying what came instead."""
        try:
            response = httpx.post(f"{self.url.rstrip('/')}/graphql", json={"query": query, "variables": variables},
                                  timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise LaunchError(f"Dagster at {self.url} unreachable: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        if response.status_code != 200 or errors:
            raise LaunchError(f"Dagster GraphQL error ({response.status_code}): {errors or response.text[:500]}")
        data = body.get("data") if isinstance(body, dict) else None
        result = data.get(field) if isinstance(data, dict) else None
        if not isinstance(result, dict) or not isinstance(result.get("__typename"), str):
            raise UnreadableReply(f"unexpected reply from Dagster at {self.url} (no data.{field}.__typename):"
                                  f" {response.text[:500]!r}")
        return result

    def _pick(self, result: dict[str, Any], *keys: str) -> Any:
        value: Any = result
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise UnreadableReply(f"unexpected reply from Dagster at {self.url}: no {'.'.join(keys)} in {result}")
            value = value[key]
        return value

    def backfill(self, partition_names: Sequence[str], title: str) -> str:
        """Launch a backfill of the sync assets over these vendor|year partitions; returns its id."""
        params = {"partitionNames": list(partition_names), "title": title,
                  "assetSelection": [{"path": [name]} for name in SYNC_ASSETS]}
        result = self._post(_LAUNCH_BACKFILL, {"params": params}, "launchPartitionBackfill")
        if result["__typename"] != "LaunchBackfillSuccess":
            raise LaunchError(f"backfill refused: {result}")
        return self._pick(result, "backfillId")

    def backfill_status(self, backfill_id: str) -> dict[str, Any]:
        """Status (REQUESTED while running, then COMPLETED_SUCCESS, COMPLETED_FAILED, CANCELED, ...), its runs,
        and per asset the partitions targeted, in progress, materialized and failed."""
        result = self._post(_BACKFILL_STATUS, {"id": backfill_id}, "partitionBackfillOrError")
        if result["__typename"] != "PartitionBackfill":
            raise LaunchError(f"backfill {backfill_id}: {result}")
        return result

    def years(self) -> list[str]:
        """The year partitions, in Dagster's order (the order they were added)."""
        result = self._post(_YEARS, {}, "assetNodeOrError")
        if result["__typename"] != "AssetNode":
            raise LaunchError(f"Dagster at {self.url} has no vendor_listings asset: {result}")
        dimensions = self._pick(result, "partitionKeysByDimension")
        years = next((d.get("partitionKeys") for d in dimensions if isinstance(d, dict) and d.get("name") == "year"),
                     None)
        if not isinstance(years, list):
            raise UnreadableReply(f"unexpected reply from Dagster at {self.url}: no year dimension in {result}")
        return [str(year) for year in years]

    def sync_partitions(self, vendor: str | None, year: int | None) -> list[str]:
        """The vendor|year partitions of 'sync by vendor' (every year), 'sync by year' (every vendor) or both (one)."""
        if vendor is not None and vendor not in VENDOR_KEYS:
            raise BadChoice("vendor", f"unknown vendor {vendor!r}; expected one of {', '.join(VENDOR_KEYS)}")
        if year is not None and not plausible_year(year):
            raise BadChoice("year", f"year {year} is outside {FIRST_YEAR}..next year")
        years = self.years()
        if not years:
            raise LaunchError("Dagster has no year partitions yet: its sensor year_partitions adds them within "
                              "minutes of the daemon's start")
        if year is not None and str(year) not in years:
            raise BadChoice("year", f"year {year} is no partition; the years are {min(years, key=int)}.."
                            f"{max(years, key=int)} and those the vendors' year indexes showed")
        vendors = [vendor] if vendor is not None else list(VENDOR_KEYS)
        return [str(partition_key(v, y)) for v in vendors for y in ([str(year)] if year is not None else years)]

    def run_status(self, run_id: str) -> str:
        """QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ..."""
        result = self._post(_RUN_STATUS, {"id": run_id}, "runOrError")
        if result["__typename"] != "Run":
            raise LaunchError(f"run {run_id}: {result}")
        return self._pick(result, "status")

    def run_job(self, job_name: str, run_config: dict[str, Any]) -> str:
        """Launch a job (e.g. `sync_by_id`) with run config; returns the run id."""
        params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                               "jobName": job_name}, "runConfigData": run_config}
        result = self._post(_LAUNCH_RUN, {"params": params}, "launchRun")
        if result["__typename"] != "LaunchRunSuccess":
            raise LaunchError(f"run refused: {result}")
        return self._pick(result, "run", "runId")
