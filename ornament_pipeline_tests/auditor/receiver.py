"""A local webhook receiver for tests: records every request, can fail or hold requests on demand.

It dedupes nothing. A request counts as `accepted` only when the receiver answered 2xx to a sender that was
still connected: that is the webhook contract (the sender is done when it has the 2xx), and it lets a test
see a request that a killed sender abandoned mid-flight (`abandoned`).
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers["x-ornaments-idempotency-key"]

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)   # every request that arrived, in order
    accepted: list[Received] = field(default_factory=list)   # answered 2xx while the sender was connected
    abandoned: list[Received] = field(default_factory=list)  # the sender hung up before the answer
    fail_first: int = 0            # answer the first N requests with `fail_status`
    fail_status: int = 500
    hold: threading.Event | None = None   # when set: request number `hold_at` waits until hold.set() ...
    holding: threading.Event = field(default_factory=threading.Event)  # ... and this says it is waiting
    hold_at: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self, which: str = "accepted") -> list[str]:
        return [r.key for r in getattr(self, which)]


def _peer_gone(sock: socket.socket) -> bool:
    """True when the client closed its end (a killed process's socket is closed by the kernel)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def make_handler(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            item = Received({k.lower(): v for k, v in self.headers.items()}, body)
            with state._lock:
                state.received.append(item)
                number = len(state.received)
                held = state.hold is not None and number == state.hold_at
            if held:
                state.holding.set()
                state.hold.wait(60)
                if _peer_gone(self.connection):
                    with state._lock:
                        state.abandoned.append(item)
                    return
            if number <= state.fail_first:
                self.send_response(state.fail_status)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"nope")
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            with state._lock:
                state.accepted.append(item)

    return Handler


def serve(state: Receiver) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
