"""API keys: how they are made, stored (a SHA-256 hash only) and checked on each request.

A key reads `orn_<prefix>_<secret>`: 8 hex characters of prefix (stored, shown by `api-keys list`) and 43
characters of URL-safe randomness. The prefix finds the row; the hash of the presented key is compared with
the stored hash by `hmac.compare_digest`. Keys are high-entropy random strings, so a fast hash is enough (no
password KDF needed). Keys are never logged: log lines name the key by its name or prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Connection

from ornament_pipeline.server.errors import ApiError
from ornament_pipeline.server.queries import api_keys

log = logging.getLogger(__name__)

Scope = Literal["read", "admin"]
SCOPES: tuple[str, ...] = ("read", "admin")
_KEY_PATTERN = re.compile(r"^orn_([0-9a-f]{8})_[A-Za-z0-9_-]{20,100}$")
_KEY_ANYWHERE = re.compile(r"(orn_[0-9a-f]{8}_)[A-Za-z0-9_-]+")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()
# Last use is written at most this often per key and process, so reads do not turn into writes.
LAST_USED_RESOLUTION_SECONDS = 60.0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: str
    prefix: str
    key_hash: str


class RedactKeys(logging.Filter):
    """Keeps keys out of log lines that quote what a client sent, such as uvicorn's access log of a request
    whose URL carries a key (`?api_key=...` is refused, but it is still logged): `orn_1a2b3c4d_<redacted>`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "orn_" in a for a in record.args):
            record.args = tuple(_KEY_ANYWHERE.sub(r"\1<redacted>", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str) and "orn_" in record.msg:
            record.msg = _KEY_ANYWHERE.sub(r"\1<redacted>", record.msg)
        return True


def generate_key() -> NewKey:
    prefix = secrets.token_hex(4)
    key = f"orn_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key, prefix, hash_key(key))


def create_key(conn: Connection, name: str, scope: str) -> tuple[api_keys.StoredKey, str]:
    """Store a new key's hash; returns the row and the key itself (the only time it exists in clear)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if not name.strip() or len(name) > 100:
        raise ValueError("name must be 1 to 100 characters")
    if not name.isprintable():
        raise ValueError(f"name must be printable text (no tabs, newlines or control characters): {name!r}")
    for _ in range(5):  # prefix collisions are possible in principle (32 bits); retry with a fresh key
        new = generate_key()
        if api_keys.key_by_prefix(conn, new.prefix) is None:
            return api_keys.insert_key(conn, name.strip(), scope, new.prefix, new.key_hash), new.key
    raise RuntimeError("could not find a free key prefix")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's name and scope, or `anonymous` when reads are open."""

    name: str
    scope: str


ANONYMOUS = Principal("anonymous", "read")


class KeyChecker:
    """Verifies presented keys against the database and records their last use (throttled)."""

    def __init__(self) -> None:
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()

    def verify(self, conn: Connection, presented: str) -> Principal:
        match = _KEY_PATTERN.match(presented)
        stored = api_keys.key_by_prefix(conn, match.group(1)) if match else None
        ok = hmac.compare_digest(hash_key(presented), stored.key_hash if stored else _DUMMY_HASH)
        if stored is None or not ok:
            raise ApiError(401, "unauthorized", "unknown API key")
        if stored.revoked_at is not None:
            log.info("revoked API key %r (%s) refused", stored.name, stored.prefix)
            raise ApiError(401, "unauthorized", "API key revoked")
        self._touch(conn, stored.id)
        return Principal(stored.name, stored.scope)

    def _touch(self, conn: Connection, key_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and now - last < LAST_USED_RESOLUTION_SECONDS:
                return
            self._touched[key_id] = now
        api_keys.touch_key(conn, key_id)
        conn.commit()


# How keys are presented, for the OpenAPI schema (`KeyedRoute`, `document_key_schemes`). The dependency reads
# the two headers itself: solving FastAPI's APIKeyHeader and HTTPBearer as sub-dependencies cost a history read
# 10% more instructions in process (callgrind).
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "An API key from `ornaments api-keys create`."},
    "BearerKey": {"type": "http", "scheme": "bearer",
                  "description": "The same API key as `Authorization: Bearer <key>`."},
}
KEY_SECURITY = [{name: []} for name in SECURITY_SCHEMES]  # either scheme will do


def presented_key(request: Request) -> str | None:
    """The key sent as `X-API-Key` or, failing that, as `Authorization: Bearer` (as FastAPI's schemes read them)."""
    header_key = request.headers.get("x-api-key", "").strip()
    if header_key:
        return header_key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


@dataclass(frozen=True)
class Access:
    """What a request presented and what its route needs; checked against the database by `authorize`."""

    presented: str | None
    scope: Scope


def _access(scope: Scope):
    async def dependency(request: Request) -> Access:
        presented = presented_key(request)
        if presented is None and not (scope == "read" and request.app.state.server_config.open_reads):
            raise ApiError(401, "unauthorized", "an API key is required (X-API-Key or Authorization: Bearer)")
        return Access(presented, scope)

    dependency.__name__ = f"{scope}_access"
    return dependency


read_access = _access("read")
admin_access = _access("admin")


def authorize(conn: Connection, checker: KeyChecker, access: Access) -> Principal:
    """The caller, once its key is verified (401) and its scope allows the route (403). Blocking: call it from a
    worker thread (see `deps.run_db`)."""
    if access.presented is None:
        return ANONYMOUS  # `read_access` let it through: reads are open
    principal = checker.verify(conn, access.presented)
    if access.scope == "admin" and principal.scope != "admin":
        raise ApiError(403, "forbidden", f"this route needs an admin key; key {principal.name!r} is read-only")
    return principal


class KeyedRoute(APIRoute):
    """A route whose OpenAPI operation lists the key schemes when its endpoint depends on `read_access` or
    `admin_access` (the routers' `route_class`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _required_scope(self.dependant):
            self.openapi_extra = {**(self.openapi_extra or {}), "security": KEY_SECURITY}


def route_scope(route: Any) -> Scope | None:
    """The key scope a matched route needs (`request.scope["route"]`), or None for a route without a key."""
    dependant = getattr(route, "dependant", None)
    return _required_scope(dependant) if isinstance(dependant, Dependant) else None


def _required_scope(dependant: Dependant) -> Scope | None:
    scopes = {"admin" if d.call is admin_access else "read" if d.call is read_access else _required_scope(d)
              for d in dependant.dependencies}
    return "admin" if "admin" in scopes else "read" if "read" in scopes else None


def document_key_schemes(app: FastAPI) -> None:
    """Add the key schemes to `app`'s OpenAPI components (the operations name them, see `KeyedRoute`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
