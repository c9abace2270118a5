"""`/changes`: the change feed (new, changed, delisted, relisted listings) read by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ornament_pipeline.server.auth import Access, KeyedRoute, read_access
from ornament_pipeline.server.cursors import bad_cursor
from ornament_pipeline.server.deps import run_db
from ornament_pipeline.server.errors import ERROR_RESPONSES
from ornament_pipeline.server.models import ChangeFeed, ChangeKind
from ornament_pipeline.server.params import MAX_BIGINT, VendorParam
from ornament_pipeline.server.queries.changes import change_feed, feed_cursor, parse_feed_cursor

router = APIRouter(tags=["changes"], responses=ERROR_RESPONSES, route_class=KeyedRoute)


@router.get("/changes", response_model=ChangeFeed, summary="Change events after a cursor")
async def read_changes(
    request: Request,
    access: Annotated[Access, Depends(read_access)],
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}-[0-9]{1,19}$",
                                        description="`next_cursor` of the previous read; omit to start")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    product_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    kind: ChangeKind | None = None,
    vendor: VendorParam | None = None,
) -> dict:
    """Events of committed transactions in commit-safe (txid, id) order. Keep `next_cursor` and pass it back as
    `cursor` to read on without gaps or repeats; it is returned unchanged when nothing is new."""
    try:
        after = parse_feed_cursor(cursor)
    except ValueError:
        raise bad_cursor("not a cursor returned by this API") from None
    events = await run_db(request, access, lambda conn, _: change_feed(conn, after, limit, product_id, kind, vendor))
    next_cursor = feed_cursor(events[-1]["txid"], events[-1]["id"]) if events else feed_cursor(*after)
    return {"events": events, "next_cursor": next_cursor}
