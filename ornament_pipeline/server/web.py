"""The collectors' web page at `/` (search), `/p/{id}` (one listing) and `/watches` (the signed-in collector's
watches): the same document, see `page.py`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ornament_pipeline.server.page import PAGE_HTML

router = APIRouter(include_in_schema=False)

_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/", response_class=HTMLResponse)
def search_page() -> HTMLResponse:
    return HTMLResponse(PAGE_HTML, headers=_HEADERS)


@router.get("/p/{product_id}", response_class=HTMLResponse)
def product_page(product_id: int) -> HTMLResponse:
    return HTMLResponse(PAGE_HTML, headers=_HEADERS)


@router.get("/watches", response_class=HTMLResponse)
def my_watches_page() -> HTMLResponse:
    return HTMLResponse(PAGE_HTML, headers=_HEADERS)
