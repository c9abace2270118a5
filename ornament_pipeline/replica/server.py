"""Serving the replica: shared state, one ASGI app per site, the admin app, and the event loop.

All four servers (three sites and the admin interface, each on its own port) run in one asyncio
loop, so a day change or a new fault plan never races with a request. Pages are rendered once per
day and cached; only faulted responses are built per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ornament_pipeline.replica.catalogue import catalogue
from ornament_pipeline.replica.clock import day_state, truth
from ornament_pipeline.replica.faults import FaultDice, FaultSpecError, parse_faults
from ornament_pipeline.replica.sites import SITES, Site
from ornament_pipeline.replica.sites.common import Page
from ornament_pipeline.vendors import HALLMARK_ORNAMENTS, HOOKEDONHALLMARK, VENDOR_KEYS

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
DEFAULT_PORTS = (8701, 8702, 8703)
DEFAULT_ADMIN_PORT = 8700
CACHE_LIMIT = 60_000  # pages per site; a full site is ~12k product pages plus listing pages
# Site options per vendor, each with its allowed values (the first is the default).
OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    HOOKEDONHALLMARK: {"index_layout": ("columns-5", "sub-categories")},  # the year-index layout
    HALLMARK_ORNAMENTS: {"tiles": ("plain", "hover", "hover-trusted", "hover-broken")},  # ids only on hover?
}


class Replica:
    """The served state: catalogue, the day's listings per site, faults, options and the page cache."""

    def __init__(self, size: str, seed: int, day: int, base_urls: dict[str, str], faults: str | None = None):
        self.size, self.seed, self.base_urls = size, seed, dict(base_urls)
        self.catalogue = catalogue(size, seed)
        self.sites: dict[str, Site] = {v: SITES[v](self.catalogue, base_urls[v]) for v in VENDOR_KEYS}
        self.options: dict[str, dict[str, str]] = {v: {} for v in VENDOR_KEYS}
        self.cache: dict[str, dict[tuple[str, str], Page]] = {v: {} for v in VENDOR_KEYS}
        self.day = day
        self.set_faults(faults)
        self.set_day(day)

    def set_day(self, day: int) -> None:
        """Move the clock: recompute every site's listings and drop cached pages."""
        if day < 0:
            raise ValueError("day must be >= 0")
        for vendor, site in self.sites.items():
            site.set_day(day_state(self.catalogue, day, vendor))
        self.day = day
        self.cache = {v: {} for v in VENDOR_KEYS}

    def set_faults(self, spec: str | None) -> None:
        """Replace the fault plan (raises FaultSpecError); restarts the fault dice."""
        plan = parse_faults(spec)
        self.faults = plan
        self.dice = FaultDice(plan)
        self.cache = {v: {} for v in VENDOR_KEYS}  # robots.txt depends on the plan

    def set_options(self, vendor: str, options: dict[str, str]) -> None:
        known = OPTIONS.get(vendor, {})
        for key, value in options.items():  # all checked before any is applied
            if key not in known or value not in known[key]:
                raise ValueError(f"unknown option {key}={value!r} for {vendor}; known: {known}")
        self.options[vendor].update(options)
        self.cache[vendor] = {}

    def page(self, vendor: str, path: str, query: str, noprice: bool = False) -> Page:
        """The page at path?query, from the cache unless the price must be dropped."""
        key = (path, query)
        if not noprice and key in self.cache[vendor]:
            return self.cache[vendor][key]
        page = self.sites[vendor].render(path, dict(parse_qsl(query)), self.options[vendor], noprice,
                                         self.faults.vendors[vendor].robots)
        if not noprice:
            cache = self.cache[vendor]
            if len(cache) >= CACHE_LIMIT:  # junk query strings must not grow memory without bound
                cache.clear()
            cache[key] = page
        return page

    def state(self) -> dict[str, Any]:
        return {"size": self.size, "seed": self.seed, "day": self.day, "faults": self.faults.to_spec(),
                "base_urls": self.base_urls, "options": self.options}


def _headers(page: Page, length: int, extra: tuple[tuple[bytes, bytes], ...] = ()) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", page.content_type.encode()), (b"content-length", str(length).encode()),
            (b"cache-control", b"no-cache"), *extra]


