"""`/health`: the app is up and can reach its database (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ornament_pipeline.server.auth import KeyedRoute
from ornament_pipeline.server.deps import on_connection
from ornament_pipeline.server.models import Health

router = APIRouter(tags=["health"], route_class=KeyedRoute)
VERSION = "1"


@router.get("/health", response_model=Health, responses={503: {"model": Health}}, summary="Liveness and database")
def health(request: Request) -> JSONResponse | dict:
    try:
        on_connection(request.app.state.engine, lambda conn: conn.execute(text("SELECT 1")), retry=True)
    except SQLAlchemyError:
        body = Health(status="degraded", database="unreachable", version=VERSION)
        return JSONResponse(body.model_dump(), status_code=503)
    return {"status": "ok", "database": "ok", "version": VERSION}
