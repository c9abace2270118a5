"""`POST /syncs` (admin): start a sync on Dagster through its GraphQL API.

By `vendor` and/or `year`: a backfill of the sync assets over those vendor x year partitions.
By `product_ids`: a run of the `sync_by_id` job. By `query` (optionally narrowed by vendor and year):
a run of `sync_by_query`. Dagster unreachable -> 503; Dagster refusing, or answering what cannot be read,
-> 502; all with an error body.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from ornament_pipeline.pipeline.launch import BadChoice, Dagster, LaunchError, UnreadableReply
from ornament_pipeline.server.auth import Access, KeyedRoute, admin_access
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES, ApiError, ErrorBody, FieldError
from ornament_pipeline.server.models import SyncRequest, SyncStarted

log = logging.getLogger(__name__)
router = APIRouter(tags=["syncs"], responses=ERROR_RESPONSES, route_class=KeyedRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
              502: {"model": ErrorBody, "description": "Dagster refused the launch, or its reply could not be read"},
              503: {"model": ErrorBody, "description": "Dagster is unreachable"}}


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", f"invalid parameter(s): {field}",
                    [FieldError(field=field, location="body", message=message)])


def _partitions(dagster: Dagster, body: SyncRequest) -> list[str]:
    """The partitions asked for, against the years Dagster holds (a 422 for a vendor or year that is none)."""
    try:
        return dagster.sync_partitions(body.vendor, body.year)
    except BadChoice as exc:
        raise _invalid(exc.field, str(exc)) from None


def _launch(dagster: Dagster, body: SyncRequest) -> dict:
    if body.product_ids is not None:
        if body.vendor or body.year is not None or body.query:
            raise _invalid("product_ids", "product_ids cannot be combined with vendor, year or query")
        config: dict[str, Any] = {"ops": {"resync_by_id": {"config": {"product_ids": body.product_ids}}}}
        return {"kind": "run", "job": "sync_by_id", "id": dagster.run_job("sync_by_id", config)}
    if body.query is not None:
        if "\x00" in body.query or not body.query.strip():
            raise _invalid("query", "query must be non-blank text")
        config = {"ops": {"resync_by_query": {"config": {
            "text": body.query, "vendor": body.vendor, "year": body.year, "limit": body.limit}}}}
        return {"kind": "run", "job": "sync_by_query", "id": dagster.run_job("sync_by_query", config)}
    if body.vendor is None and body.year is None:
        raise _invalid("body", "give vendor and/or year, product_ids, or query")
    partitions = _partitions(dagster, body)
    title = f"API sync: vendor={body.vendor or 'all'} year={body.year or 'all'}"
    return {"kind": "backfill", "id": dagster.backfill(partitions, title), "partitions": len(partitions)}


@router.post("/syncs", response_model=SyncStarted, status_code=202, responses=_RESPONSES,
             summary="Start a sync (admin)")
async def start_sync(
    body: SyncRequest,
    request: Request,
    access: Annotated[Access, Depends(admin_access)],
) -> dict:
    principal = await run_db(request, access, lambda _, principal: principal)
    dagster = Dagster(request.app.state.server_config.dagster_url, timeout=15.0)
    try:
        started = await run_in_threadpool(_launch, dagster, body)
    except LaunchError as exc:
        unreachable = isinstance(exc.__cause__, httpx.HTTPError)
        log.warning("sync requested by key %r failed: %s", principal.name, exc)
        if unreachable:
            raise ApiError(503, "dagster_unreachable", f"Dagster is unreachable: {exc}") from None
        if isinstance(exc, UnreadableReply):
            raise ApiError(502, "dagster_bad_reply", f"{exc}; the sync may have started: check Dagster's runs"
                           " and backfills before asking again") from None
        raise ApiError(502, "dagster_refused", str(exc)) from None
    log.info("key %r started %s %s", principal.name, started["kind"], started["id"])
    return started
