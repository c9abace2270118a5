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
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Connection

from ornament_pipeline.server.errors import ApiError
from ornament_pipeline.server.queries import api_keys

log = logging.getLogger(__name__)

# read: GET routes; collector: also its own watches and alert destinations; admin: everything, everyone's.
Scope = Literal["read", "collector", "admin"]
SCOPES: tuple[str, ...] = ("read", "collector", "admin")
_KEY_PATTERN = re.compile(r"^orn_([0-9a-f]{8})_[A-Za-z0-9_-]{20,100}$")
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


def _sent_or_encoded(char: str) -> str:
    """A regex for `char` as sent or percent-encoded, any number of times over (%6F, %256F, ...)."""
    return f"(?:{re.escape(char)}|%(?:25)*{ord(char):02x})"


# Anything key-looking: "orn_" in any case, each character possibly percent-encoded, and what follows it up to
# the end of the URL component (whitespace, a quote, the next parameter or the fragment). Malformed keys too.
_KEY_LIKE = re.compile("".join(_sent_or_encoded(c) for c in "orn_") + r"[^\s\"'&#]*", re.IGNORECASE)
_KEY_PREFIX = re.compile(r"^orn_([0-9a-f]{8})_")
# A URL parameter, for the names a client may put a key or token under (compared decoded and lower-cased).
_URL_PARAM = re.compile(r"([?&;])([^=&#\s\"']+)=([^&#\s\"']*)")
_SECRET_PARAMS = frozenset({"api_key", "apikey", "key", "x_api_key", "token", "access_token", "auth",
                            "authorization", "bearer", "secret", "password"})
REDACTED = "<redacted>"


def _decoded(text_value: str) -> str:
    """Percent-decoded until it no longer changes (a few rounds at most: %256F -> %6F -> o)."""
    for _ in range(4):
        decoded = unquote(text_value)
        if decoded == text_value:
            break
        text_value = decoded
    return text_value


def _redact_key(match: re.Match[str]) -> str:
    prefix = _KEY_PREFIX.match(_decoded(match.group(0)))  # the prefix is not secret: `api-keys list` shows it
    return f"orn_{prefix.group(1)}_{REDACTED}" if prefix else f"orn_{REDACTED}"


