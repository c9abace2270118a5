"""`/me` and `/destinations`: who a key is, and the webhook URLs a collector's alerts go to.

A collector registers its own destinations; each is sent a signed test delivery at once (the body shape,
headers and HMAC-SHA256 signature of a real alert, with the destination's own secret, shown once in the answer)
and is used only after a 2xx. An admin lists and removes everyone's; a read key gets 403. Another collector's
destination answers 404 exactly like a missing id.

The test POST runs between two short database steps, never inside one (as every delivery: auditor/delivery.py).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from ornament_pipeline.auditor.delivery import VerificationOutcome, send_verification
from ornament_pipeline.server.auth import Access, KeyedRoute, Principal, collector_access, read_access
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES, NOT_FOUND, ApiError, ErrorBody, FieldError
from ornament_pipeline.server.params import MAX_BIGINT, NO_NUL
from ornament_pipeline.server.queries import api_keys
from ornament_pipeline.server.queries import destinations as queries
from ornament_pipeline.server.routes.watches import not_found, owner_of

router = APIRouter(tags=["collectors"], responses=ERROR_RESPONSES, route_class=KeyedRoute)

DestinationId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The caller has a destination with that URL already"}}
MAX_URL_LENGTH = 2000


class Me(BaseModel):
    name: str = Field(description="The key's name (`anonymous` without a key when reads are open)")
    scope: str
    collector: str | None = Field(description="The collector a collector key belongs to")


class DestinationIn(BaseModel):
    url: str = Field(max_length=MAX_URL_LENGTH, description="An http(s) URL, posted exactly as written")
    label: str | None = Field(None, max_length=200, pattern=NO_NUL)


class DestinationOut(BaseModel):
    id: int
    owner: str
    url: str
    label: str | None
    status: str = Field(description="`verified`: alerts go to it; `failed`: its last test delivery got no 2xx "
                                    "(see `last_check_error`), nothing is sent to it; `pending`: not tested yet")
    created_at: datetime
    verified_at: datetime | None
    last_checked_at: datetime | None
    last_check_status: int | None = Field(description="The HTTP status the last test got; null if none arrived")
    last_check_error: str | None = Field(description="Why the last test failed; null when it was answered 2xx")


class DestinationCreated(DestinationOut):
    secret: str = Field(description="Verifies the `X-Ornaments-Signature` of every POST to this destination; "
                                    "shown this once")


def _out(destination: queries.Destination) -> DestinationOut:
    return DestinationOut(id=destination.id, owner=destination.owner, url=destination.url,
                          label=destination.label, status=destination.status, created_at=destination.created_at,
                          verified_at=destination.verified_at, last_checked_at=destination.last_checked_at,
                          last_check_status=destination.last_check_status,
                          last_check_error=destination.last_check_error)


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    problem = ("it must start with http:// or https://" if parts.scheme not in ("http", "https")
               else "it names no host" if not parts.hostname
               else "it contains whitespace or control characters" if not url.isprintable() or " " in url
               else None)
    if problem is not None:
        raise ApiError(422, "invalid_parameter", "invalid parameter(s): url",
                       [FieldError(field="url", location="body", message=f"url: {url!r}: {problem}")])
    return url


async def _verify(request: Request, access: Access, destination_id: int, url: str, secret: str) -> DestinationOut:
    """Send the test delivery (off the database threads) and record its outcome."""
    outcome: VerificationOutcome = await asyncio.to_thread(send_verification, destination_id, url, secret,
                                                           request.app.state.server_config.webhook_timeout_seconds)

    def record(conn: Connection, _: Principal) -> DestinationOut:
        checked = queries.record_check(conn, destination_id, outcome.verified, outcome.status_code, outcome.reason)
        conn.commit()
        if checked is None:  # removed while the test was under way
            raise not_found("destination", destination_id)
        return _out(checked)

    return await run_db(request, access, record)


@router.get("/me", response_model=Me, summary="Who the presented key is")
async def me(request: Request, access: Annotated[Access, Depends(read_access)]) -> Me:
    return await run_db(request, access, lambda conn, principal: Me(
        name=principal.name, scope=principal.scope,
        collector=None if principal.collector_id is None else api_keys.collector_name(conn, principal.collector_id)))


@router.get("/destinations", response_model=list[DestinationOut],
            summary="Alert destinations, oldest first (collector: its own; admin: everyone's)")
async def list_destinations(
    request: Request,
    access: Annotated[Access, Depends(collector_access)],
    after_id: Annotated[int, Query(ge=0, le=MAX_BIGINT, description="The last id of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[DestinationOut]:
    return await run_db(request, access, lambda conn, principal: [
        _out(d) for d in queries.list_destinations(conn, owner_of(principal), after_id=after_id, limit=limit)])


@router.post("/destinations", response_model=DestinationCreated, status_code=201, responses=CONFLICT,
             summary="Register a webhook URL for the caller's alerts (collector); it is tested at once")
async def create_destination(
    body: DestinationIn,
    request: Request,
    access: Annotated[Access, Depends(collector_access)],
) -> DestinationCreated:
    """201 whatever the test delivery got: `status` says whether the destination is `verified` (alerts go to
    it) or `failed` (with `last_check_status` and `last_check_error`; retest with `POST .../verify`)."""
    url = _checked_url(body.url)
    label = body.label.strip() if body.label and body.label.strip() else None
    secret = "whsec_" + secrets.token_urlsafe(32)

    def insert(conn: Connection, principal: Principal) -> int:
        if principal.collector_id is None:
            raise ApiError(403, "forbidden", f"destinations belong to a collector: key {principal.name!r} is an"
                                             f" admin key; create them with the collector's own key")
        try:
            destination_id = queries.insert_destination(conn, principal.collector_id, url, secret, label)
        except queries.DestinationExists as exc:
            raise ApiError(409, "conflict", str(exc),
                           [FieldError(field="url", location="body", message=str(exc))]) from None
        conn.commit()
        return destination_id

    destination_id = await run_db(request, access, insert)
    checked = await _verify(request, access, destination_id, url, secret)
    return DestinationCreated(**checked.model_dump(), secret=secret)


@router.post("/destinations/{destination_id}/verify", response_model=DestinationOut, responses=NOT_FOUND,
             summary="Send a destination a new signed test delivery")
async def verify_destination(
    destination_id: DestinationId,
    request: Request,
    access: Annotated[Access, Depends(collector_access)],
) -> DestinationOut:
    def find(conn: Connection, principal: Principal) -> tuple[str, str]:
        found = queries.get_destination(conn, destination_id, owner_of(principal))
        if found is None:
            raise not_found("destination", destination_id)
        return found.url, queries.destination_secret(conn, destination_id)

    url, secret = await run_db(request, access, find)
    return await _verify(request, access, destination_id, url, secret)


@router.delete("/destinations/{destination_id}", response_model=DestinationOut, responses=NOT_FOUND,
               summary="Remove a destination; returns what it was")
async def delete_destination(
    destination_id: DestinationId,
    request: Request,
    access: Annotated[Access, Depends(collector_access)],
) -> DestinationOut:
    """Nothing more is sent to it; its pending deliveries end as `failed`."""
    def work(conn: Connection, principal: Principal) -> DestinationOut:
        removed = queries.remove_destination(conn, destination_id, owner_of(principal))
        if removed is None:
            raise not_found("destination", destination_id)
        conn.commit()
        return _out(removed)

    return await run_db(request, access, work)
