"""One JSON error body for every failure: `{"error": {"status", "code", "message", "fields"}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    location: str
    message: str


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    fields: list[FieldError] = []


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """Raised by routes and dependencies; rendered as an `ErrorBody`."""

    def __init__(self, status: int, code: str, message: str, fields: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or []


def error_response(status: int, code: str, message: str, fields: list[FieldError] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(status=status, code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field_errors(errors: list[dict[str, Any]]) -> list[FieldError]:
    out = []
    for item in errors:
        if item.get("type") == "json_invalid":  # its loc is ("body", <character offset>), not a field
            message = f"the body is not valid JSON: {(item.get('ctx') or {}).get('error', '')}"
            if len(item.get("loc", ())) > 1:
                message += f" (at character {item['loc'][-1]})"
            out.append(FieldError(field="body", location="body", message=message))
            continue
        loc = [str(part) for part in item.get("loc", ())]
        location = loc[0] if loc else "request"
        field = ".".join(loc[1:]) or location
        out.append(FieldError(field=field, location=location, message=str(item.get("msg", "invalid"))))
    return out


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 422: "invalid_parameter"}

# Documented on routes so the OpenAPI schema matches what clients receive.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorBody, "description": "The key's scope does not allow this route"},
    422: {"model": ErrorBody, "description": "An invalid parameter; `fields` names it"},
    503: {"model": ErrorBody, "description": "The database is unavailable; try again (`Retry-After`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such resource"}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.fields, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        from ornament_pipeline.server.deps import check_key_first  # deps -> auth -> errors

        try:
            await check_key_first(request)
        except ApiError as refused:
            return await _api_error(request, refused)
        fields = _field_errors(list(exc.errors()))
        names = ", ".join(sorted({f.field for f in fields}))
        return error_response(422, "invalid_parameter", f"invalid parameter(s): {names}", fields)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Connection refused or dropped, or a statement cancelled: nothing was stored by this request.
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, str(exc).strip()[:300])
        return error_response(503, "database_unavailable", "the database is unavailable; try again shortly",
                              headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this response is sent; the client gets JSON like every other error.
        return error_response(500, "internal_error", "internal error; the server log has the details")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))