def _redact_param(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if value and REDACTED not in value and _decoded(name).lower().replace("-", "_") in _SECRET_PARAMS:
        value = REDACTED
    return f"{sep}{name}={value}"


def redact_keys(text_value: str) -> str:
    """`text_value` with every key-looking string and every key- or token-named URL parameter's value redacted."""
    if "=" not in text_value and "%" not in text_value and "orn_" not in text_value.lower():
        return text_value  # the common case, checked cheaply: nothing to look for
    return _URL_PARAM.sub(_redact_param, _KEY_LIKE.sub(_redact_key, text_value))


def _redact_arg(arg: object) -> object:
    if arg is None or isinstance(arg, int | float):
        return arg  # numbers stay numbers, so %d in the format still works
    as_text = arg if isinstance(arg, str) else str(arg)
    cleaned = redact_keys(as_text)
    return arg if cleaned == as_text and not isinstance(arg, str) else cleaned


class RedactKeys(logging.Filter):
    """Keeps keys out of log lines that quote what a client sent: uvicorn's access log of a request whose URL
    carries a key (a key in the URL is refused, but the request line is still logged), its error log, and
    tracebacks. A key reads `orn_1a2b3c4d_<redacted>`, anything else key-looking `orn_<redacted>`, whatever
    its case or percent-encoding, in the path or the query; so do `?api_key=`, `?token=`... values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _redact_arg(arg) for name, arg in record.args.items()}
        elif isinstance(record.msg, str):  # a template with args is the code's own text, not the client's
            record.msg = redact_keys(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)  # what the handler would print
        if record.exc_text:
            record.exc_text = redact_keys(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_keys(record.stack_info)
        return True


# The loggers whose lines quote request lines, paths or exception texts.
REQUEST_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn.asgi", "ornament_pipeline.server.errors")


def install_log_redaction() -> None:
    """Put `RedactKeys` on every logger of REQUEST_LOGGERS (once)."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())


def generate_key() -> NewKey:
    prefix = secrets.token_hex(4)
    key = f"orn_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key, prefix, hash_key(key))


def _check_name(name: str, what: str) -> str:
    if not name.strip() or len(name) > 100:
        raise ValueError(f"{what} must be 1 to 100 characters")
    if not name.isprintable():
        raise ValueError(f"{what} must be printable text (no tabs, newlines or control characters): {name!r}")
    return name.strip()


def create_key(conn: Connection, name: str, scope: str,
               collector: str | None = None) -> tuple[api_keys.StoredKey, str]:
    """Store a new key's hash; returns the row and the key itself (the only time it exists in clear).

    A `collector` key belongs to the collector named `collector` (default: the key's name), created on first
    use; another key for the same collector manages the same watches and destinations."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    name = _check_name(name, "name")
    if collector is not None and scope != "collector":
        raise ValueError(f"collector: only a collector key belongs to a collector (scope is {scope!r})")
    owner = api_keys.collector_id(conn, _check_name(collector or name, "collector")) if scope == "collector" else None
    for _ in range(5):  # prefix collisions are possible in principle (32 bits); retry with a fresh key
        new = generate_key()
        if api_keys.key_by_prefix(conn, new.prefix) is None:
            return api_keys.insert_key(conn, name, scope, new.prefix, new.key_hash, owner), new.key
    raise RuntimeError("could not find a free key prefix")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's name and scope (and, for a collector key, its collector's id), or `anonymous`
    when reads are open."""

    name: str
    scope: str
    collector_id: int | None = None   # a collector key's collector (`api_keys.collector_name` has its name)

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


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
        return Principal(stored.name, stored.scope, stored.collector_id)

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
KEY_SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]  # either scheme will do


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
collector_access = _access("collector")   # a collector key (its own things) or an admin key (everyone's)
admin_access = _access("admin")


def authorize(conn: Connection, checker: KeyChecker, access: Access) -> Principal:
    """The caller, once its key is verified (401) and its scope allows the route (403). Blocking: call it from a
    worker thread (see `deps.run_db`)."""
    if access.presented is None:
        return ANONYMOUS  # `read_access` let it through: reads are open
    principal = checker.verify(conn, access.presented)
    if access.scope == "admin" and principal.scope != "admin":
        raise ApiError(403, "forbidden", f"this route needs an admin key; key {principal.name!r} is a"
                                         f" {principal.scope} key")
    if access.scope == "collector" and principal.scope not in ("collector", "admin"):
        raise ApiError(403, "forbidden", f"this route needs a collector or admin key; key {principal.name!r} is"
                                         f" read-only")
    return principal


class KeyedRoute(APIRoute):
    """A route whose OpenAPI operation lists the key schemes when its endpoint depends on `read_access`,
    `collector_access` or `admin_access` (the routers' `route_class`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _required_scope(self.dependant):
            self.openapi_extra = {**(self.openapi_extra or {}), "security": KEY_SECURITY}


def route_scope(route: Any) -> Scope | None:
    """The key scope a matched route needs (`request.scope["route"]`), or None for a route without a key."""
    dependant = getattr(route, "dependant", None)
    return _required_scope(dependant) if isinstance(dependant, Dependant) else None


_ACCESS: dict[Any, Scope] = {read_access: "read", collector_access: "collector", admin_access: "admin"}
_STRICTEST_FIRST: tuple[Scope, ...] = ("admin", "collector", "read")


def _required_scope(dependant: Dependant) -> Scope | None:
    scopes = {_ACCESS.get(d.call) or _required_scope(d) for d in dependant.dependencies}
    return next((scope for scope in _STRICTEST_FIRST if scope in scopes), None)


def document_key_schemes(app: FastAPI) -> None:
    """Add the key schemes to `app`'s OpenAPI components (the operations name them, see `KeyedRoute`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