def site_app(replica: Replica, vendor: str) -> Any:
    """A bare ASGI app for one vendor's site (no framework on the hot path)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, query = scope["path"], scope["query_string"].decode("latin-1")
        if path == "/robots.txt":  # never faulted: scrapers must be able to read the rules
            page = replica.page(vendor, path, query)
            await _send(send, page)
            return
        page = replica.page(vendor, path, query)
        decision = replica.dice.draw(vendor, page.product)
        fault = decision.fault
        if decision.noprice and page.status == 200:
            page = replica.page(vendor, path, query, noprice=True)
        if fault in ("500", "503", "429"):
            status = int(fault)
            text = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}[status]
            body = f"<html><head><title>{status} {text}</title></head><body><h1>{text}</h1></body></html>".encode()
            retry_after = str(replica.faults.vendors[vendor].retry_after).encode()
            extra = ((b"retry-after", retry_after),) if status == 429 else ()
            await _send(send, Page(body, status=status), extra)
        elif fault == "slow":
            await asyncio.sleep(replica.faults.vendors[vendor].slow_seconds)
            await _send(send, page)
        elif fault == "truncate":  # a complete HTTP response whose HTML stops half-way
            await _send(send, Page(page.body[: int(len(page.body) * decision.cut)], page.status, page.content_type,
                                   page.product))
        elif fault == "drop":  # headers promise the whole body; the connection closes part-way
            await send({"type": "http.response.start", "status": page.status,
                        "headers": _headers(page, len(page.body))})
            await send({"type": "http.response.body", "body": page.body[: int(len(page.body) * decision.cut)],
                        "more_body": True})
            # Returning now makes uvicorn close the transport (the filter below hushes its log line).
        else:
            await _send(send, page)

    return app


async def _send(send: Any, page: Page, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send({"type": "http.response.start", "status": page.status, "headers": _headers(page, len(page.body), extra)})
    await send({"type": "http.response.body", "body": page.body})


class _HushDroppedConnections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def admin_app(replica: Replica) -> Starlette:
    """The admin interface: its own port, never reachable through the sites' URLs."""

    async def state(request: Request) -> Response:
        return JSONResponse(replica.state())

    async def set_day(request: Request) -> Response:
        body = await _json(request)
        try:
            day = int(body.get("day", request.query_params.get("day", "")))
            replica.set_day(day)
        except ValueError as exc:
            return JSONResponse({"error": f"bad day: {exc}"}, status_code=400)
        return JSONResponse(replica.state())

    async def set_faults(request: Request) -> Response:
        body = await _json(request)
        try:
            replica.set_faults(body.get("spec", request.query_params.get("spec", "")))
        except FaultSpecError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(replica.state())

    async def set_options(request: Request) -> Response:
        body = await _json(request)
        try:
            for vendor, options in body.items():
                if vendor not in VENDOR_KEYS:
                    raise ValueError(f"unknown vendor {vendor!r}")
                replica.set_options(vendor, options)
        except (ValueError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(replica.state())

    async def get_truth(request: Request) -> Response:
        vendor = request.query_params.get("vendor")
        year = request.query_params.get("year")
        rows = truth(replica.size, replica.day, replica.seed, replica.base_urls, vendor or None,
                     int(year) if year else None)
        text = "".join(json.dumps(r.to_json_dict()) + "\n" for r in rows)
        return Response(text, media_type="application/x-ndjson")

    return Starlette(routes=[
        Route("/state", state), Route("/day", set_day, methods=["POST", "PUT"]),
        Route("/faults", set_faults, methods=["POST", "PUT"]), Route("/options", set_options, methods=["POST", "PUT"]),
        Route("/truth", get_truth),
    ])


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}


class PortInUse(RuntimeError):
    """A port the replica was told to use is taken."""


def bind(port: int, host: str = HOST) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); PortInUse when taken."""
    # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections (no 40 ms delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"port {port} on {host} is already in use ({exc.strerror})") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: several servers share one loop, stopped together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Bound:
    """Sockets bound for the three sites and the admin interface."""

    sites: dict[str, socket.socket]
    admin: socket.socket

    @property
    def base_urls(self) -> dict[str, str]:
        return {v: f"http://{HOST}:{s.getsockname()[1]}" for v, s in self.sites.items()}

    @property
    def admin_url(self) -> str:
        return f"http://{HOST}:{self.admin.getsockname()[1]}"

    def close(self) -> None:
        for sock in (*self.sites.values(), self.admin):
            sock.close()


def bind_all(ports: tuple[int, int, int] | None, admin_port: int | None) -> Bound:
    """Bind every port up front, so a taken port is one clear error before anything starts."""
    taken: list[socket.socket] = []
    try:
        sites = {}
        for vendor, port in zip(VENDOR_KEYS, ports or (0, 0, 0), strict=True):
            sites[vendor] = bind(port)
            taken.append(sites[vendor])
        admin = bind(admin_port or 0)
    except PortInUse:
        for sock in taken:
            sock.close()
        raise
    return Bound(sites, admin)


class ReplicaRunner:
    """Runs the servers in one event loop; `stop()` (any thread) shuts them down."""

    def __init__(self, replica: Replica, bound: Bound) -> None:
        self.replica, self.bound = replica, bound
        apps = [(site_app(replica, v), bound.sites[v]) for v in VENDOR_KEYS] + [(admin_app(replica), bound.admin)]
        self.servers = [
            (_Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                                    timeout_graceful_shutdown=2)), sock)
            for app, sock in apps
        ]
        logging.getLogger("uvicorn.error").addFilter(_HushDroppedConnections())
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in self.servers))

    @property
    def started(self) -> bool:
        return all(server.started for server, _ in self.servers)

    def stop(self) -> None:
        for server, _ in self.servers:
            server.should_exit = True


def serve_in_thread(runner: ReplicaRunner) -> threading.Thread:
    """Start the runner in a daemon thread with its own loop; returns once it accepts requests."""
    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(runner.serve())
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)

    thread = threading.Thread(target=main, name="ornament-replica", daemon=True)
    thread.start()
    while not runner.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"replica failed to start: {errors[0] if errors else 'thread exited'}")
        threading.Event().wait(0.01)
    return thread
