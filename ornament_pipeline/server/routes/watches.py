"""`/watches`: ornaments a collector wants alerts about.

Who sees what: a collector key its own watches (create, list, get, delete, their alerts); an admin key every
watch (one it creates is the operator's, without owner); a read key lists and reads the operator's watches only
and cannot write (403). Another collector's watch answers 404 exactly like a missing id, so one collector never
learns that another's exists.

Validation and storage are the auditor's (`ornament_pipeline.auditor.watches`); its `WatchError` messages
start with the field name, which becomes the 422 body's field.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from ornament_pipeline.auditor import watches
from ornament_pipeline.server.auth import Access, KeyedRoute, Principal, collector_access, read_access
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES, NOT_FOUND, ApiError, FieldError
from ornament_pipeline.server.params import ITEM_NUMBER, MAX_BIGINT, NO_NUL, VendorParam

router = APIRouter(tags=["watches"], responses=ERROR_RESPONSES, route_class=KeyedRoute)

MAX_WATCH_PAGE = 1000
MAX_ALERT_PAGE = 500
AlertKind = Literal["price_drop", "back_in_stock", "new_listing", "all_time_low"]
WatchId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]


def owner_of(principal: Principal) -> watches.Owner:
    """Whose watches and destinations `principal` sees: an admin everyone's, a collector its own, anyone else
    the operator's (ownerless) watches."""
    if principal.is_admin:
        return watches.EVERYONE
    return watches.Owner(principal.collector_id)


def not_found(what: str, item_id: int) -> ApiError:
    """The 404 of a missing id, and of an id that is someone else's: the same status and body."""
    return ApiError(404, "not_found", f"no {what} {item_id}")


class WatchIn(BaseModel):
    item_number: str = Field(pattern=ITEM_NUMBER, description="Hallmark item number, e.g. QX6001")
    condition: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z0-9]*$")
    vendor: VendorParam | None = None
    max_price: Decimal | None = Field(None, gt=0, le=Decimal("99999999.99"), allow_inf_nan=False)
    drop_percent: Decimal | None = Field(None, gt=0, le=100, allow_inf_nan=False)
    kinds: list[AlertKind] | None = Field(None, min_length=1, description="Default: every kind")
    label: str | None = Field(None, max_length=200, pattern=NO_NUL)


class WatchOut(BaseModel):
    id: int
    item_number: str
    condition: str | None
    vendor: str | None
    max_price: Decimal | None
    drop_percent: Decimal | None
    kinds: list[str]
    label: str | None
    created_at: datetime
    owner: str | None = Field(description="The collector who owns it; null for the operator's watches")


class AlertOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    payload: dict[str, Any] = Field(description="What its deliveries carry (docs/auditor.md): event, product, "
                                                "price, previous price, ...")


def _invalid(exc: watches.WatchError) -> ApiError:
    message = str(exc)
    field = message.split(":", 1)[0] if ":" in message else "body"
    return ApiError(422, "invalid_parameter", f"invalid parameter(s): {field}",
                    [FieldError(field=field, location="body", message=message)])


@router.get("/watches", response_model=list[WatchOut], summary="Watches, oldest first")
async def list_watches(
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    item_number: Annotated[str | None, Query(pattern=ITEM_NUMBER)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_BIGINT, description="The last id of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_WATCH_PAGE)] = MAX_WATCH_PAGE,
) -> list[watches.Watch]:
    """At most `limit` of the caller's watches (see the module) with ids above `after_id`: a page shorter than
    `limit` is the last one."""
    return await run_db(request, access, lambda conn, principal: watches.list_watches(
        conn, item_number, after_id=after_id, limit=limit, owner=owner_of(principal)))


@router.post("/watches", response_model=WatchOut, status_code=201,
             summary="Watch an ornament (collector: its own; admin: the operator's)")
async def create_watch(
    body: WatchIn,
    request: Request,
    access: Annotated[Access, Depends(collector_access)],
) -> watches.Watch:
    def work(conn: Connection, principal: Principal) -> watches.Watch:
        try:
            watch = watches.add_watch(conn, body.item_number, body.condition, body.vendor, body.max_price,
                                      body.drop_percent, body.kinds, body.label,
                                      collector_id=None if principal.is_admin else principal.collector_id)
        except watches.WatchError as exc:
            raise _invalid(exc) from None
        conn.commit()
        return watch

    return await run_db(request, access, work)


@router.get("/watches/{watch_id}", response_model=WatchOut, responses=NOT_FOUND, summary="One watch")
async def get_watch(
    watch_id: WatchId,
    request: Request,
    access: Annotated[Access, Depends(read_access)],
) -> watches.Watch:
    def work(conn: Connection, principal: Principal) -> watches.Watch:
        try:
            return watches.get_watch(conn, watch_id, owner_of(principal))
        except watches.WatchNotFound:
            raise not_found("watch", watch_id) from None

    return await run_db(request, access, work)


@router.get("/watches/{watch_id}/alerts", response_model=list[AlertOut], responses=NOT_FOUND,
            summary="The alerts a watch raised, newest first")
async def watch_alerts(
    watch_id: WatchId,
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT,
                                           description="The last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERT_PAGE)] = 100,
) -> list[watches.RaisedAlert]:
    def work(conn: Connection, principal: Principal) -> list[watches.RaisedAlert]:
        try:
            return watches.watch_alerts(conn, watch_id, owner_of(principal), before_id=before_id, limit=limit)
        except watches.WatchNotFound:
            raise not_found("watch", watch_id) from None

    return await run_db(request, access, work)


@router.delete("/watches/{watch_id}", response_model=WatchOut, responses=NOT_FOUND,
               summary="Stop watching (collector: its own; admin: any); returns what the watch was")
async def delete_watch(
    watch_id: WatchId,
    request: Request,
    access: Annotated[Access, Depends(collector_access)],
) -> watches.Watch:
    def work(conn: Connection, principal: Principal) -> watches.Watch:
        try:
            watch = watches.remove_watch(conn, watch_id, owner_of(principal))
        except watches.WatchNotFound:
            raise not_found("watch", watch_id) from None
        conn.commit()
        return watch

    return await run_db(request, access, work)
